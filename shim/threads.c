/* threads.c - thread creation, joining and detaching, interposed.
 *
 * Each creation takes a snapshot of the caller's context before the real
 * call (the new thread may run first), starts the real thread on a
 * trampoline that installs it, and otherwise changes nothing: the same attr,
 * the same start routine and argument, the same return value and errno.
 * When the runtime cannot do its part (out of memory), the thread starts
 * anyway, empty, and ctxvar_stats counts it.  Joining and detaching release
 * what a joinable thread handed over when its start routine ended
 * (lib/handover.c), and change nothing else either.
 *
 * Our definitions are unversioned, so they satisfy references to any
 * version: pthread_create@GLIBC_2.2.5 from binaries built before glibc 2.34
 * as well as @GLIBC_2.34.  glibc 2.34 and later start C11 threads without
 * calling pthread_create, so thrd_create is interposed too (and with it
 * std::thread where libstdc++ uses it).
 */
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <time.h>

#include "runtime.h"

CTXVAR__EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                  void *(*start)(void *), void *arg);
CTXVAR__EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg);
CTXVAR__EXPORT int pthread_join(pthread_t thread, void **result);
CTXVAR__EXPORT int pthread_tryjoin_np(pthread_t thread, void **result);
CTXVAR__EXPORT int pthread_timedjoin_np(pthread_t thread, void **result,
                                        const struct timespec *abstime);
CTXVAR__EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock,
                                        const struct timespec *abstime);
CTXVAR__EXPORT int pthread_detach(pthread_t thread);
CTXVAR__EXPORT int thrd_join(thrd_t thread, int *result);
CTXVAR__EXPORT int thrd_detach(thrd_t thread);

/* ---- Creation ---------------------------------------------------------------- */

/* Runs when the start routine has ended, by return or by unwinding
 * (pthread_exit, cancellation): this library is compiled with -fexceptions. */
static void start_routine_ended(struct ctxvar__start **record)
{
    if (*record) ctxvar__thread_end(*record);
}

static CTXVAR__BEFORE_THREAD_START void *start_posix_thread(void *p)
{
    void (*start)(void);
    void *arg;
    struct ctxvar__start *record __attribute__((cleanup(start_routine_ended))) =
        ctxvar__thread_begin(p, &start, &arg);
    return ((void *(*)(void *))start)(arg);
}

static CTXVAR__BEFORE_THREAD_START int start_c11_thread(void *p)
{
    void (*start)(void);
    void *arg;
    struct ctxvar__start *record __attribute__((cleanup(start_routine_ended))) =
        ctxvar__thread_begin(p, &start, &arg);
    return ((thrd_start_t)start)(arg);
}

CTXVAR__EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                  void *(*start)(void *), void *arg)
{
    int *error = &errno; /* errno's address, looked up once */
    int saved_errno = *error, r;
    struct ctxvar__prepared prepared;
    __typeof__(&pthread_create) real = CTXVAR__NEXT(pthread_create);
    if (!real) return EAGAIN; /* no glibc below us: no thread can start */
    int detach_state = PTHREAD_CREATE_JOINABLE;
    if (attr && pthread_attr_getdetachstate(attr, &detach_state) != 0)
        detach_state = PTHREAD_CREATE_DETACHED; /* unknown: the thread releases its own */
#ifndef CTXVAR_STATIC_WRAP /* libctxvar.a carries no library interposers */
    if (ctxvar__libuv_worker((void (*)(void))start) ||
        ctxvar__glib_own_thread((void (*)(void))start, arg))
        return real(thread, attr, start, arg);
#endif
    struct ctxvar__start *s = ctxvar__thread_prepare(
        (void (*)(void))start, arg, detach_state == PTHREAD_CREATE_JOINABLE, &prepared);
    *error = saved_errno;
    if (!s) {
        r = real(thread, attr, start, arg);
        if (r == 0 && prepared.failed) ctxvar__count_inherit_failure();
        return r;
    }
    /* *thread is not read after the call: the new thread may already have
     * freed the memory it is in (a job struct that holds its own thread's
     * id, freed by that thread). */
    r = real(thread, attr, start_posix_thread, s);
    if (r != 0) {
        saved_errno = *error;
        ctxvar__thread_discard(s);
        *error = saved_errno;
    }
    return r;
}

CTXVAR__EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg)
{
    int saved_errno = errno, r;
    __typeof__(&thrd_create) real = CTXVAR__NEXT(thrd_create);
    if (!real) return thrd_error;
    struct ctxvar__prepared prepared;
    struct ctxvar__start *s = ctxvar__thread_prepare((void (*)(void))start, arg, 1, &prepared);
    errno = saved_errno;
    if (!s) {
        r = real(thread, start, arg);
        if (r == thrd_success && prepared.failed) ctxvar__count_inherit_failure();
        return r;
    }
    r = real(thread, start_c11_thread, s); /* *thread not read after: see pthread_create */
    if (r != thrd_success) {
        saved_errno = errno;
        ctxvar__thread_discard(s);
        errno = saved_errno;
    }
    return r;
}

/* ---- Joining ------------------------------------------------------------------- */

/* After the real join returned r (`success` meaning joined): releases what
 * the thread handed over, or takes the joiner's mark back.  Returns r. */
static int joined(pthread_t thread, struct ctxvar__join j, int r, int success)
{
    int saved_errno = errno;
    ctxvar__join_finish(thread, j, r == success);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int pthread_join(pthread_t thread, void **result)
{
    __typeof__(&pthread_join) real = CTXVAR__NEXT(pthread_join);
    if (!real) return ENOSYS;
    struct ctxvar__join j = ctxvar__join_prepare(thread);
    return joined(thread, j, real(thread, result), 0);
}

CTXVAR__EXPORT int pthread_tryjoin_np(pthread_t thread, void **result)
{
    __typeof__(&pthread_tryjoin_np) real = CTXVAR__NEXT(pthread_tryjoin_np);
    if (!real) return ENOSYS;
    struct ctxvar__join j = ctxvar__join_prepare(thread);
    return joined(thread, j, real(thread, result), 0);
}

CTXVAR__EXPORT int pthread_timedjoin_np(pthread_t thread, void **result,
                                        const struct timespec *abstime)
{
    __typeof__(&pthread_timedjoin_np) real = CTXVAR__NEXT(pthread_timedjoin_np);
    if (!real) return ENOSYS;
    struct ctxvar__join j = ctxvar__join_prepare(thread);
    return joined(thread, j, real(thread, result, abstime), 0);
}

CTXVAR__EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock,
                                        const struct timespec *abstime)
{
    __typeof__(&pthread_clockjoin_np) real = CTXVAR__NEXT(pthread_clockjoin_np);
    if (!real) return ENOSYS;
    struct ctxvar__join j = ctxvar__join_prepare(thread);
    return joined(thread, j, real(thread, result, clock, abstime), 0);
}

CTXVAR__EXPORT int thrd_join(thrd_t thread, int *result)
{
    __typeof__(&thrd_join) real = CTXVAR__NEXT(thrd_join);
    if (!real) return thrd_error;
    struct ctxvar__join j = ctxvar__join_prepare((pthread_t)thread);
    return joined((pthread_t)thread, j, real(thread, result), thrd_success);
}

/* ---- Detaching ------------------------------------------------------------------ */

/* Detaching changes nothing of the call: what the thread holds is released
 * once it is gone (lib/handover.c), and nobody waits for that. */
static int detach(pthread_t thread, int c11)
{
    int saved_errno = errno;
    ctxvar__detach_prepare(thread);
    errno = saved_errno;
    return c11 ? CTXVAR__NEXT(thrd_detach)((thrd_t)thread) : CTXVAR__NEXT(pthread_detach)(thread);
}

CTXVAR__EXPORT int pthread_detach(pthread_t thread)
{
    return CTXVAR__NEXT(pthread_detach) ? detach(thread, 0) : ENOSYS;
}

CTXVAR__EXPORT int thrd_detach(thrd_t thread)
{
    return CTXVAR__NEXT(thrd_detach) ? detach((pthread_t)thread, 1) : thrd_error;
}
