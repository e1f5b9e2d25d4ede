/* interpose.c - the functions libctxvar.so puts in front of glibc's, and
 * nothing else.  Each takes a snapshot of the caller's context, starts the
 * real thread on a trampoline that installs it, and otherwise changes
 * nothing: the same attr, the same start routine and argument, the same
 * return value and errno (pitfalls 4 and 5).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

#include "alloc.h"
#include "runtime.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*thrd_create_fn)(thrd_t *, thrd_start_t, void *);

/* The next definition after ours, looked up once and lazily: we may be
 * called before our constructor runs (pitfall 2, 3).  Racing lookups find
 * the same answer, so a plain atomic store suffices.  If the search finds us
 * again (loaded in an unusual order), ask for glibc's versions by name. */
static void *find_next(const char *name, const void *ours, const char *const *versions)
{
    void *next = dlsym(RTLD_NEXT, name);
    for (; (!next || next == ours) && *versions; versions++)
        next = dlvsym(RTLD_NEXT, name, *versions);
    if (next == ours) next = NULL;
    return next;
}

static _Atomic(pthread_create_fn) next_pthread_create;
static _Atomic(thrd_create_fn) next_thrd_create;

/* What a new thread needs from its creator.  Taken by the creator from a
 * small static pool (or the heap when the pool is busy), handed back by the
 * new thread as soon as it has copied it, or by the creator if the real call
 * fails and no thread will read it.  The pool spares the new thread a
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

static CTXVAR__BEFORE_THREAD_START struct start_args take_start_args(void *p)
{
    struct start_args args = *(struct start_args *)p;
    give_back(p);
    ctxvar__thread_adopt(args.context);
    return args;
}

static CTXVAR__BEFORE_THREAD_START void *start_posix_thread(void *p)
{
    struct start_args args = take_start_args(p);
    return args.start.posix(args.arg);
}

static CTXVAR__BEFORE_THREAD_START int start_c11_thread(void *p)
{
    struct start_args args = take_start_args(p);
    return args.start.c11(args.arg);
}

/* The snapshot for a new thread, taken in the creator before the real call
 * (the child may run first).  NULL when inheritance is off or we could not
 * allocate; in the latter case *failed says to count the thread. */
static struct start_args *prepare(void *arg, int *failed)
{
    *failed = 0;
    if (!ctxvar__inherit_enabled()) return NULL;
    struct start_args *args = take_start_slot();
    if (!args) {
        *failed = 1;
        ctxvar__debug("pthread_create: out of memory; the new thread starts empty");
        return NULL;
    }
    args->arg = arg;
    args->context = ctxvar__capture_for_child();
    return args;
}

static void discard(struct start_args *args)
{
    ctxvar__ctx_release(args->context);
    give_back(args);
}

CTXVAR__EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                  void *(*start)(void *), void *arg)
{
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", NULL};
    int saved_errno = errno, failed, r;
    pthread_create_fn real = atomic_load_explicit(&next_pthread_create, memory_order_acquire);
    if (!real) {
        real = (pthread_create_fn)find_next("pthread_create", (void *)pthread_create, versions);
        if (!real) return EAGAIN; /* no glibc below us: no thread can start */
        atomic_store_explicit(&next_pthread_create, real, memory_order_release);
    }
    struct start_args *args = prepare(arg, &failed);
    errno = saved_errno;
    if (!args) {
        r = real(thread, attr, start, arg);
        if (r == 0 && failed) ctxvar__count_inherit_failure();
        return r;
    }
    args->start.posix = start;
    r = real(thread, attr, start_posix_thread, args);
    if (r != 0) {
        saved_errno = errno;
        discard(args);
        errno = saved_errno;
    }
    return r;
}

/* glibc >= 2.34 starts C11 threads without calling pthread_create (pitfall 7). */
CTXVAR__EXPORT int thrd_create(thrd_t *thread, thrd_start_t start, void *arg)
{
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.28", NULL};
    int saved_errno = errno, failed, r;
    thrd_create_fn real = atomic_load_explicit(&next_thrd_create, memory_order_acquire);
    if (!real) {
        real = (thrd_create_fn)find_next("thrd_create", (void *)thrd_create, versions);
        if (!real) return thrd_error;
        atomic_store_explicit(&next_thrd_create, real, memory_order_release);
    }
    struct start_args *args = prepare(arg, &failed);
    errno = saved_errno;
    if (!args) {
        r = real(thread, start, arg);
        if (r == thrd_success && failed) ctxvar__count_inherit_failure();
        return r;
    }
    args->start.c11 = start;
    r = real(thread, start_c11_thread, args);
    if (r != thrd_success) {
        saved_errno = errno;
        discard(args);
        errno = saved_errno;
    }
    return r;
}
