/* pool - a thread pool that knows nothing of ctxvar, used unchanged by
 * submitting ctxvar_task_run with ctxvar_wrap(fn, arg), and the stale-context
 * rule (lib/ctxvar.h section 4; docs/interposing.md, "Thread pools reuse
 * threads (stale context)"): once a worker has run a wrapped task it never
 * again shows the context it inherited when it was created, only what it set
 * itself.
 *
 * The pool: a FIFO of jobs, up to max workers, started eagerly by
 * pool_start() or lazily by a submit that finds every worker busy.  A worker
 * calls worker_start_hook (if set) before its first job.  Run as
 * `pool SCENARIO`; each prints "<who>: <context>" lines in a fixed order.
 *
 * pool (or pool basic): a worker started while request_id=A.
 *   worker before any task: request_id=A
 *   wrapped task: request_id=B
 *   worker between tasks: 
 *   wrapped task: request_id=C
 *   worker between tasks: 
 *   task result: request_id=C
 *   main: request_id=C
 *
 * pool own: the worker sets variables of its own, before and between tasks.
 *   worker start: request_id=A tenant=own worker=w1
 *   worker before any task: request_id=A tenant=own worker=w1
 *   wrapped task: request_id=B tenant=acme
 *   worker between tasks: tenant=own worker=w1
 *   worker after its own set: note=n1 tenant=own worker=w1
 *   wrapped task: request_id=C tenant=acme
 *   worker between tasks: note=n1 tenant=own worker=w1
 *   main: request_id=C tenant=acme
 *
 * pool lazy: a pool of 2 grows while request A's, then request B's job runs.
 *   job of request A: request_id=A
 *   job of request B: request_id=B
 *   unwrapped job: 
 *   unwrapped job: 
 *   main: request_id=B
 *
 * pool clear: ctxvar_clear in the main thread, in a ctxvar_run and in a
 * thread that inherited.
 *   before clear: request_id=A user_id=u1
 *   after clear: 
 *   reset after clear: 0
 *   after reset: user_id=u0
 *   inside run after clear: 
 *   after run: user_id=u0
 *   thread after clear: 
 *   wrapped task: user_id=u0
 *   thread after task: own=1
 *   main: user_id=u0
 *
 * pool isolated: a worker started inside ctxvar_run(NULL, ...).
 *   worker started inside ctxvar_run(NULL): 
 *   inside run: 
 *   main: request_id=A
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include "show.h"

/* ---- The pool ------------------------------------------------------------ */

#define MAX_WORKERS 4

struct job { void (*fn)(void *); void *arg; struct job *next; };
static struct job *head, **tail = &head;
static int queued, idle, workers, max_workers = 1, stopping;
static pthread_t threads[MAX_WORKERS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static void (*worker_start_hook)(void);

static void *worker(void *arg)
{
    (void)arg;
    if (worker_start_hook) worker_start_hook();
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head && !stopping) {
            idle++;
            pthread_cond_wait(&more, &lock);
            idle--;
        }
        struct job *job = head;
        if (!job) break;
        head = job->next;
        if (!head) tail = &head;
        queued--;
        pthread_mutex_unlock(&lock);
        job->fn(job->arg);
        free(job);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* With the lock held: one more worker, if there is room. */
static void grow(void)
{
    if (workers < max_workers && pthread_create(&threads[workers], NULL, worker, NULL) == 0)
        workers++;
}

static void pool_start(void)
{
    pthread_mutex_lock(&lock);
    grow();
    pthread_mutex_unlock(&lock);
}

static void *pool_start_run(void *arg) { (void)arg; pool_start(); return NULL; }

static void submit(void (*fn)(void *), void *arg)
{
    struct job *job = malloc(sizeof *job);
    if (!job) abort();
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&lock);
    if (queued >= idle) grow();     /* lazily: nobody free to take it */
    *tail = job;
    tail = &job->next;
    queued++;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&lock);
}

/* Runs every job queued, then joins the workers. */
static void pool_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_broadcast(&more);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < workers; i++) pthread_join(threads[i], NULL);
}

/* ---- Jobs ------------------------------------------------------------------ */

static void show_job(void *who) { show(who); }
static void *task_with_result(void *arg)
{
    static char text[256];
    (void)arg;
    ctxvar_format(text, sizeof text);
    return text;
}
static void call_and_print(void *task)
{
    printf("task result: %s\n", (const char *)ctxvar_task_call(task));
}
static void submit_wrapped(const char *who) { submit(ctxvar_task_run, ctxvar_wrap(show_job, (void *)who)); }
static void submit_plain(const char *who) { submit(show_job, (void *)who); }

/* ---- Scenarios ------------------------------------------------------------- */

static int basic(void)
{
    set_or_say("request_id", "A");
    pool_start();
    set_or_say("request_id", "B");
    submit_plain("worker before any task");
    submit_wrapped("wrapped task");
    submit_plain("worker between tasks");
    set_or_say("request_id", "C");
    submit_wrapped("wrapped task");
    submit_plain("worker between tasks");
    submit(call_and_print, ctxvar_wrap_ret(task_with_result, NULL));
    pool_stop();
    show("main");
    return 0;
}

static void set_own_start(void)
{
    set_or_say("worker", "w1");
    set_or_say("tenant", "own");
    show("worker start");
}
static void set_own_note(void *arg)
{
    (void)arg;
    set_or_say("note", "n1");
    show("worker after its own set");
}

static int own(void)
{
    set_or_say("request_id", "A");
    set_or_say("tenant", "acme");
    worker_start_hook = set_own_start;
    pool_start();
    set_or_say("request_id", "B");
    submit_plain("worker before any task");
    submit_wrapped("wrapped task");
    submit_plain("worker between tasks");
    submit(set_own_note, NULL);
    set_or_say("request_id", "C");
    submit_wrapped("wrapped task");
    submit_plain("worker between tasks");
    pool_stop();
    show("main");
    return 0;
}

static sem_t started, go, finished;
static pthread_barrier_t both_workers;

static void blocking_job(void *who)
{
    show(who);
    sem_post(&started);
    while (sem_wait(&go) != 0) {}
    sem_post(&finished);
}
static void unwrapped_on_each_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&both_workers);  /* so each worker takes one */
    show("unwrapped job");
}

static int lazy(void)
{
    max_workers = 2;
    sem_init(&started, 0, 0);
    sem_init(&go, 0, 0);
    sem_init(&finished, 0, 0);
    pthread_barrier_init(&both_workers, NULL, 2);
    set_or_say("request_id", "A");
    submit(ctxvar_task_run, ctxvar_wrap(blocking_job, "job of request A")); /* starts worker 1 */
    while (sem_wait(&started) != 0) {}
    set_or_say("request_id", "B");
    submit(ctxvar_task_run, ctxvar_wrap(blocking_job, "job of request B")); /* starts worker 2 */
    while (sem_wait(&started) != 0) {}
    if (workers != 2) printf("workers: %d, expected 2\n", workers);
    sem_post(&go);
    sem_post(&go);
    while (sem_wait(&finished) != 0) {}
    while (sem_wait(&finished) != 0) {}
    submit(unwrapped_on_each_worker, NULL);
    submit(unwrapped_on_each_worker, NULL);
    pool_stop();
    show("main");
    return 0;
}

static void *clear_inside_run(void *arg)
{
    (void)arg;
    ctxvar_clear();
    show("inside run after clear");
    return NULL;
}

static void *clearing_thread(void *task)
{
    ctxvar_clear();
    show("thread after clear");
    set_or_say("own", "1");
    ctxvar_task_run(task);
    show("thread after task");
    return NULL;
}

static int clear(void)
{
    ctxvar_token token;
    pthread_t thread;
    ctxvar_ctx *snapshot;

    set_or_say("request_id", "A");
    set_or_say("user_id", "u0");
    if (ctxvar_set(ctxvar_named("user_id"), "u1", &token) != 0) printf("set with token failed\n");
    show("before clear");
    ctxvar_clear();
    show("after clear");
    printf("reset after clear: %d\n", ctxvar_reset(&token));
    show("after reset");
    snapshot = ctxvar_capture();
    ctxvar_run(snapshot, clear_inside_run, NULL);
    ctxvar_release(snapshot);
    show("after run");
    if (pthread_create(&thread, NULL, clearing_thread, ctxvar_wrap(show_job, "wrapped task")) != 0)
        return 1;
    pthread_join(thread, NULL);
    show("main");
    return 0;
}

static void *show_inside_run(void *arg)
{
    (void)arg;
    show("inside run");
    return NULL;
}

static int isolated(void)
{
    set_or_say("request_id", "A");
    ctxvar_run(NULL, pool_start_run, NULL);
    submit_plain("worker started inside ctxvar_run(NULL)");
    pool_stop();
    ctxvar_run(NULL, show_inside_run, NULL);
    show("main");
    return 0;
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "basic";
    if (!strcmp(scenario, "basic")) return basic();
    if (!strcmp(scenario, "own")) return own();
    if (!strcmp(scenario, "lazy")) return lazy();
    if (!strcmp(scenario, "clear")) return clear();
    if (!strcmp(scenario, "isolated")) return isolated();
    fprintf(stderr, "pool: unknown scenario %s\n", scenario);
    return 2;
}
