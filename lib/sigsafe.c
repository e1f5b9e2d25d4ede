/* sigsafe.c - what a signal handler that interrupted the runtime may still
 * do (see lib/sigsafe.h): release references without freeing, and visit a
 * context in name order without malloc.
 *
 * THE DEFERRED LISTS
 *
 * A handler that drops the last reference to a context must not free it:
 * freeing goes through the thread's free lists and reference cache, which
 * the interrupted call may be changing, and through free(), which may be
 * what it interrupted.  The context is put on a lock-free list instead and
 * freed by the next thread that drains the lists, from outside any handler
 * interruption: ctxvar_stats (so live_contexts is exact) or a thread
 * creation, neither of which a handler may call (a release may: it must
 * not free what others deferred).  A context with no reference
 * left is nobody's to read, so its reference count is free to serve as the
 * list's link; a task's memory (which a handler's task run or task free
 * must not free either) links through its first word.  Pushes are a CAS
 * loop; a drain takes a whole list with one exchange, so a node is never
 * popped while another thread looks at it (no ABA).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "alloc.h"
#include "annotate.h"
#include "runtime.h"
#include "sigsafe.h"

_Atomic(ctxvar_ctx *) ctxvar__deferred_contexts;
_Atomic(void *) ctxvar__deferred_blocks;

void ctxvar__reentered_release(ctxvar_ctx *c)
{
    if (!c) return;
    size_t refs = atomic_load_explicit(&c->refs, memory_order_relaxed);
    while (refs > 1)
        if (atomic_compare_exchange_weak_explicit(&c->refs, &refs, refs - 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    /* The last reference: ours alone, nobody can raise it now. */
    ctxvar_ctx *head = atomic_load_explicit(&ctxvar__deferred_contexts, memory_order_relaxed);
    do {
        atomic_store_explicit(&c->refs, (size_t)(uintptr_t)head, memory_order_relaxed);
        CTXVAR__HAPPENS_BEFORE(&ctxvar__deferred_contexts);
    } while (!atomic_compare_exchange_weak_explicit(&ctxvar__deferred_contexts, &head, c,
                                                    memory_order_release, memory_order_relaxed));
}

void ctxvar__reentered_free(void *p)
{
    if (!p) return;
    void *head = atomic_load_explicit(&ctxvar__deferred_blocks, memory_order_relaxed);
    do {
        *(void **)p = head;
        CTXVAR__HAPPENS_BEFORE(&ctxvar__deferred_blocks);
    } while (!atomic_compare_exchange_weak_explicit(&ctxvar__deferred_blocks, &head, p,
                                                    memory_order_release, memory_order_relaxed));
}

void ctxvar__context_release(ctxvar_ctx *c)
{
    if (!c) return;
    struct ctxvar__thread *t = ctxvar__me();
    ctxvar__busy_push(t);
    ctxvar__ctx_release(c);
    ctxvar__busy_pop(t);
}

void ctxvar__deferred_drain_some(void)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (t->busy) return; /* ourselves in a handler: a later drain will do */
    int saved_errno = errno;
    ctxvar__busy_push(t);
    ctxvar_ctx *c = atomic_exchange_explicit(&ctxvar__deferred_contexts, NULL, memory_order_acquire);
    CTXVAR__HAPPENS_AFTER(&ctxvar__deferred_contexts);
    while (c) {
        ctxvar_ctx *next = (ctxvar_ctx *)(uintptr_t)atomic_load_explicit(&c->refs, memory_order_relaxed);
        atomic_store_explicit(&c->refs, 1, memory_order_relaxed);
        ctxvar__ctx_release(c);
        c = next;
    }
    void *p = atomic_exchange_explicit(&ctxvar__deferred_blocks, NULL, memory_order_acquire);
    CTXVAR__HAPPENS_AFTER(&ctxvar__deferred_blocks);
    while (p) {
        void *next = *(void **)p;
        free(p);
        p = next;
    }
    ctxvar__busy_pop(t);
    errno = saved_errno;
}

/* Room for `bytes`, or MAP_FAILED.  The fault-injection build counts it as
 * one allocation (make fault fails each in turn), so that the walk that
 * replaces it is tested too. */
static void *scratch_map(size_t bytes)
{
#ifdef CTXVAR_FAULT_INJECTION
    void *probe = ctxvar__alloc(1);
    if (!probe) return MAP_FAILED;
    free(probe);
#endif
    return mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int ctxvar__ctx_visit_sorted_sigsafe(const ctxvar_ctx *c,
                                     int (*fn)(const ctxvar__binding *b, void *arg), void *arg)
{
    enum { ON_STACK = 64 };
    const ctxvar__binding *stack[ON_STACK];
    size_t n = ctxvar__ctx_count(c);
    if (n <= ON_STACK) return ctxvar__ctx_visit_sorted_in(c, fn, arg, stack, ON_STACK);
    int saved_errno = errno; /* a failed mmap sets it; we fall back to walking */
    size_t bytes = n * sizeof stack[0];
    void *map = scratch_map(bytes);
    errno = saved_errno;
    if (map == MAP_FAILED) return ctxvar__ctx_visit_sorted_in(c, fn, arg, stack, ON_STACK);
    int r = ctxvar__ctx_visit_sorted_in(c, fn, arg, map, n);
    munmap(map, bytes);
    errno = saved_errno;
    return r;
}

_Thread_local struct ctxvar__fork_lock_state ctxvar__fork_locks[CTXVAR__FORK_LOCKS];

void ctxvar__fork_child_reset(pthread_mutex_t *m) { pthread_mutex_init(m, NULL); }
