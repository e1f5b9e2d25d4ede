/* static_context - a statically linked program: the loader ignores
 * LD_PRELOAD for it, so the runtime is never in it (not claimed, see the
 * header's "Not covered").  Its behaviour must be exactly the same with or
 * without LD_PRELOAD / ctxrun.
 *
 * Output (exit status 3):
 *   runtime: no
 *   set: <ctxvar_strerror(ENOSYS)>
 *   main: request_id=none
 *   thread: request_id=none
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include "ctxvar.h"
#include <stdio.h>

static void *thread_main(void *arg)
{
    (void)arg;
    printf("thread: request_id=%s\n", ctxvar_get(ctxvar_named("request_id"), "none"));
    return NULL;
}

int main(void)
{
    pthread_t thread;

    printf("runtime: %s\n", ctxvar_runtime_present() ? "yes" : "no");
    printf("set: %s\n", ctxvar_strerror(ctxvar_set(ctxvar_named("request_id"), "42", NULL)));
    printf("main: request_id=%s\n", ctxvar_get(ctxvar_named("request_id"), "none"));
    if (pthread_create(&thread, NULL, thread_main, NULL) == 0)
        pthread_join(thread, NULL);
    return 3;
}
