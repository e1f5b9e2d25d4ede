/* micro.c - per-call costs of the API, each against a baseline measured in
 * the same process, in alternating batches.  Needs the runtime preloaded.
 *
 *     micro calls ROUNDS      get, capture+release, set+reset, wrap+task_run
 *     micro setreset ROUNDS   set+reset alone, at 1 and 10 variables
 *     micro scale ROUNDS MS   throughput of 1, 2, 4, 8 threads for MS each
 *
 * A batch is a loop of one operation, sized at start-up to take about
 * BATCH_NS; its sample is ns per operation.  In each round every metric of a
 * group runs one batch, the group's order reversed every other round, so a
 * ratio of two samples of one round compares batches run back to back.
 * Two warm-up rounds are run and not printed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "bench.h"

#define BATCH_NS 4000000.0
#define WARMUP_ROUNDS 2

static ctxvar *vars[1000];
static volatile uintptr_t sink;

/* ---- ctxvar_get vs a non-inlined function returning a __thread value ---- */

static __thread const char *tls_value;

__attribute__((noipa)) static const char *tls_get(const ctxvar *v, const char *fallback)
{
    (void)v;
    const char *p = tls_value;
    return p ? p : fallback;
}

/* Each call's fallback is the previous call's result: a chain the compiler
 * must follow, cycling through the 10 variables of the context. */
#define GET_LOOP(get)                                                            \
    const char *p = NULL;                                                        \
    unsigned j = 0;                                                              \
    uint64_t t0 = bench_now_ns();                                                \
    for (long i = 0; i < iters; i++) {                                           \
        p = get(vars[j], p);                                                     \
        if (++j == 10) j = 0;                                                    \
    }                                                                            \
    BENCH_OPAQUE(p);                                                             \
    uint64_t t1 = bench_now_ns();                                                \
    sink = (uintptr_t)p;                                                         \
    return t1 - t0

static uint64_t get_ctxvar(long iters) { GET_LOOP(ctxvar_get); }
static uint64_t get_tls(long iters) { GET_LOOP(tls_get); }

/* ---- ctxvar_capture + ctxvar_release vs an atomic increment + decrement -- */

static unsigned long shared_counter;

static uint64_t capture_ctxvar(long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        ctxvar_ctx *c = ctxvar_capture();
        BENCH_OPAQUE(c);
        ctxvar_release(c);
    }
    return bench_now_ns() - t0;
}

static uint64_t capture_atomic(long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        __atomic_fetch_add(&shared_counter, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&shared_counter, 1, __ATOMIC_ACQ_REL);
    }
    return bench_now_ns() - t0;
}

/* ---- ctxvar_set + ctxvar_reset in a context of n variables --------------- */

/* The context with bench_v0000 .. bench_v{n-1} set, made once per size. */
static ctxvar_ctx *sized[1001];

static ctxvar_ctx *make_sized(int n)
{
    ctxvar_ctx *outer = ctxvar_swap(NULL);
    if (bench_set_vars(n) != n) bench_die("could not set the variables");
    ctxvar_ctx *made = ctxvar_swap(outer);
    if (ctxvar_ctx_count(made) != (size_t)n) bench_die("context has the wrong size");
    return made;
}

/* Sets each existing variable in turn to a new value, then resets it. */
static uint64_t setreset(int n, long iters)
{
    static const char *const values[2] = {"value-a", "value-b"};
    ctxvar_ctx *outer = ctxvar_swap(ctxvar_retain(sized[n]));
    int j = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        ctxvar_token tok;
        if (ctxvar_set(vars[j], values[i & 1], &tok) != 0) bench_die("ctxvar_set failed");
        if (ctxvar_reset(&tok) != 0) bench_die("ctxvar_reset failed");
        if (++j == n) j = 0;
    }
    uint64_t t1 = bench_now_ns();
    ctxvar_release(ctxvar_swap(outer));
    return t1 - t0;
}

static uint64_t setreset_1(long iters) { return setreset(1, iters); }
static uint64_t setreset_8(long iters) { return setreset(8, iters); }
static uint64_t setreset_10(long iters) { return setreset(10, iters); }
static uint64_t setreset_64(long iters) { return setreset(64, iters); }
static uint64_t setreset_1000(long iters) { return setreset(1000, iters); }

/* ---- ctxvar_wrap + ctxvar_task_run vs calling the function ---------------- */

static unsigned long work_done;

__attribute__((noipa)) static void work(void *p) { ++*(volatile unsigned long *)p; }

static uint64_t wrap_ctxvar(long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        ctxvar_task *t = ctxvar_wrap(work, &work_done);
        if (!t) bench_die("ctxvar_wrap failed");
        ctxvar_task_run(t);
    }
    return bench_now_ns() - t0;
}

static uint64_t wrap_direct(long iters)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) work(&work_done);
    return bench_now_ns() - t0;
}

/* ---- Rounds -------------------------------------------------------------- */

struct metric {
    const char *name;
    uint64_t (*run)(long iters);
    long iters;
};

static void calibrate(struct metric *m)
{
    long iters = 1000;
    while ((double)m->run(iters) < BATCH_NS / 4 && iters < (1L << 30)) iters *= 2;
    m->iters = (long)((double)iters * BATCH_NS / ((double)m->run(iters) + 1.0)) + 1;
}

static void run_group(struct metric *group, int count, int rounds)
{
    for (int i = 0; i < count; i++) calibrate(&group[i]);
    for (int r = -WARMUP_ROUNDS; r < rounds; r++) {
        for (int k = 0; k < count; k++) {
            struct metric *m = &group[(r & 1) ? count - 1 - k : k];
            double ns = (double)m->run(m->iters) / (double)m->iters;
            if (r >= 0) bench_sample(m->name, r, ns);
        }
    }
}

static void calls(int rounds)
{
    struct metric get[] = {{"get.ctxvar", get_ctxvar, 0}, {"get.tls", get_tls, 0}};
    struct metric capture[] = {{"capture.ctxvar", capture_ctxvar, 0},
                               {"capture.atomic", capture_atomic, 0}};
    struct metric sets[] = {{"setreset.1", setreset_1, 0},     {"setreset.8", setreset_8, 0},
                            {"setreset.10", setreset_10, 0},   {"setreset.64", setreset_64, 0},
                            {"setreset.1000", setreset_1000, 0}};
    struct metric wrap[] = {{"wrap.ctxvar", wrap_ctxvar, 0}, {"wrap.direct", wrap_direct, 0}};

    static const int sizes[] = {1, 8, 10, 64, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        sized[sizes[i]] = make_sized(sizes[i]);

    /* get, capture and wrap run in a 10-variable context. */
    ctxvar_release(ctxvar_swap(ctxvar_retain(sized[10])));
    tls_value = "value-0";
    if (ctxvar_get(vars[9], NULL) == NULL) bench_die("the context lacks bench_v0009");
    run_group(get, 2, rounds);
    run_group(capture, 2, rounds);
    run_group(wrap, 2, rounds);
    run_group(sets, 5, rounds);
}

/* set+reset alone, at 1 and 10 variables: run.py runs it with CTXVAR_OTEL=1
 * and without, alternately, for the cost of the OpenTelemetry records. */
static void setreset_only(int rounds)
{
    struct metric sets[] = {{"setreset.1", setreset_1, 0}, {"setreset.10", setreset_10, 0}};
    sized[1] = make_sized(1);
    sized[10] = make_sized(10);
    run_group(sets, 2, rounds);
}

/* ---- Throughput of threads doing get, set+reset, capture+release ---------- */

static atomic_int stop;
static pthread_barrier_t start_line;

struct worker {
    pthread_t thread;
    unsigned long long iterations;
    unsigned seed;
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    unsigned j = w->seed % 10;
    const char *value = NULL;
    unsigned long long n = 0;
    pthread_barrier_wait(&start_line);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++) {
            ctxvar_token tok;
            value = ctxvar_get(vars[j], value);
            if (ctxvar_set(vars[j], "value-t", &tok) != 0 || ctxvar_reset(&tok) != 0)
                bench_die("set/reset failed in a worker");
            ctxvar_release(ctxvar_capture());
            if (++j == 10) j = 0;
        }
        n += 64;
    }
    sink = (uintptr_t)value;
    w->iterations = n;
    return NULL;
}

/* Mean iterations per second over ms milliseconds with `threads` workers. */
static double throughput(int threads, long ms)
{
    struct worker w[8];
    atomic_store(&stop, 0);
    pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        w[i].iterations = 0;
        w[i].seed = (unsigned)i * 3;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
            bench_die("pthread_create failed");
    }
    pthread_barrier_wait(&start_line);
    uint64_t t0 = bench_now_ns();
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    uint64_t t1 = bench_now_ns();
    unsigned long long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        total += w[i].iterations;
    }
    pthread_barrier_destroy(&start_line);
    return (double)total * 1e9 / (double)(t1 - t0);
}

static void scale(int rounds, long ms)
{
    static const int counts[] = {1, 2, 4, 8};
    ctxvar_release(ctxvar_swap(make_sized(10))); /* the workers inherit it */
    (void)throughput(2, ms / 2);                  /* warm-up */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 4; k++) {
            int threads = counts[(r & 1) ? 3 - k : k];
            char name[32];
            snprintf(name, sizeof name, "scale.%d", threads);
            bench_sample(name, r, throughput(threads, ms) / 1e6);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) bench_die("usage: micro calls|setreset|scale ROUNDS [MS]");
    if (!ctxvar_runtime_present()) bench_die("micro needs the runtime (LD_PRELOAD)");
    for (int k = 0; k < 1000; k++)
        if (!(vars[k] = bench_var(k))) bench_die("ctxvar_named failed");
    int rounds = (int)bench_arg(argc, argv, 2, 15);
    if (strcmp(argv[1], "calls") == 0) calls(rounds);
    else if (strcmp(argv[1], "setreset") == 0) setreset_only(rounds);
    else if (strcmp(argv[1], "scale") == 0) scale(rounds, bench_arg(argc, argv, 3, 150));
    else bench_die("usage: micro calls|setreset|scale ROUNDS [MS]");
    return 0;
}
