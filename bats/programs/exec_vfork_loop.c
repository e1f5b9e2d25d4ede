/* exec_vfork_loop THREADS N - each of THREADS threads (0: the main thread
 * alone) sets a context and runs N children by vfork then execve of
 * /bin/true, with environ; then prints whether the process's address space
 * grew by less than 1 MiB ("address space: steady") or by how much, and
 * how many children failed.
 *
 * An exec in a vfork child runs on the parent's memory: whatever the
 * runtime maps there for the child's environment stays mapped in the
 * parent after the exec, and must be unmapped by the parent.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

extern char **environ;

static long rounds;
static atomic_long failures;
static pthread_barrier_t started, finished;

static long vm_size_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kib = atol(line + 7);
    if (f) fclose(f);
    return kib;
}

static void run_children(const char *label, long n)
{
    char *argv[] = {"true", NULL};
    ctxvar_set(ctxvar_named("request_id"), label, NULL);
    for (long i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve("/bin/true", argv, environ);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            atomic_fetch_add(&failures, 1);
    }
}

/* A thread: one child first (its stack, its malloc arena and the like are
 * then in place), the measured rounds between the two barriers, and it
 * stays until the main thread has measured. */
static void *request_thread(void *label)
{
    run_children(label, 1);
    pthread_barrier_wait(&started);
    run_children(label, rounds);
    pthread_barrier_wait(&finished);
    pthread_barrier_wait(&finished);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: exec_vfork_loop THREADS N\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    rounds = atol(argv[2]);
    if (threads < 0 || threads > 64) return 2;
    long before, grew;
    if (threads == 0) {
        run_children("warm-up", 1);
        before = vm_size_kib();
        run_children("main", rounds);
        grew = vm_size_kib() - before;
    } else {
        pthread_t t[64];
        char labels[64][16];
        pthread_barrier_init(&started, NULL, (unsigned)threads + 1);
        pthread_barrier_init(&finished, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++) {
            snprintf(labels[i], sizeof labels[i], "r%d", i);
            pthread_create(&t[i], NULL, request_thread, labels[i]);
        }
        pthread_barrier_wait(&started);
        before = vm_size_kib();
        pthread_barrier_wait(&finished);
        grew = vm_size_kib() - before;
        pthread_barrier_wait(&finished);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    }
    if (grew < 1024) printf("address space: steady\n");
    else printf("address space: grew by %ld KiB\n", grew);
    printf("failures: %ld\n", atomic_load(&failures));
    return 0;
}
