/* handover4 - an ordinary threaded program, for helgrind and DRD.
 *
 *     [LD_PRELOAD=build/libctxvar.so] build/reliability/handover4 [ROUNDS]
 *
 * Every way a context crosses threads, each a few times, with nothing but
 * mutexes, condition variables, semaphores and joins between the threads:
 *
 *   joinable   4 threads inherit the main thread's context, each sets a
 *              variable of its own, and all 4 are joined (their contexts
 *              are handed to the joiner, which releases them)
 *   detached   1 thread created detached, 1 detached while it runs, 1
 *              detached once it signalled that its start routine returns
 *              (pthread_detach then reaps it with a join when it has
 *              ended); each inherits and sets, and releases its own context
 *              at exit
 *   pool       2 workers run 8 tasks wrapped (ctxvar_wrap) by the main
 *              thread, each in a context of its own; ctxvar_task_run runs
 *              them in the submitter's context
 *
 * ROUNDS times (2 by default), then once:
 *
 *   unwaited   300 threads created detached, waited for only once all are
 *              created: more than the runtime's 256 pooled start records,
 *              so that records given back by threads the creator has not
 *              synchronised with are taken again
 *
 * The program is clean under helgrind and DRD without the runtime, so that
 * any report with it (make check-helgrind, check-drd) is the runtime's.
 * Without the runtime every variable reads as its fallback, and the checks
 * expect that.  Prints the number of checks and of wrong values; exit status
 * 0 when none was wrong and the runtime's live_contexts came back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ctxvar.h"

#define JOINABLE 4
#define TASKS 8
#define WORKERS 2
#define UNWAITED 300

static ctxvar *request_id, *own;
static int present;

/* The checks' tally, under its mutex: the program itself must have no race. */
static pthread_mutex_t tally_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tally_changed = PTHREAD_COND_INITIALIZER;
static int checks, wrong, unwaited_done;

static void expect(ctxvar *v, const char *want, const char *where)
{
    const char *got = ctxvar_get(v, "(unset)");
    const char *expected = present ? want : "(unset)";
    int bad = strcmp(got, expected) != 0;
    pthread_mutex_lock(&tally_lock);
    checks++;
    if (bad && wrong++ < 5) fprintf(stderr, "handover4: %s: expected %s, got %s\n", where, expected, got);
    pthread_mutex_unlock(&tally_lock);
}

/* A thread's own work: it shows what it inherited, then sets its own. */
static void inherit_and_set(const char *name)
{
    expect(request_id, "main", name);
    ctxvar_set(own, name, NULL);
    expect(own, name, name);
    expect(request_id, "main", name);
}

/* ---- Joinable ------------------------------------------------------------- */

static void *joinable_main(void *p)
{
    inherit_and_set(p);
    return p;
}

static void joinable_round(void)
{
    static char names[JOINABLE][16];
    pthread_t t[JOINABLE];
    for (int i = 0; i < JOINABLE; i++) {
        snprintf(names[i], sizeof names[i], "joinable-%d", i);
        if (pthread_create(&t[i], NULL, joinable_main, names[i]) != 0) abort();
    }
    for (int i = 0; i < JOINABLE; i++) {
        void *result;
        if (pthread_join(t[i], &result) != 0 || result != names[i]) abort();
    }
}

/* ---- Detached --------------------------------------------------------------- */

static sem_t detached_done, may_go;

static void *detached_main(void *p)
{
    inherit_and_set(p);
    sem_post(&detached_done);
    return NULL;
}

/* Waits until the main thread has detached it. */
static void *detached_later_main(void *p)
{
    sem_wait(&may_go);
    return detached_main(p);
}

static void detached_round(void)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, detached_main, "detached-created") != 0) abort();
    pthread_attr_destroy(&attr);

    if (pthread_create(&t, NULL, detached_later_main, "detached-running") != 0) abort();
    if (pthread_detach(t) != 0) abort();
    sem_post(&may_go);

    if (pthread_create(&t, NULL, detached_main, "detached-ended") != 0) abort();
    sem_wait(&detached_done);
    sem_wait(&detached_done);
    sem_wait(&detached_done); /* all three have returned or are about to */
    if (pthread_detach(t) != 0) abort();
}

static void *unwaited_main(void *p)
{
    expect(request_id, "main", p);
    pthread_mutex_lock(&tally_lock);
    unwaited_done++;
    pthread_cond_signal(&tally_changed);
    pthread_mutex_unlock(&tally_lock);
    return NULL;
}

static void unwaited_round(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < UNWAITED; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, unwaited_main, "unwaited") != 0) abort();
    }
    pthread_attr_destroy(&attr);
    /* Only now: nothing orders a thread's start before the creations after it. */
    pthread_mutex_lock(&tally_lock);
    while (unwaited_done < UNWAITED) pthread_cond_wait(&tally_changed, &tally_lock);
    pthread_mutex_unlock(&tally_lock);
}

/* A detached thread releases its context after it signalled, or unwaited:
 * wait until the runtime counts as many live contexts as before (10 s at
 * most), so that the program does not end while they still run. */
static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : 0;
}

static void wait_for_live(unsigned long long baseline)
{
    for (int i = 0; i < 1000 && live() != baseline; i++) {
        struct timespec ms = {0, 10 * 1000 * 1000};
        nanosleep(&ms, NULL);
    }
}

/* ---- A pool of wrapped tasks ----------------------------------------------------- */

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static void *queue[TASKS];
static int queued, taken, closed;

static void *worker_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        while (taken == queued && !closed) pthread_cond_wait(&queue_changed, &queue_lock);
        void *task = taken < queued ? queue[taken++] : NULL;
        pthread_mutex_unlock(&queue_lock);
        if (!task) return NULL;
        ctxvar_task_run(task);
    }
}

static char task_names[TASKS][16];

static void task_main(void *p)
{
    expect(request_id, p, p);
}

static void pool_round(void)
{
    pthread_t workers[WORKERS];
    queued = taken = closed = 0;
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0) abort();
    for (int i = 0; i < TASKS; i++) {
        snprintf(task_names[i], sizeof task_names[i], "task-%d", i);
        ctxvar_token token;
        int set = ctxvar_set(request_id, task_names[i], &token) == 0;
        ctxvar_task *task = ctxvar_wrap(task_main, task_names[i]);
        if (set) ctxvar_reset(&token);
        if (!task) abort();
        pthread_mutex_lock(&queue_lock);
        queue[queued++] = task;
        pthread_cond_signal(&queue_changed);
        pthread_mutex_unlock(&queue_lock);
    }
    pthread_mutex_lock(&queue_lock);
    closed = 1;
    pthread_cond_broadcast(&queue_changed);
    pthread_mutex_unlock(&queue_lock);
    for (int i = 0; i < WORKERS; i++)
        if (pthread_join(workers[i], NULL) != 0) abort();
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 2;
    request_id = ctxvar_named("request_id");
    own = ctxvar_named("own");
    present = ctxvar_runtime_present();
    sem_init(&detached_done, 0, 0);
    sem_init(&may_go, 0, 0);
    unsigned long long baseline = live();
    ctxvar_set(request_id, "main", NULL);
    for (int r = 0; r < rounds; r++) {
        joinable_round();
        detached_round();
        pool_round();
    }
    unwaited_round();
    ctxvar_release(ctxvar_swap(NULL));
    wait_for_live(baseline);
    int leaked = present && live() != baseline;
    pthread_mutex_lock(&tally_lock); /* the detached threads may still be ending */
    printf("handover4: %d rounds, %d checks, %d wrong, contexts %s\n", rounds, checks, wrong,
           leaked ? "leaked" : "released");
    int ok = wrong == 0 && !leaked;
    pthread_mutex_unlock(&tally_lock);
    return ok ? 0 : 1;
}
