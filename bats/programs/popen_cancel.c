/* popen_cancel - popen and pclose called with a cancellation request
 * pending: glibc's have no cancellation point, so neither may the
 * runtime's, which takes a lock around the shell's start.  Then the main
 * thread starts a shell and forks: nothing waits for a lock left held.
 *
 * Output, with and without the runtime:
 *   worker: popen and pclose returned, status 3, cancellation still pending
 *   main popen: main ok
 *   main fork: child exited 7
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t requested;

static void *worker(void *unused)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_barrier_wait(&requested); /* main cancels us meanwhile */
    pthread_barrier_wait(&requested);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    FILE *f = popen("exit 3", "r");
    int status = f ? pclose(f) : -1;
    printf("worker: popen and pclose returned, status %d, cancellation still pending\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
    pthread_testcancel(); /* ends here */
    return unused;
}

int main(void)
{
    alarm(20); /* a lock left held would hang what follows */
    pthread_t thread;
    pthread_barrier_init(&requested, NULL, 2);
    pthread_create(&thread, NULL, worker, NULL);
    pthread_barrier_wait(&requested);
    pthread_cancel(thread);
    pthread_barrier_wait(&requested);
    void *result;
    pthread_join(thread, &result);
    if (result != PTHREAD_CANCELED) return 1;
    FILE *f = popen("echo main ok", "r");
    char line[32] = "";
    if (!f || !fgets(line, sizeof line, f)) return 1;
    pclose(f);
    printf("main popen: %s", line);
    pid_t child = fork();
    if (child == 0) _exit(7);
    int status;
    waitpid(child, &status, 0);
    printf("main fork: child exited %d\n", WEXITSTATUS(status));
    return 0;
}
