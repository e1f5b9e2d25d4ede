/* refcache.c - the runtime's side of the store's services (lib/store.h):
 * references and memory served per thread, so that the hot paths touch no
 * shared cache line.
 *
 * THE REFERENCE CACHE
 *
 * A context's reference count is shared by every thread that holds it; an
 * atomic add and subtract on it per capture/release, set/reset or wrap/run
 * pair is what makes those pairs scale badly across cores.  So a thread
 * takes references in batches: a cache entry holds `refs` references on
 * `node`, taken from its count in one atomic step and handed out (and back)
 * one at a time with none.
 *
 * An entry only holds nodes that live at least as long as the root
 * `anchor`, and only while the anchor is kept alive by the thread's current
 * context (it is that context, the context it borrows from, or that one's
 * twin) or by a frame the thread is running in: a frame entered for
 * ctxvar_run, a task or a library callback holds the caller's context until
 * it is left, so entering one checks nothing, and the loop thread that runs
 * a callback in a request's context keeps its own entries for when it comes
 * back (unless the callback changes its context: that check gives back
 * what the new context does not keep alive).  ctxvar__cache_check runs on every other change of the current
 * context.  So the cache never keeps alive anything that would otherwise be
 * freed, and ctxvar_stats' live_contexts stays exact.  An entry in use always holds at least one reference, so its
 * node cannot be freed and its address reused under it.
 *
 * FREE LISTS
 *
 * A registered thread keeps up to FREE_LIST_DEPTH blocks of each size class
 * (16-byte steps up to 320 bytes, which covers every node and most
 * bindings), so that set/reset pairs reuse memory without a round trip
 * through malloc.  It gives them back at exit.  Not in the sanitizer and
 * fault-injection builds, which must see every allocation.
 *
 * RECORDS THAT GO HOME
 *
 * A callback record is mostly made on one thread (the one that registers a
 * callback or pushes a job) and freed on another (the loop or pool worker
 * that ran it).  Through malloc that is a producer and a consumer: the
 * consumer's cache overflows, the producer's runs dry, and both end up at
 * the arena's lock for every record, one more cache line crossing cores.
 * So such a record remembers its home, the statistics shard of the thread
 * that made it, and whoever frees it pushes it onto that home's stack for
 * its size class.  A thread of that shard that needs a record and has none
 * in its own chain takes the whole stack with one exchange.  Nothing ever
 * pops a single block off a shared stack, so the ABA problem of lock-free
 * stacks cannot arise: a push only links the block it owns in front of
 * whatever the head is when its compare-and-swap succeeds.  The stacks
 * hold at most the most records that were ever in flight at once, and are
 * reused, never freed; a thread's chain is freed with its free lists.  The
 * ThreadSanitizer build keeps this reuse, so that `make check` checks its
 * ordering; the ASan and fault-injection builds allocate every record.
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "annotate.h"
#include "thread.h"

#define ENTRIES CTXVAR__REF_CACHE_ENTRIES
#define BATCH CTXVAR__REF_CACHE_BATCH

/* ---- The reference cache ------------------------------------------------- */

/* True when `anchor` lives at least as long as t's current context. */
CTXVAR__BEFORE_THREAD_START static int anchor_held(const struct ctxvar__thread *t,
                                                   const ctxvar_ctx *anchor)
{
    const ctxvar_ctx *c = t->current;
    return c && !t->handed_over && ctxvar__ctx_keeps_alive(c, anchor);
}

static void cache_flush(struct ctxvar__thread *t, int i)
{
    ctxvar_ctx *node = t->cache_node[i];
    if (!node) return;
    if (!--t->cache_used) t->cache_anchors = NULL;
    t->cache_node[i] = NULL;
    t->cache_anchor[i] = NULL;
    ctxvar__node_release(node, t->cache_refs[i], (t->cache_root >> i) & 1);
}

__attribute__((noinline)) void ctxvar__cache_flush_unheld(struct ctxvar__thread *t)
{
    /* What stays is kept alive by the current context: noting the one
     * anchor it shares, or else the current context itself, keeps the next
     * checks inline (what keeps an entry's anchor alive and is itself kept
     * alive by the next current context keeps the entry valid). */
    const ctxvar_ctx *common = NULL;
    int mixed = 0;
    for (int i = 0; i < ENTRIES; i++) {
        const ctxvar_ctx *anchor = t->cache_anchor[i]; /* NULL when unused */
        if (!anchor) continue;
        if (!anchor_held(t, anchor)) {
            cache_flush(t, i);
            continue;
        }
        if (common && common != anchor) mixed = 1;
        common = anchor;
    }
    t->cache_anchors = mixed ? t->current : common;
}

void ctxvar__cache_flush_all(struct ctxvar__thread *t)
{
    for (int i = 0; i < ENTRIES; i++) cache_flush(t, i);
}

void ctxvar__ref_take(struct ctxvar__thread *t, ctxvar_ctx *n, const ctxvar_ctx *anchor,
                      int is_root)
{
    int unused = -1;
    for (int i = 0; i < ENTRIES; i++) {
        if (t->cache_node[i] == n) {
            if (t->cache_refs[i] == 1) {
                atomic_fetch_add_explicit(&n->refs, BATCH, memory_order_relaxed);
                t->cache_refs[i] += BATCH;
            }
            t->cache_refs[i]--;
            return;
        }
        if (!t->cache_node[i] && unused < 0) unused = i;
    }
    if (unused < 0 || !anchor_held(t, anchor)) {
        atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&n->refs, BATCH, memory_order_relaxed);
    t->cache_anchors = !t->cache_used++ || t->cache_anchors == anchor ? anchor : NULL;
    t->cache_node[unused] = n;
    t->cache_anchor[unused] = anchor;
    t->cache_refs[unused] = BATCH - 1;
    t->cache_root = (unsigned char)((t->cache_root & ~(1u << unused)) |
                                    ((unsigned)(is_root != 0) << unused));
}

void ctxvar__ref_give(struct ctxvar__thread *t, ctxvar_ctx *n, int is_root)
{
    /* Ours alone (a version just replaced): no cache entry can hold it, as
     * an entry keeps a reference of its own. */
    if (atomic_load_explicit(&n->refs, memory_order_acquire) == 1) {
        ctxvar__node_release(n, 1, is_root);
        return;
    }
    for (int i = 0; i < ENTRIES; i++) {
        if (t->cache_node[i] == n) {
            if (t->cache_refs[i] == 2 * BATCH) {
                /* Never the last: the entry keeps BATCH. */
                atomic_fetch_sub_explicit(&n->refs, BATCH, memory_order_release);
                t->cache_refs[i] -= BATCH;
            }
            t->cache_refs[i]++;
            return;
        }
    }
    ctxvar__node_release(n, 1, is_root);
}

void ctxvar__lender_take(ctxvar_ctx *n, const ctxvar_ctx *anchor, int is_root)
{
    ctxvar__ref_take(ctxvar__me(), n, anchor, is_root);
}

void ctxvar__lender_give(ctxvar_ctx *n, int is_root) { ctxvar__ref_give(ctxvar__me(), n, is_root); }

/* ---- Free lists ------------------------------------------------------------ */

#define FREE_LIST_CLASSES 20
#define FREE_LIST_DEPTH 16

/* Outside the TLS block, which every new thread's creation clears. */
struct ctxvar__free_lists {
    void *head[FREE_LIST_CLASSES]; /* linked through each block's first word */
    void *home_chain[FREE_LIST_CLASSES]; /* records taken back from this shard's stacks */
    unsigned char count[FREE_LIST_CLASSES];
};

void *ctxvar__memory_get(size_t size)
{
    size_t class = (size - 1) / 16;
    if (!CTXVAR__FREE_LISTS || class >= FREE_LIST_CLASSES) return ctxvar__alloc(size);
    struct ctxvar__free_lists *lists = ctxvar__me()->free_lists;
    void *p = lists ? lists->head[class] : NULL;
    if (!p) return ctxvar__alloc((class + 1) * 16); /* every block of a class is one size */
    lists->head[class] = *(void **)p;
    lists->count[class]--;
    return p;
}

/* A registered thread's lists, made on first use (out of line, so that
 * the usual get and put need no stack frame); NULL when it keeps none. */
static __attribute__((noinline)) struct ctxvar__free_lists *free_lists_make(struct ctxvar__thread *t)
{
    if (!t->free_lists_on) return NULL;
    int saved_errno = errno; /* a failed calloc sets it; malloc and free are the fallback */
    t->free_lists = calloc(1, sizeof *t->free_lists);
    errno = saved_errno;
    return t->free_lists;
}

/* The thread's first kept block: make its lists. */
static __attribute__((noinline)) void memory_put_first(struct ctxvar__thread *t, void *p,
                                                       size_t class)
{
    struct ctxvar__free_lists *lists = free_lists_make(t);
    if (!lists) {
        free(p);
        return;
    }
    *(void **)p = NULL;
    lists->head[class] = p;
    lists->count[class] = 1;
}

void ctxvar__memory_put(void *p, size_t size)
{
    size_t class = (size - 1) / 16;
    if (CTXVAR__FREE_LISTS && class < FREE_LIST_CLASSES) {
        /* Freed, to helgrind and DRD, as free() would tell them: its reuse
         * here is no race with its last users (lib/annotate.h). */
        CTXVAR__NEW_MEMORY(p, (class + 1) * 16);
        struct ctxvar__thread *t = ctxvar__me();
        struct ctxvar__free_lists *lists = t->free_lists; /* NULL once not kept */
        if (lists && lists->count[class] < FREE_LIST_DEPTH) {
            *(void **)p = lists->head[class];
            lists->head[class] = p;
            lists->count[class]++;
            return;
        }
        if (!lists && t->free_lists_on) {
            memory_put_first(t, p, class);
            return;
        }
    }
    free(p);
}

void ctxvar__free_lists_free(struct ctxvar__free_lists *lists)
{
    for (int class = 0; class < FREE_LIST_CLASSES; class++) {
        for (void *p = lists->head[class], *next; p; p = next) {
            next = *(void **)p;
            free(p);
        }
        for (void *p = lists->home_chain[class], *next; p; p = next) {
            next = *(void **)p;
            free(p);
        }
    }
    free(lists);
}

/* ---- Records that go home ---------------------------------------------------- */

static _Atomic(void *) home_stacks[CTXVAR__STAT_SHARDS][FREE_LIST_CLASSES];

void *ctxvar__record_memory_get(size_t size, unsigned *home)
{
    size_t class = (size - 1) / 16;
    *home = 0;
    if (!CTXVAR__RECORDS_GO_HOME || class >= FREE_LIST_CLASSES) return ctxvar__alloc(size);
    struct ctxvar__thread *t = ctxvar__me();
    struct ctxvar__free_lists *lists = t->free_lists;
    if (!lists && !(lists = free_lists_make(t))) return ctxvar__alloc(size);
    unsigned shard = (unsigned)(ctxvar__shard_of(t) - ctxvar__stat_shards);
    void *p = lists->home_chain[class];
    if (!p) {
        _Atomic(void *) *stack = &home_stacks[shard][class];
        if (atomic_load_explicit(stack, memory_order_relaxed))
            p = atomic_exchange_explicit(stack, NULL, memory_order_acquire);
        if (!p) {
            p = ctxvar__alloc((class + 1) * 16); /* every block of a class is one size */
            if (!p) return NULL;
            *(void **)p = NULL; /* a new block: the chain ends here */
        }
    }
    lists->home_chain[class] = *(void **)p;
    *home = shard + 1;
    return p;
}

void ctxvar__record_memory_put(void *p, size_t size, unsigned home)
{
    if (!home) {
        free(p);
        return;
    }
    size_t class = (size - 1) / 16;
    /* Freed, to helgrind and DRD, as free() would tell them (lib/annotate.h). */
    CTXVAR__NEW_MEMORY(p, (class + 1) * 16);
    _Atomic(void *) *stack = &home_stacks[home - 1][class];
    void *head = atomic_load_explicit(stack, memory_order_relaxed);
    do {
        *(void **)p = head;
    } while (!atomic_compare_exchange_weak_explicit(stack, &head, p, memory_order_release,
                                                    memory_order_relaxed));
}
