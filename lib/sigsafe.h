/* sigsafe.h - calls made from a signal handler that interrupted the runtime
 * in the same thread.
 *
 * A handler runs on the thread it interrupted, in the middle of whatever
 * that thread was doing.  If that was a runtime call halfway through
 * changing the thread's state (its current context, reference cache, free
 * lists, live count, or a lock it holds), a second call from the handler
 * that changes the same state would corrupt it: a cache count decremented
 * twice, a free list whose head is written back stale, a lock taken twice.
 *
 * So every call that changes a thread's state marks it, in `busy` of the
 * thread state (lib/thread.h), for as long as it does; a call that finds
 * the mark set was made by a handler that interrupted such a call, and
 * either refuses (EBUSY, nothing changed) or takes a path that touches only
 * atomics: a reference taken or dropped on the context's own count, a last
 * reference (or a task's memory) put on a lock-free list and freed later,
 * by a thread that is not interrupted (lib/sigsafe.c).  Handlers nest
 * strictly inside what they interrupt, so a check then a set of the mark
 * needs no atomic instruction: a handler that runs between the two has
 * finished, and left the mark clear, before the interrupted call reads any
 * state.  The compiler must not move state accesses across the mark, hence
 * the signal fences, which emit no instruction.
 *
 * The readers (ctxvar_get, ctxvar_format, ctxvar_ctx_get, ...) need no
 * mark: contexts are immutable once published, and the current context is
 * switched by one pointer store after the new one is complete and before
 * the old one is released, so a handler reads either, whole and alive.
 *
 * `busy` counts: internal paths that hold a lock or change state outside
 * the API (the registry lock, thread start and exit, the interposers'
 * releases) raise it around their work and lower it after, nesting.
 */
#ifndef CTXVAR_SIGSAFE_H
#define CTXVAR_SIGSAFE_H

#include <pthread.h>
#include <stdatomic.h>

#include "thread.h"

/* An API call's entry: 1 when t may change its state (marked now; call
 * ctxvar__busy_leave), 0 when a handler interrupted a call that is changing
 * it (not marked). */
CTXVAR__BEFORE_THREAD_START_INLINE static inline int ctxvar__busy_enter(struct ctxvar__thread *t)
{
    if (__builtin_expect(t->busy != 0, 0)) return 0;
    t->busy = 1;
    atomic_signal_fence(memory_order_seq_cst);
    return 1;
}

CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__busy_leave(struct ctxvar__thread *t)
{
    atomic_signal_fence(memory_order_seq_cst);
    t->busy = 0;
}

/* Internal paths: mark (nesting) and unmark. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__busy_push(struct ctxvar__thread *t)
{
    t->busy++;
    atomic_signal_fence(memory_order_seq_cst);
}

CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__busy_pop(struct ctxvar__thread *t)
{
    atomic_signal_fence(memory_order_seq_cst);
    t->busy--;
}

/* t's current context for a reader.  Interrupting a call that changes it,
 * the context as it stands (seeding the main thread, which allocates, is
 * left to a later call). */
static inline ctxvar_ctx *ctxvar__current_sigsafe(struct ctxvar__thread *t)
{
    return __builtin_expect(t->busy != 0, 0) ? t->current : ctxvar__current(t);
}

/* One more reference on the root c (not NULL) on its own count: no thread
 * state touched. */
static inline ctxvar_ctx *ctxvar__reentered_retain(ctxvar_ctx *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

/* One fewer reference on the root c (NULL: nothing); the last one is not
 * freed here but put on the deferred list. */
void ctxvar__reentered_release(ctxvar_ctx *c) CTXVAR__HIDDEN;

/* Memory from malloc, at least a pointer's size, freed later. */
void ctxvar__reentered_free(void *p) CTXVAR__HIDDEN;

/* What handlers deferred: contexts linked through their reference count
 * word, and blocks linked through their first word. */
extern _Atomic(ctxvar_ctx *) ctxvar__deferred_contexts CTXVAR__HIDDEN;
extern _Atomic(void *) ctxvar__deferred_blocks CTXVAR__HIDDEN;
void ctxvar__deferred_drain_some(void) CTXVAR__HIDDEN;

/* Frees what handlers deferred (any thread's), from a thread that is not
 * interrupted: ctxvar_stats, a thread's creation.  Two loads, inline, when
 * there is nothing: every thread creation asks. */
static inline void ctxvar__deferred_drain(void)
{
    if (atomic_load_explicit(&ctxvar__deferred_contexts, memory_order_relaxed) ||
        atomic_load_explicit(&ctxvar__deferred_blocks, memory_order_relaxed))
        ctxvar__deferred_drain_some();
}

/* ctxvar__ctx_visit_sorted without malloc: on the stack for up to 64
 * bindings, in an anonymous mapping beyond (mmap and munmap are system
 * calls, safe in a handler), by repeated walks if no mapping can be made. */
int ctxvar__ctx_visit_sorted_sigsafe(const ctxvar_ctx *c,
                                     int (*fn)(const ctxvar__binding *b, void *arg),
                                     void *arg) CTXVAR__HIDDEN;

/* ---- Locks that fork handlers take --------------------------------------------
 *
 * The runtime's fork handlers take its locks, so that a forked child never
 * finds one held by a thread it does not have, nor what it guards half
 * changed.  A program may fork from a signal handler that interrupted a
 * thread holding one of them (POSIX leaves that undefined; glibc's own
 * popen lock allows it): the handler must not wait for its own thread.  So
 * each such lock has a thread-local phase, which its users set around
 * taking it (ctxvar__phased_lock, _unlock): 1 while taking it, 2 while
 * holding it, 3 while giving it back, 0 otherwise.  A fork handler asks
 * ctxvar__fork_prepare_lock, which takes the lock when the thread was
 * outside it (whoever holds it will give it back), leaves it alone when the
 * thread holds it, and in between takes it only if it is free: busy, it
 * counts as the thread's own (it is, but for a thread that was waiting
 * while another one held it, a case whose child may then find what the
 * lock guards half changed).  Where it returns 0, the parent does not
 * unlock after the fork (the interrupted code will) and the child walks
 * nothing the lock guards (it cuts it to its own thread, or leaves it);
 * the child makes the lock anew either way (ctxvar__fork_child_reset), as
 * its one thread is another than the one that locked it.  Not covered:
 * such a fork while another thread forks too, which may hold another of
 * the locks the handler then waits for. */

static inline void ctxvar__phased_lock(pthread_mutex_t *m, unsigned char *phase)
{
    *phase = 1;
    atomic_signal_fence(memory_order_seq_cst);
    pthread_mutex_lock(m);
    atomic_signal_fence(memory_order_seq_cst);
    *phase = 2;
}

static inline void ctxvar__phased_unlock(pthread_mutex_t *m, unsigned char *phase)
{
    *phase = 3;
    atomic_signal_fence(memory_order_seq_cst);
    pthread_mutex_unlock(m);
    atomic_signal_fence(memory_order_seq_cst);
    *phase = 0;
}

/* In a fork's prepare handler: 1 when the lock was taken for the fork (the
 * parent's handler gives it back), 0 when the forking thread counts as
 * holding it already. */
static inline int ctxvar__fork_prepare_lock(pthread_mutex_t *m, unsigned char phase)
{
    if (phase == 0) {
        pthread_mutex_lock(m);
        return 1;
    }
    return phase != 2 && pthread_mutex_trylock(m) == 0;
}

void ctxvar__fork_child_reset(pthread_mutex_t *m) CTXVAR__HIDDEN;

/* Each such lock's phase on this thread, and whether this thread's fork
 * counted as holding it.  Kept here (lib/sigsafe.c), not beside the locks:
 * lib/otel.c defines no thread-local variable but otel_thread_ctx_v1, which
 * then stays at offset 0 of the runtime's TLS block, where readers of that
 * format find it most simply. */
enum ctxvar__fork_lock_id {
    CTXVAR__FORK_LOCK_REGISTRY,  /* lib/registry.c */
    CTXVAR__FORK_LOCK_OTEL_KEYS, /* lib/otel.c */
    CTXVAR__FORK_LOCK_NOTIFY,    /* shim/notify.c */
    CTXVAR__FORK_LOCKS
};
struct ctxvar__fork_lock_state {
    unsigned char phase, forked_holding;
};
extern _Thread_local struct ctxvar__fork_lock_state ctxvar__fork_locks[CTXVAR__FORK_LOCKS] CTXVAR__HIDDEN;

#endif
