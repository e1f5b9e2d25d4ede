/* w3c.h - the text rules the runtime and the ctxrun launcher must agree on.
 *
 * ctxrun checks its --set, --baggage and --traceparent arguments so that a
 * mistake is reported on the command line, where the user can still see it.
 * That is only worth anything if it refuses exactly what the runtime would
 * later skip when it reads BAGGAGE and TRACEPARENT at load: a member ctxrun
 * let through and the runtime dropped would vanish without a word.  So both
 * sides take these rules from here, once, rather than keeping two copies
 * that can drift apart.
 *
 *   Variable name   ctxvar's own rule, not a W3C one: 1 to CTXVAR_NAME_MAX
 *                   bytes of [A-Za-z0-9_.-], the first a letter or '_'.
 *                   Every such name is a valid W3C Baggage key (an HTTP
 *                   token), so any variable can travel as a baggage member;
 *                   the decoder skips a key outside the rule because no
 *                   variable could hold it.
 *
 *   baggage-octet   W3C Baggage: the bytes a value may carry unescaped,
 *                   printable US-ASCII except space, '"', ',', ';' and '\'.
 *                   Anything else travels as a %HH escape, whose two hex
 *                   digits may be of either case.  OWS, the optional
 *                   whitespace around members, keys and values, is space
 *                   and horizontal tab.
 *
 *   Trace headers   traceparent and tracestate are W3C Trace Context's own
 *                   headers, carried in TRACEPARENT and TRACESTATE.  They
 *                   are never baggage members, so each has one source.
 *
 *   traceparent     W3C Trace Context (level 1, unchanged in level 2):
 *                   version "-" trace-id "-" parent-id "-" flags, each field
 *                   lowercase hex: 2, 32, 16 and 2 digits.  A trace-id or a
 *                   parent-id of all zeros is invalid, and so is version ff.
 *                   Version 00 is exactly those 55 characters.  A later
 *                   version is read by the same four fields and may go on,
 *                   but only after a '-', so that a parser for version 00
 *                   keeps working when new fields are added, and only in
 *                   visible ASCII: the value becomes an HTTP header, where
 *                   a CR or LF would end it and start one the sender never
 *                   wrote, and a space or control byte is no field.  No length
 *                   limit is applied here: the spec sets none for later
 *                   versions, and CTXVAR_VALUE_MAX is a limit of ctxvar's
 *                   values, which each caller that stores the header checks
 *                   itself (the runtime's reading of TRACEPARENT and
 *                   ctxrun's --traceparent both do).
 *
 *   tracestate      W3C Trace Context: at most 32 list-members separated by
 *                   ',' with OWS around them, empty ones allowed; each is
 *                   key '=' value.  A key, by level 2's rule (which
 *                   every level 1 key meets), is a lowercase letter or a
 *                   digit then up to 255 of [a-z0-9_*\/@-].  A value is
 *                   1 to 256 bytes of printable ASCII other than ',' and
 *                   '=', not ending in a space.  A key given twice is the
 *                   sender's mistake, which W3C lets a receiver keep as it
 *                   is (its test suite expects the tracestate inherited),
 *                   and so does ctxvar.
 *
 *   UTF-8           W3C Baggage decodes a value to UTF-8 and replaces what
 *                   is not UTF-8 with U+FFFD, one for each maximal subpart
 *                   (Unicode 15, section 3.9).  A byte that is not UTF-8
 *                   grows from 1 byte to 3, so a value within 4096 bytes
 *                   can arrive longer: the encoders and ctxrun count a
 *                   value by its length once replaced.
 *
 * Everything is static inline and depends on nothing but the C library's
 * string functions and ctxvar.h's limits, so that ctxrun, which links
 * nothing of the runtime, can include it as well as the runtime's sources.
 */
#ifndef CTXVAR_W3C_H
#define CTXVAR_W3C_H

#include <stddef.h>
#include <string.h>

/* CTXVAR_NAME_MAX: the one definition, shared with the public API. */
#include "ctxvar.h"

static inline int ctxvar__w3c_is_name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* 1 when name[0..len) is a valid variable name (need not be NUL-terminated). */
static inline int ctxvar__w3c_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > CTXVAR_NAME_MAX || !ctxvar__w3c_is_name_start((unsigned char)name[0]))
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!ctxvar__w3c_is_name_start(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

/* 1 for a W3C baggage-octet.  No byte >= 0x80 is one: an encoder escapes
 * them, and a decoder that lets raw UTF-8 through does so on purpose. */
static inline int ctxvar__w3c_is_baggage_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* The value of a hex digit of either case, or -1 for any other byte. */
static inline int ctxvar__w3c_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

/* 1 for OWS: space or horizontal tab. */
static inline int ctxvar__w3c_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* 1 when name[0..len) is traceparent or tracestate. */
static inline int ctxvar__w3c_is_trace_header(const char *name, size_t len)
{
    return (len == 11 && memcmp(name, "traceparent", 11) == 0) ||
           (len == 10 && memcmp(name, "tracestate", 10) == 0);
}

/* 1 when s[0..n) is all lowercase hex; *all_zero tells whether it is all
 * '0'.  Stops at the first other byte, so never reads past a NUL. */
static inline int ctxvar__w3c_lower_hex(const char *s, size_t n, int *all_zero)
{
    *all_zero = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
        if (c != '0') *all_zero = 0;
    }
    return 1;
}

/* 1 when the NUL-terminated v is a valid traceparent (see the top). */
static inline int ctxvar__w3c_traceparent_valid(const char *v)
{
    /* The answer depends only on whether v is shorter than, exactly or
     * longer than 55 bytes, so at most 56 are counted: a huge value costs
     * nothing, and no strnlen (POSIX, not C11) is needed. */
    size_t len = 0;
    int zero;
    while (len < 56 && v[len] != '\0') len++;
    if (len < 55 || !ctxvar__w3c_lower_hex(v, 2, &zero) || (v[0] == 'f' && v[1] == 'f'))
        return 0;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-') return 0;
    if (!ctxvar__w3c_lower_hex(v + 3, 32, &zero) || zero) return 0;
    if (!ctxvar__w3c_lower_hex(v + 36, 16, &zero) || zero) return 0;
    if (!ctxvar__w3c_lower_hex(v + 53, 2, &zero)) return 0;
    if (v[0] == '0' && v[1] == '0') return len == 55;
    if (len == 55) return 1;
    if (v[55] != '-') return 0;
    for (const char *p = v + 56; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) return 0;
    return 1;
}

/* 1 when key[0..len) is a valid tracestate key (see the top). */
static inline int ctxvar__w3c_tracestate_key_valid(const char *key, size_t len)
{
    if (len == 0 || len > 256) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '*' && c != '/' && c != '@')))
            return 0;
    }
    return 1;
}

/* The next tracestate member of the list at *p, its blanks around it
 * removed, as [*b, *e); *p moves past it and its comma, or to NULL after
 * the last. */
static inline void ctxvar__w3c_tracestate_next(const char **p, const char **b, const char **e)
{
    const char *end = strchr(*p, ',');
    if (!end) end = *p + strlen(*p);
    *b = *p;
    *e = end;
    while (*b < *e && ctxvar__w3c_is_ows(**b)) (*b)++;
    while (*e > *b && ctxvar__w3c_is_ows((*e)[-1])) (*e)--;
    *p = *end ? end + 1 : NULL;
}

/* 1 when the NUL-terminated v is a valid tracestate (see the top).  Nothing
 * is stored: the exec paths call this with little stack. */
static inline int ctxvar__w3c_tracestate_valid(const char *v)
{
    size_t members = 0;
    for (const char *p = v, *b, *e; p;) {
        ctxvar__w3c_tracestate_next(&p, &b, &e);
        if (b == e) continue;
        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (!eq || ++members > 32 || !ctxvar__w3c_tracestate_key_valid(b, (size_t)(eq - b)))
            return 0;
        size_t value_len = (size_t)(e - eq - 1);
        if (value_len == 0 || value_len > 256) return 0;
        for (size_t i = 1; i <= value_len; i++) {
            unsigned char c = (unsigned char)eq[i];
            if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return 0;
        }
    }
    return 1;
}

/* The length of the well-formed UTF-8 sequence at s (n > 0 bytes left), or
 * 0 when there is none; *valid_prefix is how many of its bytes were right,
 * the maximal subpart that one U+FFFD replaces. */
static inline size_t ctxvar__w3c_utf8_sequence(const unsigned char *s, size_t n,
                                               size_t *valid_prefix)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    *valid_prefix = 1;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) len = 3;
    else if (c >= 0xf0 && c <= 0xf4) len = 4;
    else return 0;
    if (c == 0xe0) lo = 0xa0;
    else if (c == 0xed) hi = 0x9f;
    else if (c == 0xf0) lo = 0x90;
    else if (c == 0xf4) hi = 0x8f;
    for (size_t i = 1; i < len; i++, lo = 0x80, hi = 0xbf) {
        if (i >= n || s[i] < lo || s[i] > hi) return 0;
        *valid_prefix = i + 1;
    }
    return len;
}

/* The length of s[0..n) once what is not UTF-8 is replaced by U+FFFD. */
static inline size_t ctxvar__w3c_repaired_length(const unsigned char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0, step, prefix; i < n; i += step) {
        size_t seq = ctxvar__w3c_utf8_sequence(s + i, n - i, &prefix);
        len += seq ? seq : 3;
        step = seq ? seq : prefix;
    }
    return len;
}

/* Writes s[0..n) to out as UTF-8, what is not UTF-8 as U+FFFD, as many
 * whole characters as fit in `room` bytes; returns the bytes written and
 * sets *used to how many bytes of s went in (n when all did). */
static inline size_t ctxvar__w3c_put_repaired(char *out, size_t room, const unsigned char *s,
                                              size_t n, size_t *used)
{
    size_t len = 0, i = 0;
    for (size_t step, prefix; i < n; i += step) {
        size_t seq = ctxvar__w3c_utf8_sequence(s + i, n - i, &prefix);
        const void *bytes = seq ? (const void *)(s + i) : "\xef\xbf\xbd";
        size_t count = seq ? seq : 3;
        step = seq ? seq : prefix;
        if (len + count > room) break;
        memcpy(out + len, bytes, count);
        len += count;
    }
    *used = i;
    return len;
}

/* 1 when the value v[0..len) would arrive longer than CTXVAR_VALUE_MAX
 * bytes once its receiver replaced what is not UTF-8: the encoders leave
 * such a member out.  Only a value of more than a third of that can grow
 * so far, so the usual value costs one compare. */
static inline int ctxvar__w3c_arrives_too_long(const char *v, size_t len)
{
    return len > CTXVAR_VALUE_MAX / 3 &&
           ctxvar__w3c_repaired_length((const unsigned char *)v, len) > CTXVAR_VALUE_MAX;
}

#endif
