/* bufferevent_getcb - bufferevent_getcb on one thread while another
 * replaces the callbacks of a bufferevent with unlocked, deferred
 * callbacks and its loop runs (bats/loops_libevent.bats).  libevent's lock
 * functions are the program's own here (evthread_set_lock_callbacks): they
 * stop the getter thread each time it lets go of the bufferevent's lock for
 * good, until main has replaced the callbacks (the runtime retires the
 * record the getter may be reading) and the loop has run the new read
 * callback and a timer a few times (by which the retired record is freed).
 *
 * Output, with and without the runtime:
 *   read callback, arg new
 *   getcb: readcb rd, arg old
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

struct lock {
    pthread_mutex_t mutex;
    int depth; /* how often its holder took it */
};

static pthread_t getter_thread;
static volatile int armed;
static sem_t getter_let_go, getter_may_go, loop_ran;

static void *lock_new(unsigned type)
{
    (void)type;
    struct lock *l = malloc(sizeof *l);
    if (!l) return NULL;
    pthread_mutexattr_t recursive;
    pthread_mutexattr_init(&recursive);
    pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&l->mutex, &recursive);
    l->depth = 0;
    return l;
}

static void lock_free(void *p, unsigned type)
{
    (void)type;
    struct lock *l = p;
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

static int lock_lock(unsigned mode, void *p)
{
    (void)mode;
    struct lock *l = p;
    int r = pthread_mutex_lock(&l->mutex);
    if (r == 0) l->depth++;
    return r;
}

static int lock_unlock(unsigned mode, void *p)
{
    (void)mode;
    struct lock *l = p;
    int last = --l->depth == 0;
    int r = pthread_mutex_unlock(&l->mutex);
    if (last && armed && pthread_equal(pthread_self(), getter_thread)) {
        armed = 0;
        sem_post(&getter_let_go);
        sem_wait(&getter_may_go);
    }
    return r;
}

static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

static void rd(struct bufferevent *bev, void *arg)
{
    char buf[64];
    while (bufferevent_read(bev, buf, sizeof buf) > 0) continue;
    printf("read callback, arg %s\n", (const char *)arg);
    sem_post(&loop_ran);
}

static void rd2(struct bufferevent *bev, void *arg) { rd(bev, arg); }
static void tick(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

static struct bufferevent *pair[2];
static struct event_base *base;
static const char old_arg[] = "old", new_arg[] = "new";

static void *run_loop(void *unused)
{
    event_base_dispatch(base);
    return unused;
}

static void *getter(void *unused)
{
    bufferevent_data_cb readcb = NULL;
    void *arg = NULL;
    getter_thread = pthread_self();
    armed = 1;
    bufferevent_getcb(pair[1], &readcb, NULL, NULL, &arg);
    printf("getcb: readcb %s, arg %s\n",
           readcb == rd ? "rd" : readcb == rd2 ? "rd2" : "not the program's",
           arg == old_arg || arg == new_arg ? (const char *)arg : "not the program's");
    return unused;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct evthread_lock_callbacks callbacks = {EVTHREAD_LOCK_API_VERSION,
                                                EVTHREAD_LOCKTYPE_RECURSIVE, lock_new, lock_free,
                                                lock_lock, lock_unlock};
    evthread_set_lock_callbacks(&callbacks);
    evthread_set_id_callback(thread_id);
    sem_init(&getter_let_go, 0, 0);
    sem_init(&getter_may_go, 0, 0);
    sem_init(&loop_ran, 0, 0);
    base = event_base_new();
    if (bufferevent_pair_new(base, BEV_OPT_THREADSAFE | BEV_OPT_DEFER_CALLBACKS | BEV_OPT_UNLOCK_CALLBACKS,
                             pair) != 0)
        return 1;
    bufferevent_setcb(pair[1], rd, NULL, NULL, (void *)old_arg);
    bufferevent_enable(pair[1], EV_READ);
    struct event *timer = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval ms2 = {0, 2000};
    event_add(timer, &ms2);
    pthread_t loop, get;
    pthread_create(&loop, NULL, run_loop, NULL);
    pthread_create(&get, NULL, getter, NULL);
    sem_wait(&getter_let_go);
    bufferevent_setcb(pair[1], rd2, NULL, NULL, (void *)new_arg);
    bufferevent_write(pair[0], "x", 1);
    sem_wait(&loop_ran);
    usleep(50000); /* the timer runs a few times */
    bufferevent_setcb(pair[1], rd, NULL, NULL, (void *)new_arg); /* memory reused */
    sem_post(&getter_may_go);
    pthread_join(get, NULL);
    event_base_loopbreak(base);
    pthread_join(loop, NULL);
    event_free(timer);
    bufferevent_free(pair[0]);
    bufferevent_free(pair[1]);
    event_base_free(base);
    return 0;
}
