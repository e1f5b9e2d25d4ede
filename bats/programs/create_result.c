/* create_result - what pthread_create returns and what a thread gets back,
 * for calls that fail and calls that succeed.  The runtime must change none
 * of it, since the program never asked for it (docs/interposing.md, "attr and
 * return value untouched"): the output is the same with and without it.
 *
 * Output:
 *   huge stack: EAGAIN
 *   empty cpu set: EINVAL
 *   errno after a failed call: EDOM
 *   errno after a successful call: EDOM
 *   return value: 4660
 *   pthread_exit value: 22
 *   detach state seen by the thread: detached
 *   guard size seen by the thread: 65536
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *error_name(int err)
{
    switch (err) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOMEM: return "ENOMEM";
    case EDOM: return "EDOM";
    default: return strerror(err);
    }
}

static void *never_runs(void *arg) { (void)arg; printf("never_runs ran\n"); return NULL; }
static void *returns(void *arg) { (void)arg; return (void *)(uintptr_t)0x1234; }
static void *exits(void *arg) { (void)arg; pthread_exit((void *)(uintptr_t)22); }

static sem_t reported;
static void *report_attr(void *arg)
{
    pthread_attr_t attr;
    int state = -1;
    size_t guard = 0;
    (void)arg;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getdetachstate(&attr, &state);
        pthread_attr_getguardsize(&attr, &guard);
        pthread_attr_destroy(&attr);
    }
    printf("detach state seen by the thread: %s\n",
           state == PTHREAD_CREATE_DETACHED ? "detached" : "joinable");
    printf("guard size seen by the thread: %zu\n", guard);
    sem_post(&reported);
    return NULL;
}

int main(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    cpu_set_t none;
    void *result;
    int err;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SIZE_MAX / 4);
    printf("huge stack: %s\n", error_name(pthread_create(&thread, &attr, never_runs, NULL)));
    pthread_attr_destroy(&attr);

    pthread_attr_init(&attr);
    CPU_ZERO(&none);
    pthread_attr_setaffinity_np(&attr, sizeof none, &none);
    errno = EDOM;
    printf("empty cpu set: %s\n", error_name(pthread_create(&thread, &attr, never_runs, NULL)));
    err = errno;
    printf("errno after a failed call: %s\n", error_name(err));
    pthread_attr_destroy(&attr);

    errno = EDOM;
    err = pthread_create(&thread, NULL, returns, NULL);
    err = err ? err : errno;
    printf("errno after a successful call: %s\n", error_name(err));
    pthread_join(thread, &result);
    printf("return value: %lu\n", (unsigned long)(uintptr_t)result);

    if (pthread_create(&thread, NULL, exits, NULL) == 0) {
        pthread_join(thread, &result);
        printf("pthread_exit value: %lu\n", (unsigned long)(uintptr_t)result);
    }

    sem_init(&reported, 0, 0);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setguardsize(&attr, 65536);
    if (pthread_create(&thread, &attr, report_attr, NULL) == 0)
        while (sem_wait(&reported) != 0) {}
    pthread_attr_destroy(&attr);
    return 0;
}
