/* driver - walks every allocation the runtime makes in a scenario and fails
 * it, one at a time.  Run with the fault-injection build preloaded:
 *
 *     LD_PRELOAD=build/fault/libctxvar.so build/reliability/fault_driver SCENARIO|all
 *
 * For n = 1, 2, ... it arms the failure of the runtime's nth allocation from
 * now, runs the scenario once, disarms, and checks the outcome: when the nth
 * allocation was reached the call gave its documented error (ENOMEM, NULL, a
 * thread that starts empty and is counted in inherit_failures) and changed
 * nothing; when it was not reached the call succeeded, and the scenario is
 * done.  Every step also checks that errno is unchanged and that
 * live_contexts is back to its value before the step once the scenario has
 * cleaned up.
 *
 * Output, one line per scenario, then (for "all") a total:
 *     set: 3 faults injected, every one handled
 *     total: 1234 faults injected in 15 scenarios, every one handled
 * Each mishandled fault is described on stderr; the exit status is then 1.
 *
 * "seed" is not a scenario here: BAGGAGE is read before main, so
 * bats/reliability_faults.bats arms it from a preloaded constructor
 * (tests/fault/arm_at_load.c) and runs "driver seed-report" once per n.
 *
 * Built against nothing: the header alone, -pthread; the test hooks are found
 * with dlsym so that the program also runs (and says so) without them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include "ctxvar.h"

#define SENTINEL_ERRNO EDOM
#define MAX_STEPS 100000UL
#define SETUP_VARS 40

static void (*fail_allocation)(unsigned long nth);
static unsigned long (*allocations)(void);

static const char *scenario;
static unsigned long step;      /* the n of the allocation failed this step */
static unsigned long mishandled;

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

static void arm(void) { fail_allocation(step); }

/* Disarms; returns 1 when the step's allocation was reached (so it failed). */
static int disarm(void)
{
    unsigned long made = allocations();
    fail_allocation(0);
    return made >= step;
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : ~0ULL;
}

static struct ctxvar_stats stats(void)
{
    struct ctxvar_stats s;
    memset(&s, 0, sizeof s);
    ctxvar_stats(&s);
    return s;
}

/* The current context as logfmt, in one of a few rotating static buffers. */
static const char *text(void)
{
    static char buffers[4][1 << 16];
    static unsigned next;
    char *buf = buffers[next++ % 4];
    ctxvar_format(buf, sizeof buffers[0]);
    return buf;
}

static char *copy(const char *s) { return strdup(s); }

static void clear(void) { ctxvar_release(ctxvar_swap(NULL)); }

static ctxvar *var(const char *fmt, int i)
{
    char name[CTXVAR_NAME_MAX + 1];
    snprintf(name, sizeof name, fmt, i);
    return ctxvar_named(name);
}

/* SETUP_VARS variables k00..k39 = v0..v39, so that the map has some depth. */
static void setup_context(void)
{
    char value[32];
    for (int i = 0; i < SETUP_VARS; i++) {
        snprintf(value, sizeof value, "v%d", i);
        ctxvar_set(var("k%02d", i), value, NULL);
    }
}

/* ---- Scenarios: each runs one step, returns 1 when the fault was reached -- */

/* One set of v to value under the armed fault: ENOMEM and the context as
 * before when the fault was reached, the value set otherwise. */
static int set_step(ctxvar *v, const char *value)
{
    setup_context();
    char *before = copy(text());
    arm();
    errno = SENTINEL_ERRNO;
    int r = ctxvar_set(v, value, NULL);
    int e = errno, reached = disarm();
    if (reached) {
        CHECK(r == ENOMEM, "set returned %d, expected ENOMEM", r);
        CHECK(strcmp(text(), before) == 0, "context changed by a failed set");
    } else {
        CHECK(r == 0, "set returned %d without a fault", r);
        CHECK(strcmp(ctxvar_get(v, "?"), value) == 0, "value not set");
    }
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(before);
    return reached;
}

static int step_set(void) { return set_step(ctxvar_named("zz"), "new"); }
static int step_set_replace(void) { return set_step(var("k%02d", 17), "replaced"); }

static int step_set_token(void)
{
    setup_context();
    char *before = copy(text());
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    arm();
    errno = SENTINEL_ERRNO;
    int r = ctxvar_set(ctxvar_named("zz"), "new", &tok);
    int e = errno, reached = disarm();
    if (reached) {
        CHECK(r == ENOMEM, "set returned %d, expected ENOMEM", r);
        CHECK(strcmp(text(), before) == 0, "context changed by a failed set");
        int rr = ctxvar_reset(&tok);
        CHECK(rr == EINVAL, "reset of the token of a failed set returned %d, expected EINVAL "
              "(never filled)", rr);
    } else {
        CHECK(r == 0, "set returned %d without a fault", r);
        int rr = ctxvar_reset(&tok);
        CHECK(rr == 0, "reset returned %d", rr);
        CHECK(strcmp(text(), before) == 0, "reset did not restore the context");
    }
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(before);
    return reached;
}

static int step_unset(void)
{
    setup_context();
    char *before = copy(text());
    arm();
    errno = SENTINEL_ERRNO;
    int r = ctxvar_set(var("k%02d", 23), NULL, NULL);
    int e = errno, reached = disarm();
    if (reached) {
        CHECK(r == ENOMEM, "unset returned %d, expected ENOMEM", r);
        CHECK(strcmp(text(), before) == 0, "context changed by a failed unset");
    } else {
        CHECK(r == 0, "unset returned %d without a fault", r);
        CHECK(ctxvar_get(var("k%02d", 23), NULL) == NULL, "variable still set");
    }
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(before);
    return reached;
}

/* reset on the slow path: another variable changed since the set.  `was`
 * is the target's value before the set (NULL: it was unset). */
static int reset_step(const char *was)
{
    setup_context();
    ctxvar *target = was ? var("k%02d", 5) : ctxvar_named("fresh");
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    ctxvar_set(target, "during", &tok);
    ctxvar_set(var("k%02d", 31), "changed", NULL);
    char *before = copy(text());
    arm();
    errno = SENTINEL_ERRNO;
    int r = ctxvar_reset(&tok);
    int e = errno, reached = disarm();
    if (reached) {
        CHECK(r == ENOMEM, "reset returned %d, expected ENOMEM", r);
        CHECK(strcmp(text(), before) == 0, "context changed by a failed reset");
        r = ctxvar_reset(&tok);
        CHECK(r == 0, "retrying the reset after ENOMEM returned %d", r);
    } else {
        CHECK(r == 0, "reset returned %d without a fault", r);
    }
    const char *now = ctxvar_get(target, NULL);
    CHECK(was ? now && strcmp(now, was) == 0 : now == NULL, "reset restored %s", now ? now : "(unset)");
    CHECK(strcmp(ctxvar_get(var("k%02d", 31), "?"), "changed") == 0, "reset touched another variable");
    r = ctxvar_reset(&tok);
    CHECK(r == EALREADY, "a second reset returned %d, expected EALREADY", r);
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(before);
    return reached;
}

static int step_reset(void) { return reset_step("v5"); }
static int step_reset_unset(void) { return reset_step(NULL); }

static int step_capture(void)
{
    setup_context();
    char *before = copy(text());
    arm();
    errno = SENTINEL_ERRNO;
    ctxvar_ctx *c = ctxvar_capture();
    int e = errno, reached = disarm();
    CHECK(c != NULL && ctxvar_ctx_count(c) == SETUP_VARS, "capture returned a wrong snapshot");
    CHECK(strcmp(ctxvar_ctx_get(c, var("k%02d", 9), "?"), "v9") == 0, "snapshot has a wrong value");
    CHECK(strcmp(text(), before) == 0, "capture changed the context");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    ctxvar_release(c);
    free(before);
    return reached;
}

static int step_swap(void)
{
    setup_context();
    ctxvar_ctx *c = ctxvar_capture();
    char *in_c = copy(text());
    ctxvar_set(ctxvar_named("zz"), "other", NULL);
    char *before = copy(text());
    arm();
    errno = SENTINEL_ERRNO;
    ctxvar_ctx *previous = ctxvar_swap(c);
    int e = errno, reached = disarm();
    CHECK(strcmp(text(), in_c) == 0, "swap did not install the snapshot");
    CHECK(ctxvar_ctx_count(previous) == SETUP_VARS + 1, "swap returned a wrong context");
    ctxvar_release(ctxvar_swap(previous));
    CHECK(strcmp(text(), before) == 0, "swapping back did not restore the context");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(in_c);
    free(before);
    return reached;
}

struct inside {
    char seen[1 << 12];
    int set_result;
    char after_set[1 << 12];
};

static void *inside_run(void *p)
{
    struct inside *in = p;
    snprintf(in->seen, sizeof in->seen, "%s", text());
    in->set_result = ctxvar_set(ctxvar_named("inner"), "1", NULL);
    snprintf(in->after_set, sizeof in->after_set, "%s", text());
    return in;
}

static int step_run(void)
{
    setup_context();
    ctxvar_ctx *c = ctxvar_capture();
    char *in_c = copy(text());
    ctxvar_set(ctxvar_named("zz"), "outer", NULL);
    char *before = copy(text());
    static struct inside in;
    memset(&in, 0, sizeof in);
    arm();
    errno = SENTINEL_ERRNO;
    void *r = ctxvar_run(c, inside_run, &in);
    int e = errno, reached = disarm();
    CHECK(r == &in, "run returned a wrong result");
    CHECK(strcmp(in.seen, in_c) == 0, "fn did not run in the snapshot");
    if (in.set_result == 0) {
        CHECK(strstr(in.after_set, "inner=1") != NULL, "set inside run not visible");
    } else {
        CHECK(in.set_result == ENOMEM && reached, "set inside run returned %d", in.set_result);
        CHECK(strcmp(in.after_set, in_c) == 0, "failed set inside run changed the context");
    }
    CHECK(strcmp(text(), before) == 0, "run did not restore the caller's context");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    ctxvar_release(c);
    free(in_c);
    free(before);
    return reached;
}

struct task_seen {
    int runs;
    char seen[1 << 12];
};

static void record_task(void *p)
{
    struct task_seen *s = p;
    s->runs++;
    snprintf(s->seen, sizeof s->seen, "%s", text());
}

static void *record_task_ret(void *p)
{
    record_task(p);
    return p;
}

static int wrap_step(int with_result)
{
    setup_context();
    char *at_wrap = copy(text());
    static struct task_seen seen;
    memset(&seen, 0, sizeof seen);
    arm();
    errno = SENTINEL_ERRNO;
    ctxvar_task *t = with_result ? ctxvar_wrap_ret(record_task_ret, &seen)
                                 : ctxvar_wrap(record_task, &seen);
    int e = errno, reached = disarm();
    CHECK(strcmp(text(), at_wrap) == 0, "wrap changed the context");
    if (reached) {
        CHECK(t == NULL, "wrap returned a task although its allocation failed");
    } else {
        CHECK(t != NULL, "wrap returned NULL without a fault");
    }
    if (t) {
        ctxvar_set(ctxvar_named("zz"), "runner", NULL);
        char *runner = copy(text());
        if (with_result)
            CHECK(ctxvar_task_call(t) == &seen, "task_call returned a wrong result");
        else
            ctxvar_task_run(t);
        CHECK(seen.runs == 1, "the task ran %d times", seen.runs);
        CHECK(strcmp(seen.seen, at_wrap) == 0, "the task did not run in the wrapped context");
        CHECK(strcmp(text(), runner) == 0, "running the task changed the runner's context");
        free(runner);
    }
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(at_wrap);
    return reached;
}

static int step_wrap(void) { return wrap_step(0); }
static int step_wrap_ret(void) { return wrap_step(1); }

/* task_run on a worker that inherited a context and set a variable of its
 * own: running the task forgets the inherited part (the stale-context rule),
 * which allocates.  The task must run in its own context whatever fails, and
 * the worker must never be left showing what it inherited. */
struct worker {
    ctxvar_task *task;
    struct task_seen *seen;
    char at_task[1 << 12];
    int reached;
    char after[1 << 12];
};

static void *task_worker(void *p)
{
    struct worker *w = p;
    ctxvar_set(ctxvar_named("own"), "1", NULL);
    arm();
    ctxvar_task_run(w->task);
    w->reached = disarm();
    snprintf(w->after, sizeof w->after, "%s", text());
    return NULL;
}

static int step_task_run(void)
{
    static struct task_seen seen;
    static struct worker w;
    memset(&seen, 0, sizeof seen);
    memset(&w, 0, sizeof w);
    ctxvar_set(ctxvar_named("task"), "T", NULL);
    w.task = ctxvar_wrap(record_task, &seen);
    w.seen = &seen;
    snprintf(w.at_task, sizeof w.at_task, "%s", text());
    clear();
    setup_context(); /* what the worker inherits */
    pthread_t thread;
    if (pthread_create(&thread, NULL, task_worker, &w) != 0) {
        complain("pthread_create failed");
        ctxvar_task_free(w.task);
        return 0;
    }
    pthread_join(thread, NULL);
    CHECK(seen.runs == 1, "the task ran %d times", seen.runs);
    CHECK(strcmp(seen.seen, w.at_task) == 0, "the task ran in \"%s\"", seen.seen);
    if (w.reached)
        CHECK(strcmp(w.after, "own=1") == 0 || strcmp(w.after, "") == 0,
              "after the task the worker shows \"%.60s...\", expected own=1 or nothing", w.after);
    else
        CHECK(strcmp(w.after, "own=1") == 0, "after the task the worker shows \"%.60s...\"", w.after);
    return w.reached;
}

struct child_view {
    char seen[1 << 12];
};

static void *child_posix(void *p)
{
    struct child_view *v = p;
    snprintf(v->seen, sizeof v->seen, "%s", text());
    return NULL;
}

static int child_c11(void *p)
{
    child_posix(p);
    return 7;
}

static int create_step(int c11)
{
    setup_context();
    char *parent = copy(text());
    static struct child_view view;
    memset(&view, 0, sizeof view);
    struct ctxvar_stats s0 = stats();
    int r, reached, e;
    if (c11) {
        thrd_t t;
        arm();
        errno = SENTINEL_ERRNO;
        r = thrd_create(&t, child_c11, &view);
        e = errno;
        int res = -1;
        if (r == thrd_success) thrd_join(t, &res);
        reached = disarm();
        CHECK(r == thrd_success, "thrd_create returned %d", r);
        CHECK(r != thrd_success || res == 7, "the thread's result is %d", res);
    } else {
        pthread_t t;
        arm();
        errno = SENTINEL_ERRNO;
        r = pthread_create(&t, NULL, child_posix, &view);
        e = errno;
        if (r == 0) pthread_join(t, NULL);
        reached = disarm();
        CHECK(r == 0, "pthread_create returned %d", r);
    }
    struct ctxvar_stats s1 = stats();
    if (strcmp(view.seen, parent) == 0) {
        CHECK(s1.threads_inherited == s0.threads_inherited + 1, "threads_inherited not counted");
        CHECK(s1.inherit_failures == s0.inherit_failures, "inherit_failures counted a success");
    } else {
        CHECK(reached, "the thread did not inherit without a fault");
        CHECK(view.seen[0] == '\0', "the thread started with \"%.60s\", expected empty", view.seen);
        CHECK(s1.inherit_failures == s0.inherit_failures + 1,
              "inherit_failures went from %llu to %llu, expected +1", s0.inherit_failures,
              s1.inherit_failures);
    }
    CHECK(strcmp(text(), parent) == 0, "the creator's context changed");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(parent);
    return reached;
}

static int step_pthread_create(void) { return create_step(0); }
static int step_thrd_create(void) { return create_step(1); }

/* Sets v000..v099 one after the other; stops at the first failure. */
static int step_build100(void)
{
    char expected[1 << 14] = "", value[32];
    int r = 0, i;
    arm();
    for (i = 0; i < 100; i++) {
        snprintf(value, sizeof value, "value%d", i);
        errno = SENTINEL_ERRNO;
        r = ctxvar_set(var("v%03d", i), value, NULL);
        if (errno != SENTINEL_ERRNO) complain("set %d changed errno to %d", i, errno);
        if (r != 0) break;
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%sv%03d=%s",
                 i ? " " : "", i, value);
    }
    int reached = disarm();
    if (reached)
        CHECK(r == ENOMEM, "set %d returned %d, expected ENOMEM", i, r);
    else
        CHECK(r == 0 && i == 100, "set %d returned %d without a fault", i, r);
    CHECK(strcmp(text(), expected) == 0, "the context holds something else than the sets that succeeded");
    return reached;
}

static int step_format100(void)
{
    char value[32];
    for (int i = 0; i < 100; i++) {
        snprintf(value, sizeof value, "value %d", i); /* quoted */
        ctxvar_set(var("v%03d", 99 - i), value, NULL);
    }
    static char expected[1 << 14], got[1 << 14];
    int len = ctxvar_format(expected, sizeof expected);
    arm();
    errno = SENTINEL_ERRNO;
    int sized = ctxvar_format(NULL, 0);
    int wrote = ctxvar_format(got, sizeof got);
    int e = errno, reached = disarm();
    CHECK(sized == len && wrote == len, "format returned %d and %d, expected %d", sized, wrote, len);
    CHECK(strcmp(got, expected) == 0, "format wrote a different text under a fault");
    CHECK(strncmp(expected, "v000=\"value 99\" v001=\"value 98\"", 31) == 0, "format is not sorted");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    return reached;
}

static int step_named(void)
{
    char name[64];
    snprintf(name, sizeof name, "fault_named_%lu", step);
    arm();
    errno = SENTINEL_ERRNO;
    ctxvar *v = ctxvar_named(name);
    int e = errno, reached = disarm();
    if (reached)
        CHECK(v == NULL, "named returned a variable although its allocation failed");
    else
        CHECK(v != NULL, "named returned NULL without a fault");
    ctxvar *again = ctxvar_named(name);
    CHECK(again != NULL && (!v || v == again), "named is not stable after a fault");
    CHECK(again && strcmp(ctxvar_name(again), name) == 0, "wrong name");
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    return reached;
}

/* ctxvar_accept_headers: ENOMEM and the context as before when the fault
 * was reached; else the request's trace and members, and its token's
 * reset brings the context before back. */
static int step_accept_headers(void)
{
    setup_context();
    char *before = copy(text());
    ctxvar_token tok;
    arm();
    errno = SENTINEL_ERRNO;
    int r = ctxvar_accept_headers("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                  "vendor=x", "b1=x,b2=y", &tok);
    int e = errno, reached = disarm();
    if (reached) {
        CHECK(r == ENOMEM, "accept_headers returned %d, expected ENOMEM", r);
        CHECK(strcmp(text(), before) == 0, "context changed by a failed accept_headers");
    } else {
        CHECK(r == 0, "accept_headers returned %d without a fault", r);
        CHECK(strcmp(ctxvar_get(ctxvar_named("b2"), "?"), "y") == 0 &&
                  strcmp(ctxvar_get(ctxvar_named("tracestate"), "?"), "vendor=x") == 0,
              "the headers were not accepted");
        CHECK(ctxvar_reset(&tok) == 0 && strcmp(text(), before) == 0,
              "reset did not bring the context before back");
    }
    CHECK(e == SENTINEL_ERRNO, "errno changed to %d", e);
    free(before);
    return reached;
}

/* Every variable the scenarios use exists before any step is armed, so that
 * a failed allocation is always the operation's own, never the interning. */
static void intern_names(void)
{
    static const char *const names[] = {"zz", "inner", "fresh", "own", "task", "traceparent",
                                        "tracestate", "b1", "b2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) ctxvar_named(names[i]);
    for (int i = 0; i < SETUP_VARS; i++) var("k%02d", i);
    for (int i = 0; i < 100; i++) var("v%03d", i);
}

/* ---- Driver ------------------------------------------------------------- */

struct scenario {
    const char *name;
    int (*step)(void);
    int must_allocate;  /* a scenario that reaches no allocation tests nothing */
};

static const struct scenario scenarios[] = {
    {"set", step_set, 1},
    {"set-replace", step_set_replace, 1},
    {"set-token", step_set_token, 1},
    {"unset", step_unset, 1},
    {"reset", step_reset, 1},
    {"reset-to-unset", step_reset_unset, 1},
    {"capture", step_capture, 0},
    {"swap", step_swap, 0},
    {"run", step_run, 1},
    {"wrap", step_wrap, 1},
    {"wrap-ret", step_wrap_ret, 1},
    {"task-run", step_task_run, 1},
    {"pthread-create", step_pthread_create, 1},
    {"thrd-create", step_thrd_create, 1},
    {"build-100", step_build100, 1},
    {"format-100", step_format100, 1},
    {"named", step_named, 1},
    {"accept-headers", step_accept_headers, 1},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* Runs one scenario for n = 1, 2, ... until the nth allocation is not
 * reached; returns the number of faults injected. */
static unsigned long walk(const struct scenario *s)
{
    unsigned long injected = 0, before = mishandled;
    scenario = s->name;
    clear();
    for (step = 1; step <= MAX_STEPS; step++) {
        unsigned long long base = live();
        int reached = s->step();
        clear();
        unsigned long long after = live();
        CHECK(after == base, "live_contexts is %llu after cleanup, expected %llu", after, base);
        if (!reached) break;
        injected++;
    }
    if (step > MAX_STEPS) complain("still allocating after %lu steps", MAX_STEPS);
    if (s->must_allocate && injected == 0) complain("made no allocation: the scenario tests nothing");
    if (mishandled == before)
        printf("%s: %lu faults injected, every one handled\n", s->name, injected);
    else
        printf("%s: %lu faults injected, %lu mishandled\n", s->name, injected, mishandled - before);
    fflush(stdout);
    return injected;
}

/* After a preloaded constructor failed the nth allocation of start-up (see
 * arm_at_load.c): prints what seeding made of BAGGAGE. */
static int seed_report(void)
{
    unsigned long made = allocations();
    fail_allocation(0);
    struct ctxvar_stats s = stats();
    printf("allocations: %lu\n", made);
    printf("main: %s\n", text());
    clear();
    printf("live after clearing: %llu\n", live());
    printf("inherit_failures: %llu\n", s.inherit_failures);
    return 0;
}

int main(int argc, char **argv)
{
    fail_allocation = (void (*)(unsigned long))dlsym(RTLD_DEFAULT, "ctxvar_test_fail_allocation");
    allocations = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ctxvar_test_allocations");
    if (!fail_allocation || !allocations || !ctxvar_runtime_present()) {
        fprintf(stderr, "fault_driver: preload build/fault/libctxvar.so (the fault-injection build)\n");
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: fault_driver SCENARIO|all|list|seed-report\n");
        return 2;
    }
    if (strcmp(argv[1], "seed-report") == 0) return seed_report();
    intern_names();
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < N_SCENARIOS; i++) puts(scenarios[i].name);
        return 0;
    }
    unsigned long total = 0;
    size_t ran = 0;
    for (size_t i = 0; i < N_SCENARIOS; i++) {
        if (strcmp(argv[1], "all") != 0 && strcmp(argv[1], scenarios[i].name) != 0) continue;
        total += walk(&scenarios[i]);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "fault_driver: no scenario called %s\n", argv[1]);
        return 2;
    }
    if (ran > 1)
        printf("total: %lu faults injected in %zu scenarios, %s\n", total, ran,
               mishandled ? "some mishandled" : "every one handled");
    return mishandled ? 1 : 0;
}
