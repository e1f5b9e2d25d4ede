/* helpers.c - assertions and helpers shared by the C tests (see test.h). */
#include "test.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void test_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[8192];
    va_list ap;
    int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write, so that lines from several failing threads do not mix. */
    size_t len = strlen(msg);
    if (len < sizeof msg - 1) msg[len++] = '\n';
    if (write(2, msg, len) < 0) { /* nothing better to do */ }
    _exit(1);
}

void test_skip(const char *why)
{
    fprintf(stderr, "%s\n", why);
    fflush(stderr);
    _exit(TEST_SKIP_STATUS);
}

void test_check_int(const char *file, int line, const char *expr, long long expected,
                    long long got)
{
    if (expected != got)
        test_fail(file, line, "%s: expected %lld, got %lld", expr, expected, got);
}

void test_check_ull(const char *file, int line, const char *expr,
                    unsigned long long expected, unsigned long long got)
{
    if (expected != got)
        test_fail(file, line, "%s: expected %llu, got %llu", expr, expected, got);
}

/* Shows a string with its control bytes escaped, at most ~200 bytes. */
static void show(char *out, size_t size, const char *s)
{
    size_t n = 0;
    if (!s) {
        snprintf(out, size, "NULL");
        return;
    }
    out[n++] = '"';
    for (; *s && n + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (n > 200) {
            n += (size_t)snprintf(out + n, size - n, "...");
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '"')
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n++] = '"';
    out[n] = '\0';
}

void test_check_str(const char *file, int line, const char *expr, const char *expected,
                    const char *got)
{
    char e[512], g[512];
    if (expected == got) return;
    if (expected && got && strcmp(expected, got) == 0) return;
    show(e, sizeof e, expected);
    show(g, sizeof g, got);
    test_fail(file, line, "%s: expected %s, got %s", expr, e, g);
}

void test_check_ptr(const char *file, int line, const char *expr, const void *expected,
                    const void *got)
{
    if (expected != got)
        test_fail(file, line, "%s: expected pointer %p, got %p", expr, expected, got);
}

int test_errno_kept(int result, const char *file, int line, const char *expr)
{
    int e = errno;
    if (e != TEST_ERRNO_MARK)
        test_fail(file, line, "%s changed errno from %d to %d (%s)", expr,
                  TEST_ERRNO_MARK, e, strerror(e));
    return result;
}

static struct ctxvar_stats stats_now(void)
{
    struct ctxvar_stats s;
    int rc = ctxvar_stats(&s);
    if (rc != 0) test_fail(__FILE__, __LINE__, "ctxvar_stats returned %d", rc);
    return s;
}

unsigned long long test_live(void) { return stats_now().live_contexts; }
unsigned long long test_inherited(void) { return stats_now().threads_inherited; }

unsigned long long test_wait_live(unsigned long long want)
{
    unsigned long long got = test_live();
    for (int i = 0; i < 500 && got != want; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        got = test_live();
    }
    return got;
}

void *test_in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *result;
    CHECK_PT(pthread_create(&t, NULL, fn, arg));
    CHECK_PT(pthread_join(t, &result));
    return result;
}

ctxvar *test_var(const char *name)
{
    ctxvar *v = ctxvar_named(name);
    if (!v) test_fail(__FILE__, __LINE__, "ctxvar_named(\"%s\") returned NULL", name);
    return v;
}

void test_set(const char *name, const char *value)
{
    int rc = ctxvar_set(test_var(name), value, NULL);
    if (rc != 0)
        test_fail(__FILE__, __LINE__, "ctxvar_set(%s) returned %d (%s)", name, rc,
                  ctxvar_strerror(rc));
}

const char *test_format(void)
{
    static __thread char buf[65536];
    int n = ctxvar_format(buf, sizeof buf);
    if (n < 0 || (size_t)n >= sizeof buf)
        test_fail(__FILE__, __LINE__, "ctxvar_format returned %d", n);
    return buf;
}

static int saved_stderr = -1, capture_fd = -1;

void test_stderr_start(void)
{
    fflush(stderr);
    capture_fd = memfd_create("stderr", 0);
    saved_stderr = dup(2);
    if (capture_fd < 0 || saved_stderr < 0 || dup2(capture_fd, 2) < 0)
        test_fail(__FILE__, __LINE__, "cannot capture stderr: %s", strerror(errno));
}

char *test_stderr_stop(void)
{
    fflush(stderr);
    off_t size = lseek(capture_fd, 0, SEEK_END);
    char *text = malloc((size_t)size + 1);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    if (!text || pread(capture_fd, text, (size_t)size, 0) != size)
        test_fail(__FILE__, __LINE__, "cannot read captured stderr");
    text[size] = '\0';
    close(capture_fd);
    return text;
}

const char *test_get_from_other_unit(const char *name, const char *fallback)
{
    return ctxvar_get(ctxvar_named(name), fallback);
}

int test_set_from_other_unit(const char *name, const char *value)
{
    return ctxvar_set(ctxvar_named(name), value, NULL);
}
