/* ctor_wait LIBRARY - sets request_id=r1, starts and joins one thread (so
 * that every interposer involved has been called once), then dlopens
 * LIBRARY (libctor_wait.so, whose constructor waits for a thread that
 * starts another).
 *
 * Output:
 *   constructor: request_id=r1               (from the library)
 *   helper: request_id=r1
 *   constructor: worker and helper done
 *   dlopen: ok
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include "show.h"

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    set_or_say("request_id", "r1");
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0) pthread_join(t, NULL);
    void *library = dlopen(argv[1], RTLD_NOW);
    printf("dlopen: %s\n", library ? "ok" : dlerror());
    return library ? 0 : 1;
}
