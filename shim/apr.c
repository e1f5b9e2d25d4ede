/* apr.c - APR-util's thread pool runs each task in the context of the code
 * that pushed, topped or scheduled it.
 *
 * apr_thread_pool_push, _top and _schedule take the task as (func, param):
 * we pass (trampoline, record) instead, the record holding {func, param,
 * the caller's context}, and every other argument unchanged, the owner
 * included, so apr_thread_pool_task_owner_get and cancellation by owner
 * see the program's.  The trampoline runs the task as a pool task (the
 * stale-context rule applies to APR's workers) and frees the record.
 *
 * A task that never runs is freed from cancellation, the one path APR
 * drops tasks by: after apr_thread_pool_tasks_cancel(pool, owner) returns,
 * that owner's records still queued for that pool (all of them for owner
 * NULL, which is what APR's own pool cleanup passes, through its PLT) were
 * removed by APR and are freed.  The queued records are linked by their
 * pool's address (an index, lib/callback.c).  APR waits, before it returns, for the
 * tasks of that owner that are running; it does not wait for tasks with no
 * owner when cancelling everything, so with owner NULL the records with no
 * owner are freed only when no thread of the pool is busy
 * (apr_thread_pool_busy_count), else left to their trampoline.
 *
 * What is left when the pool goes (a task with no owner cancelled while
 * another ran, a task APR popped during destruction and dropped) is freed
 * by a cleanup of ours on the pool's own APR pool, registered when the
 * pool is created through apr_thread_pool_create: APR runs it after its
 * own, which has stopped every thread of the pool.  The pool's APR pool is
 * the first member of APR-util's private struct apr_thread_pool, in every
 * release since the pool was added (1.3).
 *
 * Out of memory for a record, the task is passed on unchanged: it runs,
 * without its caller's context.
 */
#ifndef CTXVAR_STATIC_WRAP /* a static program links APR itself */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

#define APRUTIL_SONAME "libaprutil-1.so.0"
#define APR_SONAME "libapr-1.so.0"

typedef int apr_status_t;
typedef unsigned char apr_byte_t;
typedef int64_t apr_interval_time_t;
typedef size_t apr_size_t;
typedef struct apr_thread_t apr_thread_t;
typedef struct apr_thread_pool_t apr_thread_pool_t;
typedef struct apr_pool_t apr_pool_t;
typedef void *(*apr_thread_start_t)(apr_thread_t *, void *);

apr_status_t apr_thread_pool_push(apr_thread_pool_t *me, apr_thread_start_t func, void *param,
                                  apr_byte_t priority, void *owner);
apr_status_t apr_thread_pool_top(apr_thread_pool_t *me, apr_thread_start_t func, void *param,
                                 apr_byte_t priority, void *owner);
apr_status_t apr_thread_pool_schedule(apr_thread_pool_t *me, apr_thread_start_t func, void *param,
                                      apr_interval_time_t time, void *owner);
apr_status_t apr_thread_pool_tasks_cancel(apr_thread_pool_t *me, void *owner);
apr_status_t apr_thread_pool_create(apr_thread_pool_t **me, apr_size_t init_threads,
                                    apr_size_t max_threads, apr_pool_t *pool);

#define REAL(name) CTXVAR__NEXT_IN(name, APRUTIL_SONAME)

/* A record's life: PUSHING while its push is in APR's hands (a worker may
 * already run it; a cancellation leaves it alone), then QUEUED, or RAN when
 * a worker ran it first, which leaves the freeing to the pusher. */
enum { TASK_PUSHING, TASK_QUEUED, TASK_RAN };

struct task {
    struct ctxvar__callback cb;   /* fn: the program's func; arg: its param */
    struct ctxvar__indexed queued;  /* key: the pool, until it runs or is cancelled */
    void *owner;
    atomic_int state;             /* TASK_*: who frees it */
    unsigned long long serial; /* taken once APR holds it, for cancellation */
};

static struct ctxvar__index queued;
static _Atomic unsigned long long submitted;

static void call_task(const struct ctxvar__callback *cb, void *thread)
{
    ((apr_thread_start_t)cb->fn)(thread, cb->arg);
}

/* APR ignores what a pool task returns. */
static void *run_task(apr_thread_t *thread, void *record)
{
    struct task *t = record;
    ctxvar__index_remove(&queued, &t->queued);
    ctxvar__callback_invoke_task_owned(&t->cb, call_task, thread);
    int pushing = TASK_PUSHING;
    if (atomic_compare_exchange_strong_explicit(&t->state, &pushing, TASK_RAN, memory_order_acq_rel,
                                                memory_order_acquire))
        return NULL; /* its push has not returned: the pusher frees it */
    ctxvar__callback_free(&t->cb);
    return NULL;
}

static struct task *task_new(apr_thread_pool_t *me, apr_thread_start_t func, void *param,
                             void *owner, const char *what)
{
    if (!me || !func || !ctxvar__loops_enabled()) return NULL;
    struct task *t = ctxvar__callback_new(sizeof *t, (void (*)(void))func, param, what);
    if (!t) return NULL;
    t->owner = owner;
    atomic_init(&t->state, TASK_PUSHING);
    t->serial = 0;
    ctxvar__index_add(&queued, &t->queued, me);
    return t;
}

/* After the real push: APR holds the task, so a cancellation that begins
 * from now on (its serial is no later) may free it.  Unless a worker ran
 * it meanwhile: then it is the pusher's to free. */
static void queued_by_apr(struct task *t)
{
    t->serial = atomic_fetch_add_explicit(&submitted, 1, memory_order_relaxed) + 1;
    int pushing = TASK_PUSHING;
    if (!atomic_compare_exchange_strong_explicit(&t->state, &pushing, TASK_QUEUED,
                                                 memory_order_acq_rel, memory_order_acquire))
        ctxvar__callback_free(&t->cb);
}

#define INTERPOSE_ADD(name, WHEN)                                                        \
    CTXVAR__EXPORT apr_status_t name(apr_thread_pool_t *me, apr_thread_start_t func,       \
                                     void *param, WHEN, void *owner)                      \
    {                                                                                     \
        __typeof__(&name) real = REAL(name);                                              \
        if (!real) return 70023; /* APR_ENOTIMPL: cannot happen where APR is linked */    \
        struct task *t = task_new(me, func, param, owner, #name);                         \
        if (!t) return real(me, func, param, when, owner);                               \
        /* Not freed on an error: APR queues the task before it tries to    \
         * start a thread, whose failure it returns; a task it never queued \
         * (out of memory) is freed with its pool. */                        \
        apr_status_t rv = real(me, run_task, t, when, owner);                             \
        queued_by_apr(t);                                                                 \
        return rv;                                                                        \
    }

INTERPOSE_ADD(apr_thread_pool_push, apr_byte_t when)
INTERPOSE_ADD(apr_thread_pool_top, apr_byte_t when)
INTERPOSE_ADD(apr_thread_pool_schedule, apr_interval_time_t when)

struct cancelled {
    void *owner;
    int any_owner;                /* owner NULL: every owner's */
    int busy;                     /* owner NULL: a thread may be running one */
    unsigned long long before;    /* submitted before the cancellation began */
    struct task *list;
};

/* With the bucket locked: unlinks the cancelled owner's records onto a list
 * (the queued link's next, reused), freed once the lock is dropped. */
static int take_cancelled(struct ctxvar__indexed *e, void *arg)
{
    struct cancelled *c = arg;
    struct task *t = (struct task *)((char *)e - offsetof(struct task, queued));
    int cancelled = c->any_owner ? !(c->busy && !t->owner) : t->owner == c->owner;
    /* Only what APR held when the cancellation began: a push still in
     * progress then may or may not have been removed. */
    if (cancelled && atomic_load_explicit(&t->state, memory_order_acquire) == TASK_QUEUED &&
        t->serial <= c->before) {
        ctxvar__index_unlink_locked(e);
        t->queued.next = c->list ? &c->list->queued : NULL;
        c->list = t;
    }
    return 0;
}

static void free_cancelled(apr_thread_pool_t *me, struct cancelled *c)
{
    ctxvar__index_visit(&queued, me, take_cancelled, c);
    while (c->list) {
        struct task *t = c->list;
        c->list = t->queued.next ? (struct task *)((char *)t->queued.next - offsetof(struct task, queued))
                                 : NULL;
        ctxvar__callback_free(&t->cb);
    }
}

CTXVAR__EXPORT apr_status_t apr_thread_pool_tasks_cancel(apr_thread_pool_t *me, void *owner)
{
    __typeof__(&apr_thread_pool_tasks_cancel) real = REAL(apr_thread_pool_tasks_cancel);
    if (!real) return 70023;
    /* A task whose push had not returned when the cancellation began may
     * or may not have been removed: its record is left alone (it runs, or
     * stays until a later cancel or the pool's end). */
    struct cancelled c = {owner, owner == NULL, 1, atomic_load(&submitted), NULL};
    apr_status_t rv = real(me, owner);
    if (!me || !ctxvar__loops_enabled()) return rv;
    if (!owner) {
        static struct ctxvar__library_symbol busy_cache;
        apr_size_t (*busy)(apr_thread_pool_t *) = (apr_size_t(*)(apr_thread_pool_t *))
            ctxvar__next_symbol_in(&busy_cache, "apr_thread_pool_busy_count", NULL, APRUTIL_SONAME);
        c.busy = !busy || busy(me) != 0;
    }
    free_cancelled(me, &c);
    return rv;
}

/* The pool's APR pool is being destroyed, its threads are gone: whatever
 * is still linked was dropped. */
static apr_status_t pool_gone(void *me)
{
    struct cancelled c = {NULL, 1, 0, ~0ULL, NULL};
    free_cancelled(me, &c);
    return 0;
}

CTXVAR__EXPORT apr_status_t apr_thread_pool_create(apr_thread_pool_t **me, apr_size_t init_threads,
                                                   apr_size_t max_threads, apr_pool_t *pool)
{
    __typeof__(&apr_thread_pool_create) real = REAL(apr_thread_pool_create);
    if (!real) return 70023;
    apr_status_t rv = real(me, init_threads, max_threads, pool);
    if (rv != 0 || !me || !*me || !ctxvar__loops_enabled()) return rv;
    static struct ctxvar__library_symbol register_cache, null_cache;
    void (*register_cleanup)(apr_pool_t *, const void *, apr_status_t (*)(void *),
                             apr_status_t (*)(void *)) =
        (void (*)(apr_pool_t *, const void *, apr_status_t (*)(void *), apr_status_t (*)(void *)))
            ctxvar__next_symbol_in(&register_cache, "apr_pool_cleanup_register", NULL, APR_SONAME);
    apr_status_t (*cleanup_null)(void *) = (apr_status_t(*)(void *))
        ctxvar__next_symbol_in(&null_cache, "apr_pool_cleanup_null", NULL, APR_SONAME);
    apr_pool_t *own = *(apr_pool_t **)*me; /* its first member */
    if (register_cleanup && cleanup_null && own) register_cleanup(own, *me, pool_gone, cleanup_null);
    return rv;
}
#endif
