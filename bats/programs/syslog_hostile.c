/* syslog_hostile - syslog(3) used in the ways glibc tolerates, under
 * ctxrun --syslog (bats/syslog.bats).
 *
 *   syslog_hostile handler NVARS  a SIGALRM handler logs 2,000 lines while
 *                                 the program allocates and frees: with
 *                                 NVARS variables set the runtime must not
 *                                 allocate for a line glibc would not
 *                                 allocate for (glibc formats into 1 KiB on
 *                                 its stack)
 *   syslog_hostile cancel N       N threads, each with a cancellation request
 *                                 pending, log a 20,000-byte line: glibc
 *                                 acts on it inside syslog (its socket calls
 *                                 are cancellation points) and frees its
 *                                 own buffer; prints whether the heap grew
 *                                 by a megabyte or more
 *   syslog_hostile nul            a line holding a NUL byte (%c of 0), then
 *                                 an ordinary one
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>

#include "ctxvar.h"

static volatile sig_atomic_t hits;

enum { LINES = 2000 };

/* Logs LINES lines and then no more: the timer fires every 200 us, and one
 * more alarm may come between the loop seeing the last line and the timer
 * being stopped (bats/syslog.bats counts the lines exactly). */
static void on_alarm(int signo)
{
    (void)signo;
    if (hits >= LINES) return;
    syslog(LOG_INFO, "tick");
    hits++;
}

static int handler(int nvars)
{
    char name[32];
    for (int i = 0; i < nvars; i++) {
        snprintf(name, sizeof name, "v%03d", i);
        ctxvar_set(ctxvar_named(name), "x", NULL);
    }
    openlog("app", 0, LOG_USER);
    syslog(LOG_INFO, "warm");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 200}, {0, 200}}, stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    void *blocks[64] = {0};
    for (long i = 0; hits < LINES; i++) {
        int k = (int)(i & 63);
        free(blocks[k]);
        blocks[k] = malloc(16 + (size_t)(i % 4000));
    }
    setitimer(ITIMER_REAL, &stop, NULL);
    for (int k = 0; k < 64; k++) free(blocks[k]);
    printf("lines logged from the handler: %d\n", (int)hits);
    return 0;
}

static char big[20000];
static pthread_barrier_t requested;

static void *cancelled_logger(void *unused)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_barrier_wait(&requested);
    pthread_barrier_wait(&requested);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    syslog(LOG_INFO, "%s", big);
    return unused;
}

static int cancel(int n)
{
    memset(big, 'z', sizeof big - 1);
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    openlog("app", LOG_NDELAY, LOG_USER);
    pthread_barrier_init(&requested, NULL, 2);
    struct mallinfo2 before = mallinfo2();
    int cancelled = 0;
    for (int i = 0; i < n; i++) {
        pthread_t thread;
        void *result;
        pthread_create(&thread, NULL, cancelled_logger, NULL);
        pthread_barrier_wait(&requested);
        pthread_cancel(thread);
        pthread_barrier_wait(&requested);
        pthread_join(thread, &result);
        cancelled += result == PTHREAD_CANCELED;
    }
    struct mallinfo2 after = mallinfo2();
    printf("threads cancelled inside syslog: %d of %d\n", cancelled, n);
    printf("heap grew by a megabyte or more: %s\n",
           after.uordblks >= before.uordblks + (1u << 20) ? "yes" : "no");
    return 0;
}

static int nul(void)
{
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    openlog("app", 0, LOG_USER);
    syslog(LOG_INFO, "embedded NUL [%c] after", 0);
    syslog(LOG_INFO, "plain");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "handler") == 0) return handler(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "cancel") == 0) return cancel(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "nul") == 0) return nul();
    fprintf(stderr, "usage: syslog_hostile handler NVARS | cancel N | nul\n");
    return 2;
}
