/* lifecycle - thread create/exit cycles with a context.
 *
 *     LD_PRELOAD=build/libctxvar.so build/reliability/lifecycle CYCLES [WAY]
 *
 * Each cycle sets request_id to the cycle number and starts one thread,
 * rotating through the ways a thread ends: returns and is joined; returns
 * detached; calls pthread_exit; is cancelled while blocked; calls
 * pthread_exit inside a ctxvar_run; is cancelled inside a ctxvar_run (WAY,
 * 0 to 5 in that order, runs one way only).
 * Every thread checks that it inherited its cycle's value.  At the end,
 * live_contexts must be back at its value before the first cycle (detached
 * threads are waited for, up to 10 s), and the growth of VmRSS between the
 * end of a warm-up (the first 1,000 cycles, when glibc sets up its arenas
 * and stack cache) and the end is reported.
 *
 * Output (the last line is the only one that varies):
 *     cycles: 20000
 *     ways a thread ended: 6
 *     threads with a wrong context: 0
 *     live_contexts back to baseline: yes
 *     VmRSS growth after warm-up: 12 kB
 * Exit status 0 when there was no wrong context and no leak, else 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ctxvar.h"

#define WAYS 6
#define WARM_UP 1000

static ctxvar *request_id, *inner;
static atomic_ulong wrong;
static sem_t started, detached_done;

struct job {
    int way;
    char expected[32];
};

static void check(const struct job *job)
{
    const char *got = ctxvar_get(request_id, "(unset)");
    if (strcmp(got, job->expected) != 0) {
        if (atomic_fetch_add(&wrong, 1) < 5)
            fprintf(stderr, "lifecycle: way %d expected request_id=%s, got %s\n", job->way,
                    job->expected, got);
    }
}

static void *exit_inside(void *p)
{
    const struct job *job = p;
    if (strcmp(ctxvar_get(request_id, "?"), "inner") != 0) atomic_fetch_add(&wrong, 1);
    if (job->way == 4) pthread_exit(NULL);
    sem_post(&started);
    for (;;) pause(); /* cancelled here, inside the run */
}

static void release_snapshot(void *c) { ctxvar_release(c); }

/* The thread ends inside the run: its own reference to the snapshot goes
 * with a cleanup handler, as a program must arrange for it. */
static void end_inside_run(struct job *job)
{
    ctxvar_set(request_id, "inner", NULL);
    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_set(request_id, job->expected, NULL);
    struct job *volatile kept = job;
    pthread_cleanup_push(release_snapshot, c);
    ctxvar_run(c, exit_inside, kept);
    pthread_cleanup_pop(1);
}

static void *thread_main(void *p)
{
    struct job *job = p;
    check(job);
    switch (job->way) {
    case 0: return job;
    case 1: sem_post(&detached_done); return NULL;
    case 2: pthread_exit(job);
    case 3:
        ctxvar_set(inner, "mine", NULL); /* something of its own to release */
        sem_post(&started);
        for (;;) pause();
    default: end_inside_run(job); return NULL;
    }
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : ~0ULL;
}

static long vmrss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

static int only_way = -1; /* the optional second argument: one way only */

static void run_cycle(unsigned long cycle, struct job *job)
{
    pthread_t t;
    pthread_attr_t attr;
    job->way = only_way >= 0 ? only_way : (int)(cycle % WAYS);
    snprintf(job->expected, sizeof job->expected, "%lu", cycle);
    ctxvar_set(request_id, job->expected, NULL);
    pthread_attr_init(&attr);
    if (job->way == 1) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&t, &attr, thread_main, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        fprintf(stderr, "lifecycle: pthread_create: %s\n", strerror(r));
        exit(1);
    }
    switch (job->way) {
    case 1: sem_wait(&detached_done); break;
    case 3: case 5: sem_wait(&started); pthread_cancel(t); /* fall through */
    default: pthread_join(t, NULL);
    }
}

int main(int argc, char **argv)
{
    unsigned long cycles = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    struct job job;
    if (argc > 2) only_way = atoi(argv[2]) % WAYS;
    request_id = ctxvar_named("request_id");
    inner = ctxvar_named("inner");
    sem_init(&started, 0, 0);
    sem_init(&detached_done, 0, 0);
    if (!ctxvar_runtime_present()) {
        fprintf(stderr, "lifecycle: run with the runtime preloaded\n");
        return 2;
    }
    unsigned long long baseline = live();
    long rss_warm = -1;
    for (unsigned long cycle = 0; cycle < cycles; cycle++) {
        run_cycle(cycle, &job);
        if (cycle + 1 == WARM_UP || (cycles < WARM_UP && cycle + 1 == cycles)) rss_warm = vmrss_kb();
    }
    ctxvar_release(ctxvar_swap(NULL));
    /* Detached threads release their context after they signalled. */
    unsigned long long now = live();
    for (int i = 0; i < 1000 && now != baseline; i++) {
        struct timespec ms = {0, 10 * 1000 * 1000};
        nanosleep(&ms, NULL);
        now = live();
    }
    long rss_end = vmrss_kb();
    printf("cycles: %lu\n", cycles);
    printf("ways a thread ended: %d\n", WAYS);
    printf("threads with a wrong context: %lu\n", atomic_load(&wrong));
    if (now == baseline)
        printf("live_contexts back to baseline: yes\n");
    else
        printf("live_contexts back to baseline: no (%llu, was %llu)\n", now, baseline);
    printf("VmRSS growth after warm-up: %ld kB\n", rss_end - rss_warm);
    return atomic_load(&wrong) == 0 && now == baseline ? 0 : 1;
}
