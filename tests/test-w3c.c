/* test-w3c.c - lib/w3c.h, the rules ctxrun and the runtime share, pinned
 * case by case, and the runtime's public API held to the same answers:
 * ctxvar_named to the name rule, ctxvar_set_traceparent to the traceparent
 * rule, ctxvar_baggage_decode and ctxvar_baggage_current to baggage-octet,
 * OWS and the trace headers.  ctxrun's side is in bats/ctxrun.bats.  If
 * either side stopped using the header, or the header changed, the answers
 * here would no longer match the expected column. */
#include "test.h"

#include "w3c.h"

/* ---- Variable names ------------------------------------------------------ */

static const struct {
    const char *name;
    int valid;
} name_cases[] = {
    {"a", 1}, {"Z", 1}, {"_", 1}, {"_private", 1}, {"request_id", 1},
    {"a.b-c_9", 1}, {"A9", 1}, {"x-", 1}, {"x.", 1},
    {"", 0}, {"9a", 0}, {".a", 0}, {"-a", 0}, {"a b", 0}, {"a=b", 0},
    {"a,b", 0}, {"a;b", 0}, {"a/b", 0}, {"a:b", 0}, {"a\tb", 0}, {"caf\xc3\xa9", 0},
    /* the neighbours of the letters, where a case-folding test could slip */
    {"@a", 0}, {"[a", 0}, {"`a", 0}, {"{a", 0}, {"a@", 0}, {"a[", 0}, {"a`", 0}, {"a{", 0},
};

TEST_IMPL(w3c_name_rule_is_what_ctxvar_named_accepts)
{
    for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
        const char *name = name_cases[i].name;
        ASSERT_INT(name_cases[i].valid, ctxvar__w3c_name_valid(name, strlen(name)));
        ASSERT_INT(name_cases[i].valid, ctxvar_named(name) != NULL);
    }
    char name[CTXVAR_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[CTXVAR_NAME_MAX] = '\0';
    ASSERT_INT(1, ctxvar__w3c_name_valid(name, CTXVAR_NAME_MAX));
    ASSERT_INT(1, ctxvar_named(name) != NULL);
    name[CTXVAR_NAME_MAX] = 'n';
    name[CTXVAR_NAME_MAX + 1] = '\0';
    ASSERT_INT(0, ctxvar__w3c_name_valid(name, CTXVAR_NAME_MAX + 1));
    ASSERT_INT(0, ctxvar_named(name) != NULL);
}

/* Every byte, as a name of its own and after an 'a': 26 + 26 + '_' may
 * start a name, and those plus 10 digits, '.' and '-' may follow. */
TEST_IMPL(w3c_name_rule_every_byte)
{
    int starts = 0, follows = 0;
    for (int c = 1; c < 256; c++) {
        char alone[2] = {(char)c, '\0'}, after[3] = {'a', (char)c, '\0'};
        int start = ctxvar__w3c_name_valid(alone, 1), follow = ctxvar__w3c_name_valid(after, 2);
        ASSERT_INT(start, ctxvar_named(alone) != NULL);
        ASSERT_INT(follow, ctxvar_named(after) != NULL);
        starts += start;
        follows += follow;
    }
    ASSERT_INT(53, starts);
    ASSERT_INT(65, follows);
    ASSERT_INT(0, ctxvar__w3c_name_valid("", 0));
    /* A length, not a NUL, ends the name: a key inside a header. */
    ASSERT_INT(1, ctxvar__w3c_name_valid("ab=1", 2));
}

/* ---- traceparent --------------------------------------------------------- */

#define TRACE  "0af7651916cd43dd8448eb211c80319c"
#define PARENT "b7ad6b7169203331"

static const struct {
    const char *value;
    int valid;
} traceparent_cases[] = {
    {"00-" TRACE "-" PARENT "-01", 1},
    {"00-" TRACE "-" PARENT "-00", 1},
    {"01-" TRACE "-" PARENT "-01", 1},
    {"cc-" TRACE "-" PARENT "-01-what-the-future-holds", 1},
    {"01-" TRACE "-" PARENT "-01-", 1},
    {"fe-" TRACE "-" PARENT "-ff", 1},
    {"01-" TRACE "-" PARENT "-01-~!{}/=", 1},
    /* A later version's tail becomes an HTTP header: no CR, LF, space or
     * other control byte, which would end it or start another. */
    {"01-" TRACE "-" PARENT "-01-a\r\nX-Injected: 1", 0},
    {"01-" TRACE "-" PARENT "-01-a\nb", 0},
    {"01-" TRACE "-" PARENT "-01-a b", 0},
    {"01-" TRACE "-" PARENT "-01-a\tb", 0},
    {"01-" TRACE "-" PARENT "-01-\x7f", 0},
    {"01-" TRACE "-" PARENT "-01-\xc3\xa9", 0},
    {"ff-" TRACE "-" PARENT "-01", 0},
    {"00-" TRACE "-" PARENT "-01-", 0},
    {"00-" TRACE "-" PARENT "-010", 0},
    {"01-" TRACE "-" PARENT "-01x", 0},
    {"0A-" TRACE "-" PARENT "-01", 0},
    {"00-0AF7651916CD43DD8448EB211C80319C-" PARENT "-01", 0},
    {"00-" TRACE "-B7AD6B7169203331-01", 0},
    {"00-" TRACE "-" PARENT "-0A", 0},
    {"00-00000000000000000000000000000000-" PARENT "-01", 0},
    {"00-" TRACE "-0000000000000000-01", 0},
    {"00-0af7651916cd43dd8448eb211c80319-" PARENT "-01", 0},
    {"00-" TRACE "-b7ad6b716920333-01", 0},
    {"00-" TRACE "-" PARENT "-1", 0},
    {"0-" TRACE "-" PARENT "-01", 0},
    {"00_" TRACE "_" PARENT "_01", 0},
    {"00-0af7651916cd43dd8448eb211c80319g-" PARENT "-01", 0},
    {"00-", 0},
    {"", 0},
};

TEST_IMPL(w3c_traceparent_rule_is_what_set_traceparent_accepts)
{
    for (size_t i = 0; i < sizeof traceparent_cases / sizeof traceparent_cases[0]; i++) {
        const char *v = traceparent_cases[i].value;
        ASSERT_INT(traceparent_cases[i].valid, ctxvar__w3c_traceparent_valid(v));
        ASSERT_INT(traceparent_cases[i].valid ? 0 : EINVAL, ctxvar_set_traceparent(v, NULL));
        if (traceparent_cases[i].valid)
            ASSERT_STR(v, ctxvar_get(test_var("traceparent"), NULL));
    }
}

/* The rule has no length limit (a later version may go on); a traceparent
 * the runtime could not hold, over CTXVAR_VALUE_MAX, is not one it accepts:
 * EINVAL, as from ctxvar_accept_headers. */
TEST_IMPL(w3c_traceparent_rule_has_no_length_limit)
{
    char *v = malloc(CTXVAR_VALUE_MAX + 2);
    ASSERT_NOT_NULL(v);
    memset(v, 'x', CTXVAR_VALUE_MAX + 1);
    memcpy(v, "01-" TRACE "-" PARENT "-01-", 56);
    v[CTXVAR_VALUE_MAX] = '\0';
    ASSERT_INT(1, ctxvar__w3c_traceparent_valid(v));
    ASSERT_INT(0, ctxvar_set_traceparent(v, NULL));
    v[CTXVAR_VALUE_MAX] = 'x';
    v[CTXVAR_VALUE_MAX + 1] = '\0';
    ASSERT_INT(1, ctxvar__w3c_traceparent_valid(v));
    ASSERT_INT(EINVAL, ctxvar_set_traceparent(v, NULL));
    ASSERT_INT(EINVAL, ctxvar_accept_headers(v, NULL, NULL, NULL));
    free(v);
}

/* ---- tracestate ---------------------------------------------------------- */

static const struct {
    const char *value;
    int valid;
} tracestate_cases[] = {
    {"rojo=00f067aa0ba902b7", 1},
    {"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 1},
    {" rojo=1 ,\tcongo=2\t", 1},
    {"a=1,,b=2", 1},
    {"", 1},
    {" , ", 1},
    {"t@s=1", 1},
    {"0tenant@sys=1", 1},
    {"k_-*/@9=v", 1},
    {"k=a b", 1},
    {"k= lead", 1},
    {"k=!~", 1},
    {"K=1", 0},
    {"_k=1", 0},
    {"-k=1", 0},
    {"k.x=1", 0},
    {"k=", 0},
    {"k", 0},
    {"=v", 0},
    {"k =v", 0},
    {"k=a=b", 0},
    {"k=a\tb", 0},
    {"k=\x7f", 0},
    {"k=caf\xc3\xa9", 0},
    {"k=a\r\nX-Injected: 1", 0},
    {"a=1,b=2,a=3", 1}, /* W3C: a receiver may keep a key given twice */
    {"foo=1,foo=1", 1},
    {"ab=1,a=2", 1},
    {"a=1,ab=2", 1},
};

TEST_IMPL(w3c_tracestate_rule_is_what_accept_headers_keeps)
{
    for (size_t i = 0; i < sizeof tracestate_cases / sizeof tracestate_cases[0]; i++) {
        const char *v = tracestate_cases[i].value;
        ASSERT_INT(tracestate_cases[i].valid, ctxvar__w3c_tracestate_valid(v));
        ctxvar_token tok;
        ASSERT_INT(0, ctxvar_accept_headers("00-" TRACE "-" PARENT "-01", v, NULL, &tok));
        ASSERT_STR("00-" TRACE "-" PARENT "-01", ctxvar_get(test_var("traceparent"), NULL));
        ASSERT_STR(tracestate_cases[i].valid ? v : NULL, ctxvar_get(test_var("tracestate"), NULL));
        ASSERT_INT(0, ctxvar_reset(&tok));
    }
}

/* 32 members and no more; a key of 256 bytes, a value of 256, no more. */
TEST_IMPL(w3c_tracestate_limits)
{
    char v[32 * 8 + 16] = "";
    for (int i = 0; i < 32; i++) snprintf(v + strlen(v), 8, "%sk%d=1", i ? "," : "", i);
    ASSERT_INT(1, ctxvar__w3c_tracestate_valid(v));
    strcat(v, ",k32=1");
    ASSERT_INT(0, ctxvar__w3c_tracestate_valid(v));

    char long_key[256 + 1 + 1 + 1 + 1];
    memset(long_key, 'k', 256);
    strcpy(long_key + 256, "=1");
    ASSERT_INT(1, ctxvar__w3c_tracestate_valid(long_key));
    memset(long_key, 'k', 257);
    strcpy(long_key + 257, "=1");
    ASSERT_INT(0, ctxvar__w3c_tracestate_valid(long_key));

    char long_value[2 + 257 + 1];
    memcpy(long_value, "k=", 2);
    memset(long_value + 2, 'v', 256);
    long_value[2 + 256] = '\0';
    ASSERT_INT(1, ctxvar__w3c_tracestate_valid(long_value));
    long_value[2 + 256] = 'v';
    long_value[2 + 257] = '\0';
    ASSERT_INT(0, ctxvar__w3c_tracestate_valid(long_value));
}

/* ---- Baggage ------------------------------------------------------------- */

/* Printable US-ASCII but space, '"', ',', ';' and '\': 90 bytes. */
TEST_IMPL(w3c_baggage_octets_are_exactly_w3cs)
{
    int n = 0;
    for (int c = 0; c < 256; c++) {
        int want = c > 0x20 && c < 0x7f && strchr("\",;\\", c) == NULL;
        ASSERT_INT(want, ctxvar__w3c_is_baggage_octet((unsigned char)c));
        n += want;
    }
    ASSERT_INT(90, n);
}

/* The value of "k=a<c>b" after ctxvar_baggage_decode, or "unset"; *skipped
 * the members it skipped. */
static const char *decoded_k(unsigned char c, size_t *skipped, char *out, size_t size)
{
    char header[8] = {'k', '=', 'a', (char)c, 'b', '\0'};
    ctxvar_ctx *ctx = NULL;
    ASSERT_INT(0, ctxvar_baggage_decode(header, NULL, &ctx, skipped));
    snprintf(out, size, "%s", ctxvar_ctx_get(ctx, test_var("k"), "unset"));
    ctxvar_release(ctx);
    return out;
}

/* Each ASCII byte inside a value: a baggage-octet is kept as it is; any
 * other skips the member, but for ',' and ';', which end the value (the
 * member after a ',' has no '=' and is skipped), and '%', an escape. */
TEST_IMPL(w3c_baggage_octets_are_what_the_decoder_takes_raw)
{
    char value[16], raw[4];
    for (int c = 1; c < 0x80; c++) {
        size_t skipped = 99;
        const char *got = decoded_k((unsigned char)c, &skipped, value, sizeof value);
        snprintf(raw, sizeof raw, "a%cb", c);
        if (c == '%') {
            ASSERT_STR("unset", got);
            ASSERT_INT(1, (int)skipped);
        } else if (c == ',') {
            ASSERT_STR("a", got);
            ASSERT_INT(1, (int)skipped);
        } else if (c == ';') {
            ASSERT_STR("a", got);
            ASSERT_INT(0, (int)skipped);
        } else if (ctxvar__w3c_is_baggage_octet((unsigned char)c)) {
            ASSERT_STR(raw, got);
            ASSERT_INT(0, (int)skipped);
        } else {
            ASSERT_STR("unset", got);
            ASSERT_INT(1, (int)skipped);
        }
    }
}

/* The encoder (ctxrun's --set makes the same choice) writes a byte as it
 * is exactly when it is a baggage-octet other than '%', else %HH. */
TEST_IMPL(w3c_encoder_escapes_all_but_baggage_octets)
{
    static const char hex[] = "0123456789ABCDEF";
    char value[256], expected[2 + 3 * 255 + 1], got[sizeof expected + 16];
    char *e = expected;
    *e++ = 'v';
    *e++ = '=';
    for (int c = 1; c < 256; c++) {
        value[c - 1] = (char)c;
        if (ctxvar__w3c_is_baggage_octet((unsigned char)c) && c != '%') {
            *e++ = (char)c;
        } else {
            *e++ = '%';
            *e++ = hex[c >> 4];
            *e++ = hex[c & 15];
        }
    }
    value[255] = '\0';
    *e = '\0';
    test_set("v", value);
    size_t dropped = 99;
    ASSERT_INT((int)strlen(expected), ctxvar_baggage_current(got, sizeof got, &dropped));
    ASSERT_STR(expected, got);
    ASSERT_INT(0, (int)dropped);
    /* 89 bytes go as they are ('%' does not), 166 as escapes. */
    ASSERT_INT(2 + 89 + 3 * 166, (int)strlen(expected));
}

TEST_IMPL(w3c_hex_digits_either_case)
{
    for (int c = 0; c < 256; c++) {
        const char *lower = c ? strchr("0123456789abcdef", c) : NULL;
        const char *upper = c ? strchr("0123456789ABCDEF", c) : NULL;
        int want = lower ? (int)(lower - "0123456789abcdef")
                 : upper ? (int)(upper - "0123456789ABCDEF") : -1;
        ASSERT_INT(want, ctxvar__w3c_hex_value((unsigned char)c));
    }
    ctxvar_ctx *ctx = NULL;
    ASSERT_INT(0, ctxvar_baggage_decode("k=%4a%4A", NULL, &ctx, NULL));
    ASSERT_STR("JJ", ctxvar_ctx_get(ctx, test_var("k"), "unset"));
    ctxvar_release(ctx);
}

/* OWS is space and tab only: a '\v' after a value is part of it, a byte
 * that must be escaped, so that member is skipped. */
TEST_IMPL(w3c_ows_is_space_and_tab)
{
    for (int c = 0; c < 256; c++)
        ASSERT_INT(c == ' ' || c == '\t', ctxvar__w3c_is_ows((char)c));
    ctxvar_ctx *ctx = NULL;
    size_t skipped = 99;
    ASSERT_INT(0, ctxvar_baggage_decode(" \tk \t= \ta \t,j=b\v", NULL, &ctx, &skipped));
    ASSERT_STR("a", ctxvar_ctx_get(ctx, test_var("k"), "unset"));
    ASSERT_STR("unset", ctxvar_ctx_get(ctx, test_var("j"), "unset"));
    ASSERT_INT(1, (int)skipped);
    ctxvar_release(ctx);
}

/* A value that is not UTF-8 grows as it is decoded (one U+FFFD, 3 bytes,
 * for each bad byte): the encoder carries it only if it will still fit in
 * 4096 bytes at the other end, and says it dropped it otherwise. */
TEST_IMPL(w3c_encoder_drops_a_value_that_would_decode_too_long)
{
    enum { FITS = CTXVAR_VALUE_MAX / 3 }; /* 1365 bad bytes: 4095 once replaced */
    char *value = malloc(FITS + 2);
    ASSERT_NOT_NULL(value);
    memset(value, 0xff, FITS + 1);
    value[FITS] = '\0';
    ASSERT_INT(0, ctxvar_set(test_var("raw"), value, NULL));
    char *buf = malloc(CTXVAR_BAGGAGE_MAX_BYTES + 1);
    ASSERT_NOT_NULL(buf);
    size_t dropped = 99;
    ASSERT_INT(4 + 3 * FITS, ctxvar_baggage_current(buf, CTXVAR_BAGGAGE_MAX_BYTES + 1, &dropped));
    ASSERT_INT(0, (int)dropped);
    ctxvar_ctx *ctx = NULL;
    size_t skipped = 99;
    ASSERT_INT(0, ctxvar_baggage_decode(buf, NULL, &ctx, &skipped));
    ASSERT_INT(0, (int)skipped);
    const char *got = ctxvar_ctx_get(ctx, test_var("raw"), NULL);
    ASSERT_NOT_NULL(got);
    ASSERT_INT(3 * FITS, (int)strlen(got));
    ASSERT_INT(0, memcmp(got, "\xef\xbf\xbd", 3));
    ctxvar_release(ctx);

    value[FITS] = (char)0xff;
    value[FITS + 1] = '\0';
    ASSERT_INT(0, ctxvar_set(test_var("raw"), value, NULL));
    ASSERT_INT(0, ctxvar_baggage_current(buf, CTXVAR_BAGGAGE_MAX_BYTES + 1, &dropped));
    ASSERT_INT(1, (int)dropped);
    /* The same value in valid UTF-8 is not replaced: all of it travels. */
    for (int i = 0; i + 2 <= FITS; i += 2) memcpy(value + i, "\xc3\xa9", 2);
    value[FITS - 1] = 'x';
    value[FITS] = 'y';
    ASSERT_INT(0, ctxvar_set(test_var("raw"), value, NULL));
    ASSERT_INT(4 + 3 * (FITS - 1) + 2, ctxvar_baggage_current(buf, CTXVAR_BAGGAGE_MAX_BYTES + 1, &dropped));
    ASSERT_INT(0, (int)dropped);
    free(buf);
    free(value);
}

/* traceparent and tracestate, by length as well as bytes, and nothing
 * that merely starts or ends like them. */
TEST_IMPL(w3c_trace_headers_are_never_baggage_members)
{
    ASSERT_INT(1, ctxvar__w3c_is_trace_header("traceparent", 11));
    ASSERT_INT(1, ctxvar__w3c_is_trace_header("tracestate", 10));
    ASSERT_INT(1, ctxvar__w3c_is_trace_header("traceparent=1", 11));
    ASSERT_INT(0, ctxvar__w3c_is_trace_header("traceparent", 10));
    ASSERT_INT(0, ctxvar__w3c_is_trace_header("tracestatex", 11));
    ASSERT_INT(0, ctxvar__w3c_is_trace_header("Traceparent", 11));
    ASSERT_INT(0, ctxvar__w3c_is_trace_header("", 0));

    ctxvar_ctx *ctx = NULL;
    size_t skipped = 99;
    ASSERT_INT(0, ctxvar_baggage_decode("traceparent=1,tracestate=2,traceparentx=3,tracestat=4",
                                        NULL, &ctx, &skipped));
    ASSERT_INT(2, (int)skipped);
    ASSERT_INT(2, (int)ctxvar_ctx_count(ctx));
    ASSERT_STR("3", ctxvar_ctx_get(ctx, test_var("traceparentx"), "unset"));
    ASSERT_STR("4", ctxvar_ctx_get(ctx, test_var("tracestat"), "unset"));
    ctxvar_release(ctx);

    test_set("traceparent", "t");
    test_set("tracestate", "s");
    test_set("tracestat", "4");
    char got[64];
    ASSERT_INT(11, ctxvar_baggage_current(got, sizeof got, NULL));
    ASSERT_STR("tracestat=4", got);
}
