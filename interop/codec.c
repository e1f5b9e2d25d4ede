/* codec.c - ctxvar's side of the interop test (bats/interop.bats): the
 * same commands as interop/otel.js, done with ctxvar_baggage_encode,
 * ctxvar_baggage_decode and ctxvar_set_traceparent.  Compiled like a user's
 * program (the header alone) and run with build/libctxvar.so preloaded.
 *
 *   codec encode                fed lines (NAME, then HEX key, HEX value, ...)
 *                               -> NAME<TAB>HEX-OF-HEADER<TAB>dropped=N
 *   codec encode KEY VALUE...  ctxvar's header for that context, then a line
 *                               dropped=N
 *   codec decode [-s] [HEADER...]
 *                               header lines on stdin (or the arguments,
 *                               named "arg") -> NAME: CANONICAL, with
 *                               " skipped=N" appended under -s
 *   codec traceparent [VALUE...]
 *                               -> NAME: valid TRACE-ID PARENT-ID FLAGS,
 *                               or NAME: invalid (ctxvar_set_traceparent)
 *   codec current               the main thread's context as seeded by the
 *                               runtime from BAGGAGE and TRACEPARENT
 *
 * CANONICAL is what otel.js prints: key="value" in byte order of key, the
 * value escaped as JSON.stringify does, "(empty)" when there are none.  A
 * byte that is not part of valid UTF-8 prints as \xNN, which JSON never
 * produces, so such a value can never compare equal to OpenTelemetry's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"

#define LINE_MAX_BYTES (1 << 20)

static void fail(const char *what, int err)
{
    fprintf(stderr, "codec: %s: %s\n", what, err ? ctxvar_strerror(err) : "bad input");
    exit(1);
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes the hex field [s, s+n) in place into s, NUL-terminated. */
static char *unhex(char *s, size_t n)
{
    if (n % 2) fail("odd hex field", 0);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit((unsigned char)s[2 * i]), lo = hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) fail("bad hex field", 0);
        s[i] = (char)(hi << 4 | lo);
    }
    s[n / 2] = '\0';
    return s;
}

/* Splits a line at tabs into at most max fields. */
static size_t split(char *line, char **field, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\n")] = '\0';
    for (char *p = line; n < max;) {
        field[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0xc2 || s[0] > 0xf4) return 0;
    if (s[0] < 0xe0) len = 2, min = 0x80, cp = s[0] & 0x1f;
    else if (s[0] < 0xf0) len = 3, min = 0x800, cp = s[0] & 0x0f;
    else len = 4, min = 0x10000, cp = s[0] & 0x07;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* value as JSON.stringify writes it. */
static void print_json_string(const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t n = strlen(value);
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t seq;
        switch (c) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (c < 0x20) {
                printf("\\u%04x", c);
            } else if (c < 0x80) {
                putchar(c);
            } else if ((seq = utf8_sequence(s + i, n - i)) != 0) {
                fwrite(s + i, 1, seq, stdout);
                i += seq;
                continue;
            } else {
                printf("\\x%02X", c);
            }
        }
        i++;
    }
    putchar('"');
}

static int print_member(const char *name, const char *value, void *arg)
{
    int *first = arg;
    if (!*first) putchar(' ');
    *first = 0;
    printf("%s=", name);
    print_json_string(value);
    return 0;
}

static void print_canonical(const ctxvar_ctx *c)
{
    int first = 1;
    if (ctxvar_ctx_count(c) == 0) fputs("(empty)", stdout);
    else ctxvar_ctx_foreach(c, print_member, &first);
}

static void print_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);
}

/* ctxvar_baggage_encode of the current context into a new string; *dropped. */
static char *encode_current(size_t *dropped)
{
    ctxvar_ctx *c = ctxvar_capture();
    int len = ctxvar_baggage_encode(c, NULL, 0, NULL);
    char *header = malloc((size_t)len + 1);
    if (!header) fail("malloc", ENOMEM);
    if (ctxvar_baggage_encode(c, header, (size_t)len + 1, dropped) != len)
        fail("two encodings differ in length", 0);
    ctxvar_release(c);
    return header;
}

static void set_member(const char *key, const char *value)
{
    ctxvar *v = ctxvar_named(key);
    if (!v) fail(key, EINVAL);
    int err = ctxvar_set(v, value, NULL);
    if (err) fail("ctxvar_set", err);
}

/* Fed lines -> the context each describes -> ctxvar's baggage header. */
static void encode(void)
{
    static char line[LINE_MAX_BYTES];
    static char *field[1024];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = split(line, field, sizeof field / sizeof *field);
        if (n % 2 == 0) fail("fed line wants NAME then key/value pairs", 0);
        for (size_t i = 1; i < n; i += 2)
            set_member(unhex(field[i], strlen(field[i])), unhex(field[i + 1], strlen(field[i + 1])));
        size_t dropped = 0;
        char *header = encode_current(&dropped);
        printf("%s\t", field[0]);
        print_hex(header, strlen(header));
        printf("\tdropped=%zu\n", dropped);
        free(header);
        ctxvar_clear();
    }
}

static void decode_one(const char *name, const char *header, int show_skipped)
{
    ctxvar_ctx *c = NULL;
    size_t skipped = 0;
    int err = ctxvar_baggage_decode(header, NULL, &c, &skipped);
    if (err) fail("ctxvar_baggage_decode", err);
    printf("%s: ", name);
    print_canonical(c);
    if (show_skipped) printf(" skipped=%zu", skipped);
    putchar('\n');
    ctxvar_release(c);
}

static void traceparent_one(const char *name, const char *value)
{
    ctxvar_token tok;
    int err = ctxvar_set_traceparent(value, &tok);
    if (err == EINVAL) {
        printf("%s: invalid\n", name);
        return;
    }
    if (err) fail("ctxvar_set_traceparent", err);
    /* What the variable holds is what a child's TRACEPARENT carries. */
    const char *held = ctxvar_get(ctxvar_named("traceparent"), "");
    if (strcmp(held, value) != 0) fail("traceparent holds another value", 0);
    printf("%s: valid %.32s %.16s %.2s\n", name, held + 3, held + 36, held + 53);
    err = ctxvar_reset(&tok);
    if (err) fail("ctxvar_reset", err);
}

/* Each argument, or each header line of stdin, through fn. */
static void each_value(int argc, char **argv, void (*fn)(const char *, const char *, int),
                       int flag)
{
    static char line[LINE_MAX_BYTES];
    char *field[2];
    if (argc > 0) {
        for (int i = 0; i < argc; i++) fn("arg", argv[i], flag);
        return;
    }
    while (fgets(line, sizeof line, stdin)) {
        if (split(line, field, 2) != 2) fail("header line wants NAME<TAB>HEX", 0);
        fn(field[0], unhex(field[1], strlen(field[1])), flag);
    }
}

static void traceparent_adapter(const char *name, const char *value, int unused)
{
    (void)unused;
    traceparent_one(name, value);
}

int main(int argc, char **argv)
{
    if (!ctxvar_runtime_present()) {
        fputs("codec: no ctxvar runtime (run with LD_PRELOAD=build/libctxvar.so)\n", stderr);
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "encode") == 0) {
        encode();
    } else if (argc >= 2 && strcmp(argv[1], "encode") == 0 && argc % 2 == 0) {
        size_t dropped = 0;
        for (int i = 2; i < argc; i += 2) set_member(argv[i], argv[i + 1]);
        char *header = encode_current(&dropped);
        printf("%s\ndropped=%zu\n", header, dropped);
        free(header);
    } else if (argc >= 2 && strcmp(argv[1], "decode") == 0) {
        int show_skipped = argc >= 3 && strcmp(argv[2], "-s") == 0;
        each_value(argc - 2 - show_skipped, argv + 2 + show_skipped, decode_one, show_skipped);
    } else if (argc >= 2 && strcmp(argv[1], "traceparent") == 0) {
        each_value(argc - 2, argv + 2, traceparent_adapter, 0);
    } else if (argc == 2 && strcmp(argv[1], "current") == 0) {
        ctxvar_ctx *c = ctxvar_capture();
        printf("current: ");
        print_canonical(c);
        putchar('\n');
        ctxvar_release(c);
    } else {
        fputs("usage: codec encode [KEY VALUE...] | decode [-s] [HEADER...] | traceparent [VALUE...] | current\n",
              stderr);
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
