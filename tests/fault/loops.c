/* loops - the event-loop records (shim/libuv*.c, shim/libevent*.c,
 * lib/keyed.c) when the runtime cannot allocate, and when it can.
 *
 *     LD_PRELOAD=build/fault/libctxvar.so build/reliability/loops_fault all
 *     LD_PRELOAD=build/libctxvar.so build/reliability/loops_fault plain
 *
 * "all": for each scenario and n = 1, 2, ... the nth allocation the runtime
 * makes while the callback is registered is failed; then the loop runs.
 * Whatever failed, the program's callback runs exactly once, with its own
 * argument, in its request's context or (when the record could not be
 * made) in none, never another's; errno is unchanged by the registering
 * call; and once the scenario has cleaned up, live_contexts is back to its
 * value before the step.  When the nth allocation is not reached the
 * callback must see its request, and the scenario is done.  Output:
 *     loops: N faults injected in 7 scenarios, every one handled
 * "plain": each scenario once with no fault (for valgrind, ASan, TSan):
 *     loops: 7 scenarios, every callback in its request
 * Mishandled steps are described on stderr; the exit status is then 1.
 *
 * Built with libuv and libevent (pkg-config) and the ctxvar header; the
 * test hooks are found with dlsym. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <uv.h>

#include "ctxvar.h"

#define SENTINEL_ERRNO EDOM
#define MAX_STEPS 1000UL

static void (*fail_allocation)(unsigned long nth);
static unsigned long (*allocations)(void);
static const char *scenario;
static unsigned long step, mishandled;
static int armed_mode;

static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s, failing allocation %lu: ", scenario, step);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    mishandled++;
}

#define CHECK(cond, ...) do { if (!(cond)) complain(__VA_ARGS__); } while (0)

static void arm(void)
{
    errno = SENTINEL_ERRNO;
    if (armed_mode) fail_allocation(step);
}

/* 1 when the step's allocation was reached (so it failed). */
static int disarm(void)
{
    CHECK(errno == SENTINEL_ERRNO, "errno changed to %d by the registering call", errno);
    if (!armed_mode) return 0;
    unsigned long made = allocations();
    fail_allocation(0);
    return made >= step;
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : ~0ULL;
}

/* What the callbacks saw: how many ran, and the context of each. */
static int calls;
static char seen[4][128];

static void record(const void *arg, const void *expected_arg)
{
    CHECK(arg == expected_arg, "the callback got another argument");
    if (calls < 4) ctxvar_format(seen[calls], sizeof seen[0]);
    calls++;
}

static const char marker[] = "arg";

/* After the loop: `expected` calls, each in the request or (only when the
 * fault was reached) in none. */
static void check_calls(int expected, int reached)
{
    CHECK(calls == expected, "%d callbacks ran, expected %d", calls, expected);
    for (int i = 0; i < calls && i < 4; i++) {
        int right = strcmp(seen[i], "request_id=q") == 0;
        int none = seen[i][0] == 0;
        CHECK(right || (reached && none), "callback %d saw \"%s\"", i, seen[i]);
    }
}

/* ---- Scenarios: one step each; return 1 when the fault was reached ------------- */

static void on_work(uv_work_t *req) { record(req->data, marker); }
static void on_after(uv_work_t *req, int status) { (void)status; record(req->data, marker); }

static int uv_work(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_work_t req = {.data = (void *)marker};
    arm();
    uv_queue_work(&loop, &req, on_work, on_after);
    int reached = disarm();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    check_calls(2, reached);
    return reached;
}

static void on_timer(uv_timer_t *t) { record(t->data, marker); }
static void on_closed(uv_handle_t *h) { record(h->data, marker); }

static int uv_timer(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = (void *)marker;
    arm();
    uv_timer_start(&timer, on_timer, 0, 0);
    int reached = disarm();
    uv_run(&loop, UV_RUN_DEFAULT);
    arm();
    uv_close((uv_handle_t *)&timer, on_closed);
    reached |= disarm();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    check_calls(2, reached);
    return reached;
}

static void on_fs(uv_fs_t *req)
{
    record(req->data, marker);
    uv_fs_req_cleanup(req);
}

static int uv_fs(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_fs_t req = {.data = (void *)marker};
    arm();
    uv_fs_stat(&loop, &req, "/", on_fs);
    int reached = disarm();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    check_calls(1, reached);
    return reached;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    record(arg, marker);
}

static const struct timeval now = {0, 0};

static int ev_timer(void)
{
    struct event_base *base = event_base_new();
    arm();
    struct event *ev = evtimer_new(base, on_event, (void *)marker);
    evtimer_add(ev, &now);
    int reached = disarm();
    event_base_dispatch(base);
    event_free(ev);
    event_base_free(base);
    check_calls(1, reached);
    return reached;
}

static int ev_once(void)
{
    struct event_base *base = event_base_new();
    arm();
    event_base_once(base, -1, EV_TIMEOUT, on_event, (void *)marker, &now);
    int reached = disarm();
    event_base_dispatch(base);
    event_base_free(base);
    check_calls(1, reached);
    return reached;
}

static int ev_assign(void)
{
    struct event_base *base = event_base_new();
    struct event *ev = malloc(sizeof *ev);
    arm();
    event_assign(ev, base, -1, 0, on_event, (void *)marker);
    event_add(ev, &now);
    int reached = disarm();
    event_base_dispatch(base);
    event_debug_unassign(ev);
    free(ev);
    event_base_free(base);
    check_calls(1, reached);
    return reached;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    char data[16];
    bufferevent_read(bev, data, sizeof data);
    record(arg, marker);
    bufferevent_free(bev);
}

static int bev(void)
{
    struct event_base *base = event_base_new();
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct bufferevent *b = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    arm();
    bufferevent_setcb(b, on_read, NULL, NULL, (void *)marker);
    int reached = disarm();
    bufferevent_enable(b, EV_READ);
    if (write(sv[1], "x", 1) != 1) complain("write failed");
    event_base_dispatch(base);
    close(sv[1]);
    event_base_free(base);
    check_calls(1, reached);
    return reached;
}

static const struct {
    const char *name;
    int (*step)(void);
} scenarios[] = {
    {"uv_timer_start+uv_close", uv_timer}, {"uv_queue_work", uv_work},
    {"uv_fs_stat", uv_fs},      {"event_new+event_add", ev_timer},
    {"event_base_once", ev_once}, {"event_assign", ev_assign},
    {"bufferevent_setcb", bev},
};

/* One step: the request's context around the registration, then cleared;
 * live_contexts back afterwards. */
static int run_step(int (*fn)(void))
{
    unsigned long long before = live();
    calls = 0;
    memset(seen, 0, sizeof seen);
    ctxvar_token token;
    ctxvar_set(ctxvar_named("request_id"), "q", &token);
    int reached = fn();
    ctxvar_reset(&token);
    unsigned long long after = live();
    CHECK(after == before, "live_contexts %llu after, %llu before", after, before);
    return reached;
}

static void nothing(uv_work_t *req) { (void)req; }

/* libuv starts its pool threads at the first uv_queue_work, and they
 * inherit that caller's context, which the idle ones keep (a worker drops
 * it when it first runs a job): started here, from an empty context, so
 * that the first step's live_contexts counts only what the step holds. */
static void start_libuv_pool(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_work_t req;
    uv_queue_work(&loop, &req, nothing, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "all") != 0 && strcmp(argv[1], "plain") != 0)) {
        fprintf(stderr, "usage: loops_fault all|plain\n");
        return 2;
    }
    size_t count = sizeof scenarios / sizeof scenarios[0];
    start_libuv_pool();
    if (strcmp(argv[1], "plain") == 0) {
        for (size_t i = 0; i < count; i++) {
            scenario = scenarios[i].name;
            run_step(scenarios[i].step);
        }
        if (mishandled) return 1;
        printf("loops: %zu scenarios, every callback in its request\n", count);
        return 0;
    }
    fail_allocation = (void (*)(unsigned long))dlsym(RTLD_DEFAULT, "ctxvar_test_fail_allocation");
    allocations = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ctxvar_test_allocations");
    if (!fail_allocation || !allocations) {
        fprintf(stderr, "loops_fault: preload build/fault/libctxvar.so (the fault-injection build)\n");
        return 2;
    }
    armed_mode = 1;
    unsigned long injected = 0;
    for (size_t i = 0; i < count; i++) {
        scenario = scenarios[i].name;
        for (step = 1; step < MAX_STEPS; step++) {
            if (!run_step(scenarios[i].step)) break;
            injected++;
        }
        if (step == MAX_STEPS) complain("never finished");
    }
    if (mishandled) return 1;
    printf("loops: %lu faults injected in %zu scenarios, every one handled\n", injected, count);
    return 0;
}
