/* exec_system_cancel - a thread in system() is cancelled while its shell
 * runs: the shell is killed (it would print "not killed" a second later),
 * the thread ends cancelled, and SIGINT and SIGQUIT are back at their
 * default.  Prints what it saw; the same with and without the runtime.
 *
 * The shell tells the main thread it has started with SIGUSR1, which every
 * thread blocks, so main takes it with sigwait.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctxvar.h"

static void *run_system(void *unused)
{
    (void)unused;
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    system("kill -USR1 $PPID; sleep 1; echo not killed");
    return NULL;
}

static const char *disposition(int sig)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignored" : "handled";
}

int main(void)
{
    sigset_t usr1;
    int sig;
    /* From the defaults, whatever ran the suite (a background job of a
     * shell without job control ignores SIGINT and SIGQUIT): the test
     * checks they come back to these. */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t thread;
    void *result = NULL;
    if (pthread_create(&thread, NULL, run_system, NULL) != 0) return 1;
    sigwait(&usr1, &sig);
    pthread_cancel(thread);
    pthread_join(thread, &result);
    printf("thread cancelled: %s\n", result == PTHREAD_CANCELED ? "yes" : "no");
    printf("SIGINT %s, SIGQUIT %s\n", disposition(SIGINT), disposition(SIGQUIT));
    sleep(2); /* a shell still alive would print now */
    printf("done\n");
    return 0;
}
