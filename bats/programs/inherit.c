/* inherit - a thread started with pthread_create sees its creator's context
 * as it was at the call, and neither side sees the other's later changes.
 *
 * Built twice: "inherit" references pthread_create@GLIBC_2.34 like any new
 * binary; "inherit_old" (-DBATS_OLD_PTHREAD_CREATE) references the
 * pthread_create@GLIBC_2.2.5 that binaries built before glibc 2.34 use.
 * The runtime's unversioned definition must serve both (docs/interposing.md,
 * "Symbol versions").
 *
 * Output:
 *   child: request_id=42          (the creator's value at the call)
 *   child after set: request_id=child
 *   main: request_id=43           (the creator's own later change)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include "show.h"

#ifdef BATS_OLD_PTHREAD_CREATE
int pthread_create_old(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
__asm__(".symver pthread_create_old, pthread_create@GLIBC_2.2.5");
#define create_thread pthread_create_old
#else
#define create_thread pthread_create
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int main_has_changed;

static void *child(void *arg)
{
    (void)arg;
    /* Wait until main has set a new value after creating us: we must still
     * see the one it had at pthread_create. */
    pthread_mutex_lock(&lock);
    while (!main_has_changed)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    show("child");
    set_or_say("request_id", "child");
    show("child after set");
    return NULL;
}

int main(void)
{
    pthread_t thread;
    int err;

    set_or_say("request_id", "42");
    err = create_thread(&thread, NULL, child, NULL);
    if (err) {
        printf("pthread_create: %s\n", strerror(err));
        return 1;
    }
    set_or_say("request_id", "43");
    pthread_mutex_lock(&lock);
    main_has_changed = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    show("main");
    return 0;
}
