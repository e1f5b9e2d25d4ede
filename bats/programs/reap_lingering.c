/* reap_lingering - detached threads that linger after their start routine
 * (in a pthread key destructor) must not keep the runtime from releasing
 * the contexts of the detached threads that end after them.  The runtime
 * looks at a few ended threads' records at each thread start, and releases
 * the contexts of those the kernel has finished.
 *
 * 8 detached threads wait in their key destructor until the end; then
 * 20,000 short detached threads are started, each while a context of its
 * own with a 1 KiB value is current.  Output: "lingering: 8", then
 * "resident memory grew less than 8 MiB" (kept, their contexts would take
 * some 20 MiB), or how much it grew.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctxvar.h"

enum { LINGERING = 8, THREADS = 20000 };

static pthread_key_t key;
static sem_t in_destructor, release;

static void linger(void *value)
{
    (void)value;
    sem_post(&in_destructor);
    sem_wait(&release);
}

static void *lingering(void *arg)
{
    pthread_setspecific(key, arg);
    return NULL;
}

static void *quick(void *arg) { return arg; }

static long resident_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

static void start_detached(pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int r;
    while ((r = pthread_create(&t, attr, fn, arg)) == EAGAIN) usleep(100);
    if (r != 0) {
        printf("pthread_create: %s\n", strerror(r));
        exit(1);
    }
}

/* THREADS detached threads, each started in a context of its own. */
static void start_many(ctxvar *request_id, pthread_attr_t *attr, int count)
{
    char value[1024];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < count; i++) {
        snprintf(value, 16, "%015d", i);
        value[15] = 'v';
        ctxvar_token token;
        ctxvar_set(request_id, value, &token);
        start_detached(attr, quick, NULL);
        ctxvar_reset(&token);
    }
}

int main(void)
{
    pthread_key_create(&key, linger);
    sem_init(&in_destructor, 0, 0);
    sem_init(&release, 0, 0);
    ctxvar *request_id = ctxvar_named("request_id");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 65536);
    for (int i = 0; i < LINGERING; i++) start_detached(&attr, lingering, (void *)1);
    for (int i = 0; i < LINGERING; i++) sem_wait(&in_destructor);
    printf("lingering: %d\n", LINGERING);
    start_many(request_id, &attr, 2000); /* the allocator's own growth, first */
    usleep(100000);
    long before = resident_kb();
    start_many(request_id, &attr, THREADS);
    usleep(100000);
    long grown = resident_kb() - before;
    if (grown < 8 * 1024) printf("resident memory grew less than 8 MiB\n");
    else printf("resident memory grew %ld kB\n", grown);
    for (int i = 0; i < LINGERING; i++) sem_post(&release);
    return 0;
}
