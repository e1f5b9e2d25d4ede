/* notify - SIGEV_THREAD notifications run in the context their creator had
 * when it called timer_create or mq_notify (ctxvar.h section 4), although
 * glibc runs them on threads of its own.  Run as `notify SCENARIO [ARG]`.
 *
 * timer: created while request_id=T1, sigev_value 7; the creator then sets
 *        T2; the timer is armed, one shot, three times.
 *   notification 1: request_id=T1 value=7
 *   notification 2: request_id=T1 value=7
 *   notification 3: request_id=T1 value=7
 *   main: request_id=T2
 *   timer_delete: 0
 *   after grace: alive
 * two-timers: two threads, request_id=X and Y, each create and arm a timer
 *        (values 1 and 2) and end before it fires.
 *   timer 1: request_id=X
 *   timer 2: request_id=Y
 *   main: request_id=main
 * retired: a timer is created, fires, is deleted; 3.2 s later (its record
 *        retired for more than 2 s) another timer_create frees it.
 *   notification: request_id=T1
 *   live_contexts back to baseline: yes
 * mq NAME: mq_notify on queue NAME while request_id=Q1, sigev_value 9; the
 *        registering thread then sets Q2 and sends "hello".
 *   mq notification: request_id=Q1 value=9 message=hello
 *   main: request_id=Q2
 * bad-clock: timer_create on an invalid clock, SIGEV_THREAD and SIGEV_NONE.
 *   SIGEV_THREAD: -1 EINVAL
 *   SIGEV_NONE: -1 EINVAL
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include "show.h"

static sem_t fired;
static char seen[4][512];

static void wait_for(sem_t *sem) { while (sem_wait(sem) != 0) {} }

static int arm(timer_t timer)
{
    struct itimerspec soon = {{0, 0}, {0, 2000000}}; /* once, in 2 ms */
    return timer_settime(timer, 0, &soon, NULL);
}

static int create_thread_timer(void (*fn)(union sigval), int value, timer_t *timer)
{
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD;
    event.sigev_notify_function = fn;
    event.sigev_value.sival_int = value;
    return timer_create(CLOCK_MONOTONIC, &event, timer);
}

/* ---- timer ------------------------------------------------------------------ */

static int notifications;

static void count_notification(union sigval value)
{
    char text[256];
    ctxvar_format(text, sizeof text);
    printf("notification %d: %s value=%d\n", ++notifications, text, value.sival_int);
    fflush(stdout);
    sem_post(&fired);
}

static int timer(void)
{
    timer_t timer;
    set_or_say("request_id", "T1");
    if (create_thread_timer(count_notification, 7, &timer) != 0) {
        printf("timer_create failed: %s\n", strerror(errno));
        return 1;
    }
    set_or_say("request_id", "T2");
    for (int i = 0; i < 3; i++) {   /* one at a time: the lines stay in order */
        if (arm(timer) != 0) return 1;
        wait_for(&fired);
    }
    show("main");
    printf("timer_delete: %d\n", timer_delete(timer));
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    printf("after grace: alive\n");
    return 0;
}

/* ---- two-timers ---------------------------------------------------------------- */

static void record_timer(union sigval value)
{
    ctxvar_format(seen[value.sival_int], sizeof seen[0]);
    sem_post(&fired);
}

struct creator { const char *request; int value; timer_t timer; int err; };

static void *create_and_arm(void *arg)
{
    struct creator *c = arg;
    set_or_say("request_id", c->request);
    c->err = create_thread_timer(record_timer, c->value, &c->timer) || arm(c->timer);
    return NULL;
}

static int two_timers(void)
{
    struct creator creators[2] = {{"X", 1, 0, 0}, {"Y", 2, 0, 0}};
    pthread_t threads[2];
    set_or_say("request_id", "main");
    for (int i = 0; i < 2; i++)
        if (pthread_create(&threads[i], NULL, create_and_arm, &creators[i]) != 0) return 1;
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        if (creators[i].err) {
            printf("timer %d failed\n", i + 1);
            return 1;
        }
    }
    wait_for(&fired);
    wait_for(&fired);
    for (int i = 0; i < 2; i++) {
        printf("timer %d: %s\n", i + 1, seen[i + 1]);
        timer_delete(creators[i].timer);
    }
    show("main");
    return 0;
}

/* ---- retired ------------------------------------------------------------------- */

static void show_notification(union sigval value)
{
    (void)value;
    show("notification");
    fflush(stdout);
    sem_post(&fired);
}

static int retired(void)
{
    struct ctxvar_stats before, after;
    timer_t timer, other;
    ctxvar_stats(&before);
    set_or_say("request_id", "T1");
    if (create_thread_timer(show_notification, 0, &timer) != 0 || arm(timer) != 0) return 1;
    ctxvar_release(ctxvar_swap(NULL));  /* main holds nothing now */
    wait_for(&fired);
    timer_delete(timer);
    nanosleep(&(struct timespec){3, 200000000}, NULL);
    /* Any registry change sweeps the records retired long enough ago. */
    if (create_thread_timer(show_notification, 0, &other) != 0) return 1;
    timer_delete(other);
    ctxvar_stats(&after);
    printf("live_contexts back to baseline: %s\n",
           after.live_contexts == before.live_contexts ? "yes" : "no");
    if (after.live_contexts != before.live_contexts)
        printf("live_contexts: %llu before, %llu after\n", before.live_contexts,
               after.live_contexts);
    return 0;
}

/* ---- mq -------------------------------------------------------------------------- */

static mqd_t queue;

static void read_message(union sigval value)
{
    char text[256], message[64];
    ssize_t n;
    ctxvar_format(text, sizeof text);
    n = mq_receive(queue, message, sizeof message, NULL);
    if (n < 0) n = 0;
    printf("mq notification: %s value=%d message=%.*s\n", text, value.sival_int, (int)n,
           message);
    fflush(stdout);
    sem_post(&fired);
}

static int mq(const char *name)
{
    struct mq_attr attr = {0};
    struct sigevent event;
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 64;
    queue = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (queue == (mqd_t)-1) {
        printf("mq_open failed: %s\n", strerror(errno));
        return 1;
    }
    mq_unlink(name);    /* gone from the system when closed, whatever happens */
    set_or_say("request_id", "Q1");
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD;
    event.sigev_notify_function = read_message;
    event.sigev_value.sival_int = 9;
    if (mq_notify(queue, &event) != 0) {
        printf("mq_notify failed: %s\n", strerror(errno));
        return 1;
    }
    set_or_say("request_id", "Q2");
    if (mq_send(queue, "hello", 5, 0) != 0) return 1;
    wait_for(&fired);
    show("main");
    return mq_close(queue) == 0 ? 0 : 1;
}

/* ---- bad-clock ------------------------------------------------------------------- */

static void no_notification(union sigval value) { (void)value; }

static void try_bad_clock(const char *what, int notify)
{
    struct sigevent event;
    timer_t timer;
    memset(&event, 0, sizeof event);
    event.sigev_notify = notify;
    event.sigev_notify_function = no_notification;
    errno = 0;
    int r = timer_create((clockid_t)12345, &event, &timer);
    int err = errno;
    printf("%s: %d %s\n", what, r, err == EINVAL ? "EINVAL" : strerror(err));
}

static int bad_clock(void)
{
    try_bad_clock("SIGEV_THREAD", SIGEV_THREAD);
    try_bad_clock("SIGEV_NONE", SIGEV_NONE);
    return 0;
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "timer";
    sem_init(&fired, 0, 0);
    if (!strcmp(scenario, "timer")) return timer();
    if (!strcmp(scenario, "two-timers")) return two_timers();
    if (!strcmp(scenario, "retired")) return retired();
    if (!strcmp(scenario, "mq") && argc > 2) return mq(argv[2]);
    if (!strcmp(scenario, "bad-clock")) return bad_clock();
    fprintf(stderr, "notify: unknown scenario %s\n", scenario);
    return 2;
}
