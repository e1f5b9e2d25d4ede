/* main.c - three requests share one thread pool, and every job logs with
 * the ids of the request that submitted it.
 *
 * The pool (pool.c) is a classic one and is left as it is.  The only change
 * ctxvar asks for is at the submit sites:
 *
 *     pool_submit(pool, write_receipt, job);                           // before
 *     pool_submit(pool, ctxvar_task_run, ctxvar_wrap(write_receipt, job)); // after
 *
 * The wrapped job captures the submitter's context; the worker runs it in
 * that context and is then back to its own.  Workers are started lazily, by
 * whichever request submits while all are busy, yet once a worker has run a
 * wrapped job it never shows that request's ids again (the stale-context
 * rule, ctxvar.h section 4).
 *
 *     $ build/ctxrun -- build/examples/thread_pool | sort
 *     [request_id=r1 user_id=alice] job 1 of request r1 by alice
 *     [request_id=r1 user_id=alice] job 2 of request r1 by alice
 *     [request_id=r2 user_id=bob] job 1 of request r2 by bob
 *     ...
 *
 * Without the runtime every prefix is "[]": no ids, never wrong ones.  The
 * order of lines varies from run to run; their content does not.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctxvar.h"
#include "pool.h"

#define JOBS_PER_REQUEST 2

struct request {
    const char *id, *user;
};

static const struct request requests[] = {
    { "r1", "alice" },
    { "r2", "bob" },
    { "r3", "carol" },
};
#define N_REQUESTS (sizeof requests / sizeof requests[0])

static struct pool *pool;

/* One log line, "[<ids of the current context>] message", in one printf. */
static void log_info(const char *message)
{
    char ids[256];
    ctxvar_format(ids, sizeof ids);
    printf("[%s] %s\n", ids, message);
}

/* A job names its request itself, so a reader can check the prefix. */
struct job {
    const struct request *request;
    int number;
};

static void write_receipt(void *arg)
{
    struct job *job = arg;
    char message[128];
    snprintf(message, sizeof message, "job %d of request %s by %s", job->number,
             job->request->id, job->request->user);
    log_info(message);
    free(job);
}

/* A request's thread: names the request once, then submits its jobs. */
static void *handle_request(void *arg)
{
    const struct request *request = arg;
    ctxvar_set(ctxvar_named("request_id"), request->id, NULL);
    ctxvar_set(ctxvar_named("user_id"), request->user, NULL);
    for (int n = 1; n <= JOBS_PER_REQUEST; n++) {
        struct job *job = malloc(sizeof *job);
        if (!job) continue;
        job->request = request;
        job->number = n;
        /* The one line that changes: wrap the job, submit ctxvar_task_run. */
        ctxvar_task *task = ctxvar_wrap(write_receipt, job);
        if (!task || pool_submit(pool, ctxvar_task_run, task) != 0) {
            ctxvar_task_free(task);
            free(job);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[N_REQUESTS];
    size_t started = 0;

    pool = pool_create(2);
    if (!pool) return 1;
    for (size_t i = 0; i < N_REQUESTS; i++) {
        if (pthread_create(&threads[i], NULL, handle_request, (void *)&requests[i]) != 0) break;
        started++;
    }
    for (size_t i = 0; i < started; i++) pthread_join(threads[i], NULL);
    pool_destroy(pool);     /* runs every job submitted */
    return started == N_REQUESTS ? 0 : 1;
}
