/* three_threads - starts three threads (one of them from another thread)
 * and reports how many inherited, by the runtime's own count.
 *
 * Built twice: header-only ("three_threads") and with -DCTXVAR_LINKED linked
 * to libctxvar.so ("linked"), which runs with no LD_PRELOAD.  Run with the
 * runtime loaded twice, it shows that each thread inherits exactly once.
 *
 * Output:
 *   runtime: yes
 *   first: request_id=42
 *   grandchild: request_id=first
 *   second: request_id=42
 *   main: request_id=42
 *   threads_inherited: 3
 *   inherit_failures: 0
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include "show.h"

static void *grandchild(void *arg)
{
    (void)arg;
    show("grandchild");
    return NULL;
}

static void *first(void *arg)
{
    pthread_t thread;
    (void)arg;
    show("first");
    set_or_say("request_id", "first");
    if (pthread_create(&thread, NULL, grandchild, NULL) == 0)
        pthread_join(thread, NULL);
    return NULL;
}

static void *second(void *arg)
{
    (void)arg;
    show("second");
    return NULL;
}

int main(void)
{
    pthread_t thread;
    struct ctxvar_stats stats = {0, 0, 0};

    printf("runtime: %s\n", ctxvar_runtime_present() ? "yes" : "no");
    set_or_say("request_id", "42");
    if (pthread_create(&thread, NULL, first, NULL) == 0)
        pthread_join(thread, NULL);
    if (pthread_create(&thread, NULL, second, NULL) == 0)
        pthread_join(thread, NULL);
    show("main");
    ctxvar_stats(&stats);
    printf("threads_inherited: %llu\n", stats.threads_inherited);
    printf("inherit_failures: %llu\n", stats.inherit_failures);
    return 0;
}
