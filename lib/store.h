/* store.h - the context store: immutable, reference-counted maps from
 * variable to value.  Internal to the runtime; see the essay in store.c. */
#ifndef CTXVAR_STORE_H
#define CTXVAR_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ctxvar.h"
#include "platform.h"

/* A variable: interned by name in lib/names.c, never freed.  Its hash is a
 * bijective mix of a unique serial number, so no two variables share one and
 * the map never needs collision nodes. */
struct ctxvar {
    struct ctxvar *next;    /* intern chain; immutable once published */
    uint32_t hash;
    uint32_t name_len;
    char name[];            /* NUL-terminated */
};

/* One variable's value.  Immutable once made; shared by every context that
 * holds it, and freed with the last of them. */
typedef struct ctxvar__binding {
    atomic_size_t refs;
    const struct ctxvar *var;
    size_t len;
    char value[];           /* NUL-terminated */
} ctxvar__binding;

/* A trie node.  A context is its root node (struct ctxvar_ctx), so a snapshot
 * is one pointer and one reference count.  A node made by copying another
 * may borrow the slots it did not change from that node instead of taking a
 * reference on each (see "BORROWING" in store.c). */
struct ctxvar_ctx {
    atomic_size_t refs;
    uint32_t bindings;      /* bitmap: slots that hold a ctxvar__binding * */
    uint32_t children;      /* bitmap: slots that hold a child node */
    uint32_t count;         /* bindings in this node's whole subtree */
    uint32_t own;           /* bitmap: slots this node holds a reference on */
    uint16_t flags;         /* CTXVAR__CTX_* (roots only), 0 otherwise */
    uint16_t depth;         /* lenders behind this node: 0 when lender is NULL */
    struct ctxvar_ctx *lender; /* holds the slots not in `own`; referenced */
    _Atomic(struct ctxvar_ctx *) twin; /* a flat copy, made once for copies to
                                          borrow from when depth is at its
                                          limit; referenced */
    _Atomic(void *) otel_record; /* roots: the thread context record profilers
                                    read (lib/otel.c), built once when a thread
                                    first makes this context current with
                                    CTXVAR_OTEL=1, freed with the node; NULL */
    void *slot[];           /* popcount(bindings | children), in bit order */
};

/* flags: the context the process was started with, read from its
 * environment at load (a mark on the object, so a later context at the same
 * address is never taken for it). */
#define CTXVAR__CTX_FROM_ENVIRONMENT 1u

#define CTXVAR__HAMT_BITS 5
#define CTXVAR__HAMT_MASK ((1u << CTXVAR__HAMT_BITS) - 1)

uint32_t ctxvar__hash_serial(uint32_t serial) CTXVAR__HIDDEN;

/* Bindings.  new returns NULL when out of memory. */
ctxvar__binding *ctxvar__binding_new(const struct ctxvar *var, const char *value,
                                     size_t len) CTXVAR__HIDDEN;
void ctxvar__binding_release(ctxvar__binding *b) CTXVAR__HIDDEN;
static inline ctxvar__binding *ctxvar__binding_retain(const ctxvar__binding *b)
{
    ctxvar__binding *owned = (ctxvar__binding *)b;
    atomic_fetch_add_explicit(&owned->refs, 1, memory_order_relaxed);
    return owned;
}

/* Contexts.  NULL is the empty context.  retain/release accept NULL.
 * (retain and the two predicates below run in a new thread before its
 * start routine, hence the marks: lib/platform.h.) */
CTXVAR__BEFORE_THREAD_START_INLINE static inline ctxvar_ctx *ctxvar__ctx_retain(const ctxvar_ctx *c)
{
    ctxvar_ctx *owned = (ctxvar_ctx *)c;
    if (owned) atomic_fetch_add_explicit(&owned->refs, 1, memory_order_relaxed);
    return owned;
}
void ctxvar__ctx_release(ctxvar_ctx *c) CTXVAR__HIDDEN;
/* Releases a and b; one atomic step when they are the same context (an
 * ended thread's current and inherited contexts mostly are). */
void ctxvar__ctx_release_pair(ctxvar_ctx *a, ctxvar_ctx *b) CTXVAR__HIDDEN;

/* Drops `refs` references to node n at once (a root when is_root), freeing
 * it when they were the last. */
void ctxvar__node_release(ctxvar_ctx *n, size_t refs, int is_root) CTXVAR__HIDDEN;

/* Whether `anchor` is the root c or the root c borrows its slots from: the
 * two a set or reset moves between. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline int ctxvar__ctx_borrows_from(const ctxvar_ctx *c, const ctxvar_ctx *anchor)
{
    return anchor == c || anchor == c->lender;
}

/* Whether the root `anchor` lives at least as long as c (not NULL) does: it
 * is c, the root c borrows from, or c's twin. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline int ctxvar__ctx_keeps_alive(const ctxvar_ctx *c, const ctxvar_ctx *anchor)
{
    return ctxvar__ctx_borrows_from(c, anchor) ||
           anchor == atomic_load_explicit(&c->twin, memory_order_relaxed);
}

static inline size_t ctxvar__ctx_count(const ctxvar_ctx *c) { return c ? c->count : 0; }

/* The binding of var below the root, from the node at `shift` on (out of
 * line: most lookups end at the root). */
const ctxvar__binding *ctxvar__ctx_find_below(const ctxvar_ctx *n, const struct ctxvar *var,
                                              unsigned shift) CTXVAR__HIDDEN;

/* The first step of every lookup, inline: the binding of var in c's root
 * node, or NULL with *below set to the node to search next from level 1
 * (NULL when var is not in c). */
static inline const ctxvar__binding *ctxvar__ctx_probe_root(const ctxvar_ctx *c,
                                                            const struct ctxvar *var,
                                                            const ctxvar_ctx **below)
{
    *below = NULL;
    uint32_t bit = 1u << (var->hash & CTXVAR__HAMT_MASK);
    unsigned index = ctxvar__popcount((c->bindings | c->children) & (bit - 1));
    if (c->bindings & bit) {
        const ctxvar__binding *b = (const ctxvar__binding *)c->slot[index];
        return b->var == var ? b : NULL;
    }
    if (c->children & bit) *below = (const ctxvar_ctx *)c->slot[index];
    return NULL;
}

/* The binding of var in c (borrowed: valid while c is), or NULL.  The
 * root's slot is probed inline, so the usual lookup needs no call and no
 * stack frame; deeper levels take ctxvar__ctx_find_below. */
static inline const ctxvar__binding *ctxvar__ctx_find(const ctxvar_ctx *c,
                                                      const struct ctxvar *var)
{
    if (!c) return NULL;
    const ctxvar_ctx *below;
    const ctxvar__binding *b = ctxvar__ctx_probe_root(c, var, &below);
    return below ? ctxvar__ctx_find_below(below, var, CTXVAR__HAMT_BITS) : b;
}

/* 1 when a and b bind the same values to every variable but `except`; 0
 * when they differ elsewhere, or when telling would take more than a walk
 * of the parts they do not share (a cheap test: shared nodes compare by
 * pointer). */
int ctxvar__ctx_same_but(const ctxvar_ctx *a, const ctxvar_ctx *b,
                         const struct ctxvar *except) CTXVAR__HIDDEN;

/* A root in c's chain of lenders that binds exactly what c does, or NULL:
 * a version made again (a set changed back) need not keep the chain of
 * versions between alive.  Borrowed. */
ctxvar_ctx *ctxvar__ctx_equal_lender(const ctxvar_ctx *c) CTXVAR__HIDDEN;

/* c with b's variable bound to b, in *out (a new reference; c is untouched).
 * Consumes the caller's reference to b.  0 or ENOMEM. */
int ctxvar__ctx_with(const ctxvar_ctx *c, ctxvar__binding *b, ctxvar_ctx **out) CTXVAR__HIDDEN;

/* c without var, in *out (a new reference, NULL when empty).  0 or ENOMEM. */
int ctxvar__ctx_without(const ctxvar_ctx *c, const struct ctxvar *var,
                        ctxvar_ctx **out) CTXVAR__HIDDEN;

/* The bindings of c that are not shared with base (the same binding object
 * for the same variable), in *out (a new reference).  0 or ENOMEM. */
int ctxvar__ctx_minus(const ctxvar_ctx *c, const ctxvar_ctx *base,
                      ctxvar_ctx **out) CTXVAR__HIDDEN;

/* Calls fn for every binding of c, in no particular order.  Allocates
 * nothing, takes no lock, recurses at most 7 levels: safe after vfork. */
void ctxvar__ctx_visit(const ctxvar_ctx *c, void (*fn)(const ctxvar__binding *b, void *arg),
                       void *arg) CTXVAR__HIDDEN;

/* Calls fn for every binding of c in ascending byte order of name; stops at
 * the first nonzero return and returns it.  Never fails: when it cannot
 * allocate room to sort, it finds each next name by a scan instead. */
int ctxvar__ctx_visit_sorted(const ctxvar_ctx *c,
                             int (*fn)(const ctxvar__binding *b, void *arg),
                             void *arg) CTXVAR__HIDDEN;

/* The same with the caller's scratch room for `room` pointers; allocates
 * nothing, so it may run after vfork.  Beyond `room` bindings it walks. */
int ctxvar__ctx_visit_sorted_in(const ctxvar_ctx *c,
                                int (*fn)(const ctxvar__binding *b, void *arg), void *arg,
                                const ctxvar__binding **scratch, size_t room) CTXVAR__HIDDEN;

/* ---- What the store asks of the runtime ------------------------------------
 *
 * The store calls back into the runtime (lib/refcache.c) for three services,
 * the way a container calls an allocator: memory for nodes and bindings,
 * references on the lenders copies borrow from, and the count of live
 * contexts.  Each has a plain answer (malloc, an atomic add) that the
 * runtime may beat with per-thread caches. */

/* Memory for nodes and bindings, from the calling thread's free lists when
 * it has them; put must be given the size get was.  get returns NULL when
 * out of memory. */
void *ctxvar__memory_get(size_t size) CTXVAR__HIDDEN;
void ctxvar__memory_put(void *p, size_t size) CTXVAR__HIDDEN;

/* One more reference on the lender n (a root when is_root), which lives at
 * least as long as the root `anchor`; one fewer, freeing n when it was the
 * last.  From and to the calling thread's reference cache when it can. */
void ctxvar__lender_take(ctxvar_ctx *n, const ctxvar_ctx *anchor, int is_root) CTXVAR__HIDDEN;
void ctxvar__lender_give(ctxvar_ctx *n, int is_root) CTXVAR__HIDDEN;

/* Counts live contexts (roots) made (+1) or freed (-1). */
void ctxvar__count_live(long delta) CTXVAR__HIDDEN;

/* Frees a root's thread context record (lib/otel.c) as the root is freed. */
void ctxvar__otel_record_free(void *record) CTXVAR__HIDDEN;

#endif
