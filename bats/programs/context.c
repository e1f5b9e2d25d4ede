/* context - shows the context a process starts with, as the main thread and
 * a thread it starts see it, and whether the runtime is there.  Sets nothing.
 *
 * Output:
 *   main: <logfmt>
 *   thread: <logfmt>
 *   runtime: yes|no
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include "show.h"

static void *thread_main(void *arg)
{
    (void)arg;
    show("thread");
    return NULL;
}

int main(void)
{
    pthread_t thread;

    show("main");
    if (pthread_create(&thread, NULL, thread_main, NULL) == 0)
        pthread_join(thread, NULL);
    printf("runtime: %s\n", ctxvar_runtime_present() ? "yes" : "no");
    return 0;
}
