/* loops_event_threads - libevent with threads (evthread_use_pthreads) and
 * the teardown libevent recommends, under the runtime
 * (bats/loops_libevent.bats).  Each mode prints what it counted and
 * whether live_contexts came back to where it started.
 *
 *   adddel        one thread re-arms a one-shot event with event_add, each
 *                 time in a new request, while another cancels it with
 *                 event_del: both give back the record's context, each
 *                 reference once
 *   finalizedel   a persistent EV_FINALIZE event run over and over by the
 *                 loop thread while another thread adds, activates and
 *                 deletes it: event_del does not wait for an EV_FINALIZE
 *                 event's running callback
 *   delactive     a persistent event registered in r1, deleted, then fired
 *                 by event_active in r2: deleted, it gave r1 back, and the
 *                 call that starts it again gives it r2
 *   activate      a worker in one request activates a one-shot event over
 *                 and over while the loop thread runs it: every call in
 *                 that request (the record keeps its context for the
 *                 next call, which the worker may have scheduled already)
 *   activatenew   the same, the worker in a new request for each
 *                 event_active, which releases the last reference to the
 *                 one before while the loop thread may be starting its
 *                 call: every call in one of the worker's requests
 *   finalizerfree a bufferevent with unlocked callbacks freed by a
 *                 finalizer that event_base_free runs
 *   looponce      a bufferevent's callbacks set twice, then one run of
 *                 the loop (EVLOOP_ONCE) waits for data: it gets it; the
 *                 base's event count, as the program sees it
 *   looponceunlocked  the same with unlocked, deferred callbacks, whose
 *                 replaced record waits for the loop to free it
 *   firstuse      sixteen threads make the process's first libevent calls
 *                 at once: each callback runs in its caller's request
 */
#define _GNU_SOURCE
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctxvar.h"

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ctxvar_stats(&s);
    return s.live_contexts;
}

static void set_request(const char *id, ctxvar_token *tok)
{
    ctxvar_set(ctxvar_named("request_id"), id, tok);
}

static struct event *shared;
static struct event_base *base;
static atomic_int stop;
static atomic_long calls;

static void count(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    char seen[64];
    ctxvar_format(seen, sizeof seen); /* reads the context the callback runs in */
    calls++;
}

/* ---- adddel ---- */

static void *adder(void *unused)
{
    static const struct timeval hour = {3600, 0};
    char id[32];
    for (int i = 0; i < 300000; i++) {
        ctxvar_token tok;
        snprintf(id, sizeof id, "a%d", i);
        set_request(id, &tok);
        event_add(shared, &hour);
        ctxvar_reset(&tok);
    }
    stop = 1;
    return unused;
}

static void *deleter(void *unused)
{
    while (!stop) event_del(shared);
    return unused;
}

static int adddel(void)
{
    base = event_base_new();
    shared = event_new(base, -1, 0, count, NULL);
    unsigned long long before = live_contexts();
    pthread_t a, d;
    pthread_create(&a, NULL, adder, NULL);
    pthread_create(&d, NULL, deleter, NULL);
    pthread_join(a, NULL);
    pthread_join(d, NULL);
    event_free(shared);
    event_base_free(base);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- finalizedel ---- */

static void *run_nonblocking(void *unused)
{
    while (!stop) event_base_loop(base, EVLOOP_NONBLOCK);
    return unused;
}

static int finalizedel(void)
{
    static const struct timeval now = {0, 0};
    base = event_base_new();
    unsigned long long before = live_contexts();
    shared = event_new(base, -1, EV_PERSIST | EV_FINALIZE, count, NULL);
    pthread_t loop;
    pthread_create(&loop, NULL, run_nonblocking, NULL);
    char id[32];
    for (int i = 0; i < 200000; i++) {
        ctxvar_token tok;
        snprintf(id, sizeof id, "f%d", i);
        set_request(id, &tok);
        event_add(shared, &now);
        event_active(shared, EV_TIMEOUT, 1);
        ctxvar_reset(&tok);
        event_del(shared);
    }
    stop = 1;
    pthread_join(loop, NULL);
    event_free(shared);
    event_base_free(base);
    printf("ran: %s\n", calls > 0 ? "yes" : "no");
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- activate ---- */

static atomic_long missing;

static int new_request_each_time;

static void expect_w(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    char seen[64];
    ctxvar_format(seen, sizeof seen);
    calls++;
    int right = new_request_each_time ? strncmp(seen, "request_id=w", 12) == 0
                                      : strcmp(seen, "request_id=w") == 0;
    if (!right) missing++;
}

static void *activator(void *unused)
{
    ctxvar_token tok;
    char id[32] = "w";
    if (!new_request_each_time) set_request(id, &tok);
    for (int i = 0; i < 500000; i++) {
        if (new_request_each_time) {
            snprintf(id, sizeof id, "w%d", i);
            set_request(id, &tok);
        }
        event_active(shared, EV_TIMEOUT, 1);
        if (new_request_each_time) ctxvar_reset(&tok);
    }
    if (!new_request_each_time) ctxvar_reset(&tok);
    stop = 1;
    return unused;
}

static int activate(int new_requests)
{
    new_request_each_time = new_requests;
    base = event_base_new();
    unsigned long long before = live_contexts();
    shared = event_new(base, -1, 0, expect_w, NULL);
    pthread_t loop, worker;
    pthread_create(&loop, NULL, run_nonblocking, NULL);
    pthread_create(&worker, NULL, activator, NULL);
    pthread_join(worker, NULL);
    pthread_join(loop, NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_free(shared);
    event_base_free(base);
    printf("ran: %s, each in %s: %s\n", calls > 0 ? "yes" : "no",
           new_requests ? "one of the worker's requests" : "the worker's request",
           missing == 0 ? "yes" : "no");
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- delactive ---- */

static void show_context(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    char seen[64];
    ctxvar_format(seen, sizeof seen);
    printf("persistent, deleted, then activated: %s\n", seen);
}

static int delactive(void)
{
    base = event_base_new();
    ctxvar_token tok;
    set_request("r1", &tok);
    struct event *ev = event_new(base, -1, EV_PERSIST, show_context, NULL);
    ctxvar_reset(&tok);
    static const struct timeval hour = {3600, 0};
    event_add(ev, &hour);
    event_del(ev);
    set_request("r2", &tok);
    event_active(ev, EV_TIMEOUT, 1);
    ctxvar_reset(&tok);
    event_base_loop(base, EVLOOP_ONCE);
    event_free(ev);
    event_base_free(base);
    return 0;
}

/* ---- finalizerfree ---- */

struct conn {
    struct event *timer;
    struct bufferevent *bev;
};

static void ignore_read(struct bufferevent *b, void *arg) { (void)b, (void)arg; }

static void free_conn(struct event *ev, void *arg)
{
    (void)ev;
    struct conn *c = arg;
    bufferevent_free(c->bev);
    free(c);
}

static int finalizerfree(void)
{
    unsigned long long before = live_contexts();
    for (int round = 0; round < 3; round++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
        base = event_base_new();
        struct conn *c = calloc(1, sizeof *c);
        ctxvar_token tok;
        set_request("c1", &tok);
        c->bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE |
                                                         BEV_OPT_DEFER_CALLBACKS |
                                                         BEV_OPT_UNLOCK_CALLBACKS);
        bufferevent_setcb(c->bev, ignore_read, NULL, NULL, c);
        c->timer = event_new(base, -1, 0, count, c);
        static const struct timeval hour = {3600, 0};
        event_add(c->timer, &hour);
        ctxvar_reset(&tok);
        event_free_finalize(0, c->timer, free_conn);
        event_base_free(base); /* runs free_conn */
        close(sv[1]);
    }
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- looponce ---- */

static int reads;
static void on_read(struct bufferevent *b, void *arg)
{
    (void)arg;
    reads++;
    evbuffer_drain(bufferevent_get_input(b), 1 << 20);
}

static void *write_later(void *fd)
{
    usleep(100000);
    if (write(*(int *)fd, "x", 1) != 1) return NULL;
    return fd;
}

static int looponce(int unlocked)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    unsigned long long before = live_contexts();
    base = event_base_new();
    int options = BEV_OPT_CLOSE_ON_FREE;
    if (unlocked) options |= BEV_OPT_THREADSAFE | BEV_OPT_UNLOCK_CALLBACKS | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev = bufferevent_socket_new(base, sv[0], options);
    ctxvar_token tok;
    set_request("first", &tok);
    bufferevent_setcb(bev, ignore_read, NULL, NULL, NULL);
    ctxvar_reset(&tok);
    set_request("second", &tok);
    bufferevent_setcb(bev, on_read, NULL, NULL, NULL);
    ctxvar_reset(&tok);
    printf("events in the base: %d\n",
           event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE));
    bufferevent_enable(bev, EV_READ);
    pthread_t writer;
    pthread_create(&writer, NULL, write_later, &sv[1]);
    event_base_loop(base, EVLOOP_ONCE);
    pthread_join(writer, NULL);
    printf("reads after one run of the loop: %d\n", reads);
    bufferevent_free(bev);
    event_base_free(base);
    close(sv[1]);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- firstuse ---- */

enum { FIRST_THREADS = 16 };
static pthread_barrier_t at_once;
static atomic_int first_wrong;

static void check_first(evutil_socket_t fd, short what, void *label)
{
    (void)fd, (void)what;
    if (strcmp(ctxvar_get(ctxvar_named("request_id"), "none"), label) != 0) first_wrong++;
}

static void *first_caller(void *label)
{
    struct event_base *own = event_base_new();
    pthread_barrier_wait(&at_once);
    ctxvar_token tok;
    set_request(label, &tok);
    event_base_once(own, -1, EV_TIMEOUT, check_first, label, NULL);
    ctxvar_reset(&tok);
    event_base_dispatch(own);
    event_base_free(own);
    return NULL;
}

/* The process's first calls into libevent, on many threads at once: each
 * is carried, whichever thread looks for libevent's code first. */
static int firstuse(void)
{
    static char labels[FIRST_THREADS][16];
    pthread_t threads[FIRST_THREADS];
    pthread_barrier_init(&at_once, NULL, FIRST_THREADS);
    for (int i = 0; i < FIRST_THREADS; i++) {
        snprintf(labels[i], sizeof labels[i], "f%d", i);
        pthread_create(&threads[i], NULL, first_caller, labels[i]);
    }
    for (int i = 0; i < FIRST_THREADS; i++) pthread_join(threads[i], NULL);
    printf("callbacks in another context: %d\n", first_wrong);
    return 0;
}

int main(int argc, char **argv)
{
    evthread_use_pthreads();
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "adddel") == 0) return adddel();
    if (strcmp(mode, "finalizedel") == 0) return finalizedel();
    if (strcmp(mode, "delactive") == 0) return delactive();
    if (strcmp(mode, "activate") == 0) return activate(0);
    if (strcmp(mode, "activatenew") == 0) return activate(1);
    if (strcmp(mode, "finalizerfree") == 0) return finalizerfree();
    if (strcmp(mode, "looponce") == 0) return looponce(0);
    if (strcmp(mode, "looponceunlocked") == 0) return looponce(1);
    if (strcmp(mode, "firstuse") == 0) return firstuse();
    fprintf(stderr, "usage: loops_event_threads adddel|finalizedel|activate|activatenew|delactive|"
                    "finalizerfree|looponce|looponceunlocked|firstuse\n");
    return 2;
}
