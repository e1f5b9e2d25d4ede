/* exec_vfork_threads - 100 threads, alive together, each vfork and exec
 * /bin/true once and end; then the main thread does it 1,000 times.  A
 * vfork child's exec leaves the environment the runtime built for it mapped
 * in the parent, which the calling thread unmaps later: an ended thread's
 * must not stay for good, nor take the records the main thread needs
 * (bats/exec_hostile.bats).
 *
 * Output, with and without the runtime:
 *   RSS grew by a megabyte or more: no
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ctxvar.h"

enum { THREADS = 100, EXECS = 1000 };
static pthread_barrier_t together;

static void run_true(void)
{
    char *argv[] = {"true", NULL};
    pid_t child = vfork();
    if (child == 0) {
        execv("/bin/true", argv);
        _exit(127);
    }
    if (child > 0) waitpid(child, NULL, 0);
}

static void *worker(void *unused)
{
    ctxvar_set(ctxvar_named("request_id"), "worker", NULL);
    pthread_barrier_wait(&together);
    run_true();
    pthread_barrier_wait(&together);
    return unused;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f && fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    if (f) fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void)
{
    pthread_t threads[THREADS];
    pthread_barrier_init(&together, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    ctxvar_set(ctxvar_named("request_id"), "main", NULL);
    run_true();
    long before = rss_kb();
    for (int i = 0; i < EXECS; i++) run_true();
    printf("RSS grew by a megabyte or more: %s\n", rss_kb() >= before + 1024 ? "yes" : "no");
    return 0;
}
