/* loops.c - what the event-loop interposers add per callback: a program
 * built with Debian's libuv and libevent, run by bench/run.py with and
 * without the runtime preloaded (the same binary), each sample the mean
 * cost of one callback over `count` of them.
 *
 *     loops uvtimer COUNT ROUNDS   a libuv timer restarted from its own
 *                                  callback (uv_timer_start, timeout 0): a
 *                                  start and an empty callback each
 *     loops uvtimers COUNT ROUNDS  a loop running COUNT timers, each
 *                                  initialised and started (0 ms) once,
 *                                  its empty callback run, then closed: a
 *                                  server's many timeouts, each timer
 *                                  handle's whole life
 *     loops uvwork COUNT ROUNDS    uv_queue_work jobs, 64 in flight: the
 *                                  submit, the empty job on a pool thread,
 *                                  the empty after-work callback
 *     loops uvwork1 COUNT ROUNDS   the same with the whole process on one
 *                                  CPU: on two, where the loop thread and
 *                                  four pool threads sleep and wake each
 *                                  other, how the scheduler happens to
 *                                  interleave them moves a job's time by
 *                                  hundreds of nanoseconds from run to run;
 *                                  on one, a job costs what its threads
 *                                  execute, switches included
 *     loops uvwork1 COUNT ROUNDS SPIN   the same with a busy loop of SPIN
 *                                  iterations in both of the program's
 *                                  callbacks, no runtime needed: how the
 *                                  wall time of a job answers a little
 *                                  more work on its threads
 *     loops spin COUNT ROUNDS SPIN  what that busy loop costs, called
 *                                  COUNT times on one thread
 *     loops evtimer COUNT ROUNDS   a libevent timer re-added from its own
 *                                  callback (event_add, timeout 0): an add
 *                                  and an empty callback each
 *
 * Prints "sample <mode>.<plain|runtime> <round> <ns per callback>".  The
 * callbacks are registered inside a 10-variable context, as a request's
 * would be. */
#include <sched.h> /* sched_setaffinity: the build defines _GNU_SOURCE */
#include <string.h>
#include <event2/event.h>
#include <uv.h>

#include "bench.h"

static long remaining;

static void timer_again(uv_timer_t *timer)
{
    if (--remaining > 0) uv_timer_start(timer, timer_again, 0, 0);
}

static double uvtimer(long count)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    remaining = count;
    uint64_t t0 = bench_now_ns();
    uv_timer_start(&timer, timer_again, 0, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return (double)(t1 - t0) / (double)count;
}

static void timer_fired(uv_timer_t *timer) { BENCH_OPAQUE(timer); }

static double uvtimers(long count)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t *timers = malloc((size_t)count * sizeof *timers);
    if (!timers) bench_die("out of memory");
    /* Memory a server reuses: already mapped (the kernel's page faults,
     * about a tenth of the time, are not the loop's work), and not zeroed,
     * so that every start checks what the handle's words hold. */
    memset(timers, 0xA5, (size_t)count * sizeof *timers);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count; i++) {
        uv_timer_init(&loop, &timers[i]);
        uv_timer_start(&timers[i], timer_fired, 0, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (long i = 0; i < count; i++) uv_close((uv_handle_t *)&timers[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    uv_loop_close(&loop);
    free(timers);
    return (double)(t1 - t0) / (double)count;
}

enum { IN_FLIGHT = 64 };
static long submitted;

static long spin_iterations;

static __attribute__((noinline)) void spin(void)
{
    for (volatile long i = 0; i < spin_iterations; i = i + 1) {
    }
}

static double spin_alone(long count)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count; i++) spin();
    return (double)(bench_now_ns() - t0) / (double)count;
}

static void empty_work(uv_work_t *req)
{
    BENCH_OPAQUE(req);
    spin();
}

static void after_work(uv_work_t *req, int status)
{
    (void)status;
    spin();
    if (submitted < remaining) {
        submitted++;
        uv_queue_work(req->loop, req, empty_work, after_work);
    }
}

static double uvwork(long count)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_work_t reqs[IN_FLIGHT];
    remaining = count;
    submitted = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < IN_FLIGHT && submitted < remaining; i++, submitted++)
        uv_queue_work(&loop, &reqs[i], empty_work, after_work);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    uv_loop_close(&loop);
    return (double)(t1 - t0) / (double)count;
}

static const struct timeval zero = {0, 0};
static struct event *ticking;

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    if (--remaining > 0) event_add(ticking, &zero);
}

static double evtimer(long count)
{
    struct event_base *base = event_base_new();
    ticking = evtimer_new(base, tick, NULL);
    remaining = count;
    uint64_t t0 = bench_now_ns();
    event_add(ticking, &zero);
    event_base_dispatch(base);
    uint64_t t1 = bench_now_ns();
    event_free(ticking);
    event_base_free(base);
    return (double)(t1 - t0) / (double)count;
}

/* The calling thread, and every thread it creates from now on, on the
 * first CPU it may run on. */
static void one_cpu(void)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) bench_die("sched_getaffinity failed");
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed)) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            if (sched_setaffinity(0, sizeof one, &one) != 0) bench_die("sched_setaffinity failed");
            return;
        }
    }
    bench_die("no CPU to run on");
}

int main(int argc, char **argv)
{
    if (argc < 4) bench_die("usage: loops uvtimer|uvtimers|uvwork|uvwork1|evtimer|spin COUNT ROUNDS [SPIN]");
    long count = atol(argv[2]);
    int rounds = atoi(argv[3]);
    double (*measure)(long) = strcmp(argv[1], "uvtimer") == 0    ? uvtimer
                              : strcmp(argv[1], "uvtimers") == 0 ? uvtimers
                              : strcmp(argv[1], "uvwork") == 0 ? uvwork
                              : strcmp(argv[1], "uvwork1") == 0 ? uvwork
                              : strcmp(argv[1], "evtimer") == 0 ? evtimer
                              : strcmp(argv[1], "spin") == 0    ? spin_alone
                                                                 : NULL;
    if (!measure || count <= 0 || rounds <= 0)
        bench_die("usage: loops uvtimer|uvtimers|uvwork|uvwork1|evtimer|spin COUNT ROUNDS [SPIN]");
    if (strcmp(argv[1], "uvwork1") == 0) one_cpu();
    if (argc > 4) spin_iterations = atol(argv[4]);
    bench_set_vars(10);
    char metric[64];
    snprintf(metric, sizeof metric, "%s.%s", argv[1], ctxvar_runtime_present() ? "runtime" : "plain");
    measure(count / 10 + 1); /* warm-up: the pool's threads, the allocator */
    for (int r = 0; r < rounds; r++) bench_sample(metric, r, measure(count));
    return 0;
}
