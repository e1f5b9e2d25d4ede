/* registry.c - which threads hold contexts, and how each lets go of them.
 *
 * A thread that makes its context non-empty must release it when it ends,
 * however it ends, and the runtime takes none of the process's pthread keys
 * to do it (a program may need all of them).  There are two ways:
 *
 *   threads we start  keep their start record as an exit record
 *                     (lib/handover.c): a joinable thread's joiner releases
 *                     what it handed over; a detached thread's is released
 *                     once the kernel has finished the thread.  The
 *                     program's own key and thread_local destructors, which
 *                     run after the start routine, still see the context.
 *   other threads     (the main thread, threads started before the runtime
 *                     was loaded or around it) register a thread-exit
 *                     destructor the way C++ thread_local objects do
 *                     (__cxa_thread_atexit_impl).  It runs after the
 *                     thread_local destructors registered after it and
 *                     before pthread key destructors, which then see an
 *                     empty context; exit() runs it for the thread that
 *                     calls exit.
 *
 * The registry lists the threads of the second kind, so that a forked
 * child, where only the forking thread exists, can release what the others
 * held (their TLS is copied into the child and never freed); threads of the
 * first kind are found through their records.  It is guarded by a mutex,
 * taken at a listed thread's registration and exit and by ctxvar_stats,
 * and held across fork by pthread_atfork so that no child finds it held by
 * a thread it does not have (unless the forking thread holds it: a fork
 * from a signal handler, lib/sigsafe.h).  A mutex, not a spinlock: a
 * waiter sleeps, so a high-priority real-time thread can never spin
 * forever on a lock that a lower-priority thread on its CPU holds.
 *
 * Statistics are sharded atomics, so that threads do not share a cache
 * line; listed threads count live contexts in their own state, summed under
 * the registry lock.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "childenv.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"

__thread struct ctxvar__thread ctxvar__self;

CTXVAR__BEFORE_THREAD_START __attribute__((noinline)) struct ctxvar__thread *
ctxvar__me_by_descriptor(void)
{
    return &ctxvar__self;
}

/* ---- Statistics ---------------------------------------------------------------- */

struct ctxvar__stat_shard ctxvar__stat_shards[CTXVAR__STAT_SHARDS];
static atomic_uint next_shard;

CTXVAR__BEFORE_THREAD_START struct ctxvar__stat_shard *ctxvar__shard_choose(struct ctxvar__thread *t)
{
    t->shard = (unsigned char)(1 + atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
                                       CTXVAR__STAT_SHARDS);
    return &ctxvar__stat_shards[t->shard - 1];
}

void ctxvar__count_inherit_failure(void) { ctxvar__count(CTXVAR__STAT_FAILED, 1); }

CTXVAR__BEFORE_THREAD_START void ctxvar__count(int which, long long delta)
{
    ctxvar__count_in(ctxvar__me(), which, delta);
}

/* ---- The registry ------------------------------------------------------------------ */

/* Under ThreadSanitizer the registry is left empty: a thread may register
 * before TSan has set it up, so TSan could not see the lock that orders the
 * list's links and would report them; what the registry is for, a forked
 * child's memory, valgrind checks (make check-valgrind). */
#if defined(__SANITIZE_THREAD__)
#define REGISTRY_IN_USE 0
#else
#define REGISTRY_IN_USE 1
#endif

/* Taken by the fork handlers, with its phase (lib/sigsafe.h): the scan of
 * ended threads holds it across a few system calls, and a program may
 * fork from a signal handler that interrupted that. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
#define FORK_STATE ctxvar__fork_locks[CTXVAR__FORK_LOCK_REGISTRY]
static struct ctxvar__thread *registry;

/* The holder is marked busy (lib/sigsafe.h): a signal handler that
 * interrupts it must not take the lock again, nor change what it guards. */
void ctxvar__registry_lock(void)
{
    ctxvar__busy_push(ctxvar__me());
    ctxvar__phased_lock(&registry_lock, &FORK_STATE.phase);
}

void ctxvar__registry_unlock(void)
{
    ctxvar__phased_unlock(&registry_lock, &FORK_STATE.phase);
    ctxvar__busy_pop(ctxvar__me());
}
#define lock ctxvar__registry_lock
#define unlock ctxvar__registry_unlock

CTXVAR__BEFORE_THREAD_START void ctxvar__registry_add(struct ctxvar__thread *t)
{
    if (!REGISTRY_IN_USE) return;
    lock();
    t->prev = NULL;
    t->next = registry;
    if (registry) registry->prev = t;
    registry = t;
    t->listed = 1;
    unlock();
}

/* Under the registry lock: unlists t, its live count folded into the shards. */
static void unlink_locked(struct ctxvar__thread *t)
{
    if (!t->listed) return;
    atomic_fetch_add_explicit(&ctxvar__shard_of(ctxvar__me())->value[CTXVAR__STAT_LIVE],
                              atomic_load_explicit(&t->live, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&t->live, 0, memory_order_relaxed);
    if (t->prev) t->prev->next = t->next;
    else registry = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->listed = 0;
}

void ctxvar__registry_unlist(struct ctxvar__thread *t)
{
    if (!REGISTRY_IN_USE || !t->listed) return;
    lock();
    unlink_locked(t);
    unlock();
}

/* A thread not in the registry (one released at join, which a forked child
 * finds through its exit record instead, or one not registered at all)
 * counts in its stats shard. */
static __attribute__((noinline)) void count_live_slow(long delta)
{
    ctxvar__count(CTXVAR__STAT_LIVE, delta);
}

void ctxvar__count_live(long delta)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (REGISTRY_IN_USE && t->listed) {
        long long now = atomic_load_explicit(&t->live, memory_order_relaxed);
        atomic_store_explicit(&t->live, now + delta, memory_order_relaxed);
    } else {
        count_live_slow(delta);
    }
}

static atomic_ullong next_thread_uid;

unsigned long long ctxvar__thread_uid(struct ctxvar__thread *t)
{
    if (!t->uid) t->uid = 1 + atomic_fetch_add_explicit(&next_thread_uid, 1, memory_order_relaxed);
    return t->uid;
}

/* ---- Release at exit ------------------------------------------------------------------ */

static void release_at_thread_exit(void *state)
{
    struct ctxvar__thread *t = state;
    /* glibc runs a main thread's thread_local destructors only inside
     * exit() (one that calls pthread_exit ends without them), before the
     * atexit handlers and the destructors of the program and its
     * libraries: those still run on this thread and must see its context,
     * and start children with it, as without the runtime.  The process is
     * ending: nothing is released. */
    if (ctxvar__on_main_thread()) return;
    ctxvar__child_env_thread_ends();
    ctxvar__busy_push(t); /* a signal handler must not change state meanwhile */
    ctxvar__registry_remove(t);
    ctxvar__cache_flush_all(t);
    t->free_lists_on = 0;
    /* exit() on this thread runs its thread_local destructors inside a
     * frame: a lent current context is its lender's. */
    ctxvar_ctx *last = t->current_lent ? NULL : t->current, *inherited = t->inherited;
    t->current = t->inherited = NULL;
    t->current_lent = 0;
    /* A new version for the empty context: what was cached for the old
     * one (the last request's headers, lib/headers.c) borrows from it. */
    t->version = ++t->serial;
    ctxvar__otel_follow(NULL, NULL);
    t->registered = 0;
    t->exited = 1;
    ctxvar__ctx_release(last);
    ctxvar__ctx_release(inherited);
    ctxvar__free_lists_drain(t);
    ctxvar__busy_pop(t);
}

int ctxvar__ensure_registered(struct ctxvar__thread *t)
{
    if (t->registered) return 0;
    ctxvar__ensure_settings();
    if (!t->exit_record) {
        if (!CTXVAR__THREAD_ATEXIT_PRESENT()) return 0; /* nothing we can arrange */
        if (__cxa_thread_atexit_impl(release_at_thread_exit, t, &__dso_handle) != 0) return ENOMEM;
        ctxvar__registry_add(t);
    }
    t->registered = 1;
    t->free_lists_on = CTXVAR__KEEPS_MEMORY;
    return 0;
}

void ctxvar__thread_state_release(struct ctxvar__thread *t)
{
    ctxvar__cache_flush_all(t);
    ctxvar__free_lists_drain(t);
    /* A context lent to the thread's innermost frame is its lender's
     * (lib/frames.c, "Lent contexts"). */
    if (!t->current_lent) ctxvar__ctx_release(t->current);
    ctxvar__ctx_release(t->inherited);
    t->current = t->inherited = NULL;
}

/* ---- fork ------------------------------------------------------------------------------ */

static void before_fork(void)
{
    ctxvar__busy_push(ctxvar__me());
    FORK_STATE.forked_holding = !ctxvar__fork_prepare_lock(&registry_lock, FORK_STATE.phase);
}

static void after_fork_in_parent(void)
{
    if (!FORK_STATE.forked_holding) pthread_mutex_unlock(&registry_lock);
    ctxvar__busy_pop(ctxvar__me());
}

/* In the child of fork: only the forking thread exists; release the
 * contexts the others held.  Forked from a handler that interrupted this
 * thread inside the lock (or while another thread held it), the lists may
 * be half changed: they are cut to this thread without being walked, and
 * the others' contexts stay (this child leaks them). */
static void release_other_threads(void)
{
    struct ctxvar__thread *me = &ctxvar__self;
    if (FORK_STATE.forked_holding) {
        ctxvar__exit_records_forget_others();
    } else {
        for (struct ctxvar__thread *t = registry, *next; t; t = next) {
            next = t->next;
            if (t == me) continue;
            unlink_locked(t); /* its live count goes to the shards */
            /* A thread with an exit record is released from its record. */
            if (!t->exit_record) ctxvar__thread_state_release(t);
        }
        ctxvar__exit_records_release_others();
    }
    registry = me->listed ? me : NULL;
    me->prev = me->next = NULL;
    ctxvar__startup_forked();
    ctxvar__fork_child_reset(&registry_lock);
    ctxvar__busy_pop(ctxvar__me());
}

void ctxvar__registry_init(void)
{
    pthread_atfork(before_fork, after_fork_in_parent, release_other_threads);
}

/* ---- ctxvar_stats --------------------------------------------------------------------- */

CTXVAR__EXPORT int ctxvar_stats(struct ctxvar_stats *out)
{
    long long sum[CTXVAR__STAT_COUNT] = {0};
    if (!out) return EINVAL;
    /* From a handler that interrupted the runtime, which may hold the lock. */
    if (ctxvar__me()->busy) return EBUSY;
    ctxvar__deferred_drain(); /* what handlers released is not alive */
    ctxvar__exit_records_reap(1); /* what ended threads hold is not alive */
    /* Under the registry lock, so that a thread folding its own count into
     * the shards at exit is counted once. */
    if (REGISTRY_IN_USE) lock();
    for (int s = 0; s < CTXVAR__STAT_SHARDS; s++)
        for (int i = 0; i < CTXVAR__STAT_COUNT; i++)
            sum[i] += atomic_load_explicit(&ctxvar__stat_shards[s].value[i], memory_order_relaxed);
    for (const struct ctxvar__thread *t = REGISTRY_IN_USE ? registry : NULL; t; t = t->next)
        sum[CTXVAR__STAT_LIVE] += atomic_load_explicit(&t->live, memory_order_relaxed);
    if (REGISTRY_IN_USE) unlock();
    out->live_contexts = sum[CTXVAR__STAT_LIVE] > 0 ? (unsigned long long)sum[CTXVAR__STAT_LIVE] : 0;
    out->threads_inherited = (unsigned long long)sum[CTXVAR__STAT_INHERITED];
    out->inherit_failures = (unsigned long long)sum[CTXVAR__STAT_FAILED];
    return 0;
}
