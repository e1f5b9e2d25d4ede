/* runtime.c - the runtime behind ctxvar.h: variables, each thread's current
 * context and frames, tokens, snapshots, tasks, logfmt, statistics, and the
 * start-up work (environment, BAGGAGE seed).
 *
 * Per-thread state is one static TLS struct.  A thread that never touches
 * ctxvar costs nothing; one whose context becomes non-empty registers a
 * pthread key so that the context is released at its exit, in the last round
 * of key destructors (pitfall 6).  No API function but ctxvar_stats takes a
 * lock: variables are interned with compare-and-swap, contexts are immutable
 * and counted, and statistics are per-thread or per-shard.  The one lock, the
 * thread registry's, is taken at a registered thread's start and exit and by
 * ctxvar_stats, and is held across fork by pthread_atfork, so a forked child
 * never finds it held (pitfall 9).
 *
 * The hot paths avoid atomic instructions on shared objects: a thread keeps a
 * small cache of references on the contexts it is using (cache_* below),
 * so that capture/release, set/reset and wrap/run pairs take and give back
 * references without touching the shared reference counts.
 */
#include "runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "baggage.h"
#include "text.h"

/* ---- Process-wide settings, fixed at initialisation -------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_int initialised;
static int debug_enabled;
static int inherit_enabled = 1;
static int export_enabled = 1;      /* CTXVAR_EXPORT != 0: children get context */
static int is_primary = 1;          /* 0: another copy of the runtime came first */
static int exit_key_ready;
static pthread_key_t exit_key;
static atomic_int main_seeded;
static int environment_had_context; /* the seed was not empty */

void ctxvar__debug(const char *fmt, ...)
{
    char line[512];
    int saved_errno = errno;
    if (!debug_enabled) return;
    memcpy(line, "ctxvar: ", 8);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 8, sizeof line - 9, fmt, ap);
    va_end(ap);
    size_t len = 8 + (n < 0 ? 0 : (size_t)n < sizeof line - 9 ? (size_t)n : sizeof line - 10);
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved_errno;
}

/* ---- Statistics: sharded so that threads do not share a cache line ------ */

enum { STAT_LIVE, STAT_INHERITED, STAT_FAILED, STAT_COUNT };
#define STAT_SHARDS 64
static struct stat_shard {
    _Alignas(64) atomic_llong value[STAT_COUNT];
} stat_shards[STAT_SHARDS];
static atomic_uint next_shard;

/* ---- Per-thread state --------------------------------------------------- */

/* A reference cache entry (thread_state's cache_*[i]): `refs` references on
 * `node`, taken from its count in one atomic step and handed out (and back)
 * one at a time with none.  An entry only holds nodes that live at least as
 * long as the root `anchor`,
 * and only while the anchor is the thread's current context or that
 * context's lender (cache_check), so the cache never keeps alive anything
 * that would otherwise be freed, and ctxvar_stats' count stays exact.  An
 * entry in use always holds at least one reference, so its node cannot be
 * freed and its address reused under it. */
#define REF_CACHE_ENTRIES 4
#define REF_CACHE_BATCH 64

/* Free lists: a thread keeps up to FREE_LIST_DEPTH blocks of each size
 * class (16-byte steps up to 320 bytes, which covers every node and most
 * bindings), so that set/reset pairs reuse memory without a round trip
 * through malloc.  Only threads whose exit we see (registered) keep them,
 * and they give them back then.  Not in the sanitizer and fault-injection
 * builds, which must see every allocation. */
#define FREE_LIST_CLASSES 20
#define FREE_LIST_DEPTH 16
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(CTXVAR_FAULT_INJECTION)
#define FREE_LISTS 0
#else
#define FREE_LISTS 1
#endif
/* Outside the TLS block, which every new thread's creation clears. */
struct free_lists {
    void *head[FREE_LIST_CLASSES]; /* linked through each block's first word */
    unsigned char count[FREE_LIST_CLASSES];
};

/* A frame is the dynamic extent in which a token may be reset: the thread's
 * base frame, or one ctxvar_run/task run/swap.  Frames and context versions
 * are drawn from one per-thread counter, so a (thread, frame, version)
 * triple never repeats and a token can never match a state it did not see. */
/* 256 bytes, which glibc clears for every new thread: keep it so. */
struct thread_state {
    ctxvar_ctx *current;            /* owned; NULL = empty */
    ctxvar_ctx *inherited;          /* owned: the creator's snapshot, kept until
                                       the thread first runs a task */
    unsigned long long uid;         /* 0 until a token needs it */
    unsigned long long frame;
    unsigned long long version;
    unsigned long long serial;      /* last frame/version number handed out */
    unsigned depth;                 /* ctxvar_run / task frames entered */
    unsigned char shard;            /* stats shard + 1; 0 = not chosen yet */
    unsigned char registered;       /* release at exit arranged (key or record) */
    unsigned char listed;           /* in the registry */
    unsigned char exited;           /* released at exit; refuse new state */
    unsigned char exit_rounds;      /* key destructor calls seen */
    unsigned char not_main;         /* known not to be the main thread */
    unsigned char forget_pending;   /* stale rule due on return to depth 0 */
    unsigned char swaps;            /* entries used in swapped_from */
    unsigned char cache_used;       /* reference cache entries in use */
    unsigned char free_lists_on;    /* registered and not exiting: keep blocks */
    unsigned char handed_over;      /* exit_record holds what it holds (runtime.h) */
    unsigned char cache_root;       /* bit i: cache entry i is a root */
    /* What each ctxvar_swap replaced, so that swapping it back in restores
     * its frame (tokens filled before the swap work again). */
    struct {
        const ctxvar_ctx *context;
        unsigned long long frame;
    } swapped_from[4];
    ctxvar_ctx *cache_node[REF_CACHE_ENTRIES];          /* NULL: entry unused */
    unsigned cache_refs[REF_CACHE_ENTRIES];             /* 1 .. 2 * REF_CACHE_BATCH */
    const ctxvar_ctx *cache_anchor[REF_CACHE_ENTRIES];
    const ctxvar_ctx *cache_anchors; /* every entry's anchor when all share one */
    struct free_lists *free_lists;  /* made on the first block kept */
    /* Registered threads count contexts made and freed here, in
     * ctxvar_stats' live_contexts, without a locked instruction; the sum is
     * read under the registry lock and folded into the shards at exit. */
    atomic_llong live;
    /* Release at join (runtime.h): the thread's exit record, written by the
     * thread and by its creator (for a joiner to find); once handed over,
     * kept up to date with what the thread holds. */
    _Atomic(struct ctxvar__exit_record *) exit_record;
    struct thread_state *prev, *next; /* the registry, while listed */
};
_Static_assert(sizeof(struct thread_state) <= 256, "thread_state outgrew 256 bytes");
/* Named, so that find_self_from_tp can find its TLS descriptor. */
static __thread struct thread_state self __asm__("ctxvar__self_tls");
static atomic_ullong next_thread_uid;

/* ---- Reading the current context fast ------------------------------------ */

atomic_int ctxvar__cpu_has_popcnt;

/* Where `self` is, relative to the thread pointer, when that is the same in
 * every thread; 0 when unknown.  A library preloaded or linked has its TLS in
 * the static TLS block, at a fixed distance below the thread pointer, and
 * its TLS descriptor resolves to that distance; reading it with one
 * %fs-relative load then saves ctxvar_get the call into the descriptor's
 * resolver, about a third of its cost.  Initial-exec TLS would do the same,
 * but would make a dlopen of the library fail when static TLS is short
 * (pitfall 13); here a dlopened library simply keeps the ordinary access.
 * (Not under ThreadSanitizer, which must see every access, nor in the
 * fault-injection build, which tests the ordinary paths.) */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__PIC__) && !defined(__PIE__) && \
    !defined(__SANITIZE_THREAD__) && !defined(CTXVAR_FAULT_INJECTION)
/* (Only in the shared library: in an executable the linker turns the TLS
 * descriptor into a constant offset, and there is no descriptor to read.) */
#define SELF_FROM_TP_POSSIBLE 1
#else
#define SELF_FROM_TP_POSSIBLE 0
#endif
/* What a thread creation does (CTXVAR__START_*), set once initialised. */
static atomic_int start_mode;
#if SELF_FROM_TP_POSSIBLE
static atomic_long self_from_tp;
static atomic_int pthread_t_is_thread_pointer; /* glibc's layout: see state_of */
#endif

static void find_self_from_tp(void)
{
#if SELF_FROM_TP_POSSIBLE
    /* The x86-64 TLS descriptor is {resolver, argument}; for static TLS the
     * argument is the (negative) offset from the thread pointer, while for
     * dynamic TLS it is a pointer to a heap object, never negative. */
    uintptr_t descriptor = 0;       /* (initialised for cppcheck, */
    uintptr_t thread_pointer = 0;   /* which does not read asm) */
    __asm__("leaq ctxvar__self_tls@TLSDESC(%%rip), %0" : "=r"(descriptor));
    __asm__("movq %%fs:0, %0" : "=r"(thread_pointer));
    long offset = (long)((uintptr_t)&self - thread_pointer);
    /* cppcheck-suppress nullPointer ; set by the asm above */
    if (offset < 0 && ((const long *)descriptor)[1] == offset)
        atomic_store_explicit(&self_from_tp, offset, memory_order_relaxed);
#endif
}

/* &self the ordinary way, out of line: a call through the TLS descriptor
 * makes its caller set up a stack frame, which the hot paths avoid. */
CTXVAR__BEFORE_THREAD_START static __attribute__((noinline)) struct thread_state *
me_by_descriptor(void)
{
    return &self;
}

/* This thread's state: &self, computed without the TLS descriptor call when
 * possible.  The hot paths call this once and pass the pointer on.  (Small
 * enough to be inlined; under TSan it runs before a new thread is set up,
 * in ctxvar__thread_adopt, so it must not be instrumented.) */
CTXVAR__BEFORE_THREAD_START static struct thread_state *me(void)
{
#if SELF_FROM_TP_POSSIBLE
    long offset = atomic_load_explicit(&self_from_tp, memory_order_relaxed);
    if (__builtin_expect(offset != 0, 1)) {
        uintptr_t thread_pointer = 0; /* (initialised for cppcheck) */
        __asm__("movq %%fs:0, %0" : "=r"(thread_pointer));
        return (struct thread_state *)(thread_pointer + (uintptr_t)offset);
    }
#endif
    return me_by_descriptor();
}

/* self.current, read without the TLS descriptor call when possible.  Only
 * for readers: the compiler does not see this load as a read of self. */
static inline ctxvar_ctx *current_for_read(void)
{
#if SELF_FROM_TP_POSSIBLE
    long offset = atomic_load_explicit(&self_from_tp, memory_order_relaxed);
    if (__builtin_expect(offset != 0, 1)) {
        ctxvar_ctx *c = NULL;
        __asm__("movq %%fs:(%1), %0"
                : "=r"(c)
                : "r"(offset + (long)offsetof(struct thread_state, current)));
        return c;
    }
#endif
    return self.current;
}

/* Every registered thread, so that a forked child can release what the
 * threads that do not exist there held (their TLS is copied, never freed).
 * A spinlock: it guards a few pointer writes, once at a thread's start and
 * once at its exit.  pthread_atfork holds it across fork, so no child finds
 * it held by a thread it does not have. */
static atomic_flag registry_busy = ATOMIC_FLAG_INIT;
static struct thread_state *registry;

static void registry_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_busy, memory_order_acquire))
        sched_yield();
}

static void registry_unlock(void)
{
    atomic_flag_clear_explicit(&registry_busy, memory_order_release);
}

/* Under ThreadSanitizer the registry is left empty: a thread adds itself
 * before TSan has set it up, so TSan could not see the lock that orders the
 * list's links and would report them; what the registry is for, a forked
 * child's memory, valgrind checks (make check-valgrind). */
#if defined(__SANITIZE_THREAD__)
#define REGISTRY_IN_USE 0
#else
#define REGISTRY_IN_USE 1
#endif

/* The lock is taken inline here, not through registry_lock: under TSan this
 * runs uninstrumented (see above) and may call nothing that is not. */
CTXVAR__BEFORE_THREAD_START static void registry_add(struct thread_state *t)
{
    if (!REGISTRY_IN_USE) return;
    while (atomic_flag_test_and_set_explicit(&registry_busy, memory_order_acquire))
        sched_yield();
    t->prev = NULL;
    t->next = registry;
    if (registry) registry->prev = t;
    registry = t;
    t->listed = 1;
    atomic_flag_clear_explicit(&registry_busy, memory_order_release);
}

static struct stat_shard *my_shard(void);

/* Under the registry lock: unlists t, its live count folded into the shards. */
static void registry_unlink(struct thread_state *t)
{
    if (!t->listed) return;
    atomic_fetch_add_explicit(&my_shard()->value[STAT_LIVE],
                              atomic_load_explicit(&t->live, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_store_explicit(&t->live, 0, memory_order_relaxed);
    if (t->prev) t->prev->next = t->next;
    else registry = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->listed = 0;
}

static void registry_remove(struct thread_state *t)
{
    if (!REGISTRY_IN_USE) return;
    registry_lock();
    registry_unlink(t);
    registry_unlock();
}

/* Exit records published and not yet joined that are not in a static start
 * slot (runtime.h), under the registry lock. */
static struct ctxvar__exit_record *exit_records;

static void record_link(struct ctxvar__exit_record *r)
{
    registry_lock();
    r->prev = NULL;
    r->next = exit_records;
    if (exit_records) exit_records->prev = r;
    exit_records = r;
    r->listed = 1;
    registry_unlock();
}

/* Under the registry lock. */
static void record_unlink_locked(struct ctxvar__exit_record *r)
{
    if (!r->listed) return;
    if (r->prev) r->prev->next = r->next;
    else exit_records = r->next;
    if (r->next) r->next->prev = r->prev;
    r->listed = 0;
}

static void record_dispose(struct ctxvar__exit_record *r)
{
    if (!r->pooled) {
        registry_lock();
        record_unlink_locked(r);
        registry_unlock();
    }
    r->dispose(r);
}


static void cache_flush(struct thread_state *t, int i);
static void free_lists_drain(struct thread_state *t);
static struct thread_state *state_of(pthread_t thread);

/* In a forked child: releases what the thread of state t, which does not
 * exist here, held. */
static void release_thread_state(struct thread_state *t)
{
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) cache_flush(t, i);
    free_lists_drain(t);
    ctxvar__ctx_release(t->current);
    ctxvar__ctx_release(t->inherited);
    t->current = t->inherited = NULL;
}

/* In a forked child: what the thread of a published record held is in the
 * record once handed over, in its (copied) TLS before; nobody here will join
 * it.  (A record its joiner was releasing may leak here, never go twice.) */
static void release_record_in_child(struct ctxvar__exit_record *r)
{
    if (atomic_load_explicit(&r->published, memory_order_acquire) != CTXVAR__RECORD_PUBLISHED)
        return; /* its thread was being born, or it is the forking thread's */
    struct thread_state *t = state_of(r->thread);
    if (t == &self) return;
    switch (atomic_load_explicit(&r->state, memory_order_acquire)) {
    case CTXVAR__EXIT_HANDED_OVER:
        ctxvar__ctx_release(r->current);
        ctxvar__ctx_release(r->inherited);
        break;
    case CTXVAR__EXIT_RELEASED:
        break;
    default:
        release_thread_state(t);
    }
    record_unlink_locked(r); /* the lock is held across fork */
    r->dispose(r);
}

/* In the child of fork: only the forking thread exists; release the
 * contexts the others held. */
static void release_other_threads(void)
{
    for (struct thread_state *t = registry, *next; t; t = next) {
        next = t->next;
        if (t == &self) continue;
        registry_unlink(t); /* its live count goes to the shards */
        /* A thread with an exit record is released below, from its record. */
        if (!atomic_load_explicit(&t->exit_record, memory_order_relaxed)) release_thread_state(t);
    }
    /* Threads with an exit record. */
    if (ctxvar__pooled_records) ctxvar__pooled_records(release_record_in_child);
    for (struct ctxvar__exit_record *r = exit_records, *next; r; r = next) {
        next = r->next;
        release_record_in_child(r);
    }
    registry = self.listed ? &self : NULL;
    self.prev = self.next = NULL;
    /* The forking thread is this process's main thread now (tid == pid):
     * it must not be seeded from the environment over its own context. */
    atomic_store(&main_seeded, 1);
    registry_unlock();
}

CTXVAR__BEFORE_THREAD_START static struct stat_shard *my_shard(void)
{
    if (!self.shard)
        self.shard = (unsigned char)(1 + atomic_fetch_add_explicit(&next_shard, 1,
                                                                   memory_order_relaxed) % STAT_SHARDS);
    return &stat_shards[self.shard - 1];
}

CTXVAR__BEFORE_THREAD_START static void count(int which, long long delta)
{
    atomic_fetch_add_explicit(&my_shard()->value[which], delta, memory_order_relaxed);
}

static __attribute__((noinline)) void count_live_slow(struct thread_state *t, long delta)
{
    /* A thread released at join, making its first context (never under the
     * registry lock, which only releases run under). */
    if (REGISTRY_IN_USE && delta > 0 && t->registered && !t->handed_over && !t->exited) {
        registry_add(t);
        ctxvar__count_live(delta);
        return;
    }
    count(STAT_LIVE, delta);
}

void ctxvar__count_live(long delta)
{
    struct thread_state *t = me();
    if (REGISTRY_IN_USE && t->listed) {
        long long now = atomic_load_explicit(&t->live, memory_order_relaxed);
        atomic_store_explicit(&t->live, now + delta, memory_order_relaxed);
    } else {
        count_live_slow(t, delta);
    }
}
void ctxvar__count_inherit_failure(void) { count(STAT_FAILED, 1); }

static unsigned long long thread_uid(void)
{
    if (!self.uid) self.uid = 1 + atomic_fetch_add_explicit(&next_thread_uid, 1, memory_order_relaxed);
    return self.uid;
}

CTXVAR__BEFORE_THREAD_START static unsigned long long next_serial(void) { return ++self.serial; }

/* ---- The reference cache ---------------------------------------------------- */

/* True when `anchor` lives at least as long as t's current context: it is
 * that context, the one it borrows from, or its twin (store.c). */
CTXVAR__BEFORE_THREAD_START static int anchor_held(const struct thread_state *t,
                                                   const ctxvar_ctx *anchor)
{
    ctxvar_ctx *c = t->current;
    return c && !t->handed_over &&
           (anchor == c || anchor == c->lender ||
            anchor == atomic_load_explicit(&c->twin, memory_order_relaxed));
}

static void cache_flush(struct thread_state *t, int i)
{
    ctxvar_ctx *node = t->cache_node[i];
    if (!node) return;
    if (!--t->cache_used) t->cache_anchors = NULL;
    t->cache_node[i] = NULL;
    t->cache_anchor[i] = NULL;
    ctxvar__node_drop(node, t->cache_refs[i], (t->cache_root >> i) & 1);
}

/* Flushes the entries t's current context no longer keeps alive. */
static __attribute__((noinline)) void cache_flush_unheld(struct thread_state *t)
{
    ctxvar_ctx *c = t->current;
    const ctxvar_ctx *lender = c ? c->lender : NULL;
    const ctxvar_ctx *twin = c ? atomic_load_explicit(&c->twin, memory_order_relaxed) : NULL;
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) {
        const ctxvar_ctx *anchor = t->cache_anchor[i]; /* NULL when unused */
        if (anchor && (!c || t->handed_over || (anchor != c && anchor != lender && anchor != twin)))
            cache_flush(t, i);
    }
}

/* After t's current context changed: give back what it no longer keeps
 * alive.  Every path that changes a thread's current context calls this.
 * The usual set or reset stays within one family of versions: every entry
 * shares one anchor, the new context or its lender, and nothing is due. */
CTXVAR__BEFORE_THREAD_START static void cache_check(struct thread_state *t)
{
    if (!t->cache_used) return;
    const ctxvar_ctx *c = t->current, *common = t->cache_anchors;
    if (c && common && !t->handed_over && (common == c || common == c->lender)) return;
    cache_flush_unheld(t);
}

static void cache_flush_all(struct thread_state *t)
{
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) cache_flush(t, i);
}

static void cache_take(struct thread_state *t, ctxvar_ctx *n, const ctxvar_ctx *anchor,
                       int is_root)
{
    int unused = -1;
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == n) {
            if (t->cache_refs[i] == 1) {
                atomic_fetch_add_explicit(&n->refs, REF_CACHE_BATCH, memory_order_relaxed);
                t->cache_refs[i] += REF_CACHE_BATCH;
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
    atomic_fetch_add_explicit(&n->refs, REF_CACHE_BATCH, memory_order_relaxed);
    t->cache_anchors = !t->cache_used++ || t->cache_anchors == anchor ? anchor : NULL;
    t->cache_node[unused] = n;
    t->cache_anchor[unused] = anchor;
    t->cache_refs[unused] = REF_CACHE_BATCH - 1;
    t->cache_root = (unsigned char)((t->cache_root & ~(1u << unused)) |
                                    ((unsigned)(is_root != 0) << unused));
}

static void cache_give(struct thread_state *t, ctxvar_ctx *n, int is_root)
{
    /* Ours alone (a version just replaced): no cache entry can hold it, as
     * an entry keeps a reference of its own. */
    if (atomic_load_explicit(&n->refs, memory_order_acquire) == 1) {
        ctxvar__node_drop(n, 1, is_root);
        return;
    }
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == n) {
            if (t->cache_refs[i] == 2 * REF_CACHE_BATCH) {
                /* Never the last: the entry keeps REF_CACHE_BATCH. */
                atomic_fetch_sub_explicit(&n->refs, REF_CACHE_BATCH, memory_order_release);
                t->cache_refs[i] -= REF_CACHE_BATCH;
            }
            t->cache_refs[i]++;
            return;
        }
    }
    ctxvar__node_drop(n, 1, is_root);
}

void ctxvar__node_take(ctxvar_ctx *n, const ctxvar_ctx *anchor, int is_root)
{
    cache_take(me(), n, anchor, is_root);
}

void ctxvar__node_give(ctxvar_ctx *n, int is_root) { cache_give(me(), n, is_root); }

/* ---- Free lists (FREE_LISTS) --------------------------------------------- */

void *ctxvar__memory_get(size_t size)
{
    size_t class = (size - 1) / 16;
    if (!FREE_LISTS || class >= FREE_LIST_CLASSES) return ctxvar__alloc(size);
    struct free_lists *lists = me()->free_lists;
    void *p = lists ? lists->head[class] : NULL;
    if (!p) return ctxvar__alloc((class + 1) * 16); /* every block of a class is one size */
    lists->head[class] = *(void **)p;
    lists->count[class]--;
    return p;
}

/* The thread's first kept block: make its lists (out of line, so that the
 * usual put needs no stack frame). */
static __attribute__((noinline)) void memory_put_first(struct thread_state *t, void *p,
                                                       size_t class)
{
    int saved_errno = errno; /* a failed calloc sets it; free is the fallback */
    struct free_lists *lists = t->free_lists = calloc(1, sizeof *lists);
    errno = saved_errno;
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
    if (FREE_LISTS && class < FREE_LIST_CLASSES) {
        struct thread_state *t = me();
        struct free_lists *lists = t->free_lists; /* NULL once not kept */
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

/* Stops t keeping blocks and frees those it kept. */
static void free_lists_drain(struct thread_state *t)
{
    struct free_lists *lists = t->free_lists;
    t->free_lists_on = 0;
    t->free_lists = NULL;
    if (!lists) return;
    for (int class = 0; class < FREE_LIST_CLASSES; class++) {
        for (void *p = lists->head[class], *next; p; p = next) {
            next = *(void **)p;
            free(p);
        }
    }
    free(lists);
}

/* A reference on the context c (NULL: the empty one), from the cache when
 * it has one.  The API's retain and release. */
static ctxvar_ctx *take_ref(ctxvar_ctx *c)
{
    if (c) cache_take(me(), c, c, 1);
    return c;
}

static void give_ref(ctxvar_ctx *c)
{
    if (c) cache_give(me(), c, 1);
}

/* Called by glibc at thread exit, once per destructor round while our key is
 * set.  Re-arming until the last round lets the program's own key
 * destructors (and C++ thread_local destructors, which run before any) log
 * with the context; the pointer is cleared before the reference is dropped,
 * so any call made after sees an empty context, never freed memory. */
#if defined(__SANITIZE_THREAD__)
/* A dynamic ThreadSanitizer finishes the thread in the last round, from a
 * key made before ours, so it runs first; nothing instrumented may run after.
 * Under TSan only, the context goes one round earlier. */
#define LAST_EXIT_ROUND (PTHREAD_DESTRUCTOR_ITERATIONS - 1)
#else
#define LAST_EXIT_ROUND PTHREAD_DESTRUCTOR_ITERATIONS
#endif

static void release_at_thread_exit(void *unused)
{
    (void)unused;
    if (++self.exit_rounds < LAST_EXIT_ROUND &&
        pthread_setspecific(exit_key, &self) == 0)
        return;
    registry_remove(&self);
    cache_flush_all(&self);
    self.free_lists_on = 0;
    ctxvar_ctx *last = self.current, *inherited = self.inherited;
    self.current = self.inherited = NULL;
    self.registered = 0;
    self.exited = 1;
    ctxvar__ctx_release(last);
    ctxvar__ctx_release(inherited);
    free_lists_drain(&self);
    /* A thread detached before its start routine ended (runtime.h). */
    struct ctxvar__exit_record *record = atomic_load_explicit(&self.exit_record, memory_order_relaxed);
    if (record) {
        atomic_store_explicit(&self.exit_record, NULL, memory_order_relaxed);
        record_dispose(record); /* published before the start routine ran */
    }
}

/* Makes sure this thread's context will be released at its exit. */
CTXVAR__BEFORE_THREAD_START static int ensure_registered(void)
{
    if (self.registered) return 0;
    ctxvar__ensure_init();
    if (self.registered) return 0; /* seeding the main thread registered it */
    if (atomic_load_explicit(&self.exit_record, memory_order_relaxed)) {
        /* Released at join (runtime.h); listed only once it counts. */
        self.registered = 1;
        self.free_lists_on = FREE_LISTS;
        return 0;
    }
    if (!exit_key_ready) return 0; /* no key: nothing we can arrange */
    if (pthread_setspecific(exit_key, &self) != 0) return ENOMEM;
    self.registered = 1;
    self.free_lists_on = FREE_LISTS;
    registry_add(&self);
    return 0;
}

/* Installs `next` (owned) as the current context in the current frame and
 * returns the previous one, which the caller now owns. */
CTXVAR__BEFORE_THREAD_START static ctxvar_ctx *install_in(struct thread_state *t,
                                                          ctxvar_ctx *next)
{
    ctxvar_ctx *previous = t->current;
    t->current = next;
    t->version = ++t->serial;
    cache_check(t);
    if (__builtin_expect(t->handed_over, 0)) {
        /* After the start routine: the record holds what the thread does. */
        struct ctxvar__exit_record *record =
            atomic_load_explicit(&t->exit_record, memory_order_relaxed);
        if (t->depth == 0) record->current = next;
        record->inherited = t->inherited;
    }
    return previous;
}

CTXVAR__BEFORE_THREAD_START static ctxvar_ctx *install(ctxvar_ctx *next)
{
    return install_in(&self, next);
}

/* The current context (borrowed).  Initialises, and seeds the main thread,
 * on the empty path only, so that a read from another library's constructor
 * (or the main thread's first read when the runtime was loaded from another
 * thread) still sees the seed while a read with a context costs nothing. */
static ctxvar_ctx *current(void)
{
    ctxvar_ctx *c = self.current;
    if (__builtin_expect(!c && !self.not_main &&
                             !atomic_load_explicit(&main_seeded, memory_order_acquire), 0)) {
        ctxvar__ensure_init();
        c = self.current;
    }
    return c;
}

/* ---- Start-up ------------------------------------------------------------ */

static int env_is(const char *name, const char *value)
{
    const char *v = secure_getenv(name);
    return v && strcmp(v, value) == 0;
}

static int on_main_thread(void) { return gettid() == getpid(); }

/* The environment variables a process gets its context from, bound on top
 * of `base` (borrowed) into *out: BAGGAGE's members, and TRACEPARENT when
 * valid with TRACESTATE.  0 or ENOMEM. */
/* Copies of BAGGAGE, TRACEPARENT and TRACESTATE as read at start-up. */
static const char *const environment_names[3] = {"BAGGAGE", "TRACEPARENT", "TRACESTATE"};
static char *environment_copies[3];

static void copy_environment(void)
{
    for (int i = 0; i < 3; i++) {
        const char *v = secure_getenv(environment_names[i]);
        environment_copies[i] = v ? strdup(v) : NULL;
    }
}

const char *ctxvar__environment_at_load(const char *name)
{
    ctxvar__ensure_init();
    for (int i = 0; i < 3; i++)
        if (strcmp(name, environment_names[i]) == 0) return environment_copies[i];
    return NULL;
}

static int context_from_environment(const ctxvar_ctx *base, ctxvar_ctx **out)
{
    const char *baggage = secure_getenv("BAGGAGE");
    const char *traceparent = secure_getenv("TRACEPARENT");
    const char *tracestate = secure_getenv("TRACESTATE");
    ctxvar_ctx *c = ctxvar__ctx_retain(base), *next;
    size_t skipped;
    if (baggage && *baggage) {
        if (ctxvar__baggage_decode(baggage, c, &next, &skipped) != 0) goto out_of_memory;
        ctxvar__ctx_release(c);
        c = next;
    }
    if (traceparent && (!ctxvar__traceparent_valid(traceparent) ||
                        strnlen(traceparent, CTXVAR_VALUE_MAX + 1) > CTXVAR_VALUE_MAX)) {
        ctxvar__debug("TRACEPARENT is not a valid traceparent (or longer than 4096 "
                      "bytes): ignored, with TRACESTATE");
        traceparent = NULL;
    }
    const char *names[2] = {"traceparent", "tracestate"};
    const char *values[2] = {traceparent, traceparent ? tracestate : NULL};
    for (int i = 0; i < 2; i++) {
        size_t len = values[i] ? strnlen(values[i], CTXVAR_VALUE_MAX + 1) : 0;
        if (!values[i] || len > CTXVAR_VALUE_MAX) continue;
        struct ctxvar *var = ctxvar__intern(names[i], strlen(names[i]));
        ctxvar__binding *b = var ? ctxvar__binding_new(var, values[i], len) : NULL;
        if (!b || ctxvar__ctx_with(c, b, &next) != 0) goto out_of_memory;
        ctxvar__ctx_release(c);
        c = next;
    }
    *out = c;
    return 0;
out_of_memory:
    ctxvar__ctx_release(c);
    return ENOMEM;
}

static void seed_main_thread(void)
{
    int expected = 0;
    if (self.not_main) return;
    if (!on_main_thread()) {
        self.not_main = 1;
        return;
    }
    if (!atomic_compare_exchange_strong(&main_seeded, &expected, 1)) return;
    ctxvar_ctx *seeded;
    if (context_from_environment(self.current, &seeded) != 0) {
        ctxvar__debug("out of memory reading the environment; the main thread starts empty");
        return;
    }
    if (seeded == self.current) {
        ctxvar__ctx_release(seeded);
        return;
    }
    if (seeded && ensure_registered() != 0) {
        ctxvar__ctx_release(seeded);
        return;
    }
    /* Ours alone until installed: marking it is still safe. */
    if (seeded) seeded->flags |= CTXVAR__CTX_FROM_ENVIRONMENT;
    environment_had_context = seeded != NULL;
    ctxvar__ctx_release(install(seeded));
}

static const struct ctxvar__runtime runtime_table;

static void initialise(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    atomic_store_explicit(&ctxvar__cpu_has_popcnt, __builtin_cpu_supports("popcnt") != 0,
                          memory_order_relaxed);
#endif
    find_self_from_tp();
#if SELF_FROM_TP_POSSIBLE
    {
        uintptr_t thread_pointer = 0; /* (initialised for cppcheck) */
        __asm__("movq %%fs:0, %0" : "=r"(thread_pointer));
        atomic_store_explicit(&pthread_t_is_thread_pointer,
                              (uintptr_t)pthread_self() == thread_pointer, memory_order_relaxed);
    }
#endif
    debug_enabled = env_is("CTXVAR_DEBUG", "1");
    inherit_enabled = !env_is("CTXVAR_INHERIT", "0");
    export_enabled = !env_is("CTXVAR_EXPORT", "0");
    copy_environment();
    exit_key_ready = pthread_key_create(&exit_key, release_at_thread_exit) == 0;
    pthread_atfork(registry_lock, registry_unlock, release_other_threads);
    if (!exit_key_ready) ctxvar__debug("no pthread key left: contexts of exiting threads leak");
    /* Loaded twice from two paths, both copies see the first one's table. */
    const void *first = dlsym(RTLD_DEFAULT, CTXVAR__RUNTIME_SYMBOL);
    is_primary = !first || first == &runtime_table;
    if (!is_primary) ctxvar__debug("another copy of the runtime is loaded; this one defers to it");
    int mode = inherit_enabled && is_primary ? CTXVAR__START_INHERIT : 0;
#if SELF_FROM_TP_POSSIBLE
    /* Exit records need the thread state found from a pthread_t (state_of). */
    if (mode && atomic_load(&pthread_t_is_thread_pointer) && atomic_load(&self_from_tp))
        mode |= CTXVAR__START_RELEASE_AT_JOIN;
#endif
    atomic_store_explicit(&start_mode, mode, memory_order_release);
    atomic_store_explicit(&initialised, 1, memory_order_release);
}

CTXVAR__BEFORE_THREAD_START void ctxvar__ensure_init(void)
{
    if (!atomic_load_explicit(&initialised, memory_order_acquire)) {
        pthread_once(&init_once, initialise);
    }
    if (!atomic_load_explicit(&main_seeded, memory_order_relaxed) && is_primary)
        seed_main_thread();
}

__attribute__((constructor)) static void on_load(void) { ctxvar__ensure_init(); }

int ctxvar__thread_start_mode(void)
{
    if (!atomic_load_explicit(&initialised, memory_order_acquire)) ctxvar__ensure_init();
    return atomic_load_explicit(&start_mode, memory_order_relaxed);
}

int ctxvar__export_enabled(void)
{
    ctxvar__ensure_init();
    return export_enabled && is_primary;
}

ctxvar_ctx *ctxvar__current_borrowed(void) { return current(); }

int ctxvar__is_environment_context(const ctxvar_ctx *c)
{
    return c ? (c->flags & CTXVAR__CTX_FROM_ENVIRONMENT) != 0 : !environment_had_context;
}

int ctxvar__propagation_enabled(void)
{
    ctxvar__ensure_init();
    return is_primary;
}

/* ---- Threads ------------------------------------------------------------ */

void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name, const void *ours)
{
    void *next = atomic_load_explicit(cache, memory_order_acquire);
    if (next) return next;
    next = dlsym(RTLD_NEXT, name);
    if (!next || (ours && next == ours)) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        next = libc ? dlsym(libc, name) : NULL;
        if (libc) dlclose(libc);
        if (ours && next == ours) next = NULL;
    }
    atomic_store_explicit(cache, next, memory_order_release);
    return next;
}

ctxvar_ctx *ctxvar__capture_for_child(void) { return ctxvar__ctx_retain(current()); }

CTXVAR__BEFORE_THREAD_START void ctxvar__thread_adopt(ctxvar_ctx *inherited,
                                                      struct ctxvar__exit_record *record)
{
    struct thread_state *t = me();
    if (record) {
        /* Released at join: nothing to arrange, nothing that can fail, and
         * the creator counted the inheritance (ctxvar__exit_record_publish).
         * install_in's cache and hand-over steps have nothing to do in a new
         * thread; done inline, the creation of every thread saves 20
         * instructions (make bench, row 1b). */
        atomic_store_explicit(&t->exit_record, record, memory_order_relaxed);
        t->registered = 1;
        t->free_lists_on = FREE_LISTS;
        t->current = inherited;
        t->version = ++t->serial;
    } else if (inherited && ensure_registered() != 0) {
        ctxvar__ctx_release(inherited);
        count(STAT_FAILED, 1);
        return;
    } else {
        install_in(t, inherited); /* a new thread's previous context is empty */
        count(STAT_INHERITED, 1);
    }
    if (inherited) atomic_fetch_add_explicit(&inherited->refs, 1, memory_order_relaxed);
    t->inherited = inherited;
}

/* ---- Release at join (runtime.h) ------------------------------------------ */

/* The state of the thread `thread` (alive, or ended and not yet joined, so
 * its static TLS is still mapped), found from its thread pointer. */
static struct thread_state *state_of(pthread_t thread)
{
#if SELF_FROM_TP_POSSIBLE
    return (struct thread_state *)((uintptr_t)thread +
                                   (uintptr_t)atomic_load_explicit(&self_from_tp, memory_order_relaxed));
#else
    (void)thread;
    return NULL;
#endif
}

void ctxvar__exit_record_publish(pthread_t thread, struct ctxvar__exit_record *record)
{
    atomic_store_explicit(&state_of(thread)->exit_record, record, memory_order_release);
    record->thread = thread;
    count(STAT_INHERITED, 1); /* for the thread (ctxvar__thread_adopt) */
    if (!record->pooled) record_link(record);
    /* The thread waits for this before its start routine runs. */
    atomic_store_explicit(&record->published, CTXVAR__RECORD_PUBLISHED, memory_order_release);
}


struct ctxvar__exit_record *ctxvar__exit_record_of(pthread_t thread)
{
    /* No records unless threads get them (and none before initialisation). */
    if (!(atomic_load_explicit(&start_mode, memory_order_acquire) & CTXVAR__START_RELEASE_AT_JOIN))
        return NULL;
    return atomic_load_explicit(&state_of(thread)->exit_record, memory_order_acquire);
}

void ctxvar__thread_body_ended(struct ctxvar__exit_record *record)
{
    int expected = CTXVAR__EXIT_RUNNING;
    struct thread_state *t = me();
    /* Before the state says so: a forked child reads these once it does. */
    record->current = t->current; /* the base frame's: every frame has closed */
    record->inherited = t->inherited;
    if (!atomic_compare_exchange_strong_explicit(&record->state, &expected,
                                                 CTXVAR__EXIT_HANDED_OVER,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        /* Detached while running: the thread releases its own context from
         * the key, like a thread created detached, and disposes of the
         * record then; or now, when it holds nothing. */
        if (t->registered && exit_key_ready && pthread_setspecific(exit_key, &self) == 0) return;
        if (t->registered)
            ctxvar__debug("no pthread key for a detached thread; its context leaks");
        atomic_store_explicit(&t->exit_record, NULL, memory_order_relaxed);
        record_dispose(record);
        return;
    }
    if (t->cache_used) cache_flush_all(t);
    free_lists_drain(t);
    if (t->listed) registry_remove(t); /* its live count goes to the shards */
    t->handed_over = 1;
}

void ctxvar__exit_record_joined(struct ctxvar__exit_record *record)
{
    if (atomic_exchange_explicit(&record->state, CTXVAR__EXIT_RELEASED, memory_order_acq_rel) ==
        CTXVAR__EXIT_HANDED_OVER) {
        ctxvar__ctx_release(record->current);
        ctxvar__ctx_release(record->inherited);
    } else {
        /* The start routine never ended through our trampoline (it left by
         * longjmp, say): what the thread held went with its TLS. */
        ctxvar__debug("a joined thread never handed its context over; it leaks");
    }
    record_dispose(record);
}

int ctxvar__exit_record_detach(struct ctxvar__exit_record *record, int from_itself)
{
    int state = CTXVAR__EXIT_RUNNING;
    if (atomic_compare_exchange_strong_explicit(&record->state, &state, CTXVAR__EXIT_DETACHED,
                                                memory_order_acq_rel, memory_order_acquire))
        return 1;
    if (state != CTXVAR__EXIT_HANDED_OVER) return -1; /* detached already: glibc says so */
    if (!from_itself) return 0;
    /* Its own key or thread_local destructor detaches it: it takes back
     * what it handed over and releases it from the key, in the next round
     * (that may be the last one glibc runs). */
    struct thread_state *t = me();
    if (!exit_key_ready || pthread_setspecific(exit_key, &self) != 0) {
        ctxvar__debug("no pthread key for a thread detaching itself; its context leaks");
        return -1;
    }
    atomic_store_explicit(&record->state, CTXVAR__EXIT_DETACHED, memory_order_release);
    t->handed_over = 0;
    t->exit_rounds = LAST_EXIT_ROUND - 1;
    return 1;
}

/* The stale-context rule.  A pool creates its workers while some request is
 * current, so a worker inherits that request's context; once the thread runs
 * a wrapped task (ctxvar_task_run/_call) it is a worker, and what it
 * inherited stops being its context for good.  What it set itself stays.
 * Out of memory, it shows nothing rather than something stale.  (OpenMP
 * regions and tasks do not count: see ctxvar__run_in.)  Only the thread's
 * base frame holds what it inherited, so that is the one stripped. */
static void forget_inherited(void)
{
    if (self.depth > 0) {
        /* Inside ctxvar_run or a task: the inherited context is in the
         * thread's base frame, which is restored later; strip it then. */
        self.forget_pending = 1;
        return;
    }
    ctxvar_ctx *inherited = self.inherited, *own = NULL;
    self.inherited = NULL;
    self.forget_pending = 0;
    if (ctxvar__ctx_minus(self.current, inherited, &own) != 0) {
        ctxvar__debug("out of memory keeping a worker's own variables; it starts empty");
        own = NULL;
    }
    ctxvar__ctx_release(install(own));
    ctxvar__ctx_release(inherited);
}

/* ---- Variables ---------------------------------------------------------- */

#define INTERN_BUCKETS 4096
static _Atomic(struct ctxvar *) intern_table[INTERN_BUCKETS];
static atomic_uint next_variable_serial;

int ctxvar__valid_name(const char *name, size_t len)
{
    if (len == 0 || len > CTXVAR_NAME_MAX) return 0;
    unsigned char first = (unsigned char)name[0];
    if (!((first | 0x20) >= 'a' && (first | 0x20) <= 'z') && first != '_') return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        int ok = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* FNV-1a: only for choosing an intern bucket. */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static struct ctxvar *find_in_chain(struct ctxvar *from, const struct ctxvar *until,
                                    const char *name, size_t len)
{
    for (struct ctxvar *v = from; v != until; v = v->next)
        if (v->name_len == len && memcmp(v->name, name, len) == 0) return v;
    return NULL;
}

struct ctxvar *ctxvar__lookup(const char *name, size_t len)
{
    _Atomic(struct ctxvar *) *bucket = &intern_table[name_hash(name, len) % INTERN_BUCKETS];
    return find_in_chain(atomic_load_explicit(bucket, memory_order_acquire), NULL, name, len);
}

/* Lock-free: entries are only ever pushed on a bucket's head and never
 * removed, so after a lost race only the entries pushed since need a look. */
struct ctxvar *ctxvar__intern(const char *name, size_t len)
{
    _Atomic(struct ctxvar *) *bucket = &intern_table[name_hash(name, len) % INTERN_BUCKETS];
    struct ctxvar *head = atomic_load_explicit(bucket, memory_order_acquire);
    struct ctxvar *found = find_in_chain(head, NULL, name, len);
    if (found) return found;

    struct ctxvar *fresh = ctxvar__alloc(sizeof *fresh + len + 1);
    if (!fresh) return NULL;
    memcpy(fresh->name, name, len);
    fresh->name[len] = '\0';
    fresh->name_len = (uint32_t)len;
    fresh->hash = ctxvar__hash_serial(
        atomic_fetch_add_explicit(&next_variable_serial, 1, memory_order_relaxed));
    for (;;) {
        fresh->next = head;
        if (atomic_compare_exchange_weak_explicit(bucket, &head, fresh, memory_order_release,
                                                  memory_order_acquire))
            return fresh;
        found = find_in_chain(head, fresh->next, name, len);
        if (found) {
            free(fresh);
            return found;
        }
    }
}

CTXVAR__EXPORT ctxvar *ctxvar_named(const char *name)
{
    int saved_errno = errno;
    if (!name) {
        ctxvar__debug("ctxvar_named: NULL name");
        return NULL;
    }
    size_t len = strnlen(name, CTXVAR_NAME_MAX + 1);
    if (!ctxvar__valid_name(name, len)) {
        ctxvar__debug("ctxvar_named: invalid name (want 1-64 bytes of [A-Za-z0-9_.-], "
                      "starting with a letter or '_')");
        return NULL;
    }
    ctxvar *v = ctxvar__intern(name, len);
    if (!v) ctxvar__debug("ctxvar_named: out of memory");
    errno = saved_errno;
    return v;
}

CTXVAR__EXPORT const char *ctxvar_name(const ctxvar *v) { return v ? v->name : NULL; }

static __attribute__((noinline)) const char *get_slow(const ctxvar *v, const char *fallback)
{
    if (!v) return fallback;
    const ctxvar__binding *b = ctxvar__ctx_find(current(), v);
    return b ? b->value : fallback;
}

/* The hot path: the root node probed inline, deeper levels by the general
 * lookup; an empty context (which may still need the main thread seeded)
 * or a NULL variable goes the slow way. */
CTXVAR__EXPORT const char *ctxvar_get(const ctxvar *v, const char *fallback)
{
    const ctxvar_ctx *c = current_for_read();
    if (__builtin_expect(!c || !v, 0)) return get_slow(v, fallback);
    uint32_t bit = 1u << (v->hash & CTXVAR__HAMT_MASK);
    if (c->bindings & bit) {
        const ctxvar__binding *b =
            c->slot[ctxvar__popcount((c->bindings | c->children) & (bit - 1))];
        return b->var == v ? b->value : fallback;
    }
    if (!(c->children & bit)) return fallback;
    const ctxvar__binding *b = ctxvar__ctx_find(c, v);
    return b ? b->value : fallback;
}

CTXVAR__EXPORT int ctxvar_set(ctxvar *v, const char *value, ctxvar_token *tok)
{
    int *error = &errno; /* looked up once */
    int saved_errno = *error, err = 0;
    struct thread_state *t = me();
    ctxvar_ctx *next;
    if (!v) {
        ctxvar__debug("ctxvar_set: NULL variable");
        return EINVAL;
    }
    if (t->exited) return ESRCH;
    if (value) {
        size_t len = strnlen(value, CTXVAR_VALUE_MAX + 1);
        if (len > CTXVAR_VALUE_MAX) {
            ctxvar__debug("ctxvar_set: value for %s is longer than %d bytes", v->name,
                          CTXVAR_VALUE_MAX);
            return E2BIG;
        }
        ctxvar__binding *b = ctxvar__binding_new(v, value, len);
        err = b ? ctxvar__ctx_with(t->current ? t->current : current(), b, &next) : ENOMEM;
    } else {
        err = ctxvar__ctx_without(t->current ? t->current : current(), v, &next);
    }
    if (!err && next && !t->registered && (err = ensure_registered()) != 0)
        ctxvar__ctx_release(next);
    if (err) {
        ctxvar__debug("ctxvar_set: out of memory setting %s", v->name);
        *error = saved_errno;
        return err;
    }
    ctxvar_ctx *previous = install_in(t, next);
    if (tok) {
        tok->ctxvar__state = CTXVAR__TOKEN_FILLED;
        tok->ctxvar__thread = t->uid ? t->uid : thread_uid();
        tok->ctxvar__frame = t->frame;
        tok->ctxvar__version = t->version;
        tok->ctxvar__var = v;
        tok->ctxvar__previous = previous;
    } else if (previous) {
        cache_give(t, previous, 1);
    }
    *error = saved_errno;
    return 0;
}

static __attribute__((noinline)) int reset_slow(struct thread_state *t, ctxvar_token *tok)
{
    int *error = &errno; /* looked up once */
    int saved_errno = *error;
    ctxvar_ctx *next;
    if (!tok) {
        ctxvar__debug("ctxvar_reset: NULL token");
        return EINVAL;
    }
    if (tok->ctxvar__state == CTXVAR__TOKEN_USED) {
        ctxvar__debug("ctxvar_reset: token already reset or dropped");
        return EALREADY;
    }
    if (tok->ctxvar__state != CTXVAR__TOKEN_FILLED) {
        ctxvar__debug("ctxvar_reset: token was never filled by ctxvar_set");
        return EINVAL;
    }
    if (tok->ctxvar__thread != t->uid || tok->ctxvar__frame != t->frame || t->exited) {
        ctxvar__debug("ctxvar_reset: token of %s was filled in another %s", tok->ctxvar__var->name,
                      tok->ctxvar__thread != t->uid ? "thread" : "frame (ctxvar_run or ctxvar_swap)");
        return EINVAL;
    }
    if (tok->ctxvar__version == t->version) {
        /* Nothing changed since the set: the context before it is the answer. */
        next = tok->ctxvar__previous;
    } else {
        const ctxvar__binding *before = ctxvar__ctx_find(tok->ctxvar__previous, tok->ctxvar__var);
        int err = before ? ctxvar__ctx_with(t->current, ctxvar__binding_retain(before), &next)
                         : ctxvar__ctx_without(t->current, tok->ctxvar__var, &next);
        if (err) {
            ctxvar__debug("ctxvar_reset: out of memory; the token is still usable");
            *error = saved_errno;
            return err;
        }
        give_ref(tok->ctxvar__previous);
    }
    tok->ctxvar__state = CTXVAR__TOKEN_USED;
    tok->ctxvar__previous = NULL;
    ctxvar_ctx *replaced = install_in(t, next);
    if (replaced) cache_give(t, replaced, 1);
    *error = saved_errno;
    return 0;
}

/* The usual reset, right after its set: the context before it is the
 * answer, and nothing here can change errno (free keeps it). */
CTXVAR__EXPORT int ctxvar_reset(ctxvar_token *tok)
{
    struct thread_state *t = me();
    if (__builtin_expect(tok && tok->ctxvar__state == CTXVAR__TOKEN_FILLED &&
                             tok->ctxvar__thread == t->uid && tok->ctxvar__frame == t->frame &&
                             tok->ctxvar__version == t->version && !t->exited,
                         1)) {
        ctxvar_ctx *next = tok->ctxvar__previous;
        tok->ctxvar__state = CTXVAR__TOKEN_USED;
        tok->ctxvar__previous = NULL;
        ctxvar_ctx *replaced = install_in(t, next);
        if (replaced) cache_give(t, replaced, 1);
        return 0;
    }
    return reset_slow(t, tok);
}

CTXVAR__EXPORT void ctxvar_token_drop(ctxvar_token *tok)
{
    if (!tok || tok->ctxvar__state != CTXVAR__TOKEN_FILLED) return;
    int saved_errno = errno;
    tok->ctxvar__state = CTXVAR__TOKEN_USED;
    give_ref(tok->ctxvar__previous);
    tok->ctxvar__previous = NULL;
    errno = saved_errno;
}

/* ---- Snapshots and frames ------------------------------------------------ */

static __attribute__((noinline)) ctxvar_ctx *capture_slow(struct thread_state *t, ctxvar_ctx *c)
{
    if (!c) return take_ref(current()); /* may seed the main thread */
    cache_take(t, c, c, 1);
    return c;
}

/* A reference from the thread's cache when it has one: no atomic at all. */
CTXVAR__EXPORT ctxvar_ctx *ctxvar_capture(void)
{
    struct thread_state *t = me();
    ctxvar_ctx *c = t->current;
#pragma GCC unroll 4
    for (int i = 0; c && i < REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] > 1) {
            t->cache_refs[i]--;
            return c;
        }
    }
    return capture_slow(t, c);
}
CTXVAR__EXPORT ctxvar_ctx *ctxvar_retain(ctxvar_ctx *c) { return take_ref(c); }

static __attribute__((noinline)) void release_slow(struct thread_state *t, ctxvar_ctx *c)
{
    int saved_errno = errno;
    cache_give(t, c, 1);
    errno = saved_errno;
}

/* capture's mirror image: a reference back to the cache costs nothing. */
CTXVAR__EXPORT void ctxvar_release(ctxvar_ctx *c)
{
    if (!c) return;
    struct thread_state *t = me();
#pragma GCC unroll 4
    for (int i = 0; i < REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] < 2 * REF_CACHE_BATCH) {
            t->cache_refs[i]++;
            return;
        }
    }
    release_slow(t, c);
}

CTXVAR__EXPORT void ctxvar_clear(void)
{
    if (self.exited) return;
    ctxvar_ctx *inherited = self.inherited;
    self.inherited = NULL;
    give_ref(install(NULL));
    ctxvar__ctx_release(inherited);
}

CTXVAR__EXPORT ctxvar_ctx *ctxvar_swap(ctxvar_ctx *c)
{
    if (self.exited || (c && ensure_registered() != 0)) {
        /* Cannot hold c past this thread's exit: refuse it whole. */
        ctxvar__debug("ctxvar_swap: the thread cannot hold a context now; released it");
        ctxvar_release(c);
        return NULL;
    }
    /* Swapping back what an earlier swap replaced returns to that frame;
     * anything else opens a new one.  (The version is always new: the
     * context there may have been replaced since by another at the same
     * address, so tokens of that frame take reset's general path.) */
    unsigned long long frame = 0;
    int back = 0;
    for (unsigned i = self.swaps; i-- > 0 && !back;) {
        if (self.swapped_from[i].context == c) {
            frame = self.swapped_from[i].frame;
            self.swaps = (unsigned char)i;
            back = 1;
        }
    }
    if (!back) {
        if (self.swaps == sizeof self.swapped_from / sizeof self.swapped_from[0]) {
            memmove(self.swapped_from, self.swapped_from + 1,
                    sizeof self.swapped_from - sizeof self.swapped_from[0]);
            self.swaps--;
        }
        self.swapped_from[self.swaps].context = self.current;
        self.swapped_from[self.swaps].frame = self.frame;
        self.swaps++;
        frame = next_serial();
    }
    self.frame = frame;
    return install(c);
}

/* The caller's state while a run or task runs, restored by the cleanup
 * attribute on every way out: return, C++ exception, pthread_exit and
 * cancellation (which unwind; this file is compiled with -fexceptions). */
struct saved_frame {
    ctxvar_ctx *context;
    unsigned long long frame, version;
};

static struct saved_frame enter_frame(ctxvar_ctx *owned)
{
    struct saved_frame saved = {self.current, self.frame, self.version};
    self.depth++;
    self.current = owned;
    self.frame = next_serial();
    self.version = next_serial();
    cache_check(&self);
    return saved;
}

static void leave_frame(struct saved_frame *saved)
{
    ctxvar_ctx *inner = self.current;
    self.current = saved->context;
    self.frame = saved->frame;
    self.version = saved->version;
    give_ref(inner);
    cache_check(&self);
    if (--self.depth == 0 && self.forget_pending) forget_inherited();
}

CTXVAR__EXPORT void *ctxvar_run(ctxvar_ctx *c, void *(*fn)(void *), void *arg)
{
    if (!fn) return NULL;
    if (self.exited) return fn(arg);
    struct saved_frame saved __attribute__((cleanup(leave_frame))) = enter_frame(take_ref(c));
    return fn(arg);
}

void ctxvar__run_in(ctxvar_ctx *c, void (*fn)(void *), void *arg)
{
    if (self.exited) {
        fn(arg);
        return;
    }
    struct saved_frame saved __attribute__((cleanup(leave_frame))) = enter_frame(take_ref(c));
    fn(arg);
}

CTXVAR__EXPORT const char *ctxvar_ctx_get(const ctxvar_ctx *c, const ctxvar *v,
                                          const char *fallback)
{
    if (!v) return fallback;
    const ctxvar__binding *b = ctxvar__ctx_find(c, v);
    return b ? b->value : fallback;
}

CTXVAR__EXPORT size_t ctxvar_ctx_count(const ctxvar_ctx *c) { return ctxvar__ctx_count(c); }

struct foreach_call {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int call_foreach(const ctxvar__binding *b, void *p)
{
    struct foreach_call *call = p;
    return call->fn(b->var->name, b->value, call->arg);
}

CTXVAR__EXPORT int ctxvar_ctx_foreach(const ctxvar_ctx *c,
                                      int (*fn)(const char *name, const char *value, void *arg),
                                      void *arg)
{
    if (!fn) return 0;
    struct foreach_call call = {fn, arg};
    return ctxvar__ctx_visit_sorted(c, call_foreach, &call);
}

/* ---- Tasks ------------------------------------------------------------- */

static ctxvar_task *wrap(void (*fn)(void *), void *(*fn_ret)(void *), void *arg)
{
    int saved_errno = errno;
    if (!fn && !fn_ret) return NULL;
    ctxvar_task *t = ctxvar__alloc(sizeof *t);
    if (!t) {
        ctxvar__debug("ctxvar_wrap: out of memory");
        errno = saved_errno;
        return NULL;
    }
    t->ctxvar__fn = fn;
    t->ctxvar__fn_ret = fn_ret;
    t->ctxvar__arg = arg;
    t->ctxvar__ctx = take_ref(current());
    return t;
}

CTXVAR__EXPORT ctxvar_task *ctxvar_wrap(void (*fn)(void *), void *arg) { return wrap(fn, NULL, arg); }
CTXVAR__EXPORT ctxvar_task *ctxvar_wrap_ret(void *(*fn)(void *), void *arg)
{
    return wrap(NULL, fn, arg);
}

CTXVAR__EXPORT void *ctxvar_task_call(void *task)
{
    if (!task) return NULL;
    ctxvar_task t = *(ctxvar_task *)task;
    free(task);
    if (self.exited) {
        ctxvar__ctx_release(t.ctxvar__ctx);
        if (t.ctxvar__fn_ret) return t.ctxvar__fn_ret(t.ctxvar__arg);
        t.ctxvar__fn(t.ctxvar__arg);
        return NULL;
    }
    if (self.inherited) forget_inherited();
    /* The frame takes over the task's reference to its context. */
    struct saved_frame saved __attribute__((cleanup(leave_frame))) = enter_frame(t.ctxvar__ctx);
    if (t.ctxvar__fn_ret) return t.ctxvar__fn_ret(t.ctxvar__arg);
    t.ctxvar__fn(t.ctxvar__arg);
    return NULL;
}

CTXVAR__EXPORT void ctxvar_task_run(void *task) { (void)ctxvar_task_call(task); }

CTXVAR__EXPORT void ctxvar_task_free(ctxvar_task *t)
{
    if (!t) return;
    int saved_errno = errno;
    give_ref(t->ctxvar__ctx);
    free(t);
    errno = saved_errno;
}

/* ---- Logs ---------------------------------------------------------------- */

/* An int, as the API returns lengths (like snprintf). */
static int clamp_length(size_t len) { return len > 0x7fffffff ? 0x7fffffff : (int)len; }

static int needs_quotes(const char *v, size_t len)
{
    if (len == 0) return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f) return 1;
    }
    return 0;
}

static int put_pair(const ctxvar__binding *b, void *p)
{
    struct ctxvar__text *t = p;
    if (t->len) ctxvar__text_put(t, " ", 1);
    ctxvar__text_put(t, b->var->name, b->var->name_len);
    ctxvar__text_put(t, "=", 1);
    if (!needs_quotes(b->value, b->len)) {
        ctxvar__text_put(t, b->value, b->len);
        return 0;
    }
    ctxvar__text_put(t, "\"", 1);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->value[i];
        char escape[8];
        switch (c) {
        case '"': ctxvar__text_put(t, "\\\"", 2); break;
        case '\\': ctxvar__text_put(t, "\\\\", 2); break;
        case '\n': ctxvar__text_put(t, "\\n", 2); break;
        case '\r': ctxvar__text_put(t, "\\r", 2); break;
        case '\t': ctxvar__text_put(t, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(escape, sizeof escape, "\\u%04x", c);
                ctxvar__text_put(t, escape, 6);
            } else {
                ctxvar__text_put(t, (const char *)&c, 1);
            }
        }
    }
    ctxvar__text_put(t, "\"", 1);
    return 0;
}

CTXVAR__EXPORT int ctxvar_format(char *buf, size_t size)
{
    int saved_errno = errno;
    struct ctxvar__text t = ctxvar__text_start(buf, size);
    ctxvar__ctx_visit_sorted(current(), put_pair, &t);
    errno = saved_errno;
    return clamp_length(ctxvar__text_finish(&t));
}

/* ---- Across processes ------------------------------------------------------ */

CTXVAR__EXPORT int ctxvar_baggage_encode(const ctxvar_ctx *c, char *buf, size_t size,
                                         size_t *dropped)
{
    int saved_errno = errno;
    size_t len = ctxvar__baggage_encode(c, buf, size, dropped);
    errno = saved_errno;
    return clamp_length(len);
}

CTXVAR__EXPORT int ctxvar_baggage_current(char *buf, size_t size, size_t *dropped)
{
    return ctxvar_baggage_encode(current(), buf, size, dropped);
}

CTXVAR__EXPORT int ctxvar_baggage_decode(const char *value, const ctxvar_ctx *base,
                                         ctxvar_ctx **out, size_t *skipped)
{
    int saved_errno = errno;
    size_t ignored;
    if (!value || !out) {
        ctxvar__debug("ctxvar_baggage_decode: NULL %s", value ? "out" : "value");
        return EINVAL;
    }
    int err = ctxvar__baggage_decode(value, base, out, skipped ? skipped : &ignored);
    errno = saved_errno;
    return err;
}

CTXVAR__EXPORT int ctxvar_set_traceparent(const char *value, ctxvar_token *tok)
{
    if (!value || !ctxvar__traceparent_valid(value)) {
        ctxvar__debug("ctxvar_set_traceparent: not a valid traceparent");
        return EINVAL;
    }
    return ctxvar_set(ctxvar_named("traceparent"), value, tok);
}

/* ---- Runtime ------------------------------------------------------------- */

CTXVAR__EXPORT int ctxvar_runtime_present(void) { return 1; }

CTXVAR__EXPORT int ctxvar_stats(struct ctxvar_stats *out)
{
    long long sum[STAT_COUNT] = {0};
    if (!out) return EINVAL;
    /* Under the registry lock, so that a thread folding its own count into
     * the shards at exit is counted once. */
    if (REGISTRY_IN_USE) registry_lock();
    for (int s = 0; s < STAT_SHARDS; s++)
        for (int i = 0; i < STAT_COUNT; i++)
            sum[i] += atomic_load_explicit(&stat_shards[s].value[i], memory_order_relaxed);
    for (const struct thread_state *t = REGISTRY_IN_USE ? registry : NULL; t; t = t->next)
        sum[STAT_LIVE] += atomic_load_explicit(&t->live, memory_order_relaxed);
    if (REGISTRY_IN_USE) registry_unlock();
    out->live_contexts = sum[STAT_LIVE] > 0 ? (unsigned long long)sum[STAT_LIVE] : 0;
    out->threads_inherited = (unsigned long long)sum[STAT_INHERITED];
    out->inherit_failures = (unsigned long long)sum[STAT_FAILED];
    return 0;
}

CTXVAR__EXPORT const char *ctxvar_version(void) { return CTXVAR_VERSION; }
CTXVAR__EXPORT const char *ctxvar_strerror(int err) { return ctxvar__error_text(err); }

/* The table the header binds to.  The exported name is an alias, so that
 * this copy can tell its own table from another copy's (initialise()). */
static const struct ctxvar__runtime runtime_table = {
    CTXVAR__ABI, sizeof(struct ctxvar__runtime),
    ctxvar_named, ctxvar_name, ctxvar_get, ctxvar_set, ctxvar_reset, ctxvar_token_drop,
    ctxvar_capture, ctxvar_retain, ctxvar_release, ctxvar_swap, ctxvar_run,
    ctxvar_ctx_get, ctxvar_ctx_count, ctxvar_ctx_foreach, ctxvar_wrap, ctxvar_wrap_ret,
    ctxvar_task_run, ctxvar_task_call, ctxvar_task_free, ctxvar_format, ctxvar_stats,
    ctxvar_version, ctxvar_clear, ctxvar_baggage_encode, ctxvar_baggage_current,
    ctxvar_baggage_decode, ctxvar_set_traceparent,
};
extern const struct ctxvar__runtime ctxvar__runtime_v1
    __attribute__((alias("runtime_table"), visibility("default")));

#ifdef CTXVAR_FAULT_INJECTION
/* Test build only (make fault): fail the Nth allocation after arming, the
 * way malloc fails, so tests can walk every allocation of a scenario. */
static atomic_ulong allocations_since_armed, failing_allocation;

void *ctxvar__alloc(size_t size)
{
    unsigned long n = atomic_fetch_add(&allocations_since_armed, 1) + 1;
    if (n == atomic_load(&failing_allocation)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(size);
}

CTXVAR__EXPORT void ctxvar_test_fail_allocation(unsigned long nth)
{
    atomic_store(&allocations_since_armed, 0);
    atomic_store(&failing_allocation, nth);
}

CTXVAR__EXPORT unsigned long ctxvar_test_allocations(void)
{
    return atomic_load(&allocations_since_armed);
}
#endif
