/* baggage_decode.c - libFuzzer target for the W3C Baggage codec.
 *
 * Any bytes (cut at a NUL) go through ctxvar__baggage_decode; then:
 *   - every binding is a valid, non-trace name with a value of at most 4096
 *     bytes and no NUL in it, and no more members were skipped than exist;
 *   - ctxvar__baggage_encode of the result is well-formed baggage (name=
 *     baggage-octets or %XX, joined by ','), at most 64 members and 8192
 *     bytes, and a short buffer gets a NUL-terminated prefix of the same
 *     text with the same return value (snprintf semantics);
 *   - decoding that encoding skips nothing and gives back the decoded
 *     context without its private ('_') names, less exactly the `dropped`
 *     members; encoding it again gives the same text;
 *   - decoding on top of a base context gives the base overlaid with the
 *     members, nothing else.
 */
#include "fuzz.h"

static size_t count_members(const char *s)
{
    size_t n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

static int upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

static int plain_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\' && c != '%';
}

/* The encoder's output grammar, checked independently of baggage.c. */
static void check_well_formed(const char *text, size_t len, size_t *members)
{
    *members = 0;
    if (len == 0) return;
    const char *p = text, *end = text + len;
    for (;;) {
        const char *key = p;
        while (p < end && *p != '=') p++;
        FUZZ_CHECK(p < end);
        FUZZ_CHECK(ctxvar__valid_name(key, (size_t)(p - key)));
        FUZZ_CHECK(key[0] != '_' && !ctxvar__is_trace_header(key, (size_t)(p - key)));
        for (p++; p < end && *p != ','; p++) {
            if (*p == '%') {
                FUZZ_CHECK(end - p >= 3 && upper_hex(p[1]) && upper_hex(p[2]));
                FUZZ_CHECK(!(p[1] == '0' && p[2] == '0'));
                p += 2;
            } else {
                FUZZ_CHECK(plain_octet((unsigned char)*p));
            }
        }
        (*members)++;
        if (p == end) break;
        p++; /* ',' */
    }
}

static int check_binding(const ctxvar__binding *b, void *unused)
{
    (void)unused;
    FUZZ_CHECK(ctxvar__valid_name(b->var->name, b->var->name_len));
    FUZZ_CHECK(!ctxvar__is_trace_header(b->var->name, b->var->name_len));
    FUZZ_CHECK(b->len <= CTXVAR_VALUE_MAX);
    FUZZ_CHECK(strlen(b->value) == b->len);
    return 0;
}

static int count_public(const ctxvar__binding *b, void *n)
{
    if (!fuzz_is_private(b->var)) (*(size_t *)n)++;
    return 0;
}

/* A fixed base: one name the input may override, one it cannot. */
static ctxvar_ctx *base_context(void)
{
    static ctxvar_ctx *base;
    if (!base) {
        ctxvar_ctx *c = NULL, *next;
        const char *names[] = {"k", "base_only_zz"};
        for (int i = 0; i < 2; i++) {
            struct ctxvar *var = ctxvar__intern(names[i], strlen(names[i]));
            ctxvar__binding *b = ctxvar__binding_new(var, "from-base", 9);
            FUZZ_CHECK(var && b && ctxvar__ctx_with(c, b, &next) == 0);
            ctxvar__ctx_release(c);
            c = next;
        }
        base = c; /* kept for the whole run: reachable, so no leak */
    }
    return base;
}

struct overlay {
    const ctxvar_ctx *members, *result;
};

static int check_base_binding(const ctxvar__binding *b, void *p)
{
    struct overlay *o = p;
    if (!ctxvar__ctx_find(o->members, b->var)) FUZZ_CHECK(fuzz_same_in(o->result, b));
    return 0;
}

static size_t base_not_in(const ctxvar_ctx *base, const ctxvar_ctx *members)
{
    size_t n = 0;
    const char *names[] = {"k", "base_only_zz"};
    for (int i = 0; i < 2; i++) {
        struct ctxvar *var = ctxvar__lookup(names[i], strlen(names[i]));
        if (ctxvar__ctx_find(base, var) && !ctxvar__ctx_find(members, var)) n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = fuzz_string(data, size);
    ctxvar_ctx *decoded = NULL, *again = NULL, *on_base = NULL;
    size_t skipped = 0, dropped = 0, skipped_again = 0, members = 0;

    if (ctxvar__baggage_decode(header, NULL, &decoded, &skipped) != 0) goto out;
    FUZZ_CHECK(skipped <= count_members(header));
    ctxvar__ctx_visit_sorted(decoded, check_binding, NULL);

    /* Encode: sized, then written, then into a short buffer. */
    size_t len = ctxvar__baggage_encode(decoded, NULL, 0, &dropped);
    char *text = malloc(len + 1);
    FUZZ_CHECK(text != NULL);
    size_t dropped_written = 0;
    FUZZ_CHECK(ctxvar__baggage_encode(decoded, text, len + 1, &dropped_written) == len);
    FUZZ_CHECK(dropped_written == dropped && strlen(text) == len);
    FUZZ_CHECK(len <= CTXVAR_BAGGAGE_MAX_BYTES);
    check_well_formed(text, len, &members);
    FUZZ_CHECK(members <= CTXVAR_BAGGAGE_MAX_MEMBERS);
    if (len > 0) {
        size_t cut = size % (len + 1);
        char *prefix = malloc(cut + 1);
        FUZZ_CHECK(prefix != NULL);
        memset(prefix, 'X', cut + 1);
        FUZZ_CHECK(ctxvar__baggage_encode(decoded, prefix, cut + 1, NULL) == len);
        FUZZ_CHECK(memcmp(prefix, text, cut) == 0 && prefix[cut] == '\0');
        free(prefix);
    }

    /* Round trip: our own encoding decodes to what was carried. */
    FUZZ_CHECK(ctxvar__baggage_decode(text, NULL, &again, &skipped_again) == 0);
    FUZZ_CHECK(skipped_again == 0);
    size_t public_members = 0;
    ctxvar__ctx_visit_sorted(decoded, count_public, &public_members);
    FUZZ_CHECK(ctxvar__ctx_count(again) == members);
    FUZZ_CHECK(members + dropped == public_members);
    FUZZ_CHECK(fuzz_subset(again, decoded, 0) == members);
    if (dropped == 0) FUZZ_CHECK(fuzz_subset(decoded, again, 1) == public_members);
    size_t len_again = ctxvar__baggage_encode(again, NULL, 0, NULL);
    char *text_again = malloc(len_again + 1);
    FUZZ_CHECK(text_again != NULL);
    ctxvar__baggage_encode(again, text_again, len_again + 1, NULL);
    FUZZ_CHECK(len_again == len && memcmp(text_again, text, len) == 0);
    free(text_again);
    free(text);

    /* On a base: the base's other bindings stay, the members win. */
    ctxvar_ctx *base = base_context();
    size_t skipped_base = 0;
    if (ctxvar__baggage_decode(header, base, &on_base, &skipped_base) == 0) {
        FUZZ_CHECK(skipped_base == skipped);
        FUZZ_CHECK(fuzz_subset(decoded, on_base, 0) == ctxvar__ctx_count(decoded));
        struct overlay o = {decoded, on_base};
        ctxvar__ctx_visit_sorted(base, check_base_binding, &o);
        FUZZ_CHECK(ctxvar__ctx_count(on_base) ==
                   ctxvar__ctx_count(decoded) + base_not_in(base, decoded));
    }

out:
    ctxvar__ctx_release(on_base);
    ctxvar__ctx_release(again);
    ctxvar__ctx_release(decoded);
    free(header);
    return 0;
}
