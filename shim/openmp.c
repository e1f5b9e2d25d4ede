/* openmp.c - OpenMP regions and tasks run in the context of the code that
 * opened or created them, with no change to the program.
 *
 * libgomp keeps its worker threads between regions, so a worker's own
 * context is whatever it inherited when libgomp created it, during some
 * earlier region: the stale context of reused pool threads.  GCC compiles each construct into a call to a
 * GOMP_ entry point with the body outlined as fn(data); we stand in front of
 * those entry points and hand libgomp a trampoline that runs fn(data) in the
 * opener's snapshot on every team thread, then restores the worker's own.
 * fn, data and every other argument reach libgomp unchanged.  The symbols
 * exist only in libctxvar.so: a program without OpenMP never calls them and
 * never loads libgomp because of us.
 *
 * Entry points, checked with nm on gcc 12 output for parallel, parallel for
 * (every schedule), parallel sections, task, taskloop and teams:
 *   GOMP_parallel, GOMP_parallel_reductions, GOMP_parallel_sections,
 *   GOMP_parallel_loop_{static,dynamic,guided,runtime},
 *   GOMP_parallel_loop_nonmonotonic_{dynamic,guided,runtime},
 *   GOMP_parallel_loop_maybe_nonmonotonic_runtime, GOMP_teams_reg,
 *   GOMP_task, GOMP_taskloop, GOMP_taskloop_ull.
 * Not covered: the pre-4.9 split API (GOMP_parallel_start/_end), target
 * offloading, and tasks with detach or task reductions or while OpenMP
 * cancellation is on (wrap_tasks); their code runs in the worker's own
 * context.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime.h"

/* ---- Finding libgomp --------------------------------------------------------
 *
 * Every libgomp function the interposers call comes from one libgomp
 * object, found once by the first thread that opens a region (or makes a
 * task) and resolved whole right then, before libgomp gets the call: a
 * worker thread later finds everything kept and never asks the loader
 * (which a plugin's constructor opening a region holds: a worker waiting
 * for it would wait for good).  Each function is the one after us in the
 * global scope, by name (a tool preloaded after us that wraps some of them
 * stays in the chain).  When there is none (no libgomp in the global
 * scope: a plugin dlopen()ed with RTLD_LOCAL, a Python extension say), they
 * come from the libgomp in the caller's own dependencies, the one its code
 * calls into (the system's or a vendored libgomp-<hash>.so.1): a region
 * must not be split between two OpenMP runtimes.  That object is found by
 * a function of libgomp's that the runtime does not define (GOMP_barrier),
 * so a plugin that links the runtime too still leads to its libgomp, and
 * taken only if it yields a GOMP_parallel that is not ours.
 * omp_get_cancellation comes first, so that a thread that finds a task
 * function finds it too.  The functions are kept as other libraries' are
 * (lib/runtime.h): a dlclose that unloads libgomp empties them.  Plugins
 * that link two different libgomps all get the first one found. */

#define GOMP_FUNCTIONS(X)                                                                   \
    X(omp_get_cancellation) X(GOMP_parallel) X(GOMP_parallel_reductions) X(GOMP_parallel_sections) X(GOMP_teams_reg) \
    X(GOMP_parallel_loop_static) X(GOMP_parallel_loop_dynamic) X(GOMP_parallel_loop_guided)  \
    X(GOMP_parallel_loop_nonmonotonic_dynamic) X(GOMP_parallel_loop_nonmonotonic_guided)     \
    X(GOMP_parallel_loop_runtime) X(GOMP_parallel_loop_nonmonotonic_runtime)                 \
    X(GOMP_parallel_loop_maybe_nonmonotonic_runtime) X(GOMP_task) X(GOMP_taskloop)           \
    X(GOMP_taskloop_ull)

#define GOMP_INDEX(name) GOMP_I_##name,
enum { GOMP_FUNCTIONS(GOMP_INDEX) GOMP_COUNT };
#define GOMP_NAME(name) #name,
static const char *const gomp_names[GOMP_COUNT] = {GOMP_FUNCTIONS(GOMP_NAME)};
static struct ctxvar__library_symbol gomp_kept[GOMP_COUNT];

/* The libgomp in the dependencies of the object holding `caller`, opened
 * (RTLD_NOLOAD), or NULL: see above. */
static void *gomp_in_scope_of(const void *caller)
{
    Dl_info at, ours;
    void *scope = dladdr(caller, &at) && at.dli_fname ? dlopen(at.dli_fname, RTLD_LAZY | RTLD_NOLOAD)
                                                      : NULL;
    void *marker = scope ? dlsym(scope, "GOMP_barrier") : NULL;
    if (scope) ctxvar__real_dlclose(scope);
    void *gomp = marker && dladdr(marker, &at) && at.dli_fname
                     ? dlopen(at.dli_fname, RTLD_LAZY | RTLD_NOLOAD)
                     : NULL;
    void *parallel = gomp ? dlsym(gomp, "GOMP_parallel") : NULL;
    if (gomp && (!parallel || (dladdr(parallel, &at) && dladdr((void *)gomp_in_scope_of, &ours) &&
                               at.dli_fbase == ours.dli_fbase))) {
        ctxvar__real_dlclose(gomp);
        gomp = NULL;
    }
    return gomp;
}

/* Function i, every function resolved first when it was not yet (see
 * above).  NULL without libgomp. */
static __attribute__((noinline)) void *gomp_resolve(int i, const void *caller)
{
    int saved_errno = errno;
    void *gomp = dlsym(RTLD_NEXT, "GOMP_parallel") ? NULL : gomp_in_scope_of(caller);
    for (int k = 0; k < GOMP_COUNT; k++) {
        if (atomic_load_explicit(&gomp_kept[k].address, memory_order_acquire)) continue;
        ctxvar__library_symbol_keep(&gomp_kept[k], gomp ? dlsym(gomp, gomp_names[k])
                                                        : dlsym(RTLD_NEXT, gomp_names[k]));
    }
    if (gomp) ctxvar__real_dlclose(gomp);
    errno = saved_errno;
    return atomic_load_explicit(&gomp_kept[i].address, memory_order_acquire);
}

/* libgomp's `name`, typed as ours; the caller's return address tells a
 * plugin's scope from the program's on the first call. */
#define GOMP_NEXT(name)                                                                     \
    __extension__({                                                                         \
        void *gomp_f_ = atomic_load_explicit(&gomp_kept[GOMP_I_##name].address,             \
                                             memory_order_acquire);                         \
        (__typeof__(&name))(__builtin_expect(gomp_f_ != NULL, 1)                            \
                                ? gomp_f_                                                   \
                                : gomp_resolve(GOMP_I_##name, __builtin_return_address(0))); \
    })

/* ---- Regions ------------------------------------------------------------- */

/* Lives on the opener's stack for the whole region: GOMP_parallel and its
 * kin return only when every team thread has finished fn. */
struct region {
    /* GOMP_parallel_reductions reads the task-reduction descriptors from the
     * first word of the data it is given: a copy of the body's first word. */
    void *first_word;
    struct ctxvar__callback body; /* the outlined body and its data */
    pthread_t opener;
};

static void call_body(const struct ctxvar__callback *body, void *unused)
{
    (void)unused;
    ((void (*)(void *))body->fn)(body->arg);
}

static void run_region(void *p)
{
    const struct region *r = p;
    /* The opener runs its share in its own context as it is: a change it
     * makes inside the region stays, as it would without us. */
    if (pthread_equal(pthread_self(), r->opener)) call_body(&r->body, NULL);
    else ctxvar__callback_invoke(&r->body, call_body, NULL);
}

/* False when this copy of the runtime defers to another one. */
static bool region_begin(struct region *r, void (*fn)(void *), void *data)
{
    if (!ctxvar__callback_capture(&r->body, (void (*)(void))fn, data)) return false;
    r->opener = pthread_self();
    return true;
}

#define STRIP(...) __VA_ARGS__

/* One interposer per region entry point: the parameters after fn and data
 * are passed on untouched.  With no OpenMP runtime below us (cannot happen
 * in a program that calls these), the body runs once, on this thread. */
#define INTERPOSE_REGION(name, PARAMS, ARGS)                                    \
    CTXVAR__EXPORT void name(void (*fn)(void *), void *data, STRIP PARAMS);    \
    CTXVAR__EXPORT void name(void (*fn)(void *), void *data, STRIP PARAMS)     \
    {                                                                           \
        __typeof__(&name) next = GOMP_NEXT(name);            \
        struct region r;                                                        \
        if (!next) {                                                            \
            fn(data);                                                           \
        } else if (!region_begin(&r, fn, data)) {                               \
            next(fn, data, STRIP ARGS);                                         \
        } else {                                                                \
            next(run_region, &r, STRIP ARGS);                                   \
            ctxvar__callback_release(&r.body);                                  \
        }                                                                       \
    }

INTERPOSE_REGION(GOMP_parallel, (unsigned threads, unsigned flags), (threads, flags))
INTERPOSE_REGION(GOMP_parallel_sections, (unsigned threads, unsigned count, unsigned flags),
                 (threads, count, flags))
INTERPOSE_REGION(GOMP_teams_reg,
                 (unsigned teams, unsigned thread_limit, unsigned flags),
                 (teams, thread_limit, flags))
#define INTERPOSE_LOOP(name)                                                    \
    INTERPOSE_REGION(name, (unsigned threads, long start, long end, long incr, long chunk, \
                            unsigned flags),                                    \
                     (threads, start, end, incr, chunk, flags))
#define INTERPOSE_RUNTIME_LOOP(name)                                            \
    INTERPOSE_REGION(name, (unsigned threads, long start, long end, long incr, unsigned flags), \
                     (threads, start, end, incr, flags))
INTERPOSE_LOOP(GOMP_parallel_loop_static)
INTERPOSE_LOOP(GOMP_parallel_loop_dynamic)
INTERPOSE_LOOP(GOMP_parallel_loop_guided)
INTERPOSE_LOOP(GOMP_parallel_loop_nonmonotonic_dynamic)
INTERPOSE_LOOP(GOMP_parallel_loop_nonmonotonic_guided)
INTERPOSE_RUNTIME_LOOP(GOMP_parallel_loop_runtime)
INTERPOSE_RUNTIME_LOOP(GOMP_parallel_loop_nonmonotonic_runtime)
INTERPOSE_RUNTIME_LOOP(GOMP_parallel_loop_maybe_nonmonotonic_runtime)

/* The one region entry point with a result: the count of task reductions. */
CTXVAR__EXPORT unsigned GOMP_parallel_reductions(void (*fn)(void *), void *data, unsigned threads,
                                                 unsigned flags)
{
    unsigned (*next)(void (*)(void *), void *, unsigned, unsigned) =
        GOMP_NEXT(GOMP_parallel_reductions);
    struct region r;
    unsigned result;
    if (!next) {
        fn(data);
        return 1;
    }
    if (!region_begin(&r, fn, data)) return next(fn, data, threads, flags);
    r.first_word = *(void **)data;
    result = next(run_region, &r, threads, flags);
    ctxvar__callback_release(&r.body);
    return result;
}

/* ---- Tasks ----------------------------------------------------------------- *
 *
 * A task outlives GOMP_task: libgomp copies the body's data block (with the
 * compiler's cpyfn, or memcpy) into the task and runs fn on the copy later,
 * on any team thread.  So the snapshot travels inside the block.  We give
 * libgomp a block of our own and a cpyfn of our own, always, so that every
 * copy goes through us and holds its own reference:
 *
 *     our block   [ 16 bytes for taskloop bounds | task_header | pad | data ]
 *                   ^ libgomp writes start, end here (taskloop only)
 *
 * cpyfn' copies the header (taking a reference) and fills the data part from
 * the caller's block with the caller's cpyfn or memcpy; fn' moves taskloop's
 * bounds to where the body expects them (the first two words of its data),
 * runs the body in the snapshot and drops the copy's reference.  Nothing is
 * allocated: the block passed to GOMP_task lives on our stack and holds only
 * the header, since libgomp reads it through cpyfn' alone (but see
 * wrap_tasks for the kinds of task where it does not).
 */
struct task_header {
    void (*fn)(void *);
    void (*cpyfn)(void *, void *);
    void *data;             /* the caller's block; valid during GOMP_task only */
    long arg_size;
    long data_offset;       /* where the body's data starts in our block */
    ctxvar_ctx *context;    /* owned by each block that holds the header */
    bool is_loop;
};

#define BOUNDS_SIZE (2 * sizeof(unsigned long long))

static long align_up(long n, long a) { return (n + a - 1) / a * a; }

static void copy_task(void *dst, void *src)
{
    struct task_header *from = (struct task_header *)((char *)src + BOUNDS_SIZE);
    char *to = dst;
    memcpy(to + BOUNDS_SIZE, from, sizeof *from);
    ctxvar__ctx_retain(from->context);
    if (from->cpyfn) from->cpyfn(to + from->data_offset, from->data);
    else if (from->arg_size) memcpy(to + from->data_offset, from->data, (size_t)from->arg_size);
}

static void run_task(void *block)
{
    struct task_header *h = (struct task_header *)((char *)block + BOUNDS_SIZE);
    char *data = (char *)block + h->data_offset;
    ctxvar_ctx *context = h->context;
    if (h->is_loop) memcpy(data, block, BOUNDS_SIZE);
    ctxvar__run_in(context, h->fn, data);
    ctxvar__context_release(context);
}

/* Fills our block's header; returns our block's size and alignment. */
static void task_begin(struct task_header *h, void (*fn)(void *), void *data,
                       void (*cpyfn)(void *, void *), long arg_size, long *arg_align,
                       bool is_loop, long *block_size)
{
    long align = *arg_align > (long)_Alignof(struct task_header) ? *arg_align
                                                                  : (long)_Alignof(struct task_header);
    h->fn = fn;
    h->cpyfn = cpyfn;
    h->data = data;
    h->arg_size = arg_size;
    h->data_offset = align_up((long)(BOUNDS_SIZE + sizeof *h), align);
    h->context = ctxvar__capture_for_child();
    h->is_loop = is_loop;
    *arg_align = align;
    *block_size = h->data_offset + arg_size;
}

/* Tasks we leave to libgomp as they are, which then run in the worker's
 * own context:
 *  - with task reductions: libgomp reads their data straight from the
 *    caller's block;
 *  - with detach: libgomp writes the event into the first word of the block
 *    it is given, before any copy;
 *  - when cancellation is on (OMP_CANCELLATION=true): libgomp discards a
 *    queued task of a cancelled group only if it has no copy function, and
 *    ours would keep it alive. */
#define GOMP_TASK_FLAG_REDUCTION (1u << 12)
#define GOMP_TASK_FLAG_DETACH (1u << 13)

static bool wrap_tasks(unsigned flags)
{
    static atomic_int cancellation = -1;
    if (!ctxvar__propagation_enabled() || (flags & (GOMP_TASK_FLAG_REDUCTION | GOMP_TASK_FLAG_DETACH)))
        return false;
    int on = atomic_load_explicit(&cancellation, memory_order_relaxed);
    if (on < 0) {
        /* Resolved with the task function (above); asked again, and not
         * remembered, if it is not there. */
        int (*get)(void) = (int (*)(void))atomic_load_explicit(
            &gomp_kept[GOMP_I_omp_get_cancellation].address, memory_order_acquire);
        if (!get) get = (int (*)(void))gomp_resolve(GOMP_I_omp_get_cancellation, NULL);
        if (!get) return true;
        on = get() != 0;
        atomic_store_explicit(&cancellation, on, memory_order_relaxed);
    }
    return !on;
}

/* Our block on the stack: room for the bounds and the header, aligned. */
struct task_block {
    _Alignas(16) unsigned char bounds[BOUNDS_SIZE];
    struct task_header header;
};

CTXVAR__EXPORT void GOMP_task(void (*fn)(void *), void *data, void (*cpyfn)(void *, void *),
                              long arg_size, long arg_align, bool if_clause, unsigned flags,
                              void **depend, int priority, void *detach)
{
    typedef void (*next_fn)(void (*)(void *), void *, void (*)(void *, void *), long, long, bool,
                            unsigned, void **, int, void *);
    next_fn next = (next_fn)GOMP_NEXT(GOMP_task);
    struct task_block block;
    long size;
    if (!next) {
        fn(data);
        return;
    }
    if (!wrap_tasks(flags)) {
        next(fn, data, cpyfn, arg_size, arg_align, if_clause, flags, depend, priority, detach);
        return;
    }
    task_begin(&block.header, fn, data, cpyfn, arg_size, &arg_align, false, &size);
    next(run_task, &block, copy_task, size, arg_align, if_clause, flags, depend, priority, detach);
    ctxvar__context_release(block.header.context);
}


#define INTERPOSE_TASKLOOP(name, T)                                                          \
    CTXVAR__EXPORT void name(void (*fn)(void *), void *data, void (*cpyfn)(void *, void *),  \
                             long arg_size, long arg_align, unsigned flags,                  \
                             unsigned long num_tasks, int priority, T start, T end, T step)  \
    {                                                                                        \
        typedef void (*next_fn)(void (*)(void *), void *, void (*)(void *, void *), long,     \
                                long, unsigned, unsigned long, int, T, T, T);                \
        next_fn next = (next_fn)GOMP_NEXT(name);                                             \
        struct task_block block;                                                             \
        long size;                                                                           \
        if (!next) { /* no OpenMP runtime: run the whole range here */                    \
            ((T *)data)[0] = start;                                                          \
            ((T *)data)[1] = end;                                                            \
            fn(data);                                                                        \
            return;                                                                          \
        }                                                                                    \
        if (!wrap_tasks(flags)) {                                                            \
            next(fn, data, cpyfn, arg_size, arg_align, flags, num_tasks, priority, start,   \
                 end, step);                                                                 \
            return;                                                                          \
        }                                                                                    \
        task_begin(&block.header, fn, data, cpyfn, arg_size, &arg_align, true, &size);       \
        next(run_task, &block, copy_task, size, arg_align, flags, num_tasks, priority, start, \
             end, step);                                                                     \
        ctxvar__context_release(block.header.context);                                       \
    }

INTERPOSE_TASKLOOP(GOMP_taskloop, long)
INTERPOSE_TASKLOOP(GOMP_taskloop_ull, unsigned long long)
