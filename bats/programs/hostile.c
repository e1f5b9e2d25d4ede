/* hostile - names, values and environments at and past every limit.  Each
 * mode checks the runtime against the contract (lib/ctxvar.h), computed
 * here independently, and prints what it tried and how many answers were
 * wrong; details of each wrong answer go to stderr.
 *
 *   names    every byte as first and as later byte of a name, lengths 0, 1,
 *            64, 65, 4096, embedded high bytes, NULL: ctxvar_named accepts
 *            exactly the valid names, 1 to 64 bytes of [A-Za-z0-9_.-]
 *            starting with a letter or '_' (lib/ctxvar.h, section 2)
 *   values   lengths 4096 (kept byte for byte) and 4097, 1 MB (E2BIG, the
 *            context unchanged), every byte 1-255, invalid UTF-8: get
 *            returns the bytes, ctxvar_format quotes and escapes per
 *            lib/ctxvar.h, section 5
 *   count    what a process started with: the number of variables in main
 *            and in a thread, and the length of the format
 *   secret   refused calls whose values hold the word s3cr3t, for
 *            CTXVAR_DEBUG=1 to explain without printing it
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctxvar.h"

static unsigned long tried, wrong;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (wrong++ < 20) {
        fputs("hostile: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

static int letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int valid_name(const unsigned char *s, size_t len)
{
    if (len < 1 || len > 64 || !(letter(s[0]) || s[0] == '_')) return 0;
    for (size_t i = 1; i < len; i++)
        if (!(letter(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static void try_name(const char *name)
{
    tried++;
    ctxvar *v = ctxvar_named(name);
    int want = valid_name((const unsigned char *)name, strlen(name));
    if (want != (v != NULL)) {
        bad("name of %zu bytes starting 0x%02x: %s", strlen(name), (unsigned char)name[0],
            v ? "accepted" : "refused");
    } else if (v && strcmp(ctxvar_name(v), name) != 0) {
        bad("name of %zu bytes came back different", strlen(name));
    }
}

static int names(void)
{
    char name[8192];
    for (int b = 1; b < 256; b++) {
        snprintf(name, sizeof name, "%c", b);
        try_name(name);
        snprintf(name, sizeof name, "%cx", b);
        try_name(name);
        snprintf(name, sizeof name, "x%c", b);
        try_name(name);
        snprintf(name, sizeof name, "x%cy", b);
        try_name(name);
    }
    size_t lengths[] = {1, 63, 64, 65, 100, 4096, 8000};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        memset(name, 'n', lengths[i]);
        name[lengths[i]] = '\0';
        try_name(name);
        name[lengths[i] - 1] = '\xe9'; /* a high byte at the end */
        try_name(name);
    }
    try_name("caf\xc3\xa9");
    try_name("a\xff\xfe");
    try_name("");
    tried++;
    if (ctxvar_named(NULL) != NULL) bad("NULL name accepted");
    printf("names tried: %lu, wrong: %lu\n", tried, wrong);
    return wrong != 0;
}

/* The logfmt of one pair, per ctxvar_format in lib/ctxvar.h, section 5. */
static void expected_pair(char *out, const char *name, const unsigned char *v)
{
    int quote = !*v;
    for (const unsigned char *p = v; *p; p++)
        if (*p == ' ' || *p == '=' || *p == '"' || *p < 0x20 || *p == 0x7f) quote = 1;
    out += sprintf(out, "%s=", name);
    if (!quote) {
        strcpy(out, (const char *)v);
        return;
    }
    *out++ = '"';
    for (const unsigned char *p = v; *p; p++) {
        switch (*p) {
        case '"': out += sprintf(out, "\\\""); break;
        case '\\': out += sprintf(out, "\\\\"); break;
        case '\n': out += sprintf(out, "\\n"); break;
        case '\r': out += sprintf(out, "\\r"); break;
        case '\t': out += sprintf(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) out += sprintf(out, "\\u%04x", *p);
            else *out++ = (char)*p;
        }
    }
    *out++ = '"';
    *out = '\0';
}

static void try_value(const char *value, const char *what)
{
    static char want[8 * 4200], got[sizeof want];
    ctxvar *v = ctxvar_named("value");
    tried++;
    int r = ctxvar_set(v, value, NULL);
    if (r != 0) {
        bad("%s: set returned %d", what, r);
        return;
    }
    if (strcmp(ctxvar_get(v, ""), value) != 0) bad("%s: get returned other bytes", what);
    expected_pair(want, "value", (const unsigned char *)value);
    int len = ctxvar_format(got, sizeof got);
    if (strcmp(got, want) != 0 || len != (int)strlen(want))
        bad("%s: format wrote \"%.80s\", expected \"%.80s\"", what, got, want);
    ctxvar_set(v, NULL, NULL);
}

static void try_too_long(size_t len)
{
    char *value = malloc(len + 1), before[64], after[64];
    memset(value, 'v', len);
    value[len] = '\0';
    ctxvar_format(before, sizeof before);
    tried++;
    errno = EDOM;
    int r = ctxvar_set(ctxvar_named("value"), value, NULL);
    if (r != E2BIG) bad("%zu bytes: set returned %d, expected E2BIG", len, r);
    if (errno != EDOM) bad("%zu bytes: errno changed", len);
    ctxvar_format(after, sizeof after);
    if (strcmp(before, after) != 0) bad("%zu bytes: the context changed", len);
    free(value);
}

static int values(void)
{
    static char value[1 << 20];
    ctxvar_set(ctxvar_named("other"), "kept", NULL);
    ctxvar_set(ctxvar_named("other"), NULL, NULL);
    memset(value, 'x', 4096);
    value[4096] = '\0';
    try_value(value, "4096 bytes");
    value[4095] = ' ';
    try_value(value, "4096 bytes with a space");
    try_too_long(4097);
    try_too_long(1 << 20);
    for (int b = 1; b < 256; b++) { /* each byte alone and inside text */
        char what[32];
        snprintf(value, sizeof value, "%c", b);
        snprintf(what, sizeof what, "byte 0x%02x", b);
        try_value(value, what);
        snprintf(value, sizeof value, "a%cb", b);
        try_value(value, what);
    }
    for (int b = 1; b < 256; b++) value[b - 1] = (char)b; /* every byte at once */
    value[255] = '\0';
    try_value(value, "bytes 1-255");
    const char *utf8[] = {"\xc3\x28", "\xa0\xa1", "\xe2\x28\xa1", "\xf0\x28\x8c\x28",
                          "\xf8\xa1\xa1\xa1\xa1", "\xed\xa0\x80", "\xc0\xaf", "\xef\xbb\xbf",
                          "caf\xc3\xa9", "\\", "\\n", "=", "\"", "a=b c\"d\\e"};
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) try_value(utf8[i], "odd bytes");
    tried++;
    if (ctxvar_set(ctxvar_named("value"), "", NULL) != 0) bad("empty value refused");
    char out[64];
    ctxvar_format(out, sizeof out);
    if (strcmp(out, "value=\"\"") != 0) bad("empty value formatted as %s", out);
    printf("values tried: %lu, wrong: %lu\n", tried, wrong);
    return wrong != 0;
}

static void show_count(const char *who)
{
    ctxvar_ctx *c = ctxvar_capture();
    int len = ctxvar_format(NULL, 0);
    printf("%s: %zu variables, format %d bytes\n", who, ctxvar_ctx_count(c), len);
    ctxvar_release(c);
}

static void *count_thread(void *p)
{
    show_count(p);
    return NULL;
}

static int count(void)
{
    pthread_t t;
    show_count("main");
    if (pthread_create(&t, NULL, count_thread, "thread") == 0) pthread_join(t, NULL);
    printf("runtime: %s\n", ctxvar_runtime_present() ? "yes" : "no");
    return 0;
}

static int secret(void)
{
    static char value[5000];
    memset(value, 's', sizeof value - 1);
    memcpy(value, "s3cr3t", 6);
    ctxvar_set(ctxvar_named("value"), value, NULL);               /* E2BIG */
    ctxvar_set(NULL, "s3cr3t", NULL);                             /* EINVAL */
    ctxvar_named("s3cr3t with spaces");                           /* invalid name */
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    ctxvar_reset(&tok);                                           /* never filled */
    ctxvar_set(ctxvar_named("password"), "s3cr3t", &tok);
    ctxvar_reset(&tok);
    ctxvar_reset(&tok);                                           /* EALREADY */
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "names") == 0) return names();
    if (strcmp(mode, "values") == 0) return values();
    if (strcmp(mode, "count") == 0) return count();
    if (strcmp(mode, "secret") == 0) return secret();
    fprintf(stderr, "usage: hostile names|values|count|secret\n");
    return 2;
}
