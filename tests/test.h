/* test.h - the C test harness: assertions and shared helpers.
 *
 * Every test is a `void test_NAME(void)` declared once in test-list.h and
 * defined with TEST_IMPL(NAME) in one of tests/test-*.c.  The runner runs each
 * test in its own process (see runner.c), so a test may leave threads, locks
 * and variables behind: its process ends with it.
 *
 * A test passes when it returns.  A failed assertion prints
 *     tests/test-vars.c:42: ctxvar_get(a, "fb"): expected "1", got "2"
 * on stderr and ends the process with status 1 at once (from any thread).
 *
 * The test files include ctxvar.h exactly as a user would: header-only, no
 * runtime linked; the runner preloads build/libctxvar.so or not.
 */
#ifndef CTXVAR_TEST_H
#define CTXVAR_TEST_H

#include "ctxvar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_IMPL(name) void test_##name(void)

/* The mode a test runs in: with the runtime preloaded, or with none. */
enum test_mode { RUNTIME, NO_RUNTIME };

/* Prints "file:line: what" plus the message on stderr and ends the process
 * with status 1 (from any thread). */
__attribute__((noreturn, format(printf, 3, 4)))
void test_fail(const char *file, int line, const char *fmt, ...);

/* Ends the test as skipped: the runner prints "ok N - name # skip why".
 * Only for what the test's environment cannot do, never for a failure. */
#define TEST_SKIP_STATUS 77
__attribute__((noreturn)) void test_skip(const char *why);

/* Skips a test that a dynamic ThreadSanitizer cannot run, for a reason of
 * TSan's own, checked without ctxvar (make check runs TSan first in
 * LD_PRELOAD, as a user would). */
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN(why) test_skip("TSan: " why)
#else
#define SKIP_UNDER_TSAN(why) ((void)0)
#endif
#define TSAN_NO_C11_THREADS "GCC 12's TSan does not intercept thrd_create; a C11 thread " \
                            "crashes in TSan even without ctxvar"


void test_check_int(const char *file, int line, const char *expr,
                    long long expected, long long got);
void test_check_ull(const char *file, int line, const char *expr,
                    unsigned long long expected, unsigned long long got);
void test_check_str(const char *file, int line, const char *expr,
                    const char *expected, const char *got);
void test_check_ptr(const char *file, int line, const char *expr,
                    const void *expected, const void *got);

#define ASSERT(cond)                                                            \
    do {                                                                        \
        if (!(cond)) test_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)
/* ASSERT_INT(expected, got): integers (errors, counts). */
#define ASSERT_INT(expected, got) \
    test_check_int(__FILE__, __LINE__, #got, (long long)(expected), (long long)(got))
#define ASSERT_ULL(expected, got)                                               \
    test_check_ull(__FILE__, __LINE__, #got, (unsigned long long)(expected),    \
                   (unsigned long long)(got))
/* ASSERT_STR(expected, got): equal C strings; NULL equals only NULL. */
#define ASSERT_STR(expected, got) test_check_str(__FILE__, __LINE__, #got, (expected), (got))
/* ASSERT_PTR(expected, got): the very same pointer. */
#define ASSERT_PTR(expected, got)                                               \
    test_check_ptr(__FILE__, __LINE__, #got, (const void *)(expected),          \
                   (const void *)(got))
#define ASSERT_NULL(got) ASSERT_PTR(NULL, got)
#define ASSERT_NOT_NULL(got)                                                    \
    do {                                                                        \
        if ((got) == NULL) test_fail(__FILE__, __LINE__, "%s: expected non-NULL", #got); \
    } while (0)

/* The contract: functions returning int never change errno.  CALL(expr) sets
 * errno to a marker, evaluates the int expression, checks errno still holds
 * the marker, and yields the expression's value. */
#define TEST_ERRNO_MARK 12345
int test_errno_kept(int result, const char *file, int line, const char *expr);
#define CALL(expr) \
    (errno = TEST_ERRNO_MARK, test_errno_kept((expr), __FILE__, __LINE__, #expr))

/* A pthread call that must succeed (setup, not under test). */
#define CHECK_PT(expr)                                                          \
    do {                                                                        \
        int rc_ = (expr);                                                       \
        if (rc_ != 0)                                                           \
            test_fail(__FILE__, __LINE__, "%s failed: %s", #expr, strerror(rc_)); \
    } while (0)

/* Helpers (helpers.c). */

/* ctxvar_stats().live_contexts; the call must succeed. */
unsigned long long test_live(void);
/* ctxvar_stats().threads_inherited. */
unsigned long long test_inherited(void);
/* Waits up to 5 s for live_contexts to drop to `want` (a detached thread
 * releases its context a moment after its last visible action). */
unsigned long long test_wait_live(unsigned long long want);

/* Runs fn(arg) in a new joinable thread and joins it; returns its result. */
void *test_in_thread(void *(*fn)(void *), void *arg);

/* The variable called name; fails the test if the runtime refuses it. */
ctxvar *test_var(const char *name);

/* Sets name=value (NULL unsets) without a token; must succeed. */
void test_set(const char *name, const char *value);

/* ctxvar_format into a fresh static buffer per thread. */
const char *test_format(void);

/* Captures what is written to stderr (fd 2) between start and stop.  The
 * returned text is malloc()ed, NUL-terminated; the caller frees it. */
void test_stderr_start(void);
char *test_stderr_stop(void);

/* Defined in a different translation unit from the tests (helpers.c), with
 * its own binding to the runtime: ctxvar_get(ctxvar_named(name), fallback). */
const char *test_get_from_other_unit(const char *name, const char *fallback);
int test_set_from_other_unit(const char *name, const char *value);

#endif /* CTXVAR_TEST_H */
