/* notify.c - SIGEV_THREAD notifications run in their creator's context.
 *
 * timer_create and mq_notify with SIGEV_THREAD make glibc call a function on
 * a thread of its own, started without pthread_create (pitfall 7), so no
 * context would reach it.  We register a trampoline instead, with a record
 * {function, value, snapshot} as its value: each notification runs the
 * caller's function with the caller's value, in the snapshot taken when the
 * timer or notification was created.  Later changes in the creator are not
 * seen, as with threads.
 *
 * Lifetime.  A record must outlive every notification that may still be on
 * its way, and POSIX leaves open whether one can arrive after timer_delete.
 * So timer_delete, a replaced or cancelled mq_notify, and mq_close retire the
 * record rather than free it; retired records are freed, with their
 * snapshot, once they have been retired for RETIRE_SECONDS.  The registry
 * takes a mutex, on these calls only, and pthread_atfork keeps a forked child
 * from finding it held (pitfall 9).
 *
 * Not covered: POSIX AIO (aio_read, aio_write, lio_listio) and
 * getaddrinfo_a notifications; their SIGEV_THREAD callbacks start empty.
 * timer_create@GLIBC_2.2.5, the pre-2004 timer ABI, is not supported: our
 * unversioned definition forwards to the current one.
 */
#include <errno.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "runtime.h"

#define RETIRE_SECONDS 2

enum notify_kind { NOTIFY_TIMER, NOTIFY_MQ };

struct notify {
    void (*fn)(union sigval);
    union sigval value;
    ctxvar_ctx *context;            /* owned */
    enum notify_kind kind;
    timer_t timer;                  /* NOTIFY_TIMER */
    mqd_t mq;                       /* NOTIFY_MQ */
    struct timespec retired_at;
    struct notify *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct notify *registered;   /* live timers and message queues */
static struct notify *retired;      /* newest first */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_registry(void) { pthread_mutex_lock(&registry_lock); }
static void unlock_registry(void) { pthread_mutex_unlock(&registry_lock); }
static void register_atfork(void) { pthread_atfork(lock_registry, unlock_registry, unlock_registry); }

struct call {
    void (*fn)(union sigval);
    union sigval value;
};

static void call_notify(void *p)
{
    const struct call *c = p;
    c->fn(c->value);
}

static void run_notification(union sigval value)
{
    const struct notify *n = value.sival_ptr;
    struct call c = {n->fn, n->value};
    ctxvar__run_in(n->context, call_notify, &c);
}

/* A record for sev (SIGEV_THREAD), and in *ours the sigevent to pass on
 * instead; NULL when we cannot (out of memory, or deferring). */
static struct notify *prepare(const struct sigevent *sev, enum notify_kind kind,
                              struct sigevent *ours)
{
    if (!sev || sev->sigev_notify != SIGEV_THREAD || !ctxvar__propagation_enabled())
        return NULL;
    struct notify *n = ctxvar__alloc(sizeof *n);
    if (!n) {
        ctxvar__debug("SIGEV_THREAD: out of memory; the notification runs without context");
        return NULL;
    }
    n->fn = sev->sigev_notify_function;
    n->value = sev->sigev_value;
    n->context = ctxvar__capture_for_child();
    n->kind = kind;
    n->next = NULL;
    *ours = *sev;
    ours->sigev_notify_function = run_notification;
    ours->sigev_value.sival_ptr = n;
    return n;
}

static void discard(struct notify *n)
{
    ctxvar__ctx_release(n->context);
    free(n);
}

/* With the lock held: frees records retired long enough ago. */
static void sweep_retired(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (struct notify **link = &retired; *link;) {
        if (now.tv_sec - (*link)->retired_at.tv_sec > RETIRE_SECONDS) {
            /* Retired newest first: everything from here on is older. */
            struct notify *old = *link;
            *link = NULL;
            while (old) {
                struct notify *next = old->next;
                discard(old);
                old = next;
            }
            return;
        }
        link = &(*link)->next;
    }
}

/* With the lock held: moves the registered record matching (kind, key) to
 * the retired list. */
static void retire_matching(enum notify_kind kind, const timer_t *timer, const mqd_t *mq)
{
    for (struct notify **link = &registered; *link; link = &(*link)->next) {
        struct notify *n = *link;
        if (n->kind != kind || (timer && n->timer != *timer) || (mq && n->mq != *mq)) continue;
        *link = n->next;
        clock_gettime(CLOCK_MONOTONIC, &n->retired_at);
        n->next = retired;
        retired = n;
        return;
    }
}

static void registry_update(struct notify *add, enum notify_kind kind, const timer_t *timer,
                            const mqd_t *mq)
{
    pthread_once(&atfork_once, register_atfork);
    lock_registry();
    sweep_retired();
    if (!add || kind == NOTIFY_MQ) retire_matching(kind, timer, mq);
    if (add) {
        add->next = registered;
        registered = add;
    }
    unlock_registry();
}

CTXVAR__EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *timer)
{
    static _Atomic(void *) cache;
    int (*next)(clockid_t, struct sigevent *, timer_t *) =
        (int (*)(clockid_t, struct sigevent *, timer_t *))ctxvar__next_symbol(&cache, "timer_create", NULL);
    struct sigevent ours;
    int saved_errno = errno;
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    struct notify *n = prepare(sev, NOTIFY_TIMER, &ours);
    errno = saved_errno;
    if (!n) return next(clock, sev, timer);
    int r = next(clock, &ours, timer);
    saved_errno = errno;
    if (r == 0) {
        n->timer = *timer;
        registry_update(n, NOTIFY_TIMER, NULL, NULL);
    } else {
        discard(n);
    }
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int timer_delete(timer_t timer)
{
    static _Atomic(void *) cache;
    int (*next)(timer_t) = (int (*)(timer_t))ctxvar__next_symbol(&cache, "timer_delete", NULL);
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    int r = next(timer), saved_errno = errno;
    if (r == 0) registry_update(NULL, NOTIFY_TIMER, &timer, NULL);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int mq_notify(mqd_t mq, const struct sigevent *sev)
{
    static _Atomic(void *) cache;
    int (*next)(mqd_t, const struct sigevent *) =
        (int (*)(mqd_t, const struct sigevent *))ctxvar__next_symbol(&cache, "mq_notify", NULL);
    struct sigevent ours;
    int saved_errno = errno;
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    struct notify *n = prepare(sev, NOTIFY_MQ, &ours);
    errno = saved_errno;
    int r = next(mq, n ? &ours : sev);
    saved_errno = errno;
    if (r == 0) {
        if (n) n->mq = mq;
        registry_update(n, NOTIFY_MQ, NULL, &mq); /* replaces or cancels the old one */
    } else if (n) {
        discard(n);
    }
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int mq_close(mqd_t mq)
{
    static _Atomic(void *) cache;
    int (*next)(mqd_t) = (int (*)(mqd_t))ctxvar__next_symbol(&cache, "mq_close", NULL);
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    int r = next(mq), saved_errno = errno;
    if (r == 0) registry_update(NULL, NOTIFY_MQ, NULL, &mq);
    errno = saved_errno;
    return r;
}
