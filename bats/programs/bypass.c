/* bypass - threads that glibc starts without going through the interposed
 * pthread_create (docs/interposing.md, "Bypasses in glibc >= 2.34").  A
 * SIGEV_THREAD timer's notification thread is covered (timer_create is
 * interposed): it runs in its creator's
 * context and its own change does not reach the creator.  A thread started
 * through pthread_create found on a libc handle is not covered (ctxvar.h
 * "Not covered"): it starts with an empty context, the negative control.
 * Both must still be able to use the API.
 *
 * Output:
 *   timer thread: request_id=42
 *   timer thread after set: request_id=timer
 *   libc handle thread: 
 *   main: request_id=42
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include "show.h"

static sem_t fired;

static void timer_thread(union sigval value)
{
    (void)value;
    show("timer thread");
    set_or_say("request_id", "timer");
    show("timer thread after set");
    sem_post(&fired);
}

static void *libc_handle_thread(void *arg)
{
    (void)arg;
    show("libc handle thread");
    return NULL;
}

int main(void)
{
    struct sigevent event = {0};
    struct itimerspec soon = {{0, 0}, {0, 1000000}};
    timer_t timer;
    int (*libc_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                               void *);
    void *libc;
    pthread_t thread;

    set_or_say("request_id", "42");

    sem_init(&fired, 0, 0);
    event.sigev_notify = SIGEV_THREAD;
    event.sigev_notify_function = timer_thread;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0 ||
        timer_settime(timer, 0, &soon, NULL) != 0) {
        printf("timer failed\n");
        return 1;
    }
    while (sem_wait(&fired) != 0) {}
    timer_delete(timer);

    libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    *(void **)&libc_pthread_create = libc ? dlsym(libc, "pthread_create") : NULL;
    if (!libc_pthread_create || libc_pthread_create(&thread, NULL, libc_handle_thread, NULL)) {
        printf("no pthread_create on the libc handle\n");
        return 1;
    }
    pthread_join(thread, NULL);

    show("main");
    return 0;
}
