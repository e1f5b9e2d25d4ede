/* libctor_wait.so - a library whose constructor, run by dlopen with the
 * loader's lock held, starts a worker and waits for it; the worker starts
 * a helper thread and joins it first.  Anything in pthread_create that
 * takes the loader's lock (dladdr does) makes the worker wait for the
 * constructor, which waits for the worker: the dlopen never returns.  The
 * helper is given an argument, as most threads are.
 *
 * The constructor shows its context first: the header binds to the runtime
 * with dlsym at its first call in this library, which on the helper thread
 * would wait for the loader's lock itself.
 *
 * Output (from the constructor):
 *   constructor: <context of the thread running constructors>
 *   helper: <context the helper thread inherited>
 *   constructor: worker and helper done
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include "show.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int worker_done;

static void *helper(void *arg)
{
    show("helper");
    return arg;
}

static void *worker(void *arg)
{
    pthread_t h;
    if (pthread_create(&h, NULL, helper, &lock) == 0) pthread_join(h, NULL);
    pthread_mutex_lock(&lock);
    worker_done = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
    return arg;
}

__attribute__((constructor)) static void wait_for_a_worker(void)
{
    show("constructor");
    pthread_t w;
    if (pthread_create(&w, NULL, worker, NULL) != 0) return;
    pthread_mutex_lock(&lock);
    while (!worker_done) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    pthread_join(w, NULL);
    printf("constructor: worker and helper done\n");
}
