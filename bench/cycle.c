/* cycle.c - the cost of pthread_create + pthread_join with ctxvar.
 *
 *     cycle NVARS WARMUP CYCLES SAMPLES
 *
 * Sets NVARS variables in the main thread (when a runtime is present: run
 * the same binary with and without LD_PRELOAD), runs WARMUP create+join
 * cycles, then SAMPLES samples of CYCLES cycles each, printing the mean ns
 * per cycle of each sample.  The thread does nothing, so what is measured is
 * the cycle itself: glibc's, plus what the runtime's pthread_create, its
 * trampoline and its exit-time release add.
 *
 * Under callgrind, run with SAMPLES = 1 and CYCLES = N and 2N; the
 * difference of the two totals is N cycles with start-up cancelled.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench.h"

static int token;

static void *thread_main(void *arg) { return arg; }

static void run_cycles(long n)
{
    for (long i = 0; i < n; i++) {
        pthread_t t;
        void *result;
        if (pthread_create(&t, NULL, thread_main, &token) != 0) bench_die("pthread_create failed");
        if (pthread_join(t, &result) != 0 || result != &token) bench_die("pthread_join failed");
    }
}

int main(int argc, char **argv)
{
    int nvars = (int)bench_arg(argc, argv, 1, 10);
    long warmup = bench_arg(argc, argv, 2, 200);
    long cycles = bench_arg(argc, argv, 3, 1000);
    int samples = (int)bench_arg(argc, argv, 4, 5);

    int set = bench_set_vars(nvars);
    if (ctxvar_runtime_present() && set != nvars) bench_die("could not set the variables");

    run_cycles(warmup);
    for (int s = 0; s < samples; s++) {
        uint64_t t0 = bench_now_ns();
        run_cycles(cycles);
        uint64_t t1 = bench_now_ns();
        bench_sample(ctxvar_runtime_present() ? "cycle.runtime" : "cycle.plain", s,
                     (double)(t1 - t0) / (double)cycles);
    }
    return 0;
}
