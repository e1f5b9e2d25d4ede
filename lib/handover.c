/* handover.c - what a new thread gets from its creator, and what a joinable
 * thread hands to its joiner when it ends.
 *
 * START RECORDS
 *
 * The creator fills a start record before the real thread creation (the
 * new thread may run before pthread_create returns): the start routine and
 * its argument, and a snapshot of the creator's context.  The record comes
 * from a static pool (or the heap when the pool is busy): a thread that
 * never allocates never sets up a malloc cache, which would cost more than
 * everything else we do per thread.  After a successful creation the
 * creator never touches the record again; the new thread owns it.
 *
 * RELEASE AT JOIN
 *
 * A joinable thread does not arm a pthread key to release its context at
 * exit (glibc then runs every key's destructor loop, four rounds, for each
 * thread).  Instead it keeps its start record as its exit record: when its
 * start routine ends, by return, pthread_exit or cancellation, it hands what
 * it holds to the record and goes on showing it to whatever still runs (key
 * and thread_local destructors, which may still log and set); whoever joins
 * it releases the record after the real join, when nothing of the thread
 * runs any more.
 *
 *   state      RUNNING --(start routine ends)--> HANDED_OVER --(joined)--> RELEASED
 *                 |                                   |
 *                 +--(detached)--> DETACHED           +--(detached: reaped by a
 *                      the thread releases its own        join on the spot)
 *                      from the key at exit
 *
 * FINDING THE RECORD, WITH NO ONE WAITING
 *
 * A joiner has only a pthread_t.  The thread publishes its record itself,
 * before its start routine runs, in its exit slot: a word in its own TLS,
 * which a joiner reaches from the pthread_t when pthread_t is the thread
 * pointer (lib/platform.h), or else an entry of a small lock-free table
 * keyed by pthread_t.  Nobody ever waits for the publication, so a thread
 * never depends on another thread running (a real-time thread created with
 * a higher priority than its creator, on its creator's CPU, would otherwise
 * wait forever).  A joiner or detacher that comes before the thread has
 * published marks the slot instead:
 *
 *   slot           meaning
 *   EMPTY          nothing yet
 *   record         published: the joiner releases it after the join
 *   NO_HANDOVER    a detacher came first: the thread releases its own at exit
 *   JOIN_PENDING   a joiner came first: the thread puts its record in the
 *                  table (then IN_TABLE), where the joiner takes it after
 *                  the join, when the thread's TLS is gone
 *
 * A joiner whose join fails (tryjoin, timed join) takes its mark back.  In
 * the table mode the record is always in the table, and the joiner takes it
 * after the join.  When the table is full, the thread releases its own.
 *
 * THE CREATOR'S HINT
 *
 * Most joins are made by the thread that created the thread, soon after.
 * So a creator remembers, in its own state, the pool record it gave the
 * last thread it created joinable, and that record's generation (a count
 * every give-back of a pool record increments); the thread, as it begins,
 * writes its pthread_t in the record.  A join of that pthread_t takes the
 * record from the pool directly when its generation has not moved: then
 * nobody has released it, and only a join or the reaping of a detached
 * thread would, so it is the record of the thread being joined, whatever
 * became of other threads that had the same pthread_t.  The pool is static
 * memory, so the check reads nothing that may have been freed; heap
 * records get no hint.  The creator does not read the id pthread_create
 * wrote: the new thread may have freed that memory by the time the call
 * returns.  A join before the thread began takes the mark-and-table path.
 *
 * FORK
 *
 * A forked child releases what the threads of adopted records held: in the
 * record once handed over, in the thread's (copied) TLS before.  Records are
 * found in the static pool and on a list of heap records.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "annotate.h"
#include "childenv.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"

struct ctxvar__start {
    atomic_int busy;                 /* taken from the pool */
    atomic_int state;                /* EXIT_*, once adopted */
    atomic_int adopted;              /* the thread runs with release at join */
    atomic_uint generation;          /* pool records: uses so far (the creator's hint) */
    _Atomic(uintptr_t) begun_as;     /* the thread's pthread_t once it began, for the hint */
    int joinable;                    /* release at join was asked for */
    int pooled;                      /* in the static pool, else on the heap */
    int listed;                      /* on the heap list */
    int in_table;                    /* the thread put it in the table */
    void (*fn)(void);                /* the start routine, as the shim's */
    void *arg;                       /*   trampoline calls it */
    ctxvar_ctx *context;             /* owned until the thread adopts it */
    ctxvar_ctx *current, *inherited; /* what the thread held at its end */
    struct ctxvar__thread *owner;    /* the thread's state, once adopted */
    pthread_t thread;                /* once adopted */
    pid_t tid;                       /* the kernel's id of the thread, once adopted */
    struct ctxvar__start *reap_next; /* in the reap queue */
    struct ctxvar__start *prev, *next; /* heap records, for a forked child */
};

enum { EXIT_RUNNING, EXIT_DETACHED, EXIT_HANDED_OVER, EXIT_REAPING, EXIT_RELEASED };
enum { SLOT_EMPTY, SLOT_NO_HANDOVER, SLOT_JOIN_PENDING, SLOT_IN_TABLE, SLOT_MARKS };
#define RECORD_ATOMICS offsetof(struct ctxvar__start, joinable) /* busy .. begun_as */

/* ---- The pool ---------------------------------------------------------------- */

/* The fault-injection build always allocates, so that tests reach the
 * out-of-memory path. */
#ifdef CTXVAR_FAULT_INJECTION
#define POOL_SIZE 0
#else
#define POOL_SIZE 256
#endif
#define POOL_PROBES 8
static struct ctxvar__start pool[POOL_SIZE + 1];
static atomic_uint pool_hint;
static struct ctxvar__start *heap_records; /* under the registry lock */

/* Under ThreadSanitizer a new thread gives its record back before TSan has
 * set it up, when it may take no lock TSan intercepts: heap records are not
 * listed there (what the list is for, a forked child's memory, valgrind
 * checks). */
#if defined(__SANITIZE_THREAD__)
#define HEAP_LIST 0
#else
#define HEAP_LIST 1
#endif

static struct ctxvar__start *record_take(void)
{
    unsigned hint = atomic_fetch_add_explicit(&pool_hint, 1, memory_order_relaxed);
    for (unsigned i = 0; POOL_SIZE && i < POOL_PROBES; i++) {
        struct ctxvar__start *s = &pool[(hint + i) % (POOL_SIZE ? POOL_SIZE : 1)];
        if (!atomic_load_explicit(&s->busy, memory_order_relaxed) &&
            !atomic_exchange_explicit(&s->busy, 1, memory_order_acquire)) {
            CTXVAR__HAPPENS_AFTER(&s->busy); /* the last user's record_give_back is done with it */
            s->pooled = 1;
            return s;
        }
    }
    struct ctxvar__start *s = ctxvar__early_alloc(sizeof *s);
    if (!s) return NULL;
    CTXVAR__ATOMIC_WORDS(s, RECORD_ATOMICS); /* as the pool's (atomics_only) */
    s->pooled = 0;
    s->listed = HEAP_LIST;
    s->prev = s->next = NULL;
    if (s->listed) {
        ctxvar__registry_lock();
        s->next = heap_records;
        if (heap_records) heap_records->prev = s;
        heap_records = s;
        ctxvar__registry_unlock();
    }
    return s;
}

/* Under the registry lock. */
static void heap_unlink_locked(struct ctxvar__start *s)
{
    if (s->prev) s->prev->next = s->next;
    else if (heap_records == s) heap_records = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* A pool record back to the pool, a new generation: a creator's hint to it
 * no longer holds.  Called by creators, joiners, reapers and a forked
 * child, all threads TSan knows. */
CTXVAR__BEFORE_THREAD_START static void pool_give_back(struct ctxvar__start *s)
{
    atomic_fetch_add_explicit(&s->generation, 1, memory_order_relaxed);
    /* Our uses come before record_take's next user (its exchange acquires). */
    CTXVAR__HAPPENS_BEFORE(&s->busy);
    CTXVAR__TSAN_RELEASE(&s->busy);
    atomic_store_explicit(&s->busy, 0, memory_order_release);
}

CTXVAR__BEFORE_THREAD_START static void record_give_back(struct ctxvar__start *s)
{
    atomic_store_explicit(&s->adopted, 0, memory_order_relaxed);
    if (s->pooled) {
        pool_give_back(s);
        return;
    }
    if (s->listed) {
        ctxvar__registry_lock();
        heap_unlink_locked(s);
        ctxvar__registry_unlock();
    }
    ctxvar__early_free(s);
}

/* ---- Exit slots ----------------------------------------------------------------- */

/* The table: buckets of four entries, one cache line each, chosen by a
 * hash of the pthread_t; keys never 0, a taken entry's key back to 0.  A
 * key lives only in its own bucket, so looking for it reads one line and
 * never walks a chain, and nothing is left behind to skip (the joiner-first
 * hand-over of every create+join goes through here).  A full bucket means
 * ENOSPC: the thread then releases its own, like a detached one.  Two
 * threads inserting the same key at once may leave it twice; the second
 * copy is taken by the next join of a thread with that pthread_t, or
 * nobody's: never a wrong release, at worst a record kept. */
#define TABLE_BUCKETS 1024
#define TABLE_WAYS 4
static struct table_entry {
    _Atomic(uintptr_t) key, value;
} table[TABLE_BUCKETS][TABLE_WAYS] __attribute__((aligned(64)));

/* Only atomics touch the table and the records' busy, state and adopted
 * words, which helgrind and DRD take for plain accesses: they ignore those
 * words (lib/annotate.h); what the words hand over is annotated where it is. */
/* The reap queue's head, read without the registry lock to skip the lock
 * when the queue is empty (lib/handover.c, "The reap queue"). */
static _Atomic(struct ctxvar__start *) reap_any;

CTXVAR__AFTER_DETECTION static void atomics_only(void)
{
    if (!CTXVAR__RACE_DETECTOR()) return;
    CTXVAR__ATOMIC_WORDS(&reap_any, sizeof reap_any);
    CTXVAR__ATOMIC_WORDS(table, sizeof table);
    for (int i = 0; i < POOL_SIZE; i++) CTXVAR__ATOMIC_WORDS(&pool[i], RECORD_ATOMICS);
}

/* pthread_t values are addresses, 16-byte aligned at least: Fibonacci
 * hashing of the rest spreads neighbours over the buckets. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline struct table_entry *table_bucket(uintptr_t key)
{
    return table[(size_t)((uint64_t)(key >> 4) * 0x9e3779b97f4a7c15u >> 54)];
}
_Static_assert(TABLE_BUCKETS == 1 << 10, "table_bucket keeps 10 bits of the hash");

CTXVAR__BEFORE_THREAD_START_INLINE static inline struct table_entry *
bucket_find(struct table_entry *bucket, uintptr_t key)
{
    for (int i = 0; i < TABLE_WAYS; i++)
        if (atomic_load_explicit(&bucket[i].key, memory_order_acquire) == key) return &bucket[i];
    return NULL;
}

CTXVAR__BEFORE_THREAD_START static struct table_entry *table_find(uintptr_t key)
{
    return bucket_find(table_bucket(key), key);
}

/* 0, EEXIST (*found: the value there), or ENOSPC (the bucket is full). */
CTXVAR__BEFORE_THREAD_START static int table_insert(uintptr_t key, uintptr_t value,
                                                    uintptr_t *found)
{
    struct table_entry *bucket = table_bucket(key);
    const struct table_entry *e = bucket_find(bucket, key);
    if (e) {
        *found = atomic_load_explicit(&e->value, memory_order_acquire);
        return EEXIST;
    }
    for (int i = 0; i < TABLE_WAYS; i++) {
        uintptr_t k = 0;
        if (atomic_compare_exchange_strong_explicit(&bucket[i].key, &k, key, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&bucket[i].value, value, memory_order_release);
            return 0;
        }
        if (k == key) { /* inserted meanwhile */
            *found = atomic_load_explicit(&bucket[i].value, memory_order_acquire);
            return EEXIST;
        }
    }
    return ENOSPC;
}

/* Entry e's value, the entry removed. */
CTXVAR__BEFORE_THREAD_START static uintptr_t entry_take(struct table_entry *e)
{
    uintptr_t value = atomic_exchange_explicit(&e->value, 0, memory_order_acq_rel);
    atomic_store_explicit(&e->key, 0, memory_order_release);
    return value;
}

/* The value for key, removed; 0 when there is none. */
CTXVAR__BEFORE_THREAD_START static uintptr_t table_take(uintptr_t key)
{
    struct table_entry *e = table_find(key);
    return e ? entry_take(e) : 0;
}

static uintptr_t table_get(uintptr_t key)
{
    const struct table_entry *e = table_find(key);
    return e ? atomic_load_explicit(&e->value, memory_order_acquire) : 0;
}

/* The exit slot of `thread` in its TLS, or NULL in the table mode. */
CTXVAR__BEFORE_THREAD_START static _Atomic(uintptr_t) *tls_slot(pthread_t thread)
{
#if CTXVAR__THREAD_POINTER
    long offset = atomic_load_explicit(&ctxvar__pthread_state_offset, memory_order_relaxed);
    if (offset)
        return &((struct ctxvar__thread *)((uintptr_t)thread + (uintptr_t)offset))->exit_slot;
#endif
    (void)thread;
    return NULL;
}

/* pthread_self(), without the call when pthread_t is the thread pointer. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline pthread_t self_pthread(void)
{
#if CTXVAR__THREAD_POINTER
    if (atomic_load_explicit(&ctxvar__pthread_state_offset, memory_order_relaxed))
        return (pthread_t)ctxvar__thread_pointer();
#endif
    return pthread_self();
}

/* In the thread, before its start routine: publishes s; 1 when a joiner
 * will find it, 0 when the thread must release its own. */
CTXVAR__BEFORE_THREAD_START static int publish(struct ctxvar__start *s)
{
    _Atomic(uintptr_t) *slot = tls_slot(s->thread);
    uintptr_t seen = SLOT_EMPTY;
    if (slot) {
        if (atomic_compare_exchange_strong_explicit(slot, &seen, (uintptr_t)s, memory_order_acq_rel,
                                                    memory_order_acquire))
            return 1;
        if (seen != SLOT_JOIN_PENDING) return 0; /* NO_HANDOVER: detached first */
        CTXVAR__HAPPENS_AFTER(slot); /* the joiner's mark, before we store over it */
        if (table_insert((uintptr_t)s->thread, (uintptr_t)s, &seen) == 0) {
            s->in_table = 1;
            atomic_store_explicit(slot, SLOT_IN_TABLE, memory_order_release);
            CTXVAR__HAPPENS_BEFORE(slot); /* our store, before a joiner reads the slot again */
            return 1;
        }
        atomic_store_explicit(slot, SLOT_NO_HANDOVER, memory_order_release);
        CTXVAR__HAPPENS_BEFORE(slot); /* as above */
        return 0;
    }
    if (table_insert((uintptr_t)s->thread, (uintptr_t)s, &seen) == 0) {
        s->in_table = 1;
        return 1;
    }
    if (seen == SLOT_NO_HANDOVER) table_take((uintptr_t)s->thread); /* the mark is used */
    return 0;
}

/* ---- The creator --------------------------------------------------------------- */

struct ctxvar__start *ctxvar__thread_prepare(void (*fn)(void), void *arg, int joinable,
                                             struct ctxvar__prepared *p)
{
    p->failed = 0;
    int mode = ctxvar__thread_start_mode();
    if (!(mode & CTXVAR__START_INHERIT)) return NULL;
    joinable = joinable && (mode & CTXVAR__START_RELEASE_AT_JOIN);
    if (atomic_load_explicit(&reap_any, memory_order_relaxed)) ctxvar__exit_records_reap(0);
    ctxvar__deferred_drain(); /* what signal handlers released */
    struct ctxvar__start *s = record_take();
    if (!s) {
        p->failed = 1;
        ctxvar__debug("pthread_create: out of memory; the new thread starts empty");
        return NULL;
    }
    s->fn = fn;
    s->arg = arg;
    s->joinable = joinable;
    s->in_table = 0;
    struct ctxvar__thread *creator = ctxvar__me();
    s->context = ctxvar__ctx_retain(ctxvar__current(creator));
    ctxvar__otel_prepare_child(s->context);
    /* Counted here, in the creator's statistics shard, and taken back if
     * the creation fails: a new thread would first have to be given a shard
     * of its own, one more shared atomic for every thread. */
    ctxvar__count_in(creator, CTXVAR__STAT_INHERITED, 1);
    atomic_store_explicit(&s->state, joinable ? EXIT_RUNNING : EXIT_DETACHED, memory_order_relaxed);
    atomic_store_explicit(&s->begun_as, 0, memory_order_relaxed);
    creator->created_record = joinable && s->pooled ? s : NULL;
    if (creator->created_record)
        creator->created_generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
    return s;
}

void ctxvar__thread_discard(struct ctxvar__start *s)
{
    struct ctxvar__thread *t = ctxvar__me();
    ctxvar__busy_push(t); /* frees: a signal handler must not change state meanwhile */
    ctxvar__count(CTXVAR__STAT_INHERITED, -1);
    ctxvar__ctx_release(s->context);
    record_give_back(s);
    ctxvar__busy_pop(t);
}

/* ---- The thread ------------------------------------------------------------------ */

CTXVAR__BEFORE_THREAD_START struct ctxvar__start *
ctxvar__thread_begin(struct ctxvar__start *s, void (**fn)(void), void **arg)
{
    struct ctxvar__thread *t = ctxvar__me();
    ctxvar_ctx *inherited = s->context;
    ctxvar__busy_push(t); /* a signal handler must not change state meanwhile */
    *fn = s->fn;
    *arg = s->arg;
    s->owner = t;
    s->thread = self_pthread();
    /* gettid itself: under ThreadSanitizer this runs before TSan knows the
     * thread (CTXVAR__BEFORE_THREAD_START), and ctxvar__tid's /proc
     * fallback calls what TSan intercepts; it is needed only where a
     * filter refuses gettid. */
    s->tid = gettid();
    if (__builtin_expect(s->tid <= 0, 0)) s->tid = ctxvar__tid();
    atomic_store_explicit(&s->begun_as, (uintptr_t)s->thread, memory_order_relaxed);
    /* A joinable thread no joiner can find (a detacher came first, or the
     * table is full) is released like a detached one. */
    if (s->joinable && !publish(s))
        atomic_store_explicit(&s->state, EXIT_DETACHED, memory_order_relaxed);
    /* Nothing to arrange, nothing that can fail.  ctxvar__install's cache
     * and hand-over steps have nothing to do in a new thread; done inline,
     * every thread start saves them. */
    t->exit_record = s;
    t->registered = 1;
    t->free_lists_on = CTXVAR__KEEPS_MEMORY;
    t->current = inherited;
    ctxvar__otel_follow_new_thread(inherited);
    t->version = ++t->serial;
    atomic_store_explicit(&s->adopted, 1, memory_order_release);
    t->inherited = ctxvar__ctx_retain(inherited);
    ctxvar__busy_pop(t);
    return s;
}

/* ---- The reap queue ------------------------------------------------------------- */

/* Records of ended, detached threads, under the registry lock: added at
 * the tail, looked at from the head (a few at each thread start), those
 * still alive then moved to the tail.  Such a thread's own destructors may still run, and set, after its
 * start routine ends; it is done with its context only when the kernel has
 * finished it, which tgkill(signal 0) tells without waiting: ESRCH once the
 * thread is gone (or /proc, where tgkill is refused: task_gone). */
static struct ctxvar__start *reap_head, *reap_tail;

static void reap_enqueue(struct ctxvar__start *s)
{
    /* No joiner will look for it now, and its pthread_t may soon name a
     * new thread whose joiner must not find this record: its table entry
     * goes (the table mode's, or the one a joiner's failed try left). */
    if (table_get((uintptr_t)s->thread) == (uintptr_t)s) table_take((uintptr_t)s->thread);
    ctxvar__registry_lock();
    s->reap_next = NULL;
    if (reap_tail) reap_tail->reap_next = s;
    else reap_head = s;
    reap_tail = s;
    atomic_store_explicit(&reap_any, reap_head, memory_order_relaxed);
    ctxvar__registry_unlock();
}

/* /proc/self/task/TID, NUL-terminated, in `path` (room for 40 bytes). */
static void task_path(char *path, pid_t tid)
{
    static const char dir[] = "/proc/self/task/";
    char digits[12];
    int n = 0;
    for (unsigned v = (unsigned)tid; n == 0 || v; v /= 10) digits[n++] = (char)('0' + v % 10);
    memcpy(path, dir, sizeof dir - 1);
    for (int i = 0; i < n; i++) path[sizeof dir - 1 + i] = digits[n - 1 - i];
    path[sizeof dir - 1 + n] = '\0';
}

/* When tgkill is refused (a seccomp filter that answers EPERM, say, or
 * one that refuses gettid too, which left the thread's id to /proc and
 * may leave it unknown, -1): gone when /proc/self/task/TID is, while the
 * calling thread's own entry is there, which says that this /proc numbers threads as gettid does (a
 * /proc mounted for another PID namespace would have no entry for either,
 * and every live thread would look gone).  Not known to be gone otherwise
 * (no /proc, stat refused too), and the record waits: releasing what a
 * live thread may still use is worse than keeping it. */
static int task_gone(pid_t tid)
{
    char path[40];
    struct stat st;
    if (tid <= 0) return 0;
    task_path(path, tid);
    if (stat(path, &st) == 0 || errno != ENOENT) return 0;
    task_path(path, ctxvar__tid());
    return stat(path, &st) == 0;
}

static int thread_gone(pid_t pid, pid_t tid)
{
    int saved_errno = errno;
    int gone = 0;
    if (syscall(SYS_tgkill, pid, tid, 0) != 0) gone = errno == ESRCH || task_gone(tid);
    errno = saved_errno;
    return gone;
}

/* Under the registry lock: gives s back (record_give_back takes the lock). */
static void give_back_locked(struct ctxvar__start *s)
{
    atomic_store_explicit(&s->adopted, 0, memory_order_relaxed);
    if (s->pooled) {
        pool_give_back(s);
        return;
    }
    if (s->listed) heap_unlink_locked(s);
    ctxvar__early_free(s);
}

void ctxvar__exit_records_reap(int all)
{
    if (!atomic_load_explicit(&reap_any, memory_order_relaxed)) return;
    pid_t pid = getpid();
    int looked = 0;
    ctxvar__registry_lock();
    struct ctxvar__start *previous = NULL;
    for (struct ctxvar__start *s = reap_head, *next; s && (all || looked < 8); s = next, looked++) {
        next = s->reap_next;
        if (!thread_gone(pid, s->tid)) {
            previous = s;
            continue;
        }
        if (previous) previous->reap_next = next;
        else reap_head = next;
        if (reap_tail == s) reap_tail = previous;
        atomic_store_explicit(&s->state, EXIT_RELEASED, memory_order_relaxed);
        CTXVAR__HAPPENS_AFTER(&s->state); /* the thread's hand-over (tools see no tgkill) */
        CTXVAR__TSAN_ACQUIRE(&s->state);
        ctxvar__ctx_release_pair(s->current, s->inherited);
        give_back_locked(s);
    }
    /* The records looked at and still alive (threads that linger in their
     * key destructors, say) go behind the others: left at the head, eight
     * of them would keep every later record from being looked at, and
     * their contexts from ever being released. */
    if (!all && previous && previous->reap_next) {
        struct ctxvar__start *first = reap_head;
        reap_head = previous->reap_next;
        previous->reap_next = NULL;
        reap_tail->reap_next = first;
        reap_tail = previous;
    }
    atomic_store_explicit(&reap_any, reap_head, memory_order_relaxed);
    ctxvar__registry_unlock();
}

void ctxvar__thread_end(struct ctxvar__start *s)
{
    int expected = EXIT_RUNNING;
    struct ctxvar__thread *t = ctxvar__me();
    ctxvar__child_env_thread_ends();
    ctxvar__busy_push(t); /* a signal handler must not change state meanwhile */
    if (t->cache_used) ctxvar__cache_flush_all(t);
    ctxvar__free_lists_drain(t);
    ctxvar__registry_remove(t); /* its live count goes to the shards */
    t->handed_over = 1;
    /* Before the state says so: a joiner or forked child reads these once
     * it does. */
    s->current = t->current; /* the base frame's: every frame has closed */
    s->inherited = t->inherited;
    CTXVAR__HAPPENS_BEFORE(&s->state); /* what we hand over, before release_joined takes it */
    if (!atomic_compare_exchange_strong_explicit(&s->state, &expected, EXIT_HANDED_OVER,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        /* Detached: released once the thread is gone. */
        atomic_store_explicit(&s->state, EXIT_REAPING, memory_order_release);
        reap_enqueue(s);
    }
    ctxvar__busy_pop(t);
}

void ctxvar__exit_record_update(struct ctxvar__thread *t)
{
    struct ctxvar__start *s = t->exit_record;
    if (t->depth == 0) s->current = t->current;
    s->inherited = t->inherited;
    CTXVAR__HAPPENS_BEFORE(&s->state); /* as in ctxvar__thread_end: a reaping tryjoin is not seen */
    CTXVAR__TSAN_RELEASE(&s->state);    /* nor a reaper's tgkill, by TSan */
}

/* ---- Joiners and detachers ----------------------------------------------------- */

struct ctxvar__join ctxvar__join_prepare(pthread_t thread)
{
    struct ctxvar__join j = {NULL, 0, 0};
    /* 0 is never a thread (a handle never set, joined by mistake): glibc
     * answers ESRCH, and its "TLS" is at address 0 plus an offset.  Nor
     * may it match a hint whose thread has not begun (begun_as 0). */
    if (thread == 0) return j;
    if (!(atomic_load_explicit(&ctxvar__start_mode, memory_order_acquire) &
          CTXVAR__START_RELEASE_AT_JOIN))
        return j; /* no records unless threads get them */
    const struct ctxvar__thread *me = ctxvar__me();
    struct ctxvar__start *s = me->created_record;
    if (s && atomic_load_explicit(&s->generation, memory_order_acquire) == me->created_generation &&
        atomic_load_explicit(&s->begun_as, memory_order_relaxed) == (uintptr_t)thread) {
        j.record = s; /* still the record this thread gave it: see "The creator's hint" */
        return j;
    }
    _Atomic(uintptr_t) *slot = tls_slot(thread);
    if (!slot) {
        j.look_in_table = 1;
        return j;
    }
    CTXVAR__HAPPENS_AFTER(slot); /* publish's store over an earlier joiner's mark */
    uintptr_t seen = atomic_load_explicit(slot, memory_order_acquire);
    if (seen == SLOT_EMPTY &&
        atomic_compare_exchange_strong_explicit(slot, &seen, SLOT_JOIN_PENDING, memory_order_acq_rel,
                                                memory_order_acquire)) {
        CTXVAR__HAPPENS_BEFORE(slot); /* our mark, before publish stores over it */
        j.look_in_table = 1;
        j.marked = 1;
        return j;
    }
    if (seen == SLOT_JOIN_PENDING || seen == SLOT_IN_TABLE) j.look_in_table = 1;
    else if (seen >= SLOT_MARKS) j.record = (struct ctxvar__start *)seen;
    return j;
}

static void release_joined(struct ctxvar__start *s)
{
    struct ctxvar__thread *t = ctxvar__me();
    /* A thread that could not publish its record (a detacher came first,
     * or the table was full) releases its own, as a detached one: found
     * through the creator's hint, such a record is left to it. */
    int state = atomic_load_explicit(&s->state, memory_order_acquire);
    do {
        if (state != EXIT_RUNNING && state != EXIT_HANDED_OVER) return;
    } while (!atomic_compare_exchange_weak_explicit(&s->state, &state, EXIT_RELEASED,
                                                    memory_order_acq_rel, memory_order_acquire));
    ctxvar__busy_push(t); /* frees: a signal handler must not change state meanwhile */
    if (state == EXIT_HANDED_OVER) {
        CTXVAR__HAPPENS_AFTER(&s->state); /* the thread's hand-over (tools see no tryjoin) */
        ctxvar__ctx_release_pair(s->current, s->inherited);
    } else {
        /* The start routine never ended through our trampoline (it left by
         * longjmp, say): what the thread held went with its TLS. */
        ctxvar__debug("a joined thread never handed its context over; it leaks");
    }
    record_give_back(s);
    ctxvar__busy_pop(t);
}

void ctxvar__join_finish(pthread_t thread, struct ctxvar__join j, int joined)
{
    if (!joined) {
        uintptr_t mark = SLOT_JOIN_PENDING;
        _Atomic(uintptr_t) *slot = j.marked ? tls_slot(thread) : NULL;
        if (slot) { /* not joined, so its TLS is still there; the thread may have moved on */
            CTXVAR__HAPPENS_AFTER(slot); /* publish's store over our mark */
            atomic_compare_exchange_strong_explicit(slot, &mark, SLOT_EMPTY, memory_order_acq_rel,
                                                    memory_order_relaxed);
        }
        return;
    }
    struct ctxvar__thread *me = ctxvar__me();
    struct ctxvar__start *s = j.record;
    if (s && s == me->created_record) me->created_record = NULL; /* given back below */
    if (!s && j.look_in_table) {
        uintptr_t found = table_take((uintptr_t)thread);
        if (found >= SLOT_MARKS) s = (struct ctxvar__start *)found;
    } else if (s && s->in_table) {
        /* Found through the creator's hint, and also in the table (where
         * the table mode, or an earlier joiner's mark, made the thread put
         * it): its entry goes, or it would name the next thread with this
         * pthread_t. */
        struct table_entry *e = table_find((uintptr_t)thread);
        if (e && atomic_load_explicit(&e->value, memory_order_acquire) == (uintptr_t)s) entry_take(e);
    }
    if (s) release_joined(s);
}

void ctxvar__detach_prepare(pthread_t thread)
{
    if (thread == 0) return; /* never a thread: see ctxvar__join_prepare */
    if (!(atomic_load_explicit(&ctxvar__start_mode, memory_order_acquire) &
          CTXVAR__START_RELEASE_AT_JOIN))
        return;
    struct ctxvar__thread *me = ctxvar__me();
    /* Nobody may join it now.  Not begun yet, it may be the hinted thread
     * or not: the hint goes either way. */
    const struct ctxvar__start *hinted = me->created_record;
    if (hinted) {
        uintptr_t begun = atomic_load_explicit(&hinted->begun_as, memory_order_relaxed);
        if (begun == 0 || begun == (uintptr_t)thread) me->created_record = NULL;
    }
    uintptr_t seen = SLOT_EMPTY;
    _Atomic(uintptr_t) *slot = tls_slot(thread);
    if (slot) {
        CTXVAR__HAPPENS_AFTER(slot); /* publish's store over a joiner's mark */
        if (atomic_compare_exchange_strong_explicit(slot, &seen, SLOT_NO_HANDOVER,
                                                    memory_order_acq_rel, memory_order_acquire))
            return; /* not started: it will know it is detached */
        if (seen == SLOT_IN_TABLE) seen = table_get((uintptr_t)thread);
    } else if (table_insert((uintptr_t)thread, SLOT_NO_HANDOVER, &seen) == 0) {
        return;
    }
    if (seen < SLOT_MARKS) return;
    struct ctxvar__start *s = (struct ctxvar__start *)seen;
    int state = EXIT_RUNNING;
    if (atomic_compare_exchange_strong_explicit(&s->state, &state, EXIT_DETACHED,
                                                memory_order_acq_rel, memory_order_acquire))
        return; /* it runs: it queues itself when its start routine ends */
    /* It has ended (a thread may detach itself from its own destructors):
     * released once it is gone.  Anything else: detached already. */
    if (state == EXIT_HANDED_OVER &&
        atomic_compare_exchange_strong_explicit(&s->state, &state, EXIT_REAPING,
                                                memory_order_acq_rel, memory_order_acquire))
        reap_enqueue(s);
}

/* ---- fork ----------------------------------------------------------------------- */

/* In a forked child, under the registry lock (held across fork). */
static void release_in_child(struct ctxvar__start *s, const struct ctxvar__thread *me)
{
    if (!atomic_load_explicit(&s->adopted, memory_order_acquire) || s->owner == me) return;
    switch (atomic_load_explicit(&s->state, memory_order_acquire)) {
    case EXIT_HANDED_OVER:
    case EXIT_REAPING:
        ctxvar__ctx_release_pair(s->current, s->inherited);
        break;
    case EXIT_RELEASED: /* its joiner was releasing it: may leak, never goes twice */
        break;
    default:
        ctxvar__thread_state_release(s->owner);
    }
    atomic_store_explicit(&s->adopted, 0, memory_order_relaxed);
    if (s->pooled) {
        pool_give_back(s);
    } else {
        heap_unlink_locked(s);
        ctxvar__early_free(s);
    }
}

/* In a forked child: the table's entries other than this thread's name
 * threads that do not exist here, whose pthread_t new threads may reuse.
 * Atomics only: safe whatever state another thread left the table in. */
static void table_forget_others(void)
{
    uintptr_t self = (uintptr_t)pthread_self();
    for (size_t b = 0; b < TABLE_BUCKETS; b++) {
        for (int i = 0; i < TABLE_WAYS; i++) {
            struct table_entry *e = &table[b][i];
            uintptr_t k = atomic_load_explicit(&e->key, memory_order_relaxed);
            if (k != 0 && k != self) {
                atomic_store_explicit(&e->value, 0, memory_order_relaxed);
                atomic_store_explicit(&e->key, 0, memory_order_relaxed);
            }
        }
    }
}

void ctxvar__exit_records_forget_others(void)
{
    heap_records = NULL;
    reap_head = reap_tail = NULL;
    atomic_store_explicit(&reap_any, NULL, memory_order_relaxed);
    table_forget_others();
}

void ctxvar__exit_records_release_others(void)
{
    const struct ctxvar__thread *me = &ctxvar__self;
    for (int i = 0; i < POOL_SIZE; i++)
        if (atomic_load_explicit(&pool[i].busy, memory_order_acquire)) release_in_child(&pool[i], me);
    for (struct ctxvar__start *s = heap_records, *next; s; s = next) {
        next = s->next;
        release_in_child(s, me);
    }
    reap_head = reap_tail = NULL; /* released above */
    atomic_store_explicit(&reap_any, NULL, memory_order_relaxed);
    table_forget_others();
}
