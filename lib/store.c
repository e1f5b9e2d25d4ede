/* store.c - the context store.
 *
 * WHAT A CONTEXT IS
 *
 * A context maps variables to string values.  It is immutable once made:
 * "setting" a variable builds a new context that differs in that variable and
 * shares everything else with the old one.  That is what makes a snapshot
 * O(1) (take a reference, copy nothing) and what lets any number of threads
 * read a context with no lock: nobody can change it under them.
 *
 * The structure is a hash array mapped trie (HAMT), the one CPython's
 * contextvars use (Python/hamt.c; Bagwell, "Ideal Hash Trees", 2001), in a
 * reduced form.  Each node covers 5 bits of the variable's 32-bit hash and has
 * up to 32 slots, stored densely: two bitmaps say which slots are present and
 * whether each holds a binding (variable + value) or a child node, and a
 * slot's position in the array is the number of present slots below it.
 *
 *     root  bindings=0b..0100010  children=0b..1000000
 *       |
 *       +-- slot[0]  binding  user_id="u7"       (hash bits 0-4 = 1)
 *       +-- slot[1]  binding  request_id="42"    (hash bits 0-4 = 5)
 *       +-- slot[2]  child  bindings=0b..100001  (hash bits 0-4 = 6)
 *                      +-- slot[0]  binding tenant="acme"  (bits 5-9 = 0)
 *                      +-- slot[1]  binding trace="..."    (bits 5-9 = 5)
 *
 *     index of bit b in a node = popcount((bindings | children) & (b - 1))
 *
 * The root node *is* the context (struct ctxvar_ctx): a snapshot is a pointer
 * and a reference.  The empty context is NULL and never allocated.
 *
 * WHY IT IS SIMPLER THAN CPYTHON'S
 *
 * A variable's hash is not a hash of its name: it is a bijective mix of a
 * serial number given when the name is interned (lib/names.c).  Distinct
 * variables therefore have distinct 32-bit hashes, two hashes always part
 * within 7 levels, and there are no collision nodes.  Keys are compared by
 * pointer.  There are no array nodes either: at the sizes this library is
 * made for (1 to 1,000 variables) bitmap nodes are enough.
 *
 * WHY A COPY BORROWS (what it costs to be immutable and shared)
 *
 * Path copying with plain reference counting takes a reference on every slot
 * of each copied node, and the copy's release drops them all: at 10
 * variables a set/reset pair was 22 locked instructions, at 1,000 it was 63,
 * and when threads share an inherited context those land on the same cache
 * lines, so two threads ran slower than one.  Here a copy instead *borrows*
 * the slots it did not change: it holds one reference on a lender, a node
 * with the same slots, and references of its own only on what it changed
 * (`own`).  The lender is the node copied from, until chains of lenders are
 * BORROW_DEPTH long; then it is that node's twin, a flat copy made once and
 * kept by the node (see "BORROWING" below).  The one lender reference is
 * usually served by the calling thread's reference cache (refcache.c) with no
 * atomic instruction at all, so a set/reset pair touches no shared counter.
 *
 * INVARIANTS
 *
 * - Nodes and bindings are immutable once reachable from a published context
 *   (a node's twin pointer is the one field set later, once, by CAS).
 * - Every node and binding has an atomic reference count: one per node that
 *   owns a slot pointing at it (its bit in that node's `own`), one per node
 *   it lends to or is the twin of, plus, for a root, one per holder (a
 *   thread's current context, a snapshot, a token, a task, a starting thread,
 *   a thread's reference cache).
 * - A slot not in a node's `own` is the same pointer at the same bit in the
 *   node's lender, which holds it: alive while the lender is.  A lender has
 *   depth < BORROW_DEPTH, so chains stay short and a context keeps at most
 *   BORROW_DEPTH older versions alive.
 * - A child node holds at least two bindings in its subtree.  Removal keeps
 *   this by pulling a lone remaining binding up into the parent, so a tree
 *   never has chains that lead to a single binding.
 * - `count` is the number of bindings under a node; the root's is the size of
 *   the context.
 * - The last release frees a node and releases what it owns, its lender and
 *   its twin; a freed root (or root's twin) decrements the live-context count
 *   that ctxvar_stats reports.  A count of 1 is the releaser's alone, so that
 *   release skips the locked instruction.
 *
 * COSTS (n variables, b = 32 slots per node, depth d = log32 n, at most 7)
 *
 *     find         O(d): a popcount and a load per level; no lock, no atomic
 *     with/without O(d) new nodes, a lender reference per node; a flat twin
 *                  (O(b) references) once per BORROW_DEPTH versions
 *     snapshot     O(1): one reference, from the thread's cache when it can
 *     release      O(1), plus O(d) when it frees a version's own nodes
 *     visit sorted O(n log n): slots are in hash order, names are sorted
 *
 * MAP OF THIS FILE
 *
 *     ctxvar__hash_serial        the bijective mix
 *     ctxvar__binding_*          make and release values
 *     node_alloc / node_free     nodes and the references they own
 *     share_slots / lender_for   borrowing, and twins
 *     insert / ctxvar__ctx_with  path-copying insertion or replacement
 *     erase / ctxvar__ctx_without  path-copying removal
 *     ctxvar__ctx_visit_sorted   iteration in name order
 *     ctxvar__ctx_minus          what a context adds to another (pool workers)
 */
#include "store.h"

#include "alloc.h"
#include "annotate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A finaliser of MurmurHash3: every step (xor-shift, odd multiply) is
 * invertible, so distinct serials give distinct hashes, well spread. */
uint32_t ctxvar__hash_serial(uint32_t serial)
{
    uint32_t h = serial;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

ctxvar__binding *ctxvar__binding_new(const struct ctxvar *var, const char *value, size_t len)
{
    ctxvar__binding *b = ctxvar__memory_get(sizeof *b + len + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->var = var;
    b->len = len;
    memcpy(b->value, value, len);
    b->value[len] = '\0';
    return b;
}

/* True when this drop was the last reference.  Acquire-release on the
 * decrement: every other holder's reads happen before the memory is reused.
 * (Not release plus an acquire fence: ThreadSanitizer does not model fences,
 * and on x86 the two compile to the same locked instruction.)  A count of 1
 * is ours alone: nobody else can reach the object to raise it, so the
 * locked instruction is skipped. */
static int drop_ref(atomic_size_t *refs)
{
    return atomic_load_explicit(refs, memory_order_acquire) == 1 ||
           atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1;
}

void ctxvar__binding_release(ctxvar__binding *b)
{
    if (b && drop_ref(&b->refs)) ctxvar__memory_put(b, sizeof *b + b->len + 1);
}

static unsigned slot_count(const ctxvar_ctx *n)
{
    return ctxvar__popcount(n->bindings | n->children);
}

static uint32_t fragment_bit(uint32_t hash, unsigned shift)
{
    return 1u << ((hash >> shift) & CTXVAR__HAMT_MASK);
}

static unsigned slot_index(const ctxvar_ctx *n, uint32_t bit)
{
    return ctxvar__popcount((n->bindings | n->children) & (bit - 1));
}

static ctxvar_ctx *node_alloc(unsigned slots)
{
    ctxvar_ctx *n = ctxvar__memory_get(sizeof *n + slots * sizeof n->slot[0]);
    if (!n) return NULL;
    atomic_init(&n->refs, 1);
    n->bindings = n->children = n->count = n->own = 0;
    n->flags = n->depth = 0;
    n->lender = NULL;
    atomic_init(&n->twin, NULL);
    atomic_init(&n->otel_record, NULL);
    return n;
}

static void node_release(ctxvar_ctx *n);

/* Gives back the memory of n, sized by its slots as node_alloc sized it. */
static void node_memory_put(ctxvar_ctx *n)
{
    ctxvar__memory_put(n, sizeof *n + slot_count(n) * sizeof n->slot[0]);
}

/* Drops the node's references (its own slots' and its lender's) and frees
 * it.  A root's lender is a root, an inner node's an inner node. */
static void node_free(ctxvar_ctx *n, int is_root)
{
    for (uint32_t own = n->own; own; own &= own - 1) {
        uint32_t bit = own & -own;
        void *item = n->slot[slot_index(n, bit)];
        if (n->bindings & bit) ctxvar__binding_release(item);
        else node_release(item);
    }
    if (n->lender) ctxvar__lender_give(n->lender, is_root);
    ctxvar_ctx *twin = atomic_load_explicit(&n->twin, memory_order_relaxed);
    if (twin) CTXVAR__HAPPENS_AFTER(&n->twin); /* its maker filled it (lender_for) before us */
    if (twin) ctxvar__node_release(twin, 1, is_root);
    void *record = atomic_load_explicit(&n->otel_record, memory_order_acquire);
    if (record) ctxvar__otel_record_free(record);
    node_memory_put(n);
    if (is_root) ctxvar__count_live(-1);
}

static void node_release(ctxvar_ctx *n)
{
    if (n && drop_ref(&n->refs)) node_free(n, 0);
}

void ctxvar__ctx_release(ctxvar_ctx *c)
{
    if (c && drop_ref(&c->refs)) node_free(c, 1);
}

void ctxvar__ctx_release_pair(ctxvar_ctx *a, ctxvar_ctx *b)
{
    if (a == b) {
        if (a) ctxvar__node_release(a, 2, 1);
        return;
    }
    ctxvar__ctx_release(a);
    ctxvar__ctx_release(b);
}

void ctxvar__node_release(ctxvar_ctx *n, size_t refs, int is_root)
{
    if (refs == 1 ? drop_ref(&n->refs)
                  : atomic_fetch_sub_explicit(&n->refs, refs, memory_order_acq_rel) == refs)
        node_free(n, is_root);
}

/* Takes one reference on every slot of n whose bit is in `mask`. */
static void retain_slots(const ctxvar_ctx *n, uint32_t mask)
{
    for (mask &= n->bindings | n->children; mask; mask &= mask - 1) {
        uint32_t bit = mask & -mask;
        void *item = n->slot[slot_index(n, bit)];
        atomic_size_t *refs = (n->bindings & bit) ? &((ctxvar__binding *)item)->refs
                                                  : &((ctxvar_ctx *)item)->refs;
        atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
    }
}

/* BORROWING.  `copy` was made from n and differs from it only at `changed`
 * (whose slot in copy, if any, copy already holds a reference on).  Every
 * other slot of copy is one of n's and must stay alive as long as copy does.
 * Instead of a reference on each, copy holds one on a lender that has them
 * all: n itself, or, when n is already BORROW_DEPTH lenders deep, n's twin,
 * a flat copy of n (a reference on every slot) made once and kept by n.
 * Chains of lenders are so cut short: a context keeps at most BORROW_DEPTH
 * older versions alive, and the flat copy is paid once per BORROW_DEPTH
 * versions, or once for a context that many copies are made from.
 *
 * Setting and resetting a variable is then a copy of each node on the path
 * and one lender reference per node, whatever the nodes' width, and those
 * references usually come from the thread's cache (refcache.c) with no
 * atomic instruction.  A twin that cannot be allocated fails the copy, like
 * any other allocation of it. */
#define BORROW_DEPTH 8

/* A flat node with n's slots, bitmaps and count; NULL when out of memory. */
static ctxvar_ctx *flat_copy(const ctxvar_ctx *n)
{
    unsigned slots = slot_count(n);
    ctxvar_ctx *copy = node_alloc(slots);
    if (!copy) return NULL;
    memcpy(copy->slot, n->slot, slots * sizeof n->slot[0]);
    copy->bindings = n->bindings;
    copy->children = n->children;
    copy->count = n->count;
    copy->own = n->bindings | n->children;
    retain_slots(n, copy->own);
    return copy;
}

/* What copies of n borrow from (NULL when a twin cannot be made). */
static ctxvar_ctx *lender_for(const ctxvar_ctx *n, int is_root)
{
    ctxvar_ctx *twin, *made;
    if (n->depth < BORROW_DEPTH) return (ctxvar_ctx *)n;
    twin = atomic_load_explicit(&((ctxvar_ctx *)n)->twin, memory_order_acquire);
    CTXVAR__HAPPENS_AFTER(&n->twin); /* a twin found was filled before it was published */
    if (twin || !(made = flat_copy(n))) return twin;
    if (is_root) ctxvar__count_live(+1);
    CTXVAR__HAPPENS_BEFORE(&n->twin); /* we fill the twin before the CAS publishes it */
    if (atomic_compare_exchange_strong_explicit(&((ctxvar_ctx *)n)->twin, &twin, made,
                                                memory_order_acq_rel, memory_order_acquire))
        return made;
    CTXVAR__HAPPENS_AFTER(&n->twin); /* as above, for the twin another thread published */
    node_free(made, is_root); /* another thread's twin came first */
    return twin;
}

/* 0, or -1 when out of memory (copy is then still the caller's to free). */
static int share_slots(ctxvar_ctx *copy, const ctxvar_ctx *n, uint32_t changed,
                       const ctxvar_ctx *anchor, unsigned shift)
{
    int is_root = shift == 0;
    ctxvar_ctx *lender = lender_for(n, is_root);
    if (!lender) return -1;
    copy->lender = lender;
    copy->depth = (uint16_t)(lender->depth + 1);
    copy->own = changed & (copy->bindings | copy->children);
    ctxvar__lender_take(lender, anchor, is_root);
    return 0;
}

/* The end of every copy_*: shares n's other slots, or frees the copy. */
static ctxvar_ctx *finish_copy(ctxvar_ctx *copy, const ctxvar_ctx *n, uint32_t changed,
                               const ctxvar_ctx *anchor, unsigned shift)
{
    if (share_slots(copy, n, changed, anchor, shift) == 0) return copy;
    node_memory_put(copy);
    return NULL;
}

/* A copy of n whose slot `index` holds `item` (a binding if is_binding, else
 * a node) in place of what n had there.  Takes the caller's reference to item. */
static ctxvar_ctx *copy_replacing(const ctxvar_ctx *n, unsigned index, void *item,
                                  int is_binding, uint32_t bit, uint32_t count,
                                  const ctxvar_ctx *anchor, unsigned shift)
{
    unsigned slots = slot_count(n);
    ctxvar_ctx *copy = node_alloc(slots);
    if (!copy) return NULL;
    memcpy(copy->slot, n->slot, slots * sizeof n->slot[0]);
    copy->slot[index] = item;
    copy->bindings = is_binding ? (n->bindings | bit) : (n->bindings & ~bit);
    copy->children = is_binding ? (n->children & ~bit) : (n->children | bit);
    copy->count = count;
    return finish_copy(copy, n, bit, anchor, shift);
}

/* A copy of n with a new binding slot for `bit` (not present in n). */
static ctxvar_ctx *copy_inserting(const ctxvar_ctx *n, uint32_t bit, ctxvar__binding *b,
                                  const ctxvar_ctx *anchor, unsigned shift)
{
    unsigned slots = slot_count(n), index = slot_index(n, bit);
    ctxvar_ctx *copy = node_alloc(slots + 1);
    if (!copy) return NULL;
    memcpy(copy->slot, n->slot, index * sizeof n->slot[0]);
    copy->slot[index] = b;
    memcpy(copy->slot + index + 1, n->slot + index, (slots - index) * sizeof n->slot[0]);
    copy->bindings = n->bindings | bit;
    copy->children = n->children;
    copy->count = n->count + 1;
    return finish_copy(copy, n, bit, anchor, shift);
}

/* A copy of n without slot `index` (bit `bit`); n has at least two slots. */
static ctxvar_ctx *copy_erasing(const ctxvar_ctx *n, unsigned index, uint32_t bit,
                                const ctxvar_ctx *anchor, unsigned shift)
{
    unsigned slots = slot_count(n);
    ctxvar_ctx *copy = node_alloc(slots - 1);
    if (!copy) return NULL;
    memcpy(copy->slot, n->slot, index * sizeof n->slot[0]);
    memcpy(copy->slot + index, n->slot + index + 1, (slots - index - 1) * sizeof n->slot[0]);
    copy->bindings = n->bindings & ~bit;
    copy->children = n->children & ~bit;
    copy->count = n->count - 1;
    return finish_copy(copy, n, bit, anchor, shift);
}

/* A node holding the two bindings a and b (whose hashes agree below `shift`),
 * nested as deep as their hashes agree.  Takes both references. */
static ctxvar_ctx *pair(ctxvar__binding *a, ctxvar__binding *b, unsigned shift)
{
    uint32_t bit_a = fragment_bit(a->var->hash, shift), bit_b = fragment_bit(b->var->hash, shift);
    ctxvar_ctx *n;
    if (bit_a == bit_b) {
        ctxvar_ctx *child = pair(a, b, shift + CTXVAR__HAMT_BITS);
        if (!child) return NULL;
        n = node_alloc(1);
        if (!n) {
            node_release(child);
            return NULL;
        }
        n->children = n->own = bit_a;
        n->slot[0] = child;
    } else {
        n = node_alloc(2);
        if (!n) {
            ctxvar__binding_release(a);
            ctxvar__binding_release(b);
            return NULL;
        }
        n->bindings = n->own = bit_a | bit_b;
        n->slot[bit_a < bit_b ? 0 : 1] = a;
        n->slot[bit_a < bit_b ? 1 : 0] = b;
    }
    n->count = 2;
    return n;
}

/* n with b inserted or replacing its variable's binding; NULL when out of
 * memory.  Takes the caller's reference to b in every case.  n is under the
 * root `anchor`. */
static ctxvar_ctx *insert(const ctxvar_ctx *n, ctxvar__binding *b, unsigned shift,
                          const ctxvar_ctx *anchor)
{
    uint32_t bit = fragment_bit(b->var->hash, shift);
    unsigned index = slot_index(n, bit);
    ctxvar_ctx *copy;
    if (n->bindings & bit) {
        ctxvar__binding *present = n->slot[index];
        if (present->var == b->var) {
            copy = copy_replacing(n, index, b, 1, bit, n->count, anchor, shift);
        } else {
            /* Two variables share this slot's hash bits: push both down into
             * a new child.  The child holds its own reference to `present`;
             * the copy does not keep the slot it replaces. */
            ctxvar_ctx *child = pair(ctxvar__binding_retain(present), b,
                                     shift + CTXVAR__HAMT_BITS);
            if (!child) return NULL;
            copy = copy_replacing(n, index, child, 0, bit, n->count + 1, anchor, shift);
            if (!copy) node_release(child);
            return copy;
        }
    } else if (n->children & bit) {
        const ctxvar_ctx *child = n->slot[index];
        ctxvar_ctx *new_child = insert(child, b, shift + CTXVAR__HAMT_BITS, anchor);
        if (!new_child) return NULL;
        copy = copy_replacing(n, index, new_child, 0, bit,
                              n->count - child->count + new_child->count, anchor, shift);
        if (!copy) node_release(new_child);
        return copy;
    } else {
        copy = copy_inserting(n, bit, b, anchor, shift);
    }
    if (!copy) ctxvar__binding_release(b);
    return copy;
}

int ctxvar__ctx_with(const ctxvar_ctx *c, ctxvar__binding *b, ctxvar_ctx **out)
{
    ctxvar_ctx *root;
    if (c) {
        ctxvar_ctx *lender = lender_for(c, 1);
        root = lender ? insert(c, b, 0, lender) : NULL;
        if (!lender) ctxvar__binding_release(b);
    } else {
        root = node_alloc(1);
        if (root) {
            root->bindings = root->own = fragment_bit(b->var->hash, 0);
            root->slot[0] = b;
            root->count = 1;
        } else {
            ctxvar__binding_release(b);
        }
    }
    if (!root) return ENOMEM;
    ctxvar__count_live(+1);
    *out = root;
    return 0;
}

enum erase_result { ERASE_ERROR, ERASE_NOT_FOUND, ERASE_DONE };

/* n without var, in *out (NULL when nothing is left). */
static enum erase_result erase(const ctxvar_ctx *n, const struct ctxvar *var, unsigned shift,
                               const ctxvar_ctx *anchor, ctxvar_ctx **out)
{
    uint32_t bit = fragment_bit(var->hash, shift);
    unsigned index = slot_index(n, bit);
    if (n->bindings & bit) {
        if (((const ctxvar__binding *)n->slot[index])->var != var) return ERASE_NOT_FOUND;
        if (slot_count(n) == 1) {
            *out = NULL;
            return ERASE_DONE;
        }
        *out = copy_erasing(n, index, bit, anchor, shift);
        return *out ? ERASE_DONE : ERASE_ERROR;
    }
    if (!(n->children & bit)) return ERASE_NOT_FOUND;

    const ctxvar_ctx *child = n->slot[index];
    ctxvar_ctx *new_child;
    enum erase_result r = erase(child, var, shift + CTXVAR__HAMT_BITS, anchor, &new_child);
    if (r != ERASE_DONE) return r;
    /* A child holds two or more bindings, so new_child is never empty. */
    if (new_child->count == 1 && !new_child->children) {
        /* Keep the invariant: a lone binding moves up into this node. */
        ctxvar__binding *lone = ctxvar__binding_retain(new_child->slot[0]);
        node_release(new_child);
        *out = copy_replacing(n, index, lone, 1, bit, n->count - 1, anchor, shift);
        if (!*out) ctxvar__binding_release(lone);
    } else {
        *out = copy_replacing(n, index, new_child, 0, bit, n->count - 1, anchor, shift);
        if (!*out) node_release(new_child);
    }
    return *out ? ERASE_DONE : ERASE_ERROR;
}

int ctxvar__ctx_without(const ctxvar_ctx *c, const struct ctxvar *var, ctxvar_ctx **out)
{
    ctxvar_ctx *root;
    if (!ctxvar__ctx_find(c, var)) {
        *out = ctxvar__ctx_retain(c); /* nothing to remove, nothing to allocate */
        return 0;
    }
    ctxvar_ctx *lender = lender_for(c, 1);
    if (!lender) return ENOMEM;
    switch (erase(c, var, 0, lender, &root)) {
    case ERASE_ERROR:
        return ENOMEM;
    case ERASE_NOT_FOUND:
        *out = ctxvar__ctx_retain(c);
        return 0;
    case ERASE_DONE:
        break;
    }
    if (root) ctxvar__count_live(+1);
    *out = root;
    return 0;
}

/* Appends every binding under n to *cursor. */
const ctxvar__binding *ctxvar__ctx_find_below(const ctxvar_ctx *n, const struct ctxvar *var,
                                              unsigned shift)
{
    uint32_t hash = var->hash;
    while (n) {
        uint32_t bit = 1u << ((hash >> shift) & CTXVAR__HAMT_MASK);
        unsigned index = ctxvar__popcount((n->bindings | n->children) & (bit - 1));
        if (n->bindings & bit) {
            const ctxvar__binding *b = (const ctxvar__binding *)n->slot[index];
            return b->var == var ? b : NULL;
        }
        if (!(n->children & bit)) return NULL;
        n = (const ctxvar_ctx *)n->slot[index];
        shift += CTXVAR__HAMT_BITS;
    }
    return NULL;
}

static int same_binding(const ctxvar__binding *x, const ctxvar__binding *y)
{
    return x == y || (x->var == y->var && x->len == y->len && memcmp(x->value, y->value, x->len) == 0);
}

/* Nodes x and y (either may be NULL) at the same depth. */
static int same_but(const ctxvar_ctx *x, const ctxvar_ctx *y, const struct ctxvar *except)
{
    if (x == y) return 1;
    uint32_t xb = x ? x->bindings : 0, xc = x ? x->children : 0;
    uint32_t yb = y ? y->bindings : 0, yc = y ? y->children : 0;
    for (uint32_t map = xb | xc | yb | yc; map; map &= map - 1) {
        uint32_t bit = map & -map;
        const void *xs = (xb | xc) & bit ? x->slot[slot_index(x, bit)] : NULL;
        const void *ys = (yb | yc) & bit ? y->slot[slot_index(y, bit)] : NULL;
        if ((xb & bit) && (yb & bit)) {
            const ctxvar__binding *bx = xs, *by = ys;
            if (bx->var != except || by->var != except)
                if (!same_binding(bx, by)) return 0;
        } else if ((xc | yc) & bit && !((xb | yb) & bit)) {
            if (!same_but(xs, ys, except)) return 0;  /* children, or one side absent */
        } else if (!((xc | yc) & bit)) {
            /* A binding on one side only: equal only if it is `except`. */
            const ctxvar__binding *only = xs ? xs : ys;
            if (only->var != except) return 0;
        } else {
            return 0; /* a binding against a child node: not worth telling */
        }
    }
    return 1;
}

int ctxvar__ctx_same_but(const ctxvar_ctx *a, const ctxvar_ctx *b, const struct ctxvar *except)
{
    size_t na = ctxvar__ctx_count(a), nb = ctxvar__ctx_count(b);
    if (na > nb + 1 || nb > na + 1) return 0;
    return same_but(a, b, except);
}

ctxvar_ctx *ctxvar__ctx_equal_lender(const ctxvar_ctx *c)
{
    for (ctxvar_ctx *l = c ? c->lender : NULL; l; l = l->lender)
        if (l->count == c->count && same_but(c, l, NULL)) return l;
    return NULL;
}

void ctxvar__ctx_visit(const ctxvar_ctx *c, void (*fn)(const ctxvar__binding *, void *), void *arg)
{
    if (!c) return;
    unsigned i = 0;
    for (uint32_t map = c->bindings | c->children; map; map &= map - 1, i++) {
        if (c->bindings & (map & -map)) fn(c->slot[i], arg);
        else ctxvar__ctx_visit(c->slot[i], fn, arg);
    }
}

static void collect(const ctxvar_ctx *n, const ctxvar__binding ***cursor)
{
    unsigned i = 0;
    for (uint32_t map = n->bindings | n->children; map; map &= map - 1, i++) {
        if (n->bindings & (map & -map)) *(*cursor)++ = n->slot[i];
        else collect(n->slot[i], cursor);
    }
}

static int name_before(const ctxvar__binding *x, const ctxvar__binding *y)
{
    return strcmp(x->var->name, y->var->name) < 0;
}

/* Heapsort by name: in place, O(n log n), and no allocation (qsort may
 * allocate, and this runs on exec paths where nothing may). */
static void sift_down(const ctxvar__binding **a, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && name_before(a[child], a[child + 1])) child++;
        if (!name_before(a[root], a[child])) return;
        const ctxvar__binding *t = a[root];
        a[root] = a[child];
        a[child] = t;
    }
}

static void sort_by_name(const ctxvar__binding **a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        const ctxvar__binding *t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* The binding with the smallest name greater than `after` (or the smallest
 * when after is NULL), found by a walk: the no-allocation fallback. */
static const ctxvar__binding *next_in_order(const ctxvar_ctx *n, const char *after,
                                            const ctxvar__binding *best)
{
    unsigned i = 0;
    for (uint32_t map = n->bindings | n->children; map; map &= map - 1, i++) {
        if (n->bindings & (map & -map)) {
            const ctxvar__binding *b = n->slot[i];
            if ((!after || strcmp(b->var->name, after) > 0) &&
                (!best || strcmp(b->var->name, best->var->name) < 0))
                best = b;
        } else {
            best = next_in_order(n->slot[i], after, best);
        }
    }
    return best;
}

int ctxvar__ctx_visit_sorted_in(const ctxvar_ctx *c,
                                int (*fn)(const ctxvar__binding *, void *), void *arg,
                                const ctxvar__binding **scratch, size_t room)
{
    size_t n = ctxvar__ctx_count(c);
    int r = 0;
    if (n > room) {
        const ctxvar__binding *b = NULL;
        while (r == 0 && (b = next_in_order(c, b ? b->var->name : NULL, NULL))) r = fn(b, arg);
        return r;
    }
    const ctxvar__binding **cursor = scratch;
    if (n) collect(c, &cursor);
    sort_by_name(scratch, n);
    for (size_t i = 0; i < n && r == 0; i++) r = fn(scratch[i], arg);
    return r;
}

int ctxvar__ctx_visit_sorted(const ctxvar_ctx *c, int (*fn)(const ctxvar__binding *, void *),
                             void *arg)
{
    enum { ON_STACK = 64 };
    const ctxvar__binding *stack[ON_STACK], **heap = NULL;
    size_t n = ctxvar__ctx_count(c);
    if (n > ON_STACK) {
        int saved_errno = errno; /* a failed allocation sets it; we fall back */
        heap = ctxvar__alloc(n * sizeof *heap);
        errno = saved_errno;
    }
    int r = heap ? ctxvar__ctx_visit_sorted_in(c, fn, arg, heap, n)
                 : ctxvar__ctx_visit_sorted_in(c, fn, arg, stack, ON_STACK);
    free(heap);
    return r;
}

struct minus {
    const ctxvar_ctx *base;
    ctxvar_ctx *rest;
    int err;
};

static int drop_if_shared(const ctxvar__binding *b, void *p)
{
    struct minus *m = p;
    ctxvar_ctx *next;
    if (ctxvar__ctx_find(m->base, b->var) != b) return 0;
    if ((m->err = ctxvar__ctx_without(m->rest, b->var, &next)) != 0) return 1;
    ctxvar__ctx_release(m->rest);
    m->rest = next;
    return 0;
}

int ctxvar__ctx_minus(const ctxvar_ctx *c, const ctxvar_ctx *base, ctxvar_ctx **out)
{
    if (!c || c == base) {
        *out = NULL;
        return 0;
    }
    struct minus m = {base, ctxvar__ctx_retain(c), 0};
    if (base) ctxvar__ctx_visit_sorted(c, drop_if_shared, &m);
    if (m.err) {
        ctxvar__ctx_release(m.rest);
        return m.err;
    }
    *out = m.rest;
    return 0;
}
