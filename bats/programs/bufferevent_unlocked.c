/* bufferevent_unlocked - a bufferevent with BEV_OPT_THREADSAFE,
 * BEV_OPT_DEFER_CALLBACKS and BEV_OPT_UNLOCK_CALLBACKS: its loop thread
 * reads the read callback and its argument under the bufferevent's lock,
 * lets go of the lock, then calls.  Another thread that calls
 * bufferevent_setcb or bufferevent_free in between is legal, and libevent
 * then runs the old callback with its old argument.  Lock callbacks of our
 * own make that happen every time: whenever the loop thread lets go of the
 * bufferevent's lock, the other thread acts before the loop thread goes on.
 *
 *     bufferevent_unlocked setcb|free|clear [K]
 *
 * setcb: the other thread sets request_id=sN and the callback's argument
 * "sN" each time; every callback must run with an argument and a context
 * that belong together (the argument names the request its registration
 * was made in).  free: the other thread frees the bufferevent the Kth time
 * the loop thread lets go of its lock (which of those comes between
 * reading a callback and calling it depends on libevent's version), and
 * main waits for one callback at most 3 seconds; clear: the same, with
 * bufferevent_setcb(bev, NULL, NULL, NULL, NULL) in place of the free.  Output, the same with
 * and without the runtime:
 *     callbacks: 20            (free: 0 or 1)
 *     argument and context agree: yes
 *     live_contexts back to baseline: yes
 */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctxvar.h"

enum { BYTES = 20 };

static void *bev_lock;
static pthread_t loop_thread;
static int armed, freeing, clearing, free_at, freed, finding_lock;
static __thread int held; /* the bufferevent's lock, on this thread */
static sem_t act, acted, read_done;
static struct bufferevent *bev;
static int callbacks, disagree;
static char args[64][16];

static void *lock_new(unsigned type)
{
    (void)type;
    pthread_mutex_t *m = malloc(sizeof *m);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(m, &a);
    return m;
}

static void lock_free(void *lock, unsigned type)
{
    (void)type;
    pthread_mutex_destroy(lock);
    free(lock);
}

static int lock(unsigned mode, void *l)
{
    (void)mode;
    if (finding_lock) bev_lock = l;
    int r = pthread_mutex_lock(l);
    if (l == bev_lock) held++;
    return r;
}

static int unlock(unsigned mode, void *l)
{
    (void)mode;
    if (l == bev_lock) held--;
    int r = pthread_mutex_unlock(l);
    if (armed && !freed && held == 0 && l == bev_lock && pthread_equal(pthread_self(), loop_thread)) {
        sem_post(&act);
        sem_wait(&acted);
    }
    return r;
}

static void on_read(struct bufferevent *b, void *arg)
{
    char context[64], expected[64];
    ctxvar_format(context, sizeof context);
    snprintf(expected, sizeof expected, "request_id=%s", (const char *)arg);
    disagree += ctxvar_runtime_present() && strcmp(context, expected) != 0;
    callbacks++;
    evbuffer_drain(bufferevent_get_input(b), 1 << 20);
    sem_post(&read_done);
}

static volatile int stopping;

static void *other_thread(void *unused)
{
    for (int n = 1;; n++) {
        sem_wait(&act);
        if (stopping) break;
        if (freeing) {
            if (n == free_at) {
                if (clearing) {
                    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
                } else {
                    bufferevent_free(bev);
                    freed = 1;
                }
            }
        } else {
            snprintf(args[n % 64], sizeof args[0], "s%d", n);
            ctxvar_token tok;
            ctxvar_set(ctxvar_named("request_id"), args[n % 64], &tok);
            bufferevent_setcb(bev, on_read, NULL, NULL, args[n % 64]);
            ctxvar_reset(&tok);
        }
        sem_post(&acted);
    }
    sem_post(&acted);
    return unused;
}

/* libevent wakes a loop from another thread only when it can tell threads
 * apart. */
static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

static void *run_loop(void *base)
{
    event_base_dispatch(base);
    return NULL;
}

int main(int argc, char **argv)
{
    clearing = argc > 1 && strcmp(argv[1], "clear") == 0;
    freeing = clearing || (argc > 1 && strcmp(argv[1], "free") == 0);
    free_at = argc > 2 ? atoi(argv[2]) : 1;
    struct evthread_lock_callbacks locks = {EVTHREAD_LOCK_API_VERSION, EVTHREAD_LOCKTYPE_RECURSIVE,
                                            lock_new, lock_free, lock, unlock};
    evthread_set_lock_callbacks(&locks);
    evthread_set_id_callback(thread_id);
    sem_init(&act, 0, 0);
    sem_init(&acted, 0, 0);
    sem_init(&read_done, 0, 0);
    struct ctxvar_stats before;
    ctxvar_stats(&before);
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
    struct event_base *base = event_base_new();
    evthread_make_base_notifiable(base);
    bev = bufferevent_socket_new(base, fds[0], BEV_OPT_THREADSAFE | BEV_OPT_DEFER_CALLBACKS |
                                                   BEV_OPT_UNLOCK_CALLBACKS);
    strcpy(args[0], "s0");
    ctxvar_token tok;
    ctxvar_set(ctxvar_named("request_id"), "s0", &tok);
    bufferevent_setcb(bev, on_read, NULL, NULL, args[0]);
    ctxvar_reset(&tok);
    bufferevent_enable(bev, EV_READ);
    finding_lock = 1;
    bufferevent_lock(bev);
    bufferevent_unlock(bev);
    finding_lock = 0;
    pthread_t other;
    pthread_create(&other, NULL, other_thread, NULL);
    armed = 1;
    pthread_create(&loop_thread, NULL, run_loop, base);
    for (int i = 0; i < (freeing ? 1 : BYTES); i++) {
        if (write(fds[1], "x", 1) != 1) return 1;
        struct timespec limit;
        clock_gettime(CLOCK_REALTIME, &limit);
        limit.tv_sec += 3;
        if (freeing) sem_timedwait(&read_done, &limit);
        else sem_wait(&read_done);
    }
    event_base_loopexit(base, NULL);
    pthread_join(loop_thread, NULL);
    armed = 0;
    stopping = 1;
    sem_post(&act);
    pthread_join(other, NULL);
    if (!freed) bufferevent_free(bev);
    event_base_free(base);
    close(fds[1]);
    struct ctxvar_stats after;
    ctxvar_stats(&after);
    printf("callbacks: %d\n", callbacks);
    printf("argument and context agree: %s\n", disagree ? "no" : "yes");
    printf("live_contexts back to baseline: %s\n",
           after.live_contexts == before.live_contexts ? "yes" : "no");
    return 0;
}
