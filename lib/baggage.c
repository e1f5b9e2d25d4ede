/* baggage.c - decoding a W3C Baggage header value into a context.
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

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* baggage-octet: printable US-ASCII but space, '"', ',', ';' and '\'. */
static int is_baggage_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

static void trim(const char **begin, const char **end)
{
    while (*begin < *end && is_ows(**begin)) (*begin)++;
    while (*end > *begin && is_ows((*end)[-1])) (*end)--;
}

/* Percent-decodes [begin, end) into out (room for CTXVAR_VALUE_MAX bytes).
 * Returns the length, or -1 with *why set. */
static long decode_value(const char *begin, const char *end, char *out, const char **why)
{
    size_t len = 0;
    for (const char *p = begin; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = end - p >= 3 ? hex_value((unsigned char)p[1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)p[2]) : -1;
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
        } else if (!is_baggage_octet(c) && c < 0x80) {
            *why = "value holds a byte that must be percent-encoded";
            return -1;
        }
        if (len == CTXVAR_VALUE_MAX) {
            *why = "value longer than 4096 bytes";
            return -1;
        }
        out[len++] = (char)c;
    }
    return (long)len;
}

/* Binds one member [begin, end) onto *ctx.  0, or ENOMEM; a malformed
 * member is reported and skipped. */
static int apply_member(const char *begin, const char *end, unsigned index, ctxvar_ctx **ctx)
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
    } else if (!ctxvar__valid_name(key, (size_t)(key_end - key))) {
        why = "key is not a valid variable name";
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
    ctxvar__debug("BAGGAGE: skipped member %u: %s", index, why);
    return 0;
}

int ctxvar__baggage_decode(const char *header, const ctxvar_ctx *base, ctxvar_ctx **out)
{
    ctxvar_ctx *ctx = ctxvar__ctx_retain(base);
    unsigned index = 1;
    for (const char *p = header;; index++) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        if (apply_member(p, end, index, &ctx) != 0) {
            ctxvar__ctx_release(ctx);
            return ENOMEM;
        }
        if (!comma) break;
        p = comma + 1;
    }
    *out = ctx;
    return 0;
}
