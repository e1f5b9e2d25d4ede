/* fork_in_handler - a SIGALRM handler that forks (the child exits at once,
 * the parent waits for it), again 2 ms after each time, while the program
 * keeps the runtime busy with what holds its locks:
 *
 *   fork_in_handler popen N   N popen("true") / pclose pairs
 *   fork_in_handler stats N   N ctxvar_stats calls (the registry lock)
 *   fork_in_handler sets N    N set/reset pairs over 400 names (with
 *                             CTXVAR_OTEL=1, the profilers' key map lock)
 *
 * fork() from a signal handler runs the fork handlers on a thread that may
 * be holding the very locks they take; glibc's own (the popen list) allow
 * for it, and so must the runtime's.  Prints "done, forked: yes" (at least
 * one fork ran in a handler) and exits 0; a deadlock never prints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

static volatile sig_atomic_t forks, stopping;

/* The timer is armed again 2 ms after each handler returns, not every 2 ms
 * from its start: a fork and its wait take about 1 ms here, and on a
 * loaded machine a periodic timer kept the handler running back to back,
 * the loop starved until `timeout` killed it, which looked like the
 * deadlock this program looks for.  (setitimer is one system call, safe
 * in a handler on Linux.) */
static void arm_timer(void)
{
    struct itimerval in_2ms = {{0, 0}, {0, 2000}};
    setitimer(ITIMER_REAL, &in_2ms, NULL);
}

static void fork_now(int sig)
{
    (void)sig;
    int saved_errno = errno;
    pid_t child = fork();
    if (child == 0) _exit(0);
    if (child > 0 && waitpid(child, NULL, 0) == child) forks = forks + 1;
    if (!stopping) arm_timer();
    errno = saved_errno;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "popen") != 0 && strcmp(argv[1], "stats") != 0 &&
                      strcmp(argv[1], "sets") != 0)) {
        fprintf(stderr, "usage: fork_in_handler popen|stats|sets N\n");
        return 2;
    }
    int popens = strcmp(argv[1], "popen") == 0, sets = strcmp(argv[1], "sets") == 0;
    long n = atol(argv[2]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fork_now;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    arm_timer();
    for (long i = 0; i < n; i++) {
        if (popens) {
            FILE *f = popen("true", "r");
            if (f) pclose(f);
        } else if (sets) {
            char name[16];
            snprintf(name, sizeof name, "k%ld", i % 400);
            ctxvar_token token;
            ctxvar_set(ctxvar_named(name), "v", &token);
            ctxvar_reset(&token);
        } else {
            struct ctxvar_stats s;
            ctxvar_stats(&s);
        }
    }
    stopping = 1;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("done, forked: %s\n", forks > 0 ? "yes" : "no");
    return 0;
}
