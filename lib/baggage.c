/* baggage.c - W3C Baggage: decoding a baggage header into a context, and
 * encoding a context as one.  The byte-level rules (baggage-octet, OWS, the
 * variable-name rule, the trace headers, traceparent) are in w3c.h, shared
 * with the ctxrun launcher.
 *
 *   baggage     = list-member *( OWS "," OWS list-member )
 *   list-member = key OWS "=" OWS value *( OWS ";" OWS property )
 *   value       = *( baggage-octet / "%" HEXDIG HEXDIG )
 *
 * The decoder is liberal where that loses nothing (empty members, spaces and
 * tabs around everything, raw UTF-8) and skips a member it cannot read
 * faithfully rather than guessing at it.
 */
#include "baggage.h"

#include <string.h>

#include "runtime.h"
#include "sigsafe.h"
#include "text.h"
#include "w3c.h"

static void trim(const char **begin, const char **end)
{
    while (*begin < *end && ctxvar__w3c_is_ows(**begin)) (*begin)++;
    while (*end > *begin && ctxvar__w3c_is_ows((*end)[-1])) (*end)--;
}

/* Percent-decodes [begin, end) into out (room for CTXVAR_VALUE_MAX bytes),
 * then, as W3C Baggage requires, replaces what is not UTF-8 with U+FFFD.
 * Returns the length, or -1 with *why set. */
static long decode_value(const char *begin, const char *end, char *out, const char **why)
{
    unsigned char raw[CTXVAR_VALUE_MAX];
    size_t raw_len = 0, len = 0;
    for (const char *p = begin; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = end - p >= 3 ? ctxvar__w3c_hex_value((unsigned char)p[1]) : -1;
            int lo = hi >= 0 ? ctxvar__w3c_hex_value((unsigned char)p[2]) : -1;
            if (lo < 0) {
                *why = "bad percent-escape in value";
                return -1;
            }
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0) {
                *why = "value holds an escaped NUL";
                return -1;
            }
            p += 2;
        } else if (!ctxvar__w3c_is_baggage_octet(c) && c < 0x80) {
            *why = "value holds a byte that must be percent-encoded";
            return -1;
        }
        if (raw_len == CTXVAR_VALUE_MAX) {
            *why = "value longer than 4096 bytes";
            return -1;
        }
        raw[raw_len++] = c;
    }
    size_t used;
    len = ctxvar__w3c_put_repaired(out, CTXVAR_VALUE_MAX, raw, raw_len, &used);
    if (used < raw_len) {
        *why = "value longer than 4096 bytes";
        return -1;
    }
    return (long)len;
}

/* Binds one member [begin, end) onto *ctx.  0, or ENOMEM; a malformed
 * member is reported, counted in *skipped and left out. */
static int apply_member(const char *begin, const char *end, unsigned index, ctxvar_ctx **ctx,
                        size_t *skipped)
{
    char value[CTXVAR_VALUE_MAX];
    const char *why = NULL;
    trim(&begin, &end);
    if (begin == end) return 0;
    const char *props = memchr(begin, ';', (size_t)(end - begin));
    if (props) end = props;
    const char *eq = memchr(begin, '=', (size_t)(end - begin));
    const char *key = begin, *key_end = eq ? eq : end;
    trim(&key, &key_end);
    if (!eq) {
        why = "no '='";
    } else if (!ctxvar__w3c_name_valid(key, (size_t)(key_end - key))) {
        why = "key is not a valid variable name";
    } else if (ctxvar__w3c_is_trace_header(key, (size_t)(key_end - key))) {
        why = "traceparent and tracestate travel in their own headers";
    } else {
        const char *v = eq + 1, *v_end = end;
        trim(&v, &v_end);
        long len = decode_value(v, v_end, value, &why);
        if (len >= 0) {
            struct ctxvar *var = ctxvar__intern(key, (size_t)(key_end - key));
            ctxvar__binding *b = var ? ctxvar__binding_new(var, value, (size_t)len) : NULL;
            ctxvar_ctx *next;
            if (!b || ctxvar__ctx_with(*ctx, b, &next) != 0) return ENOMEM;
            ctxvar__ctx_release(*ctx);
            *ctx = next;
            return 0;
        }
    }
    ctxvar__debug("baggage: skipped member %u: %s", index, why);
    (*skipped)++;
    return 0;
}

int ctxvar__baggage_decode(const char *header, const ctxvar_ctx *base, ctxvar_ctx **out,
                           size_t *skipped)
{
    ctxvar_ctx *ctx = ctxvar__ctx_retain(base);
    unsigned index = 1;
    *skipped = 0;
    for (const char *p = header;; index++) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (apply_member(p, end, index, &ctx, skipped) != 0) {
            ctxvar__ctx_release(ctx);
            return ENOMEM;
        }
        if (!comma) break;
        p = comma + 1;
    }
    *out = ctx;
    return 0;
}

/* ---- Encoding ------------------------------------------------------------ */

static size_t encoded_value_length(const ctxvar__binding *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->value[i];
        n += (ctxvar__w3c_is_baggage_octet(c) && c != '%') ? 1 : 3;
    }
    return n;
}

struct encoding {
    struct ctxvar__text text;
    size_t members, dropped;
};

static int encode_member(const ctxvar__binding *b, void *p)
{
    static const char hex[] = "0123456789ABCDEF";
    struct encoding *e = p;
    const struct ctxvar *var = b->var;
    if (var->name[0] == '_' || ctxvar__w3c_is_trace_header(var->name, var->name_len)) return 0;
    size_t member = var->name_len + 1 + encoded_value_length(b);
    size_t with_comma = member + (e->members ? 1 : 0);
    /* A value that is not UTF-8 would be decoded longer (w3c.h, "UTF-8"):
     * past 4096 bytes, no receiver could hold it. */
    if (ctxvar__w3c_arrives_too_long(b->value, b->len) ||
        e->members == CTXVAR_BAGGAGE_MAX_MEMBERS ||
        e->text.len + with_comma > CTXVAR_BAGGAGE_MAX_BYTES) {
        e->dropped++; /* whole members only: a cut value would be a wrong value */
        return 0;
    }
    if (e->members++) ctxvar__text_put(&e->text, ",", 1);
    ctxvar__text_put(&e->text, var->name, var->name_len);
    ctxvar__text_put(&e->text, "=", 1);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->value[i];
        if (ctxvar__w3c_is_baggage_octet(c) && c != '%') {
            ctxvar__text_put(&e->text, (const char *)&c, 1);
        } else {
            char escape[3] = {'%', hex[c >> 4], hex[c & 15]};
            ctxvar__text_put(&e->text, escape, 3);
        }
    }
    return 0;
}

size_t ctxvar__baggage_encode_in(const ctxvar_ctx *c, char *buf, size_t size, size_t *dropped,
                                 const ctxvar__binding **scratch, size_t room)
{
    struct encoding e = {ctxvar__text_start(buf, size), 0, 0};
    if (scratch) ctxvar__ctx_visit_sorted_in(c, encode_member, &e, scratch, room);
    else ctxvar__ctx_visit_sorted_sigsafe(c, encode_member, &e); /* no malloc: handlers */
    if (dropped) *dropped = e.dropped;
    return ctxvar__text_finish(&e.text);
}

size_t ctxvar__baggage_encode(const ctxvar_ctx *c, char *buf, size_t size, size_t *dropped)
{
    return ctxvar__baggage_encode_in(c, buf, size, dropped, NULL, 0);
}
