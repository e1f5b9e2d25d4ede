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

#endif
