/* pool_stress - 1,000,000 wrapped tasks through a 4-worker pool from 8
 * submitter threads.  Each submitter sets its own request_id once and a new
 * task_id before wrapping each task; every task checks that it sees exactly
 * its submitter's two values.  After everything is joined, the runtime's
 * live_contexts is back where it was before: no task, worker or submitter
 * keeps a context alive.
 *
 * Output (stdout), exactly:
 *   tasks: 1000000
 *   mismatches: 0
 *   live_contexts back to baseline: yes
 * and "elapsed: <seconds> s" on stderr.  Exit status 0 when both hold.
 *
 * The queue is bounded (submitters wait when it is full) so that memory
 * stays small whatever the speed of the workers.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ctxvar.h"

#define WORKERS 4
#define SUBMITTERS 8
#define TASKS_PER_SUBMITTER 125000
#define QUEUE_SIZE 4096

/* ---- A bounded pool that knows nothing of ctxvar ---------------------------- */

struct job { void (*fn)(void *); void *arg; };
static struct job ring[QUEUE_SIZE];
static size_t ring_head, ring_count;
static int stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;

static void submit(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&lock);
    while (ring_count == QUEUE_SIZE) pthread_cond_wait(&not_full, &lock);
    ring[(ring_head + ring_count) % QUEUE_SIZE] = (struct job){fn, arg};
    ring_count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (ring_count == 0 && !stopping) pthread_cond_wait(&not_empty, &lock);
        if (ring_count == 0) break;
        struct job job = ring[ring_head];
        ring_head = (ring_head + 1) % QUEUE_SIZE;
        ring_count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        job.fn(job.arg);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* ---- Submitters and tasks --------------------------------------------------- */

static ctxvar *request_id, *task_id;
static atomic_ulong tasks_run, mismatches;

/* The task's argument says what it must see: submitter << 32 | task number. */
static void check_task(void *arg)
{
    uintptr_t expected = (uintptr_t)arg;
    char want_request[16], want_task[16];
    snprintf(want_request, sizeof want_request, "s%u", (unsigned)(expected >> 32));
    snprintf(want_task, sizeof want_task, "%u", (unsigned)(expected & 0xffffffffu));
    if (strcmp(ctxvar_get(request_id, ""), want_request) != 0 ||
        strcmp(ctxvar_get(task_id, ""), want_task) != 0)
        atomic_fetch_add_explicit(&mismatches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&tasks_run, 1, memory_order_relaxed);
}

static void *submitter(void *arg)
{
    uintptr_t self = (uintptr_t)arg;
    char value[16];
    snprintf(value, sizeof value, "s%u", (unsigned)self);
    ctxvar_set(request_id, value, NULL);
    for (uintptr_t i = 0; i < TASKS_PER_SUBMITTER; i++) {
        snprintf(value, sizeof value, "%u", (unsigned)i);
        ctxvar_set(task_id, value, NULL);
        ctxvar_task *task = ctxvar_wrap(check_task, (void *)(self << 32 | i));
        if (!task) {
            atomic_fetch_add_explicit(&mismatches, 1, memory_order_relaxed);
            continue;
        }
        submit(ctxvar_task_run, task);
    }
    return NULL;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(void)
{
    pthread_t workers[WORKERS], submitters[SUBMITTERS];
    struct ctxvar_stats before, after;
    struct timespec start;

    request_id = ctxvar_named("request_id");
    task_id = ctxvar_named("task_id");
    if (ctxvar_stats(&before) != 0) {
        printf("no runtime\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&workers[i], NULL, worker, NULL) != 0) return 1;
    for (uintptr_t i = 0; i < SUBMITTERS; i++)
        if (pthread_create(&submitters[i], NULL, submitter, (void *)i) != 0) return 1;
    for (int i = 0; i < SUBMITTERS; i++) pthread_join(submitters[i], NULL);
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
    ctxvar_stats(&after);

    unsigned long bad = atomic_load(&mismatches);
    int baseline = after.live_contexts == before.live_contexts;
    printf("tasks: %lu\n", atomic_load(&tasks_run));
    printf("mismatches: %lu\n", bad);
    printf("live_contexts back to baseline: %s\n", baseline ? "yes" : "no");
    if (!baseline)
        printf("live_contexts: %llu before, %llu after\n", before.live_contexts,
               after.live_contexts);
    fprintf(stderr, "elapsed: %.2f s\n", seconds_since(&start));
    return bad == 0 && baseline ? 0 : 1;
}
