/* thread.h - each thread's state, and the hot paths that read and change it.
 *
 * A thread's state is one static TLS struct, `ctxvar__self`: its current
 * context, the context it inherited, its frame and version counters (which
 * make tokens checkable), its reference cache (lib/refcache.c), and its
 * links to the registry (lib/registry.c) and to its exit record
 * (lib/handover.c).  A thread that never touches ctxvar costs nothing but
 * the block's size: glibc zeroes it for every new thread, which is why it
 * is kept to 280 bytes.
 *
 * Who writes what: only the thread itself, with three exceptions, each
 * ordered by an atomic: a joiner or detacher marks `exit_slot` before the
 * thread has published its record there; a forked child releases what the
 * state held of threads that do not exist in it; ctxvar_stats reads `live`
 * under the registry lock.
 *
 * Internal to lib/; the interposers in shim/ use lib/runtime.h.
 */
#ifndef CTXVAR_THREAD_H
#define CTXVAR_THREAD_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "otel.h"
#include "platform.h"
#include "store.h"

/* The reference cache (lib/refcache.c): a thread keeps up to
 * REF_CACHE_ENTRIES batches of REF_CACHE_BATCH references, so that
 * capture/release, set/reset and wrap/run pairs touch no shared counter. */
#define CTXVAR__REF_CACHE_ENTRIES 4
#define CTXVAR__REF_CACHE_BATCH 64

struct ctxvar__free_lists;
struct ctxvar__start;
struct ctxvar__thread;

/* The caller's state while a run, task or callback runs in a frame of its
 * own, on the runner's stack (lib/frames.c). */
struct ctxvar__frame {
    struct ctxvar__thread *thread;
    ctxvar_ctx *context;
    unsigned long long frame, version;
    struct ctxvar__frame *outer;
    /* The caller's current_lent (lib/frames.c, "Lent contexts"), restored
     * on leaving. */
    unsigned char outer_lent;
};

/* A frame is the dynamic extent in which a token may be reset: the thread's
 * base frame, or one ctxvar_run, task run or swap.  Frames and context
 * versions are drawn from one per-thread counter, so a (thread, frame,
 * version) triple never repeats and a token can never match a state it did
 * not see. */
struct ctxvar__thread {
    ctxvar_ctx *current;            /* owned; NULL = empty */
    ctxvar_ctx *inherited;          /* owned: the creator's snapshot, kept until
                                       the thread first runs a task */
    unsigned long long uid;         /* 0 until a token needs it */
    unsigned long long frame;
    unsigned long long version;
    unsigned long long serial;      /* last frame/version number handed out */
    unsigned depth;                 /* ctxvar_run / task frames entered */
    unsigned char shard;            /* stats shard + 1; 0 = not chosen yet */
    unsigned char registered;       /* release at exit arranged (record or destructor) */
    unsigned char listed;           /* in the registry */
    unsigned char exited;           /* released at exit; refuse new state */
    unsigned char not_main;         /* known not to be the main thread */
    unsigned char forget_pending : 1; /* stale rule due on return to depth 0 */
    unsigned char current_lent : 1;   /* current is lent to the innermost frame, not owned */
    unsigned char swaps;            /* entries used in swapped_from */
    unsigned char cache_used;       /* reference cache entries in use */
    unsigned char free_lists_on;    /* registered and not exiting: keep blocks */
    unsigned char handed_over;      /* exit_record holds what the thread holds */
    unsigned char cache_root;       /* bit i: cache entry i is a root */
    unsigned char busy;             /* changing this state now: a signal handler
                                       that interrupts must not (lib/sigsafe.h) */
    /* What each ctxvar_swap replaced, so that swapping it back in restores
     * its frame (tokens filled before the swap work again). */
    struct {
        const ctxvar_ctx *context;
        unsigned long long frame;
    } swapped_from[4];
    ctxvar_ctx *cache_node[CTXVAR__REF_CACHE_ENTRIES];  /* NULL: entry unused */
    unsigned char cache_refs[CTXVAR__REF_CACHE_ENTRIES]; /* 1 .. 2 * batch */
    unsigned created_generation; /* of created_record (below; here it fills a hole) */
    const ctxvar_ctx *cache_anchor[CTXVAR__REF_CACHE_ENTRIES];
    const ctxvar_ctx *cache_anchors; /* a root keeping every entry's anchor alive, or NULL */
    struct ctxvar__free_lists *free_lists; /* made on the first block kept */
    /* Registered threads count contexts made and freed here, in
     * ctxvar_stats' live_contexts, without a locked instruction; the sum is
     * read under the registry lock and folded into the shards at exit. */
    atomic_llong live;
    /* The thread's own exit record (lib/handover.c), NULL when it releases
     * its own context at exit. */
    struct ctxvar__start *exit_record;
    /* Where a joiner finds the exit record (lib/handover.c): written by the
     * thread, and marked by a joiner or detacher that comes first. */
    _Atomic(uintptr_t) exit_slot;
    /* The pool record this thread gave the last joinable thread it
     * created (NULL: none, or a heap record), with that record's
     * generation: a join of that thread, the commonest join, then finds the
     * record without the thread's slot (lib/handover.c, "The creator's
     * hint"). */
    struct ctxvar__start *created_record;
    struct ctxvar__thread *prev, *next; /* the registry, while listed */
    struct ctxvar__frame *top_frame; /* the innermost run or task frame */
    /* The last outgoing HTTP headers (lib/headers.c), or NULL.  Here, not
     * in a thread-local variable of its own: otel_thread_ctx_v1 stays at
     * offset 0 of the runtime's TLS block (lib/sigsafe.h). */
    void *headers_cache;
};
_Static_assert(sizeof(struct ctxvar__thread) <= 280, "thread state outgrew 280 bytes");
_Static_assert(2 * CTXVAR__REF_CACHE_BATCH <= 255, "cache_refs holds up to twice a batch");

/* Named, so that platform.c can find its TLS descriptor. */
extern __thread struct ctxvar__thread ctxvar__self CTXVAR__HIDDEN;

/* &ctxvar__self the ordinary way, out of line: a call through the TLS
 * descriptor makes its caller set up a stack frame, which the hot paths
 * avoid. */
struct ctxvar__thread *ctxvar__me_by_descriptor(void) CTXVAR__HIDDEN;

/* This thread's state, without the TLS descriptor call when the platform
 * allows it.  The hot paths call this once and pass the pointer on. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline struct ctxvar__thread *ctxvar__me(void)
{
#if CTXVAR__THREAD_POINTER
    long offset = atomic_load_explicit(&ctxvar__self_offset, memory_order_relaxed);
    if (__builtin_expect(offset != 0, 1))
        return (struct ctxvar__thread *)(ctxvar__thread_pointer() + (uintptr_t)offset);
#endif
    return ctxvar__me_by_descriptor();
}

/* The calling thread's current context, for readers only (the compiler
 * does not see this load as a read of ctxvar__self), or NULL when the fast
 * way to it is closed: the caller then takes its slow path, which is also
 * where an empty context goes.  Returning NULL rather than calling the TLS
 * descriptor here keeps the reader free of calls, so it needs no frame. */
static inline ctxvar_ctx *ctxvar__current_for_read(void)
{
#if CTXVAR__THREAD_POINTER
    long offset = atomic_load_explicit(&ctxvar__self_offset, memory_order_relaxed);
    if (__builtin_expect(offset != 0, 1))
        return (ctxvar_ctx *)ctxvar__thread_pointer_load(
            offset + (long)offsetof(struct ctxvar__thread, current));
    return NULL;
#else
    return ctxvar__self.current;
#endif
}

/* ---- lib/refcache.c: references and memory, per thread ---------------------- */

/* One more / one fewer reference on node n (a root when is_root), from and
 * to t's cache when it has room; n stays alive at least as long as the root
 * `anchor` does.  give frees n when it was the last reference. */
void ctxvar__ref_take(struct ctxvar__thread *t, ctxvar_ctx *n, const ctxvar_ctx *anchor,
                      int is_root) CTXVAR__HIDDEN;
void ctxvar__ref_give(struct ctxvar__thread *t, ctxvar_ctx *n, int is_root) CTXVAR__HIDDEN;

/* Gives back the cached references t's current context no longer keeps
 * alive. */
void ctxvar__cache_flush_unheld(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* After t's current context changed: gives back what it no longer keeps
 * alive.  The usual set or reset stays within one family of versions: every
 * entry shares one anchor, the new context or its lender, and nothing is
 * due. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__cache_check(struct ctxvar__thread *t)
{
    if (!t->cache_used) return;
    const ctxvar_ctx *c = t->current, *common = t->cache_anchors;
    if (c && common && !t->handed_over && ctxvar__ctx_borrows_from(c, common)) return;
    ctxvar__cache_flush_unheld(t);
}

/* Gives back every cached reference. */
void ctxvar__cache_flush_all(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* Frees the blocks kept on `lists`, and the lists. */
void ctxvar__free_lists_free(struct ctxvar__free_lists *lists) CTXVAR__HIDDEN;

/* Stops t keeping freed blocks for reuse and frees those it kept.  Inline:
 * every thread's end asks, and most threads kept none. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void
ctxvar__free_lists_drain(struct ctxvar__thread *t)
{
    struct ctxvar__free_lists *lists = t->free_lists;
    t->free_lists_on = 0;
    t->free_lists = NULL;
    if (lists) ctxvar__free_lists_free(lists);
}

/* Whether registered threads keep freed blocks of the store (not in the
 * sanitizer and fault-injection builds, which must see every allocation),
 * and whether they take back callback records freed on other threads
 * (lib/refcache.c, "Records that go home"): that reuse is ordered by the
 * stacks' own release and acquire, which ThreadSanitizer follows, so the
 * TSan build keeps it and checks it; ASan and the fault build do not. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(CTXVAR_FAULT_INJECTION)
#define CTXVAR__FREE_LISTS 0
#else
#define CTXVAR__FREE_LISTS 1
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(CTXVAR_FAULT_INJECTION)
#define CTXVAR__RECORDS_GO_HOME 0
#else
#define CTXVAR__RECORDS_GO_HOME 1
#endif
/* What t->free_lists_on becomes when a thread registers. */
#define CTXVAR__KEEPS_MEMORY (CTXVAR__FREE_LISTS || CTXVAR__RECORDS_GO_HOME)

/* ---- lib/registry.c: registration, release at exit, statistics --------------- */

/* Makes sure t's context will be released at its exit: 0, or ENOMEM when
 * nothing can arrange it. */
int ctxvar__ensure_registered(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* Puts t in the registry (a thread a forked child must clean up after). */
void ctxvar__registry_add(struct ctxvar__thread *t) CTXVAR__HIDDEN;
/* Takes t out, its live count folded into the shards. */
void ctxvar__registry_unlist(struct ctxvar__thread *t) CTXVAR__HIDDEN;
CTXVAR__BEFORE_THREAD_START_INLINE static inline void
ctxvar__registry_remove(struct ctxvar__thread *t)
{
    if (t->listed) ctxvar__registry_unlist(t);
}

/* In a forked child: releases what the thread of state t, which does not
 * exist there, held. */
void ctxvar__thread_state_release(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* ctxvar_stats' counters, in shards: each thread adds to the shard it was
 * given on first use, so that threads rarely share a cache line. */
enum { CTXVAR__STAT_LIVE, CTXVAR__STAT_INHERITED, CTXVAR__STAT_FAILED, CTXVAR__STAT_COUNT };
#define CTXVAR__STAT_SHARDS 64
struct ctxvar__stat_shard {
    _Alignas(64) atomic_llong value[CTXVAR__STAT_COUNT];
};
extern struct ctxvar__stat_shard ctxvar__stat_shards[CTXVAR__STAT_SHARDS] CTXVAR__HIDDEN;
struct ctxvar__stat_shard *ctxvar__shard_choose(struct ctxvar__thread *t) CTXVAR__HIDDEN;

CTXVAR__BEFORE_THREAD_START_INLINE static inline struct ctxvar__stat_shard *
ctxvar__shard_of(struct ctxvar__thread *t)
{
    return t->shard ? &ctxvar__stat_shards[t->shard - 1] : ctxvar__shard_choose(t);
}

void ctxvar__count(int which, long long delta) CTXVAR__HIDDEN;
/* The same, for the calling thread's state t.  Inline: every thread
 * creation counts. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void
ctxvar__count_in(struct ctxvar__thread *t, int which, long long delta)
{
    atomic_fetch_add_explicit(&ctxvar__shard_of(t)->value[which], delta, memory_order_relaxed);
}

/* A number for tokens to tell this thread from every other, made on first use. */
unsigned long long ctxvar__thread_uid(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* ---- lib/handover.c ------------------------------------------------------- */

/* A thread whose start routine has ended keeps its record up to date with
 * what it still sets (its destructors may). */
void ctxvar__exit_record_update(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* Releases what ended, detached threads held once the kernel has finished
 * them: all of them, or the oldest few. */
void ctxvar__exit_records_reap(int all) CTXVAR__HIDDEN;

/* In a forked child: releases what the threads that do not exist there
 * handed over to their exit records, or still hold. */
void ctxvar__exit_records_release_others(void) CTXVAR__HIDDEN;

/* In a forked child whose lists another thread may have left half changed
 * (a fork from a signal handler, lib/sigsafe.h): forgets what the others
 * held without walking it, and leaks it. */
void ctxvar__exit_records_forget_others(void) CTXVAR__HIDDEN;

/* ---- lib/startup.c ----------------------------------------------------------- */

/* The current context (borrowed).  Initialises the runtime, and seeds the
 * main thread from the environment, on the empty path only, so that a read
 * from another library's constructor still sees the seed while a read with
 * a context costs nothing. */
extern atomic_int ctxvar__main_seeded CTXVAR__HIDDEN; /* the main thread's seed is done */
ctxvar_ctx *ctxvar__current_seeded(struct ctxvar__thread *t) CTXVAR__HIDDEN;
static inline ctxvar_ctx *ctxvar__current(struct ctxvar__thread *t)
{
    ctxvar_ctx *c = t->current;
    if (__builtin_expect(c || t->not_main ||
                             atomic_load_explicit(&ctxvar__main_seeded, memory_order_acquire),
                         1))
        return c;
    return ctxvar__current_seeded(t);
}

/* ---- Changing the current context ------------------------------------------ */

/* t's current context is lent (current_lent) and about to be replaced:
 * takes the reference that whoever receives the replaced context will own,
 * and clears the mark (lib/frames.c, "Lent contexts"). */
void ctxvar__frame_keep_lent(struct ctxvar__thread *t) CTXVAR__HIDDEN;

/* Installs `next` (owned) as t's current context in the current frame and
 * returns the previous one, which the caller now owns.  Every change of a
 * thread's current context goes through here or through a frame change
 * (lib/frames.c), and both tell the reference cache. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline ctxvar_ctx *ctxvar__install(struct ctxvar__thread *t,
                                                                      ctxvar_ctx *next)
{
    if (__builtin_expect(t->current_lent, 0)) ctxvar__frame_keep_lent(t);
    ctxvar_ctx *previous = t->current;
    t->current = next;
    ctxvar__otel_follow(next, previous);
    t->version = ++t->serial;
    ctxvar__cache_check(t);
    if (__builtin_expect(t->handed_over, 0)) ctxvar__exit_record_update(t);
    return previous;
}

/* Installs next (owned) as t's current context and, like ctxvar_set, fills
 * tok so that ctxvar_reset undoes it (v: the variable the token restores;
 * NULL: ctxvar_reset brings back the whole context before), or gives the
 * previous context away when tok is NULL.  0, or ENOMEM with next released
 * and nothing changed.  Inline: it is half of every ctxvar_set. */
static inline int ctxvar__install_with_token(struct ctxvar__thread *t, ctxvar_ctx *next,
                                             ctxvar_token *tok, ctxvar *v)
{
    int err;
    if (next && !t->registered && (err = ctxvar__ensure_registered(t)) != 0) {
        ctxvar__ctx_release(next);
        return err;
    }
    ctxvar_ctx *previous = ctxvar__install(t, next);
    if (tok) {
        tok->ctxvar__state = CTXVAR__TOKEN_FILLED;
        tok->ctxvar__thread = t->uid ? t->uid : ctxvar__thread_uid(t);
        tok->ctxvar__frame = t->frame;
        tok->ctxvar__version = t->version;
        tok->ctxvar__var = v;
        tok->ctxvar__previous = previous;
    } else if (previous) {
        ctxvar__ref_give(t, previous, 1);
    }
    return 0;
}

#endif
