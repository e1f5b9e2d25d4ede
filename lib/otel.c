/* otel.c - the OpenTelemetry thread context: what a profiler outside the
 * process reads to learn which request a thread it sampled was serving.
 *
 * WHAT A READER EXPECTS
 *
 * OpenTelemetry's profiling work defines two things a process may publish
 * for readers that are not in it (the OpenTelemetry eBPF profiler, a
 * security agent reading memory from the kernel):
 *
 *   - a process context: one mapping named OTEL_CTX whose header points at
 *     a protobuf message (lib/otel_process.c has the layout and protocol);
 *     among its attributes, `threadlocal.attribute_key_map`, an array of
 *     strings: index -> attribute name, append-only, at most 256 keys;
 *   - a thread context: an ELF TLS variable named `otel_thread_ctx_v1` in
 *     the dynamic symbols of the executable or of a shared object, which
 *     holds, on each thread, a pointer to the thread's active record or
 *     NULL.  A reader finds the variable's address for a thread from the
 *     object's TLS block (static TLS, as a preloaded or linked library has,
 *     is the easiest case; a TLS descriptor, -mtls-dialect=gnu2, is the
 *     recommended access) and reads it only while the thread is stopped or
 *     interrupted.
 *
 * The record, native byte order, 2-byte aligned, no padding:
 *
 *     offset  0  uint8  trace_id[16]     all zero: no trace
 *            16  uint8  span_id[8]       all zero: no span
 *            24  uint8  valid            1 = valid
 *            25  uint8  trace_flags
 *            26  uint16 attrs_data_size
 *            28  attrs_data: entries {uint8 key_index; uint8 length;
 *                uint8 value[length] (UTF-8)}, packed
 *
 * Readers stop at an incomplete entry, let the last occurrence of a key
 * win, and refresh the key map when they meet an index they do not know.
 * A record is expected to be at most 640 bytes, so at most 612 bytes of
 * attributes.  Only the owning thread changes its pointer, either by
 * swapping it to a finished record (NULL = no context) or by marking the
 * record invalid, rewriting it and marking it valid; a compiler fence is
 * all the ordering needed, since the reader looks at a stopped thread.
 *
 * WHAT CTXVAR PUTS THERE
 *
 * A thread's record shows its current context: trace id, span id and flags
 * from the `traceparent` variable when it holds a valid W3C traceparent,
 * and every exported variable (not traceparent or tracestate, which travel
 * as their own headers, and never a private one, whose name starts with
 * '_') as an attribute, in name order.  Values are UTF-8, as the format
 * says (a variable may hold any bytes: what is not UTF-8 shows as U+FFFD).
 * A value longer than 255 bytes (one
 * length byte) is cut to 255, at a UTF-8 character boundary; once 612
 * bytes are used the value that does not fit is cut to what is left, and
 * the variables after it are left out; CTXVAR_DEBUG=1 names the variables
 * concerned (never their values).  A context with nothing to show gives a
 * NULL pointer.
 *
 * Contexts are immutable, so a record belongs to its context: it is built
 * the first time a thread makes the context current, kept in the root
 * node's `otel_record` field (published by compare-and-swap: two threads
 * may build at once, one record wins), and freed with the node.  Any
 * number of threads holding one context point at one record, and a thread
 * going back to an earlier context (a reset, the end of a ctxvar_run)
 * costs a pointer store.  The swap protocol follows: a record never changes
 * once a thread points at it.
 *
 * Every change of a thread's current context passes through
 * ctxvar__otel_follow (lib/otel.h): ctxvar__install in lib/thread.h (set,
 * reset, swap, clear, the stale-context rule, the main thread's seed),
 * entering and leaving a frame in lib/frames.c (ctxvar_run, pool tasks,
 * OpenMP regions, timer and message-queue notifications, every callback of
 * lib/callback.c), a new thread's start in lib/handover.c, and a thread's
 * release at exit in lib/registry.c.  It runs before the change returns and
 * before the previous context is released, so a stopped thread never
 * points at freed memory.  With CTXVAR_OTEL unset it is a load and a
 * branch.
 *
 * THE KEY MAP
 *
 * A variable gets a key index the first time a record shows it; indexes
 * never change, so records built earlier stay right.  Finding a variable's
 * index takes no lock (an open-addressed table keyed by the variable's
 * hash, which is unique per variable); adding keys takes `keys_lock`, adds
 * every new key a record needs, and republishes the process context once.
 * A record uses an index only once the published map holds it
 * (keys_published): another thread finds a key in the table as soon as it
 * is added, and a reader refreshing its map must find the key there.
 * Past 256 keys, a new variable is left out of records (said once under
 * CTXVAR_DEBUG=1).
 *
 * Turning on: at load with CTXVAR_OTEL=1, after the process context is
 * published (a thread that already had a context points at it from its
 * next change; the main thread at once).  Not when the process already
 * has a writer of these formats (an OpenTelemetry SDK in the program that
 * exports its own otel_thread_ctx_v1, or an OTEL_CTX mapping already
 * there): OpenTelemetry allows one process context per process, and two
 * writers would overwrite each other's thread pointers.  A writer that
 * comes later (a library loaded after ours) cannot be seen at load: the
 * README says so.  A forked child publishes its own
 * process context, with a new instance id (the parent's mapping is not
 * inherited); its records and key map are the parent's, copied.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "otel.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"
#include "w3c.h"

/* The only thread-local variable of this file, which the linker places
 * first: it sits at offset 0 of the runtime's TLS block (bats/otel.bats
 * checks), where readers of the format find it most simply. */
__thread struct ctxvar__otel_record *otel_thread_ctx_v1;
atomic_int ctxvar__otel_on;
char ctxvar__otel_nothing;

/* ---- The key map ------------------------------------------------------------ */

#define KEY_TABLE 512 /* twice the keys: a probe always meets an empty slot */

/* Taken by the fork handlers, with its phase (lib/sigsafe.h). */
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
#define FORK_STATE ctxvar__fork_locks[CTXVAR__FORK_LOCK_OTEL_KEYS]
static const struct ctxvar *keys[CTXVAR__OTEL_KEYS_MAX];   /* under keys_lock */
static atomic_uint key_count;
/* How many keys the published key map holds.  A record shows only those:
 * a reader that meets an index refreshes its map, and must find the key
 * there (key_count goes up first, the map is published, then this). */
static atomic_uint keys_published;
static _Atomic(const struct ctxvar *) key_table[KEY_TABLE];
static unsigned char key_table_index[KEY_TABLE]; /* written before its slot */
static atomic_int said_full; /* the map is full, and the debug line said so */

unsigned ctxvar__otel_key_count(void) { return atomic_load(&key_count); }
const char *ctxvar__otel_key_name(unsigned i) { return keys[i]->name; }

/* var's key index, published or not, or -1 when it has none yet. */
static int key_lookup(const struct ctxvar *var)
{
    for (unsigned i = var->hash % KEY_TABLE;; i = (i + 1) % KEY_TABLE) {
        const struct ctxvar *v = atomic_load_explicit(&key_table[i], memory_order_acquire);
        if (v == var) return key_table_index[i];
        if (!v) return -1;
    }
}

/* var's key index when the published map has it, else -1.  No lock. */
static int key_index(const struct ctxvar *var)
{
    int index = key_lookup(var);
    return index >= 0 && (unsigned)index < atomic_load_explicit(&keys_published,
                                                                 memory_order_acquire)
               ? index
               : -1;
}

/* Under keys_lock, after the process context was published with every key
 * there is. */
static void keys_now_published(void)
{
    atomic_store_explicit(&keys_published, atomic_load_explicit(&key_count, memory_order_relaxed),
                          memory_order_release);
}

/* Under keys_lock: gives var the next index; -1 when the map is full. */
static int key_add_locked(const struct ctxvar *var)
{
    int index = key_lookup(var);
    unsigned n = atomic_load_explicit(&key_count, memory_order_relaxed);
    if (index >= 0) return index;
    if (n == CTXVAR__OTEL_KEYS_MAX) {
        if (!atomic_load_explicit(&said_full, memory_order_relaxed))
            ctxvar__debug("otel: the key map holds %d keys; %s and later new variables are "
                          "left out of thread context records", CTXVAR__OTEL_KEYS_MAX, var->name);
        atomic_store_explicit(&said_full, 1, memory_order_relaxed);
        return -1;
    }
    unsigned i = var->hash % KEY_TABLE;
    while (atomic_load_explicit(&key_table[i], memory_order_relaxed)) i = (i + 1) % KEY_TABLE;
    keys[n] = var;
    key_table_index[i] = (unsigned char)n;
    atomic_store_explicit(&key_table[i], var, memory_order_release);
    atomic_store_explicit(&key_count, n + 1, memory_order_release);
    return (int)n;
}

/* ---- Building a record ------------------------------------------------------ */

/* An exported variable's binding with room for it: every entry takes at
 * least its two header bytes, so no more than this many can be shown. */
#define SHOWN_MAX (CTXVAR__OTEL_ATTRS_MAX / 2)

struct gather {
    const ctxvar__binding *shown[SHOWN_MAX];
    int index[SHOWN_MAX];
    unsigned n;
    unsigned left_out;          /* exported variables beyond SHOWN_MAX */
    const ctxvar__binding *traceparent;
};

static int gather_one(const ctxvar__binding *b, void *p)
{
    struct gather *g = p;
    const struct ctxvar *v = b->var;
    if (v->name[0] == '_') return 0;
    if (v->name_len == 11 && memcmp(v->name, "traceparent", 11) == 0) {
        g->traceparent = b;
        return 0;
    }
    if (v->name_len == 10 && memcmp(v->name, "tracestate", 10) == 0) return 0;
    if (g->n == SHOWN_MAX) g->left_out++;
    else g->shown[g->n++] = b;
    return 0;
}

static unsigned hex_byte(const char *s)
{
    return (unsigned)(ctxvar__w3c_hex_value((unsigned char)s[0]) << 4 |
                      ctxvar__w3c_hex_value((unsigned char)s[1]));
}

/* 1 when value[0..len) is UTF-8 throughout. */
static int is_utf8(const char *value, size_t len)
{
    for (size_t i = 0, step, prefix; i < len; i += step)
        if (!(step = ctxvar__w3c_utf8_sequence((const unsigned char *)value + i, len - i, &prefix)))
            return 0;
    return 1;
}

/* The trace fields of a record from the traceparent binding tp (NULL, or
 * not a valid traceparent: all zero). */
static void put_trace(struct ctxvar__otel_record *r, const ctxvar__binding *tp)
{
    memset(r->trace_id, 0, sizeof r->trace_id);
    memset(r->span_id, 0, sizeof r->span_id);
    r->trace_flags = 0;
    if (!tp || !ctxvar__w3c_traceparent_valid(tp->value)) return;
    const char *v = tp->value; /* version "-" trace-id "-" parent-id "-" flags */
    for (int i = 0; i < 16; i++) r->trace_id[i] = (uint8_t)hex_byte(v + 3 + 2 * i);
    for (int i = 0; i < 8; i++) r->span_id[i] = (uint8_t)hex_byte(v + 36 + 2 * i);
    r->trace_flags = (uint8_t)hex_byte(v + 53);
}

/* A block for a record with `used` bytes of attributes and the trace fields
 * of `trace`, or &ctxvar__otel_nothing when it would show nothing; NULL
 * when out of memory.  The caller copies the attributes in. */
static struct ctxvar__otel_held *held_new(const struct ctxvar__otel_record *trace, size_t used,
                                          int exact)
{
    uint64_t ids[3];
    memcpy(ids, trace, sizeof ids); /* trace id and span id: 24 bytes */
    if (!(ids[0] | ids[1] | ids[2]) && used == 0) return (struct ctxvar__otel_held *)&ctxvar__otel_nothing;
    size_t size = sizeof(struct ctxvar__otel_held) + used;
    struct ctxvar__otel_held *h = ctxvar__memory_get(size);
    if (!h) return NULL;
    h->size = (uint32_t)size;
    h->exact = (uint8_t)exact;
    memcpy(&h->record, trace, sizeof h->record);
    h->record.attrs_data_size = (uint16_t)used;
    h->record.valid = 1;
    return h;
}

/* The record of the context g was gathered from, laid out in name order. */
/* Appends ", name" (or "name" first) to the debug list names[size]: as
 * much as fits. */
static void list_name(char *names, size_t size, const char *name)
{
    size_t len = strlen(names);
    if (len + 1 < size) snprintf(names + len, size - len, "%s%s", len ? ", " : "", name);
}

static void *lay_out(const struct gather *g)
{
    uint8_t attrs[CTXVAR__OTEL_ATTRS_MAX];
    size_t used = 0;
    unsigned whole = 0, i;
    char cut[256] = "", left_out[256] = "";
    for (i = 0; i < g->n; i++) {
        const ctxvar__binding *b = g->shown[i];
        if (g->index[i] < 0) continue;
        if (used + 2 > sizeof attrs) break;
        size_t room = sizeof attrs - used - 2, limit = room < 255 ? room : 255;
        size_t taken; /* what is not UTF-8 shows as U+FFFD (see the top) */
        size_t len = ctxvar__w3c_put_repaired((char *)attrs + used + 2, limit,
                                              (const unsigned char *)b->value, b->len, &taken);
        if (taken < b->len && ctxvar__debug_on()) list_name(cut, sizeof cut, b->var->name);
        whole += taken == b->len;
        attrs[used++] = (uint8_t)g->index[i];
        attrs[used++] = (uint8_t)len;
        used += len;
    }
    int exact = whole == g->n + g->left_out;
    if (!exact && ctxvar__debug_on()) {
        for (; i < g->n; i++)
            if (g->index[i] >= 0) list_name(left_out, sizeof left_out, g->shown[i]->var->name);
        ctxvar__debug("otel: a thread context record shows %u of %u variables whole%s%s%s%s", whole,
                      g->n + g->left_out, cut[0] ? "; cut: " : "", cut, left_out[0] ? "; left out: " : "",
                      left_out);
    }
    struct ctxvar__otel_record trace;
    put_trace(&trace, g->traceparent);
    struct ctxvar__otel_held *h = held_new(&trace, used, exact);
    if (h && (void *)h != &ctxvar__otel_nothing) memcpy(h->record.attrs_data, attrs, used);
    return h;
}

/* The record of c from scratch: every binding, sorted by name. */
static void *build_whole(const ctxvar_ctx *c)
{
    struct gather g;
    g.n = g.left_out = 0;
    g.traceparent = NULL;
    ctxvar__ctx_visit_sorted(c, gather_one, &g);
    int missing = 0;
    for (unsigned i = 0; i < g.n; i++) missing |= (g.index[i] = key_index(g.shown[i]->var)) < 0;
    /* A full map, said so, takes no new key: no lock then (a program with
     * more variables than keys would take it at every set). */
    if (missing && atomic_load_explicit(&said_full, memory_order_relaxed)) missing = 0;
    if (missing) {
        ctxvar__phased_lock(&keys_lock, &FORK_STATE.phase);
        for (unsigned i = 0; i < g.n; i++)
            if (g.index[i] < 0) g.index[i] = key_add_locked(g.shown[i]->var);
        /* New keys, or keys an earlier update could not publish. */
        unsigned count = atomic_load_explicit(&key_count, memory_order_relaxed);
        if (count != atomic_load_explicit(&keys_published, memory_order_relaxed) &&
            ctxvar__otel_process_update() == 0)
            keys_now_published();
        unsigned published = atomic_load_explicit(&keys_published, memory_order_relaxed);
        for (unsigned i = 0; i < g.n; i++)
            if (g.index[i] >= 0 && (unsigned)g.index[i] >= published) g.index[i] = -1;
        ctxvar__phased_unlock(&keys_lock, &FORK_STATE.phase);
    }
    return lay_out(&g);
}

/* ---- Deriving a record from the one before -------------------------------------
 *
 * A set makes a context that differs from the thread's previous one in one
 * variable, and the store says which: the new root borrows every slot but
 * the changed one from the old root (its lender is the old root, or the
 * old root's twin, which has the same slots), and marks that one in `own`;
 * a change below the root is one owned child whose lender is the old
 * child, and so on down.  When the old context's record is exact (nothing
 * cut), the new record is the old one with that variable's entry replaced,
 * inserted in name order or removed: a copy of at most 612 bytes instead
 * of a sort.  Anything else (two slots changed, a binding pushed into a new
 * child or pulled up from one, a new key, a cut) builds from scratch. */

static unsigned slot_at(const ctxvar_ctx *n, uint32_t bit)
{
    return ctxvar__popcount((n->bindings | n->children) & (bit - 1));
}

/* The one binding c adds or replaces (*added) or the one variable it
 * removes (*removed) relative to `before`: 1, or 0 when that is not how c
 * was made. */
static int one_change(const ctxvar_ctx *c, const ctxvar_ctx *before,
                      const ctxvar__binding **added, const struct ctxvar **removed)
{
    for (int depth = 0; depth < 8; depth++) {
        if (c->lender != before &&
            c->lender != atomic_load_explicit(&((ctxvar_ctx *)before)->twin, memory_order_acquire))
            return 0;
        uint32_t own = c->own;
        if (own == 0) {
            uint32_t gone = (before->bindings | before->children) & ~(c->bindings | c->children);
            if (!gone || (gone & (gone - 1)) || !(before->bindings & gone)) return 0;
            *removed = ((const ctxvar__binding *)before->slot[slot_at(before, gone)])->var;
            return 1;
        }
        if (own & (own - 1)) return 0;
        if (c->bindings & own) {
            const ctxvar__binding *b = c->slot[slot_at(c, own)];
            if (before->children & own) return 0;
            if ((before->bindings & own) &&
                ((const ctxvar__binding *)before->slot[slot_at(before, own)])->var != b->var)
                return 0;
            *added = b;
            return 1;
        }
        if (!(before->children & own)) return 0;
        c = c->slot[slot_at(c, own)];
        before = before->slot[slot_at(before, own)];
    }
    return 0;
}

/* c's record from before's, or NULL when it cannot be derived. */
static void *derive(const ctxvar_ctx *c, const ctxvar_ctx *before)
{
    if (!before || !c->lender) return NULL;
    void *p = atomic_load_explicit(&((ctxvar_ctx *)before)->otel_record, memory_order_acquire);
    if (!p) return NULL;
    static const struct ctxvar__otel_record none;
    const struct ctxvar__otel_held *base = p == &ctxvar__otel_nothing ? NULL : p;
    if (base && !base->exact) return NULL;
    const ctxvar__binding *added = NULL;
    const struct ctxvar *removed = NULL;
    if (!one_change(c, before, &added, &removed)) return NULL;
    const struct ctxvar__otel_record *old = base ? &base->record : &none;
    const uint8_t *attrs = old->attrs_data;
    size_t used = old->attrs_data_size;
    const struct ctxvar *v = added ? added->var : removed;
    struct ctxvar__otel_record trace;
    memcpy(&trace, old, sizeof trace);
    size_t cut_at = used, cut_len = 0; /* the old entry's bytes to drop */
    size_t insert_at = used;           /* where the new entry goes */
    int shown = 1, index = -1;
    if (v->name[0] == '_' || (v->name_len == 10 && memcmp(v->name, "tracestate", 10) == 0)) {
        shown = 0;
    } else if (v->name_len == 11 && memcmp(v->name, "traceparent", 11) == 0) {
        put_trace(&trace, added);
        shown = 0;
    } else {
        if ((index = key_index(v)) < 0) return NULL;
        /* Longer than an entry holds, or to be repaired: built whole. */
        if (added && (added->len > 255 || !is_utf8(added->value, added->len))) return NULL;
        for (size_t i = 0; i + 2 <= used; i += 2u + attrs[i + 1]) {
            if (attrs[i] == index) {
                cut_at = insert_at = i;
                cut_len = 2u + attrs[i + 1];
                break;
            }
        }
        /* A new entry: before the first whose name sorts after it. */
        for (size_t i = 0; added && !cut_len && i + 2 <= used; i += 2u + attrs[i + 1]) {
            if (strcmp(v->name, keys[attrs[i]]->name) < 0) {
                insert_at = i;
                break;
            }
        }
    }
    if (!shown) {
        struct ctxvar__otel_held *h = held_new(&trace, used, 1);
        if (h && (void *)h != &ctxvar__otel_nothing) memcpy(h->record.attrs_data, attrs, used);
        return h;
    }
    size_t entry = added ? 2 + added->len : 0;
    size_t total = used - cut_len + entry;
    if (total > CTXVAR__OTEL_ATTRS_MAX) return NULL;
    struct ctxvar__otel_held *h = held_new(&trace, total, 1);
    if (!h || (void *)h == &ctxvar__otel_nothing) return h;
    uint8_t *out = h->record.attrs_data;
    /* Old entries before the new one's place, the new one, the rest
     * without the old entry of the same key. */
    size_t head = cut_len ? cut_at : insert_at;
    memcpy(out, attrs, head);
    size_t n = head;
    if (added) {
        out[n++] = (uint8_t)index;
        out[n++] = (uint8_t)added->len;
        memcpy(out + n, added->value, added->len);
        n += added->len;
    }
    memcpy(out + n, attrs + head + cut_len, used - head - cut_len);
    return h;
}

/* c's record, made and published if it has none yet; NULL when out of
 * memory (nothing is published then: the next thread to install c tries
 * again). */
static void *build(const ctxvar_ctx *c, const ctxvar_ctx *before)
{
    void *r = derive(c, before), *expected = NULL;
    if (!r) r = build_whole(c);
    if (!r) {
        ctxvar__debug("otel: out of memory building a thread context record; the thread "
                      "shows none");
        return NULL;
    }
    /* Our reference is the only one (a context just made by a set, say): no
     * other thread can reach c to build its record at the same time. */
    if (atomic_load_explicit(&((ctxvar_ctx *)c)->refs, memory_order_relaxed) == 1) {
        atomic_store_explicit(&((ctxvar_ctx *)c)->otel_record, r, memory_order_release);
        return r;
    }
    if (!atomic_compare_exchange_strong_explicit(&((ctxvar_ctx *)c)->otel_record, &expected, r,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        ctxvar__otel_record_free(r); /* another thread's came first */
        r = expected;
    }
    return r;
}

void ctxvar__otel_build(const ctxvar_ctx *c)
{
    int saved_errno = errno;
    build(c, NULL);
    errno = saved_errno;
}

void ctxvar__otel_record_free(void *record)
{
    struct ctxvar__otel_held *h = record;
    if (record != &ctxvar__otel_nothing) ctxvar__memory_put(h, h->size);
}

void ctxvar__otel_point(const ctxvar_ctx *c, const ctxvar_ctx *before)
{
    void *r = NULL;
    if (c) {
        r = atomic_load_explicit(&((ctxvar_ctx *)c)->otel_record, memory_order_acquire);
        if (__builtin_expect(!r, 0)) {
            int saved_errno = errno;
            r = build(c, before);
            errno = saved_errno;
        }
    }
    struct ctxvar__otel_record *shown =
        r && r != &ctxvar__otel_nothing ? &((struct ctxvar__otel_held *)r)->record : NULL;
    /* The record is complete (the compare-and-swap that published it is a
     * full barrier); the reader looks at this thread only while it is
     * stopped, so keeping the compiler from moving the store is enough. */
    atomic_signal_fence(memory_order_seq_cst);
    otel_thread_ctx_v1 = shown;
    atomic_signal_fence(memory_order_seq_cst);
}

/* ---- Turning on, and fork ------------------------------------------------------ */

static void before_fork(void)
{
    FORK_STATE.forked_holding = !ctxvar__fork_prepare_lock(&keys_lock, FORK_STATE.phase);
}

static void after_fork_in_parent(void)
{
    if (!FORK_STATE.forked_holding) pthread_mutex_unlock(&keys_lock);
}

/* The parent's mapping was not inherited (MADV_DONTFORK): the child is a
 * new process for readers, with its own instance id.  Forked from a
 * handler that interrupted a change of the key map, it publishes nothing:
 * the map may be half written. */
static void after_fork_in_child(void)
{
    if (FORK_STATE.forked_holding) {
        /* The parent's mapping is not here: nothing may write to it. */
        ctxvar__otel_process_forget();
        ctxvar__debug("otel: forked from a signal handler amid a key change; no process context");
    }
    else if (ctxvar__otel_process_publish(1) != 0)
        ctxvar__debug("otel: a forked child could not publish its process context");
    else
        keys_now_published();
    ctxvar__fork_child_reset(&keys_lock);
}

/* 1 when the line of /proc/self/maps in line[0..len) is a process
 * context: its path, the sixth column, starts as readers look for one. */
static int names_process_context(const char *line, size_t len)
{
    static const char *const names[] = {"/memfd:OTEL_CTX", "[anon:OTEL_CTX]",
                                        "[anon_shmem:OTEL_CTX]"};
    size_t i = 0;
    for (int field = 0; field < 5; field++) {
        while (i < len && line[i] != ' ') i++;
        while (i < len && line[i] == ' ') i++;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k]);
        if (len - i >= n && memcmp(line + i, names[k], n) == 0) return 1;
    }
    return 0;
}

/* 1 when /proc/self/maps shows a process context. */
static int process_context_exists(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[8192];
    size_t kept = 0;
    int found = 0;
    for (ssize_t n; !found && (n = read(fd, buf + kept, sizeof buf - kept)) > 0;) {
        size_t len = kept + (size_t)n, start = 0;
        for (size_t i = 0; !found && i < len; i++) {
            if (buf[i] != '\n') continue;
            found = names_process_context(buf + start, i - start);
            start = i + 1;
        }
        /* A line cut by the read moves to the front; one longer than the
         * buffer (a path of thousands of bytes) is read as it comes. */
        kept = start < len && len - start < sizeof buf ? len - start : 0;
        memmove(buf, buf + len - kept, kept);
    }
    close(fd);
    return found;
}

/* 1 when something else in the process writes these formats (see THE KEY
 * MAP's last paragraph): an otel_thread_ctx_v1 that the program's symbol
 * lookup finds before ours (the executable's, a library preloaded first),
 * one after ours (a library the program links: its own references then
 * bind to ours, and both would write one variable), or a process context
 * already published.  One after ours that comes with another copy of the
 * runtime is that copy's, which defers to this one. */
static int another_writer(void)
{
#ifndef CTXVAR_STATIC_WRAP
    Dl_info info;
    if (dladdr((void *)another_writer, &info) && info.dli_fname) {
        void *self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        void *ours = self ? dlsym(self, "otel_thread_ctx_v1") : NULL;
        if (self) ctxvar__real_dlclose(self);
        void *first = dlsym(RTLD_DEFAULT, "otel_thread_ctx_v1");
        if (ours && first && ours != first) return 1;
    }
    if (dlsym(RTLD_NEXT, "otel_thread_ctx_v1") && !dlsym(RTLD_NEXT, CTXVAR__RUNTIME_SYMBOL))
        return 1;
#endif
    return process_context_exists();
}

/* At load: with CTXVAR_OTEL=1, publishes the process context and turns the
 * thread records on. */
__attribute__((constructor)) static void otel_on_load(void)
{
    if (!ctxvar__otel_enabled()) return;
    if (another_writer()) {
        ctxvar__debug("otel: another OpenTelemetry thread or process context writer is in the "
                      "process; this runtime publishes none");
        return;
    }
    ctxvar__phased_lock(&keys_lock, &FORK_STATE.phase);
    int published = ctxvar__otel_process_publish(0) == 0;
    if (published) keys_now_published();
    ctxvar__phased_unlock(&keys_lock, &FORK_STATE.phase);
    if (!published) {
        ctxvar__debug("otel: could not publish the process context; no thread context either");
        return;
    }
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
    atomic_store_explicit(&ctxvar__otel_on, 1, memory_order_relaxed);
    ctxvar__otel_point(ctxvar__current_borrowed(), NULL);
}
