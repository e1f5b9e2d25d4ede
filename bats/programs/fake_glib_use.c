/* fake_glib_use - sets request_id=r1, then through libglib-9.so (a GLib
 * stand-in, fake_glib.c) starts a thread of its own function and one of
 * the library's own worker, and starts threads at two functions the
 * library exports (one an IFUNC in one build) with a number for argument.
 *
 * Output:
 *   program's thread: request_id=r1
 *   own worker: none                    (request_id=r1 where the runtime
 *                                        cannot tell it is the library's)
 *   exported_start(1000): joined
 *   ifunc_start(1000): joined
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include "show.h"

typedef void *(*thread_fn)(void *);
pthread_t fake_thread_new(thread_fn func, void *data);
void *exported_start(void *arg);
void *ifunc_start(void *arg);

static void *program_thread(void *unused)
{
    (void)unused;
    show("program's thread");
    return NULL;
}

static void start_at(const char *name, thread_fn start)
{
    pthread_t t;
    if (pthread_create(&t, NULL, start, (void *)(uintptr_t)1000) == 0 && pthread_join(t, NULL) == 0)
        printf("%s(1000): joined\n", name);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    set_or_say("request_id", "r1");
    pthread_join(fake_thread_new(program_thread, NULL), NULL);
    pthread_join(fake_thread_new(NULL, NULL), NULL);
    start_at("exported_start", exported_start);
    start_at("ifunc_start", ifunc_start);
    return 0;
}
