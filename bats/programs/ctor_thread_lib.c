/* libctor_thread.so - a shared library whose constructor starts a thread
 * before the program's main, and possibly before the runtime's own
 * constructor has run (docs/interposing.md, "Called before our
 * constructor").  It sets nothing: whatever the threads see comes from
 * BAGGAGE, which the runtime must read lazily on the first call that needs
 * it.
 *
 * Output (from the constructor):
 *   constructor: <context of the thread running constructors>
 *   constructor thread: <context of the thread it started>
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include "show.h"

static void *constructor_thread(void *arg)
{
    (void)arg;
    show("constructor thread");
    return NULL;
}

__attribute__((constructor)) static void start_a_thread(void)
{
    pthread_t thread;
    int err;

    show("constructor");
    err = pthread_create(&thread, NULL, constructor_thread, NULL);
    if (err) {
        printf("constructor pthread_create: %s\n", strerror(err));
        return;
    }
    pthread_join(thread, NULL);
}

/* Referenced by the program so that the link keeps the dependency. */
int ctor_thread_lib_loaded(void) { return 1; }
