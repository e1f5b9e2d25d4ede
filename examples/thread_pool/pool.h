/* pool.h - a classic thread pool: a FIFO of jobs, a mutex, a condition
 * variable and up to max_workers threads, started lazily.  It knows nothing
 * of ctxvar; see main.c for the one-line change at the submit sites.
 *
 * A job is void (*fn)(void *) with a void *arg, run once on some worker.
 * pool_submit starts a new worker when every existing one is busy and the
 * pool has room for another, so workers are created by whatever thread
 * happens to submit at that moment.
 */
#ifndef POOL_H
#define POOL_H

struct pool;

/* A pool of at most max_workers threads (at least 1), none started yet.
 * NULL when out of memory. */
struct pool *pool_create(int max_workers);

/* Queues fn(arg).  0, or ENOMEM / EAGAIN (no job queued) when the job or
 * the pool's first worker cannot be had.  Any thread may submit. */
int pool_submit(struct pool *pool, void (*fn)(void *), void *arg);

/* Runs every job queued so far, stops the workers, frees the pool. */
void pool_destroy(struct pool *pool);

#endif
