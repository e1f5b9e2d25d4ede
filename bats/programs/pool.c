/* pool - a one-worker thread pool that knows nothing of ctxvar, used
 * unchanged by submitting ctxvar_task_run with ctxvar_wrap(fn, arg) (shim
 * pitfall 8: a pooled thread must never show a request's context outside
 * that request's task).
 *
 * The worker starts while request_id=A, so A is its own context.  Each
 * wrapped task runs in the context of whoever wrapped it; between tasks the
 * worker is back to A.
 *
 * Output:
 *   wrapped task: request_id=B
 *   worker between tasks: request_id=A
 *   wrapped task: request_id=C
 *   worker between tasks: request_id=A
 *   task result: request_id=C
 *   main: request_id=C
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "show.h"

/* The pool: a FIFO of jobs, a worker that runs them in order, NULL fn ends. */
struct job { void (*fn)(void *); void *arg; struct job *next; };
static struct job *head, **tail = &head;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

static void submit(void (*fn)(void *), void *arg)
{
    struct job *job = malloc(sizeof *job);
    if (!job) abort();
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&lock);
    *tail = job;
    tail = &job->next;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        struct job *job;
        pthread_mutex_lock(&lock);
        while (!head)
            pthread_cond_wait(&more, &lock);
        job = head;
        head = job->next;
        if (!head) tail = &head;
        pthread_mutex_unlock(&lock);
        if (!job->fn) { free(job); return NULL; }
        job->fn(job->arg);
        free(job);
    }
}

/* The jobs. */
static void wrapped_task(void *arg) { (void)arg; show("wrapped task"); }
static void plain_task(void *arg) { (void)arg; show("worker between tasks"); }
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

int main(void)
{
    pthread_t thread;

    set_or_say("request_id", "A");
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        return 1;
    set_or_say("request_id", "B");
    submit(ctxvar_task_run, ctxvar_wrap(wrapped_task, NULL));
    submit(plain_task, NULL);
    set_or_say("request_id", "C");
    submit(ctxvar_task_run, ctxvar_wrap(wrapped_task, NULL));
    submit(plain_task, NULL);
    submit(call_and_print, ctxvar_wrap_ret(task_with_result, NULL));
    submit(NULL, NULL);
    pthread_join(thread, NULL);
    show("main");
    return 0;
}
