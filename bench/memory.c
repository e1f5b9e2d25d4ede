/* memory.c - what THREADS threads alive at once cost, each inheriting an
 * NVARS-variable context.
 *
 *     memory THREADS NVARS STACK_KIB
 *
 * Sets NVARS variables (when a runtime is present: run the same binary with
 * and without LD_PRELOAD), notes malloc'd bytes (mallinfo2, all arenas) and
 * VmRSS, starts THREADS threads with STACK_KIB stacks that each read one
 * variable and park on a condition variable, and once every one of them is
 * parked notes both again.  Prints the two growths, in bytes, and how many
 * threads saw the inherited value (0 without a runtime).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <string.h>

#include "bench.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_parked = PTHREAD_COND_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;
static long parked, inherited, threads;
static int go;
static ctxvar *probe;

static void *thread_main(void *unused)
{
    (void)unused;
    const char *seen = ctxvar_get(probe, NULL);
    pthread_mutex_lock(&lock);
    inherited += seen && strcmp(seen, "value-0") == 0;
    if (++parked == threads) pthread_cond_signal(&all_parked);
    while (!go) pthread_cond_wait(&released, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static long rss_bytes(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib * 1024;
}

int main(int argc, char **argv)
{
    threads = bench_arg(argc, argv, 1, 10000);
    int nvars = (int)bench_arg(argc, argv, 2, 100);
    long stack_kib = bench_arg(argc, argv, 3, 64);

    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!ids) bench_die("out of memory");
    int set = bench_set_vars(nvars);
    if (ctxvar_runtime_present() && set != nvars) bench_die("could not set the variables");
    probe = bench_var(0);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024) != 0)
        bench_die("pthread_attr_setstacksize failed");

    /* One thread started and joined first, so that what a first thread
     * initialises (in glibc or the runtime) is in the "before" figure. */
    pthread_t first;
    threads = 1;
    if (pthread_create(&first, &attr, thread_main, NULL) != 0) bench_die("pthread_create failed");
    pthread_mutex_lock(&lock);
    while (parked < 1) pthread_cond_wait(&all_parked, &lock);
    go = 1;
    pthread_cond_broadcast(&released);
    pthread_mutex_unlock(&lock);
    pthread_join(first, NULL);
    threads = bench_arg(argc, argv, 1, 10000);
    parked = inherited = 0;
    go = 0;

    long rss0 = rss_bytes();
    size_t heap0 = mallinfo2().uordblks;
    for (long i = 0; i < threads; i++)
        if (pthread_create(&ids[i], &attr, thread_main, NULL) != 0) {
            fprintf(stderr, "bench: thread %ld of %ld would not start\n", i, threads);
            exit(2);
        }
    pthread_mutex_lock(&lock);
    while (parked < threads) pthread_cond_wait(&all_parked, &lock);
    size_t heap1 = mallinfo2().uordblks;
    long rss1 = rss_bytes();
    go = 1;
    pthread_cond_broadcast(&released);
    pthread_mutex_unlock(&lock);
    for (long i = 0; i < threads; i++) pthread_join(ids[i], NULL);

    const char *tag = ctxvar_runtime_present() ? "runtime" : "plain";
    char name[64];
    snprintf(name, sizeof name, "memory.%s.heap", tag);
    bench_sample(name, 0, (double)heap1 - (double)heap0);
    snprintf(name, sizeof name, "memory.%s.rss", tag);
    bench_sample(name, 0, (double)rss1 - (double)rss0);
    snprintf(name, sizeof name, "memory.%s.inherited", tag);
    bench_sample(name, 0, (double)inherited);
    pthread_attr_destroy(&attr);
    free(ids);
    return 0;
}
