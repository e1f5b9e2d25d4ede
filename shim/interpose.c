/* interpose.c - the functions libctxvar.so puts in front of glibc's, and
 * nothing else.  Each creation takes a snapshot of the caller's context,
 * starts the real thread on a trampoline that installs it, and otherwise
 * changes nothing: the same attr, the same start routine and argument, the
 * same return value and errno (pitfalls 4 and 5).  Joining and detaching
 * release what a joinable thread handed over when its start routine ended
 * (runtime.h, "release at join"), and change nothing else either.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

#include "alloc.h"
#include "runtime.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*thrd_create_fn)(thrd_t *, thrd_start_t, void *);
typedef int (*pthread_join_fn)(pthread_t, void **);
typedef int (*pthread_timedjoin_fn)(pthread_t, void **, const struct timespec *);
typedef int (*pthread_clockjoin_fn)(pthread_t, void **, clockid_t, const struct timespec *);
typedef int (*pthread_detach_fn)(pthread_t);
typedef int (*thrd_join_fn)(thrd_t, int *);
typedef int (*thrd_detach_fn)(thrd_t);

CTXVAR__EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                  void *(*start)(void *), void *arg);
CTXVAR__EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg);

/* What a new thread needs from its creator.  Taken by the creator from a
 * small static pool (or the heap when the pool is busy), handed back by the
 * new thread as soon as it has copied it, or by the creator if the real call
 * fails and no thread will read it.  A joinable thread keeps them as its
 * exit record until it is joined (runtime.h).  The pool spares the new thread a
 * malloc/free pair: a thread that never allocates never sets up a malloc
 * cache, which costs more than everything else we do per thread. */
struct start_slot;
struct start_args {
    union {
        void *(*posix)(void *);
        thrd_start_t c11;
    } start;
    void *arg;
    ctxvar_ctx *context;        /* owned: the creator's snapshot */
    struct start_slot *slot;    /* NULL: allocated, to be freed */
    int joinable;               /* uses `exit`, and lives until joined */
    struct ctxvar__exit_record exit;
};

struct start_slot {
    atomic_int busy;
    struct start_args args;
};

/* The fault-injection build always allocates, so that tests reach the
 * out-of-memory path. */
#ifdef CTXVAR_FAULT_INJECTION
#define START_SLOTS 0
#else
#define START_SLOTS 256
#endif
#define START_SLOT_PROBES 8
static struct start_slot start_slots[START_SLOTS + 1];
static atomic_uint start_slot_hint;

/* Under ThreadSanitizer the new thread frees these before TSan knows it
 * (runtime.h, CTXVAR__BEFORE_THREAD_START): allocate them from glibc's own
 * allocator, which TSan does not intercept. */
#if defined(__SANITIZE_THREAD__)
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
#define start_args_alloc __libc_malloc
#define start_args_free __libc_free
#else
#define start_args_alloc ctxvar__alloc
#define start_args_free free
#endif

static struct start_args *take_start_slot(void)
{
    unsigned hint = atomic_fetch_add_explicit(&start_slot_hint, 1, memory_order_relaxed);
    for (unsigned i = 0; START_SLOTS && i < START_SLOT_PROBES; i++) {
        struct start_slot *slot = &start_slots[(hint + i) % (START_SLOTS ? START_SLOTS : 1)];
        if (!atomic_load_explicit(&slot->busy, memory_order_relaxed) &&
            !atomic_exchange_explicit(&slot->busy, 1, memory_order_acquire)) {
            slot->args.slot = slot;
            return &slot->args;
        }
    }
    struct start_args *args = start_args_alloc(sizeof *args);
    if (args) args->slot = NULL;
    return args;
}

static CTXVAR__BEFORE_THREAD_START void give_back(struct start_args *args)
{
    if (args->slot) atomic_store_explicit(&args->slot->busy, 0, memory_order_release);
    else start_args_free(args);
}

static void dispose_exit_record(struct ctxvar__exit_record *record)
{
    /* A forked child must never take a free slot's record for a live one. */
    atomic_store_explicit(&record->published, CTXVAR__RECORD_NEW, memory_order_relaxed);
    give_back((struct start_args *)((char *)record - offsetof(struct start_args, exit)));
}

void ctxvar__pooled_records(void (*fn)(struct ctxvar__exit_record *))
{
    for (int i = 0; i < START_SLOTS; i++) {
        struct start_slot *slot = &start_slots[i];
        if (atomic_load_explicit(&slot->busy, memory_order_acquire) && slot->args.joinable)
            fn(&slot->args.exit);
    }
}

/* A joinable thread does not run its start routine before its creator has
 * published its record (started): until then the creator still reads
 * *thread, which the start routine might free, and a join or detach could
 * not find the record.  The creator does that right after the real call
 * returns, so this rarely waits, and then briefly. */
static void wait_until_published(struct ctxvar__exit_record *record)
{
    /* Yield at once rather than spin: on real hardware the creator is
     * usually done first, and under valgrind, which runs one thread at a
     * time, a spin would only count instructions until the creator runs. */
    while (atomic_load_explicit(&record->published, memory_order_acquire) !=
           CTXVAR__RECORD_PUBLISHED)
        sched_yield();
}

/* The thread's exit record, or NULL when it has none (and the args are
 * given back at once). */
static CTXVAR__BEFORE_THREAD_START struct ctxvar__exit_record *
take_start_args(void *p, struct start_args *args)
{
    struct start_args *shared = p;
    args->start = shared->start; /* the fields the thread uses, not the record */
    args->arg = shared->arg;
    args->context = shared->context;
    struct ctxvar__exit_record *record = shared->joinable ? &shared->exit : NULL;
    if (record) wait_until_published(record);
    else give_back(shared);
    ctxvar__thread_adopt(args->context, record);
    return record;
}

/* Runs when the start routine has ended, by return or by unwinding
 * (pthread_exit, cancellation): this file is compiled with -fexceptions. */
static void body_ended(struct ctxvar__exit_record **record)
{
    if (*record) ctxvar__thread_body_ended(*record);
}

static CTXVAR__BEFORE_THREAD_START void *start_posix_thread(void *p)
{
    struct start_args args;
    struct ctxvar__exit_record *record __attribute__((cleanup(body_ended))) =
        take_start_args(p, &args);
    return args.start.posix(args.arg);
}

static CTXVAR__BEFORE_THREAD_START int start_c11_thread(void *p)
{
    struct start_args args;
    struct ctxvar__exit_record *record __attribute__((cleanup(body_ended))) =
        take_start_args(p, &args);
    return args.start.c11(args.arg);
}

/* The snapshot for a new thread, taken in the creator before the real call
 * (the child may run first).  NULL when inheritance is off or we could not
 * allocate; in the latter case *failed says to count the thread. */
static struct start_args *prepare(void *arg, int joinable, int *failed)
{
    *failed = 0;
    int mode = ctxvar__thread_start_mode();
    if (!(mode & CTXVAR__START_INHERIT)) return NULL;
    struct start_args *args = take_start_slot();
    if (!args) {
        *failed = 1;
        ctxvar__debug("pthread_create: out of memory; the new thread starts empty");
        return NULL;
    }
    args->arg = arg;
    args->context = ctxvar__capture_for_child();
    args->joinable = joinable && (mode & CTXVAR__START_RELEASE_AT_JOIN);
    if (args->joinable) {
        atomic_init(&args->exit.state, CTXVAR__EXIT_RUNNING);
        atomic_init(&args->exit.published, CTXVAR__RECORD_NEW);
        args->exit.dispose = dispose_exit_record;
        args->exit.pooled = args->slot != NULL;
        args->exit.listed = 0;
    }
    return args;
}

/* After the real creation succeeded: a joiner finds the record from here. */
static void started(struct start_args *args, pthread_t thread)
{
    if (args->joinable) ctxvar__exit_record_publish(thread, &args->exit);
}

static void discard(struct start_args *args)
{
    ctxvar__ctx_release(args->context);
    give_back(args);
}

CTXVAR__EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                  void *(*start)(void *), void *arg)
{
    int *error = &errno; /* errno's address, looked up once */
    int saved_errno = *error, failed, r;
    pthread_create_fn real = CTXVAR__NEXT(pthread_create);
    if (!real) return EAGAIN; /* no glibc below us: no thread can start */
    int detach_state = PTHREAD_CREATE_JOINABLE;
    if (attr && pthread_attr_getdetachstate(attr, &detach_state) != 0)
        detach_state = PTHREAD_CREATE_DETACHED; /* unknown: the thread releases its own */
    struct start_args *args = prepare(arg, detach_state == PTHREAD_CREATE_JOINABLE, &failed);
    *error = saved_errno;
    if (!args) {
        r = real(thread, attr, start, arg);
        if (r == 0 && failed) ctxvar__count_inherit_failure();
        return r;
    }
    args->start.posix = start;
    r = real(thread, attr, start_posix_thread, args);
    saved_errno = *error;
    if (r != 0) discard(args);
    else started(args, *thread);
    *error = saved_errno;
    return r;
}

/* glibc >= 2.34 starts C11 threads without calling pthread_create (pitfall 7). */
CTXVAR__EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg)
{
    int saved_errno = errno, failed, r;
    thrd_create_fn real = CTXVAR__NEXT(thrd_create);
    if (!real) return thrd_error;
    struct start_args *args = prepare(arg, 1, &failed);
    errno = saved_errno;
    if (!args) {
        r = real(thread, start, arg);
        if (r == thrd_success && failed) ctxvar__count_inherit_failure();
        return r;
    }
    args->start.c11 = start;
    r = real(thread, start_c11_thread, args);
    saved_errno = errno;
    if (r != thrd_success) discard(args);
    else started(args, *thread);
    errno = saved_errno;
    return r;
}

/* ---- Joining and detaching: release at join (runtime.h) ---------------------- */

/* A join that succeeded releases what the thread handed over.  The record
 * is read before the real call: after it, the thread's TLS is gone. */
#define JOIN_THEN_RELEASE(thread, call, success)                                          \
    do {                                                                                  \
        struct ctxvar__exit_record *record = ctxvar__exit_record_of(thread);              \
        int r = (call);                                                                   \
        if (r == (success) && record) {                                                   \
            int saved_errno = errno;                                                      \
            ctxvar__exit_record_joined(record);                                           \
            errno = saved_errno;                                                          \
        }                                                                                 \
        return r;                                                                         \
    } while (0)

CTXVAR__EXPORT int pthread_join(pthread_t thread, void **result);
CTXVAR__EXPORT int pthread_tryjoin_np(pthread_t thread, void **result);
CTXVAR__EXPORT int pthread_timedjoin_np(pthread_t thread, void **result,
                                        const struct timespec *abstime);
CTXVAR__EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock,
                                        const struct timespec *abstime);
CTXVAR__EXPORT int pthread_detach(pthread_t thread);
CTXVAR__EXPORT int thrd_join(thrd_t thread, int *result);
CTXVAR__EXPORT int thrd_detach(thrd_t thread);


CTXVAR__EXPORT int pthread_join(pthread_t thread, void **result)
{
    pthread_join_fn real = CTXVAR__NEXT(pthread_join);
    if (!real) return ENOSYS;
    JOIN_THEN_RELEASE(thread, real(thread, result), 0);
}

CTXVAR__EXPORT int pthread_tryjoin_np(pthread_t thread, void **result)
{
    pthread_join_fn real = CTXVAR__NEXT(pthread_tryjoin_np);
    if (!real) return ENOSYS;
    JOIN_THEN_RELEASE(thread, real(thread, result), 0);
}

CTXVAR__EXPORT int pthread_timedjoin_np(pthread_t thread, void **result,
                                        const struct timespec *abstime)
{
    pthread_timedjoin_fn real = CTXVAR__NEXT(pthread_timedjoin_np);
    if (!real) return ENOSYS;
    JOIN_THEN_RELEASE(thread, real(thread, result, abstime), 0);
}

CTXVAR__EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock,
                                        const struct timespec *abstime)
{
    pthread_clockjoin_fn real = CTXVAR__NEXT(pthread_clockjoin_np);
    if (!real) return ENOSYS;
    JOIN_THEN_RELEASE(thread, real(thread, result, clock, abstime), 0);
}

CTXVAR__EXPORT int thrd_join(thrd_t thread, int *result)
{
    thrd_join_fn real = CTXVAR__NEXT(thrd_join);
    if (!real) return thrd_error;
    JOIN_THEN_RELEASE((pthread_t)thread, real(thread, result), thrd_success);
}

/* Detaching a thread whose start routine is still running leaves the
 * release to it, as does a thread detaching itself from its destructors.
 * One whose start routine has ended has handed its context over and will
 * not release it: it is joined instead if it has finished (or finishes
 * within 20 ms), which frees its resources as the detach would have; else
 * it is detached and what it handed over leaks, said with CTXVAR_DEBUG=1. */
static int detach(pthread_t thread, pthread_detach_fn real_posix, thrd_detach_fn real_c11)
{
    int saved_errno = errno;
    struct ctxvar__exit_record *record = ctxvar__exit_record_of(thread);
    if (!record || ctxvar__exit_record_detach(record, pthread_equal(thread, pthread_self())) != 0) {
        errno = saved_errno;
        return real_posix ? real_posix(thread) : real_c11((thrd_t)thread);
    }
    pthread_join_fn tryjoin = CTXVAR__NEXT(pthread_tryjoin_np);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int r = tryjoin ? tryjoin(thread, NULL) : ENOSYS;
        if (r == 0) {
            ctxvar__exit_record_joined(record);
            errno = saved_errno;
            return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited_us = (now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000;
        if (r != EBUSY || waited_us > 20000) break;
        sched_yield();
    }
    ctxvar__debug("pthread_detach: the thread had ended but did not finish; its context leaks");
    errno = saved_errno;
    return real_posix ? real_posix(thread) : real_c11((thrd_t)thread);
}

CTXVAR__EXPORT int pthread_detach(pthread_t thread)
{
    pthread_detach_fn real = CTXVAR__NEXT(pthread_detach);
    return real ? detach(thread, real, NULL) : ENOSYS;
}

CTXVAR__EXPORT int thrd_detach(thrd_t thread)
{
    thrd_detach_fn real = CTXVAR__NEXT(thrd_detach);
    return real ? detach((pthread_t)thread, NULL, real) : thrd_error;
}
