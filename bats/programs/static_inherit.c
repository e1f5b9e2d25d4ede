/* static_inherit.c - a statically linked program that gets the runtime
 * from libctxvar.a (pkg-config --static), not from LD_PRELOAD: its threads
 * inherit, a joined thread's context, with a value it set itself, is
 * released (also under CTXVAR_INHERIT=0, where the threads start empty),
 * and a child process started with system() gets the calling thread's
 * context. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <threads.h>

#include "ctxvar.h"

static ctxvar *request_id;

static void *posix_thread(void *arg)
{
    (void)arg;
    printf("pthread: request_id=%s\n", ctxvar_get(request_id, "-"));
    ctxvar_set(ctxvar_named("own"), "p", NULL);
    return NULL;
}

static int c11_thread(void *arg)
{
    (void)arg;
    printf("thrd: request_id=%s\n", ctxvar_get(request_id, "-"));
    ctxvar_set(ctxvar_named("own"), "t", NULL);
    return 0;
}

int main(void)
{
    request_id = ctxvar_named("request_id");
    ctxvar_named("own");
    printf("runtime present: %d\n", ctxvar_runtime_present());
    printf("main: request_id=%s\n", ctxvar_get(request_id, "-"));
    ctxvar_set(request_id, "42", NULL);
    struct ctxvar_stats before, after;
    ctxvar_stats(&before);
    pthread_t t;
    if (pthread_create(&t, NULL, posix_thread, NULL) == 0) pthread_join(t, NULL);
    thrd_t c;
    if (thrd_create(&c, c11_thread, NULL) == thrd_success) thrd_join(c, NULL);
    ctxvar_stats(&after);
    printf("threads inherited: %llu, live contexts back: %s\n",
           after.threads_inherited - before.threads_inherited,
           after.live_contexts == before.live_contexts ? "yes" : "no");
    fflush(stdout);
    return system("echo \"child: BAGGAGE=$BAGGAGE\"") == 0 ? 0 : 1;
}
