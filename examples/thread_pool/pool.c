/* pool.c - the pool of pool.h.  Plain pthreads, nothing of ctxvar. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

struct job {
    void (*fn)(void *);
    void *arg;
    struct job *next;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work;            /* a job was queued, or the pool stops */
    struct job *head, **tail;       /* the queue, oldest first */
    int queued;                     /* jobs in the queue */
    int max_workers, workers, idle; /* idle: waiting on work */
    int stopping;
    pthread_t *threads;             /* workers started, in order */
};

struct pool *pool_create(int max_workers)
{
    struct pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    if (max_workers < 1) max_workers = 1;
    pool->threads = calloc((size_t)max_workers, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work, NULL);
    pool->tail = &pool->head;
    pool->max_workers = max_workers;
    return pool;
}

static void *worker(void *arg)
{
    struct pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->stopping) {
            pool->idle++;
            pthread_cond_wait(&pool->work, &pool->lock);
            pool->idle--;
        }
        struct job *job = pool->head;
        if (!job) break;            /* stopping, and the queue is empty */
        pool->head = job->next;
        if (!pool->head) pool->tail = &pool->head;
        pool->queued--;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        free(job);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

int pool_submit(struct pool *pool, void (*fn)(void *), void *arg)
{
    struct job *job = malloc(sizeof *job);
    if (!job) return ENOMEM;
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    /* Grow when no worker is free to take this job. */
    if (pool->queued >= pool->idle && pool->workers < pool->max_workers &&
        pthread_create(&pool->threads[pool->workers], NULL, worker, pool) == 0)
        pool->workers++;
    if (pool->workers == 0) {       /* not even one worker: refuse the job */
        pthread_mutex_unlock(&pool->lock);
        free(job);
        return EAGAIN;
    }
    *pool->tail = job;
    pool->tail = &job->next;
    pool->queued++;
    pthread_cond_signal(&pool->work);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void pool_destroy(struct pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work);
    int workers = pool->workers;
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < workers; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}
