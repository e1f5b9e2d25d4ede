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
 *                   keeps working when new fields are added.  No length
 *                   limit is applied here: the spec sets none for later
 *                   versions, and CTXVAR_VALUE_MAX is a limit of ctxvar's
 *                   values, which each caller that stores the header checks
 *                   itself (the runtime's reading of TRACEPARENT and
 *                   ctxrun's --traceparent both do).
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
    return len == 55 || v[55] == '-';
}

#endif
