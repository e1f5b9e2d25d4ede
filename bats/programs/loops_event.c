/* loops_event.c - libevent callbacks, unmodified, under the runtime
 * (bats/loops_libevent.bats).  Each request sets request_id to its own
 * label around the registering or scheduling call; every callback prints
 * the label it was given as its argument and the context it runs in.
 *
 *   loops_event requests THREADS N  several threads, each with its own base:
 *                                   one-shot timers (event_new + event_add),
 *                                   event_base_once, a persistent timer,
 *                                   events embedded in the program's structs
 *                                   (event_assign, legacy event_set), then
 *                                   the thread's own timer
 *   loops_event when                one-shot events run in the context of
 *                                   event_add/event_active, persistent ones
 *                                   in that of their registration
 *   loops_event buffers             bufferevents over a socketpair
 *   loops_event getters             what the program reads back
 *   loops_event frees               events freed unfired, embedded events
 *                                   reused, finalizers, bufferevent_free,
 *                                   bases freed before their loopexit or
 *                                   event_base_once events fired;
 *                                   live_contexts before and after
 *   loops_event dropped             events embedded in structs the program
 *                                   frees with free() after event_del, as
 *                                   it may: one-shot timers that fired or
 *                                   did not, persistent ones;
 *                                   live_contexts before and after
 *   loops_event refused             an event_assign libevent refuses after
 *                                   storing the new callback: the event
 *                                   runs the new one, as without us
 *   loops_event direct              calls from callbacks libevent calls
 *                                   directly (an evbuffer's), each ending
 *                                   in a jump to event_base_once,
 *                                   event_add or bufferevent_setcb, and
 *                                   libevent's legacy bufferevent_new,
 *                                   which passes the program's callbacks
 *                                   on to bufferevent_setcb
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_compat.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/event_struct.h>

#include "show.h"

static ctxvar *request_id;

static void say(const char *what, const char *label)
{
    char text[512];
    ctxvar_format(text, sizeof text);
    printf("%s %s: %s\n", what, label, text);
}

static void set_request(const char *label, ctxvar_token *token)
{
    ctxvar_set(request_id, label, token);
}

static const struct timeval ms1 = {0, 1000}, ms5 = {0, 5000}, ms50 = {0, 50000};

/* ---- requests --------------------------------------------------------------------- */

struct conn {            /* a program's struct with its event inside, as memcached's */
    struct event ev;
    char label[32];
};

static void on_oneshot(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("oneshot", arg);
}

static void on_once(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("once", arg);
}

struct persistent {
    struct event *ev;
    int count;
    char label[32];
};

static void on_persist(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct persistent *p = arg;
    say("persist", p->label);
    if (++p->count == 2) event_del(p->ev);
}

static void on_embedded(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    say("embedded", c->label);
}

static void on_own(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("own", arg);
}

struct thread_args {
    int index, n;
};

static void *requests_thread(void *p)
{
    const struct thread_args *a = p;
    struct event_base *base = event_base_new();
    int n = a->n;
    char (*labels)[32] = calloc((size_t)n, sizeof *labels);
    struct event **oneshot = calloc((size_t)n, sizeof *oneshot);
    struct persistent *persist = calloc((size_t)n, sizeof *persist);
    struct conn *assigned = calloc((size_t)n, sizeof *assigned);
    struct conn *legacy = calloc((size_t)n, sizeof *legacy);
    char own_label[32];
    snprintf(own_label, sizeof own_label, "t%d", a->index);
    struct event *own = evtimer_new(base, on_own, own_label);
    evtimer_add(own, &ms50);
    for (int j = 0; j < n; j++) {
        snprintf(labels[j], sizeof labels[j], "r%d.%d", a->index, j);
        ctxvar_token token;
        set_request(labels[j], &token);
        oneshot[j] = evtimer_new(base, on_oneshot, labels[j]);
        evtimer_add(oneshot[j], &ms1);
        event_base_once(base, -1, EV_TIMEOUT, on_once, labels[j], &ms1);
        snprintf(persist[j].label, sizeof persist[j].label, "%s", labels[j]);
        persist[j].ev = event_new(base, -1, EV_PERSIST, on_persist, &persist[j]);
        event_add(persist[j].ev, &ms1);
        snprintf(assigned[j].label, sizeof assigned[j].label, "%s", labels[j]);
        event_assign(&assigned[j].ev, base, -1, 0, on_embedded, &assigned[j]);
        event_add(&assigned[j].ev, &ms5);
        snprintf(legacy[j].label, sizeof legacy[j].label, "%s", labels[j]);
        event_set(&legacy[j].ev, -1, 0, on_embedded, &legacy[j]);
        event_base_set(base, &legacy[j].ev);
        event_add(&legacy[j].ev, &ms5);
        ctxvar_reset(&token);
    }
    event_base_dispatch(base);
    say("loop done", own_label);
    for (int j = 0; j < n; j++) {
        event_free(oneshot[j]);
        event_free(persist[j].ev);
    }
    event_free(own);
    event_base_free(base);
    free(labels), free(oneshot), free(persist), free(assigned), free(legacy);
    return NULL;
}

static int requests(int threads, int n)
{
    pthread_t t[16];
    struct thread_args args[16];
    if (threads > 16) threads = 16;
    for (int i = 0; i < threads; i++) {
        args[i] = (struct thread_args){i, n};
        pthread_create(&t[i], NULL, requests_thread, &args[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}

/* ---- when ------------------------------------------------------------------------- */

static void on_label(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("fired", arg);
}

static int when(void)
{
    struct event_base *base = event_base_new();
    ctxvar_token token;
    set_request("registered", &token);
    struct event *oneshot = evtimer_new(base, on_label, "oneshot (added in added)");
    struct event *persist = event_new(base, -1, EV_PERSIST, on_label, "persistent (added in added)");
    struct event *activated = event_new(base, -1, 0, on_label, "oneshot (activated in activated)");
    struct event *poked = event_new(base, -1, EV_PERSIST, on_label, "persistent (activated in activated)");
    ctxvar_reset(&token);
    set_request("added", &token);
    evtimer_add(oneshot, &ms1);
    ctxvar_reset(&token);
    set_request("added", &token);
    event_add(persist, &ms1);
    ctxvar_reset(&token);
    set_request("activated", &token);
    event_active(activated, EV_TIMEOUT, 0);
    event_active(poked, EV_TIMEOUT, 0);
    ctxvar_reset(&token);
    event_base_loop(base, EVLOOP_ONCE);
    event_base_loop(base, EVLOOP_ONCE);
    event_free(oneshot), event_free(persist), event_free(activated), event_free(poked);
    say("after the loop", "main");
    event_base_free(base);
    return 0;
}

/* ---- buffers ----------------------------------------------------------------------
 *
 * A pings B; B's read callback answers; A's frees A on the answer, so B
 * sees end-of-file and frees B, and the loop runs out of events. */

static struct bufferevent *end_a, *end_b;

static void on_read(struct bufferevent *bev, void *arg)
{
    char data[64];
    size_t n = bufferevent_read(bev, data, sizeof data - 1);
    data[n] = 0;
    char what[96];
    snprintf(what, sizeof what, "read \"%s\" by", data);
    say(what, arg);
    if (bev == end_b) bufferevent_write(bev, "pong", 4);
    else if (bev == end_a) bufferevent_free(bev);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    say("written by", arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    say(what & BEV_EVENT_EOF ? "eof at" : "event at", arg);
    bufferevent_free(bev);
}

static int buffers(void)
{
    struct event_base *base = event_base_new();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    end_a = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    end_b = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    ctxvar_token token;
    set_request("ra", &token);
    bufferevent_setcb(end_a, on_read, NULL, on_event, "ra");
    bufferevent_enable(end_a, EV_READ);
    bufferevent_write(end_a, "ping", 4);
    ctxvar_reset(&token);
    set_request("rb", &token);
    bufferevent_setcb(end_b, on_read, NULL, on_event, "rb");
    bufferevent_enable(end_b, EV_READ);
    ctxvar_reset(&token);
    event_base_dispatch(base);
    say("after the loop", "main");
    event_base_free(base);
    return 0;
}

/* ---- getters ---------------------------------------------------------------------- */

static void on_final(struct event *ev, void *arg)
{
    (void)ev;
    say("finalized", arg);
}

static void on_conn_final(struct event *ev, void *arg)
{
    (void)ev;
    const struct conn *c = arg;
    say("finalized", c->label);
}

/* event_finalize on an event the program keeps: libevent shows the
 * finalizer in the callback's place, and the argument, before and after
 * the finalizer ran (which runs in the event's context, as its callback
 * would); the memory may then be assigned again. */
static void finalize_kept(struct event_base *base, struct conn *c)
{
    event_finalize(0, &c->ev, on_conn_final);
    for (int ran = 0; ran < 2; ran++) {
        if (ran) event_base_loop(base, EVLOOP_NONBLOCK);
        event_callback_fn cb = NULL;
        void *arg = NULL;
        event_get_assignment(&c->ev, NULL, NULL, NULL, &cb, &arg);
        printf("finalizing %s: event_get_callback %s event_get_callback_arg %s "
               "event_get_assignment %s %s\n", ran ? "done" : "pending",
               event_get_callback(&c->ev) == (event_callback_fn)(void (*)(void))on_conn_final
                   ? "the finalizer" : "other",
               event_get_callback_arg(&c->ev) == (void *)c ? "program's" : "other",
               cb == (event_callback_fn)(void (*)(void))on_conn_final ? "the finalizer" : "other",
               arg == c ? "program's" : "other");
    }
    ctxvar_token token;
    set_request("again", &token);
    event_assign(&c->ev, base, -1, 0, on_embedded, c);
    event_active(&c->ev, EV_READ, 1);
    ctxvar_reset(&token);
    event_base_loop(base, EVLOOP_NONBLOCK);
}

static int getters(void)
{
    struct event_base *base = event_base_new();
    ctxvar_token token;
    set_request("g", &token);
    struct event *ev = event_new(base, -1, EV_PERSIST, on_label, "arg");
    struct event *self = event_new(base, -1, 0, on_label, event_self_cbarg());
    struct conn c = {.label = "embedded"};
    event_assign(&c.ev, base, -1, 0, on_label, &c);
    ctxvar_reset(&token);
    printf("event_get_callback: %s\n", event_get_callback(ev) == on_label ? "program's" : "other");
    printf("event_get_callback_arg: %s\n",
           strcmp(event_get_callback_arg(ev), "arg") == 0 ? "program's" : "other");
    printf("self arg: %s\n", event_get_callback_arg(self) == (void *)self ? "the event" : "other");
    struct event_base *b = NULL;
    evutil_socket_t fd = 0;
    short events = 0;
    event_callback_fn cb = NULL;
    void *arg = NULL;
    event_get_assignment(&c.ev, &b, &fd, &events, &cb, &arg);
    printf("event_get_assignment: base %s fd %d events %d callback %s arg %s\n",
           b == base ? "same" : "other", (int)fd, events, cb == on_label ? "program's" : "other",
           arg == &c ? "program's" : "other");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct bufferevent *bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, on_read, NULL, on_event, "bev");
    bufferevent_data_cb r = NULL, w = on_read;
    bufferevent_event_cb e = NULL;
    void *barg = NULL;
    bufferevent_getcb(bev, &r, &w, &e, &barg);
    printf("bufferevent_getcb: read %s write %s event %s arg %s\n", r == on_read ? "program's" : "other",
           w == NULL ? "none" : "other", e == on_event ? "program's" : "other",
           barg && strcmp(barg, "bev") == 0 ? "program's" : "other");
    bufferevent_free(bev);
    close(sv[1]);
    event_free_finalize(0, ev, on_final);
    event_free(self);
    event_base_loop(base, EVLOOP_NONBLOCK);
    finalize_kept(base, &c);
    event_base_free(base);
    return 0;
}

/* ---- frees -------------------------------------------------------------------------- */

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ctxvar_stats(&s);
    return s.live_contexts;
}

static int frees(void)
{
    enum { N = 8 };
    struct event_base *base = event_base_new();
    static char labels[N][16];
    struct conn *slot = malloc(sizeof *slot);
    unsigned long long before = live_contexts();
    for (int i = 0; i < N; i++) {
        snprintf(labels[i], sizeof labels[i], "f%d", i);
        ctxvar_token token;
        set_request(labels[i], &token);
        /* Never fired, freed. */
        struct event *ev = evtimer_new(base, on_label, labels[i]);
        static const struct timeval later = {100, 0};
        evtimer_add(ev, &later);
        event_free(ev);
        /* Embedded in the program's struct, dropped without a word (as
         * a free() would) and the memory used again for the next one: that
         * one replaces its record; the last is unassigned. */
        memset(slot, 0, sizeof *slot);
        event_assign(&slot->ev, base, -1, 0, on_label, slot);
        if (i == N - 1) event_debug_unassign(&slot->ev);
        /* Finalized. */
        struct event *fin = event_new(base, -1, 0, on_label, labels[i]);
        event_free_finalize(0, fin, on_final);
        /* A bufferevent, freed. */
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        struct bufferevent *bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(bev, on_read, on_write, on_event, labels[i]);
        bufferevent_free(bev);
        close(sv[1]);
        /* libevent's own one-shot event: event_base_loopexit schedules it
         * through event_base_once by a tail call, which looks like the
         * program's call; its base is freed before it fires. */
        struct event_base *other = event_base_new();
        event_base_loopexit(other, &later);
        event_base_free(other);
        /* The program's one-shot events whose base is freed before they
         * fire: libevent frees them, calling nothing. */
        other = event_base_new();
        event_base_once(other, -1, EV_TIMEOUT, on_label, labels[i], &later);
        if (i % 2) event_base_free_nofinalize(other);
        else event_base_free(other);
        ctxvar_reset(&token);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
    free(slot);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return 0;
}

/* ---- dropped ------------------------------------------------------------------------ */

struct owner {
    struct event timeout;
    char label[16];
};

static int dropped_fired, dropped_right;

static void on_owner(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    const struct owner *o = arg;
    char want[32], got[64];
    snprintf(want, sizeof want, "request_id=%s", o->label);
    ctxvar_format(got, sizeof got);
    dropped_fired++;
    dropped_right += strcmp(got, want) == 0;
}

static int dropped(void)
{
    enum { N = 300 };
    static const struct timeval now = {0, 0}, later = {100, 0};
    struct event_base *base = event_base_new();
    struct owner *owners[N];
    unsigned long long before = live_contexts();
    for (int i = 0; i < N; i++) {
        struct owner *o = owners[i] = malloc(sizeof *o);
        snprintf(o->label, sizeof o->label, "d%d", i);
        ctxvar_token token;
        set_request(o->label, &token);
        /* A third fire at once; a third wait; a third persist. */
        event_assign(&o->timeout, base, -1, i % 3 == 2 ? EV_PERSIST : 0, on_owner, o);
        evtimer_add(&o->timeout, i % 3 == 0 ? &now : &later);
        ctxvar_reset(&token);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
    for (int i = 0; i < N; i++) {
        event_del(&owners[i]->timeout);
        free(owners[i]); /* no event_free: the struct is the program's */
    }
    printf("fired: %d, each in its request: %s\n", dropped_fired,
           dropped_right == dropped_fired ? "yes" : "no");
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    event_base_free(base);
    return 0;
}

/* ---- refused ------------------------------------------------------------------------ */

static void on_first(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("first", arg);
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("second", arg);
}

static void quiet_log(int severity, const char *message) { (void)severity, (void)message; }

static int refused(void)
{
    event_set_log_callback(quiet_log); /* libevent warns of the refusal */
    struct event_base *base = event_base_new();
    struct event *ev = malloc(event_get_struct_event_size());
    ctxvar_token token;
    set_request("assigned", &token);
    int first = event_assign(ev, base, -1, 0, on_first, "one");
    /* libevent 2.1 stores callback and argument, then refuses EV_SIGNAL
     * with EV_READ. */
    int second = event_assign(ev, base, -1, EV_SIGNAL | EV_READ, on_second, "two");
    ctxvar_reset(&token);
    /* Memory the runtime would have freed is handed out again. */
    for (int i = 0; i < 50; i++) event_free(event_new(base, -1, 0, on_first, "churn"));
    event_callback_fn cb = event_get_callback(ev);
    printf("event_assign: %d, then %d; callback %s, argument %s\n", first, second,
           cb == on_second ? "on_second" : cb == on_first ? "on_first" : "another",
           (const char *)event_get_callback_arg(ev));
    set_request("added", &token);
    event_add(ev, &ms1);
    ctxvar_reset(&token);
    event_base_dispatch(base);
    event_del(ev);
    free(ev);
    event_base_free(base);
    return 0;
}

/* ---- direct ------------------------------------------------------------------------- */

/* An evbuffer's callback is libevent's direct call into the program, with
 * no trampoline of ours between: the request set in it is the program's
 * entry point, and each of these ends in a jump (a sibling call) to the
 * interposed function, which then returns straight into libevent. */
struct direct {
    struct event_base *base;
    struct event *later;
    struct bufferevent *bev;
    int step;
    char label[32];
};

static void on_direct(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    say("direct", arg);
}

static void on_direct_read(struct bufferevent *bev, void *arg)
{
    evbuffer_drain(bufferevent_get_input(bev), 1);
    say("read", arg);
}

#define SIBLING_CALLS __attribute__((noinline, optimize("O2", "optimize-sibling-calls")))

static SIBLING_CALLS void schedule_once(struct direct *d)
{
    event_base_once(d->base, -1, EV_TIMEOUT, on_direct, d->label, &ms1);
}

static SIBLING_CALLS void schedule_add(struct direct *d) { event_add(d->later, &ms1); }

static SIBLING_CALLS void schedule_read(struct direct *d)
{
    bufferevent_setcb(d->bev, on_direct_read, NULL, NULL, d->label);
}

static SIBLING_CALLS void on_buffer(struct evbuffer *buffer, const struct evbuffer_cb_info *info,
                                    void *arg)
{
    (void)buffer, (void)info;
    struct direct *d = arg;
    ctxvar_set(request_id, d->label, NULL);
    if (d->step == 0) schedule_once(d);
    else if (d->step == 1) schedule_add(d);
    else schedule_read(d);
}

static int direct(void)
{
    struct event_base *base = event_init(); /* the current base, as bufferevent_new wants */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    struct direct d[3];
    struct evbuffer *buffer = evbuffer_new();
    for (int i = 0; i < 3; i++) {
        d[i] = (struct direct){base, NULL, NULL, i, ""};
        snprintf(d[i].label, sizeof d[i].label, "entered%d", i);
    }
    /* Registered outside any request: the add must take entered1. */
    d[1].later = event_new(base, -1, 0, on_direct, d[1].label);
    d[2].bev = bufferevent_socket_new(base, sv[0], 0);
    bufferevent_enable(d[2].bev, EV_READ);
    for (int i = 0; i < 3; i++) {
        struct evbuffer_cb_entry *entry = evbuffer_add_cb(buffer, on_buffer, &d[i]);
        evbuffer_add(buffer, "x", 1); /* calls on_buffer at once */
        evbuffer_remove_cb_entry(buffer, entry);
        ctxvar_set(request_id, NULL, NULL);
    }
    /* libevent's legacy constructor sets the program's callbacks itself. */
    ctxvar_token token;
    set_request("legacy", &token);
    struct bufferevent *old = bufferevent_new(sv[1], on_direct_read, NULL, NULL, "legacy");
    ctxvar_reset(&token);
    bufferevent_enable(old, EV_READ);
    if (write(sv[0], "y", 1) != 1 || write(sv[1], "z", 1) != 1) return 1;
    event_base_loopexit(base, &ms50);
    event_base_dispatch(base);
    bufferevent_free(old);
    bufferevent_free(d[2].bev);
    event_free(d[1].later);
    evbuffer_free(buffer);
    close(sv[1]);
    event_base_free(base);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    request_id = ctxvar_named("request_id");
    if (argc >= 4 && strcmp(argv[1], "requests") == 0) return requests(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 2 && strcmp(argv[1], "when") == 0) return when();
    if (argc >= 2 && strcmp(argv[1], "buffers") == 0) return buffers();
    if (argc >= 2 && strcmp(argv[1], "getters") == 0) return getters();
    if (argc >= 2 && strcmp(argv[1], "frees") == 0) return frees();
    if (argc >= 2 && strcmp(argv[1], "dropped") == 0) return dropped();
    if (argc >= 2 && strcmp(argv[1], "refused") == 0) return refused();
    if (argc >= 2 && strcmp(argv[1], "direct") == 0) return direct();
    fprintf(stderr, "usage: loops_event requests THREADS N | when | buffers | getters | frees | "
                    "dropped | refused | direct\n");
    return 2;
}
