/* server.c - a thread-per-request server, the kind ctxvar is for.
 *
 * Each request's thread names its request and user once, at its entry
 * (request_begin), then calls legacy code that starts threads of its own and
 * logs from all of them.  Whether those log lines carry the right ids is
 * decided by the context module alone: see context_ctxvar.c (right, under
 * ctxrun) and context_global.c (wrong).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

static const struct order orders[] = {
    { "r1", "alice", "book", "12.50" },
    { "r2", "bob", "lamp", "30.00" },
    { "r3", "carol", "kettle", "24.90" },
    { "r4", "dave", "chair", "89.00" },
};
#define N_REQUESTS (sizeof orders / sizeof orders[0])

/* A busy server always has requests in flight at once.  The barrier makes
 * that certain: every request has begun before any of them does its work,
 * so the demo shows the same thing on every run. */
static pthread_barrier_t all_begun;

static void *handle_request(void *arg)
{
    const struct order *o = arg;

    request_begin(o->request_id, o->user_id);
    pthread_barrier_wait(&all_begun);
    process_order(o);
    return NULL;
}

int main(void)
{
    pthread_t threads[N_REQUESTS];
    size_t i;

    pthread_barrier_init(&all_begun, NULL, N_REQUESTS);
    for (i = 0; i < N_REQUESTS; i++) {
        int err = pthread_create(&threads[i], NULL, handle_request, (void *)&orders[i]);
        if (err != 0) {
            fprintf(stderr, "server: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    for (i = 0; i < N_REQUESTS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&all_begun);
    return 0;
}
