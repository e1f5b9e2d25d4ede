/* otel_key_race - two threads set the same new variable, for
 * bats/otel.bats, which runs this under gdb: thread A adds the key to the
 * key map and is held inside the republication of the process context,
 * while thread B alone runs its set.  B's record must not use the new
 * key's index before the published map holds it: a reader that meets an
 * index refreshes its map, and would not find the key. */
#include <pthread.h>
#include <unistd.h>

#include "ctxvar.h"

/* Where B is done; gdb stops here. */
__attribute__((noinline)) void b_done(void) { __asm__ volatile(""); }

static void *thread_a(void *arg)
{
    sleep(1);
    ctxvar_set(ctxvar_named("newkey"), "from-A", NULL);
    for (;;) pause();
    return arg;
}

static void *thread_b(void *arg)
{
    sleep(2);
    ctxvar_set(ctxvar_named("newkey"), "from-B", NULL);
    b_done();
    for (;;) pause();
    return arg;
}

int main(void)
{
    pthread_t a, b;
    ctxvar_set(ctxvar_named("request_id"), "r0", NULL);
    if (pthread_create(&a, NULL, thread_a, NULL) != 0) return 1;
    if (pthread_create(&b, NULL, thread_b, NULL) != 0) return 1;
    for (;;) pause();
}
