/* bench.h - what the benchmark programs share: a clock, the variables they
 * set, and the one output format bench/run.py reads.
 *
 * Every program prints one line per measured sample,
 *
 *     sample <metric> <round> <value>
 *
 * and nothing else on stdout.  Samples of two metrics with the same round
 * number were taken back to back in that round (A then B, alternating), so
 * the driver may pair them into a ratio measured under the same load.
 * Diagnostics go to stderr; a program exits non-zero only when it could not
 * measure (no runtime where one is needed, a thread that would not start).
 */
#ifndef CTXVAR_BENCH_H
#define CTXVAR_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctxvar.h"

#if !defined(__GNUC__)
#error "the benchmarks need GCC or Clang (noipa, asm barriers)"
#endif

/* Keeps the compiler from proving anything about p: the loop that produced
 * it must run, and the next iteration cannot be hoisted. */
#define BENCH_OPAQUE(p) __asm__ volatile("" : "+r"(p))

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_sample(const char *metric, int round, double value)
{
    printf("sample %s %d %.4f\n", metric, round, value);
}

static inline void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(2);
}

/* Variable k of the benchmarks, bench_v0000 .. bench_v9999: interned once. */
static inline ctxvar *bench_var(int k)
{
    char name[32];
    snprintf(name, sizeof name, "bench_v%04d", k);
    return ctxvar_named(name);
}

/* Sets bench_v0000 .. bench_v{n-1} in the calling thread's current context.
 * Returns how many sets succeeded (0 with no runtime: the baseline). */
static inline int bench_set_vars(int n)
{
    int ok = 0;
    for (int k = 0; k < n; k++) {
        char value[32];
        snprintf(value, sizeof value, "value-%d", k);
        ok += ctxvar_set(bench_var(k), value, NULL) == 0;
    }
    return ok;
}

static inline long bench_arg(int argc, char **argv, int i, long fallback)
{
    return argc > i ? strtol(argv[i], NULL, 10) : fallback;
}

#endif
