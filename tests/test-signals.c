/* test-signals.c - the API called from signal handlers that interrupt the
 * same thread inside the runtime.
 *
 * Two ways of interrupting:
 *
 *   every instruction  (x86-64) the trap flag single-steps the thread
 *                      through one API call: after each instruction a
 *                      SIGTRAP handler runs and calls the API, so every
 *                      interruption point of the call is tried, in a
 *                      deterministic order.
 *   at a high rate     another thread sends SIGUSR1 with pthread_kill as
 *                      fast as it can while the thread loops over calls.
 *
 * The handler checks that the readers (ctxvar_get, ctxvar_format,
 * ctxvar_ctx_get) see the interrupted thread's context exactly, before or
 * after the interrupted change; that the calls that change state either
 * work (the handler interrupted code outside a change) or refuse with
 * EBUSY, all of them alike at a given point; and, afterwards, that
 * live_contexts is back at its baseline.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <ucontext.h>
#include <unistd.h>

#include "test.h"

static ctxvar *var_a, *var_h;

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ASSERT_INT(0, ctxvar_stats(&s));
    return s.live_contexts;
}

/* The first thing a handler saw wrong, reported after the handler (a
 * handler cannot print safely). */
static char handler_error[256];
static volatile sig_atomic_t handler_failed;

static void fail_in_handler(const char *what, const char *got)
{
    if (handler_failed) return;
    handler_failed = 1;
    size_t n = 0;
    for (const char *p = what; *p && n < 120; p++) handler_error[n++] = *p;
    const char *sep = ": got ";
    for (const char *p = sep; *p; p++) handler_error[n++] = *p;
    for (const char *p = got ? got : "(null)"; *p && n < sizeof handler_error - 1; p++)
        handler_error[n++] = *p;
    handler_error[n] = '\0';
}

static int same(const char *x, const char *y)
{
    return x == y || (x && y && strcmp(x, y) == 0);
}

/* ---- What the handler does at each interruption -------------------------------- */

/* The values a's value may have while the interrupted call runs, and the
 * matching ctxvar_format texts. */
static const char *allowed_value[2], *allowed_text[2];
static unsigned long steps, refused, allowed;

/* Contexts only the test holds, for the handler to release one a step (the
 * last reference: freed later, never under the interrupted call). */
#define HELD 48
static ctxvar_ctx *held[HELD];
static unsigned held_next;
static ctxvar_ctx *kept;

static void noop_task(void *arg) { (void)arg; }

/* What the trap handler calls instead of handler_work, when set. */
static void (*handler_work_hook)(void);

static void handler_work(void)
{
    steps++;
    /* Readers: the interrupted thread's context, before or after. */
    const char *got = ctxvar_get(var_a, NULL);
    int which = same(got, allowed_value[0]) ? 0 : same(got, allowed_value[1]) ? 1 : -1;
    if (which < 0) fail_in_handler("ctxvar_get in the handler", got);
    char text[128];
    ctxvar_format(text, sizeof text);
    if (!same(text, allowed_text[0]) && !same(text, allowed_text[1]))
        fail_in_handler("ctxvar_format in the handler", text);
    ctxvar_ctx *c = ctxvar_capture();
    if (!same(ctxvar_ctx_get(c, var_a, NULL), got))
        fail_in_handler("ctxvar_ctx_get of a capture in the handler", ctxvar_ctx_get(c, var_a, NULL));
    ctxvar_release(c);
    /* Unbalanced within one handler: a snapshot kept from one interruption
     * to the next, as a handler that saves it for later would. */
    ctxvar_ctx *previous = kept;
    kept = ctxvar_capture();
    ctxvar_release(previous);
    if (held_next < HELD) ctxvar_release(held[held_next++]);

    /* Changes: all work, or all refuse. */
    ctxvar_token tok;
    int set = ctxvar_set(var_h, "in-handler", &tok);
    struct ctxvar_stats s;
    int stats = ctxvar_stats(&s);
    ctxvar_task *task = ctxvar_wrap(noop_task, NULL);
    ctxvar_ctx *swapped = ctxvar_swap(NULL);
    if (set == EBUSY) {
        refused++;
        if (stats != EBUSY) fail_in_handler("ctxvar_stats where ctxvar_set refused", "not EBUSY");
        if (task) fail_in_handler("ctxvar_wrap where ctxvar_set refused", "a task");
        if (swapped) fail_in_handler("ctxvar_swap where ctxvar_set refused", "a context");
        if (ctxvar_get(var_h, NULL)) fail_in_handler("a refused set", ctxvar_get(var_h, NULL));
        ctxvar_token bogus = {0};
        if (ctxvar_reset(&bogus) != EBUSY) fail_in_handler("ctxvar_reset refused", "not EBUSY");
        if (ctxvar_accept_headers(NULL, NULL, "h=1", NULL) != EBUSY)
            fail_in_handler("ctxvar_accept_headers where ctxvar_set refused", "not EBUSY");
    } else if (set == 0) {
        allowed++;
        /* Back to what the interrupted thread had, exactly. */
        ctxvar_release(ctxvar_swap(swapped));
        if (!same(ctxvar_get(var_h, NULL), "in-handler"))
            fail_in_handler("ctxvar_get after a set in the handler", ctxvar_get(var_h, NULL));
        if (stats != 0) fail_in_handler("ctxvar_stats where ctxvar_set worked", "an error");
        if (!task) fail_in_handler("ctxvar_wrap where ctxvar_set worked", "NULL");
        ctxvar_task_free(task);
        if (ctxvar_reset(&tok) != 0) fail_in_handler("ctxvar_reset in the handler", "an error");
    } else {
        fail_in_handler("ctxvar_set in the handler", ctxvar_strerror(set));
    }
}

static void expect_values(const char *before, const char *text_before, const char *after,
                          const char *text_after)
{
    allowed_value[0] = before;
    allowed_text[0] = text_before;
    allowed_value[1] = after;
    allowed_text[1] = text_after;
}

static void check_handler(void)
{
    if (handler_failed) test_fail(__FILE__, __LINE__, "%s", handler_error);
}

/* ---- Single-stepping (x86-64 Linux) --------------------------------------------- */

/* With act_every 0, the handler works at the act_at-th instruction stepped
 * only, after which the thread runs on unstepped: each point meets a thread
 * state no earlier handler has touched (a handler at the first instruction
 * would, say, fill the reference cache for every later point).  Each round
 * costs a trap per instruction up to the point, so long calls are stepped
 * with act_every P instead: the handler works at instructions act_at,
 * act_at + P, act_at + 2P, ... of each round, and P rounds cover every
 * point, the first P of them each alone in its round. */
static volatile long act_at, act_every, instructions;

/* Under AddressSanitizer every call is several times longer: every point
 * is still met, fewer of them alone in their round. */
#if defined(__SANITIZE_ADDRESS__)
#define EACH_ALONE 16
#define LONG_CALLS 2
#else
#define EACH_ALONE 0
#define LONG_CALLS 32
#endif

#if defined(__x86_64__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define CAN_STEP 1
#define TRAP_FLAG 0x100

static volatile sig_atomic_t stepping;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
    (void)sig, (void)si;
    ucontext_t *uc = ucv;
    if (!stepping) {
        uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
        return;
    }
    instructions++;
    if (act_every ? instructions % act_every != act_at % act_every : instructions != act_at)
        return;
    int saved_errno = errno;
    if (handler_work_hook) handler_work_hook();
    else handler_work();
    errno = saved_errno;
    if (!act_every) {
        stepping = 0;
        uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
    }
}

static void install_trap_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ASSERT_INT(0, sigaction(SIGTRAP, &sa, NULL));
}

/* From the instruction after the popfq on, until step_end: a SIGTRAP after
 * every instruction. */
__attribute__((noinline)) static void step_begin(void)
{
    stepping = 1;
    __asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq" ::: "memory", "cc");
}

__attribute__((noinline)) static void step_end(void) { stepping = 0; }
#else
#define CAN_STEP 0
static void install_trap_handler(void) {}
static void step_begin(void) {}
static void step_end(void) {}
#endif

static void skip_unless_stepping(void)
{
    if (!CAN_STEP)
        test_skip("single-stepping needs x86-64 Linux; under TSan, the handler's calls that "
                  "allocate (where the thread is outside the runtime) are reported");
}

/* Sets a=A, makes the handler's contexts, and returns the baseline count. */
static unsigned long long setup(void)
{
    var_a = test_var("a");
    var_h = test_var("h");
    ASSERT_INT(0, ctxvar_set(var_a, "A", NULL));
    for (int i = 0; i < HELD; i++)
        ASSERT_INT(0, ctxvar_baggage_decode("held=1", NULL, &held[i], NULL));
    held_next = 0;
    install_trap_handler();
    /* Warm up the reference cache and the free lists, as a running program
     * would have them. */
    for (int i = 0; i < 100; i++) {
        ctxvar_token t;
        ASSERT_INT(0, ctxvar_set(var_h, "warm", &t));
        ASSERT_INT(0, ctxvar_reset(&t));
        ctxvar_release(ctxvar_capture());
    }
    return live_contexts() - HELD; /* the held ones are released in handlers */
}

/* Every handler saw what it must, both kinds of point were met (refused
 * inside the change, working outside it), every held context was released,
 * and nothing leaked. */
static void check_after(unsigned long long base)
{
    fprintf(stderr, "%lu interruptions: %lu refused, %lu worked\n", steps, refused, allowed);
    check_handler();
    ctxvar_release(kept);
    kept = NULL;
    ASSERT_INT(HELD, held_next);
    ASSERT_STR("A", ctxvar_get(var_a, NULL));
    ASSERT_NULL(ctxvar_get(var_h, NULL));
    ASSERT_STR("a=A", test_format());
    ASSERT_ULL(base, live_contexts());
    ASSERT(refused > 0);
    ASSERT(allowed > 0);
}

/* Runs round() until the handler has worked at every interruption point
 * of what it steps: once per point (every 0), or `every` times, at every
 * every-th point from each offset.  round() steps what it tests between
 * step_begin and step_end, and leaves the thread as it found it. */
static void at_every_point(void (*round)(void), long every)
{
    act_every = every;
    for (act_at = 1;; act_at++) {
        instructions = 0;
        round();
        ctxvar_release(kept); /* what the handler kept */
        kept = NULL;
        if (every ? act_at == every : instructions < act_at) break;
    }
    act_every = 0;
}

static void capture_release_round(void)
{
    /* A context the thread's reference cache has no entry for yet, so that
     * the capture takes its slow path and fills one. */
    ctxvar_ctx *fresh;
    ASSERT_INT(0, ctxvar_baggage_decode("a=A", NULL, &fresh, NULL));
    ctxvar_ctx *old = ctxvar_swap(fresh);
    step_begin();
    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_ctx *c2 = ctxvar_capture();
    ctxvar_release(c);
    ctxvar_release(c2);
    step_end();
    ASSERT_PTR(fresh, c);
    ctxvar_release(ctxvar_swap(old));
}

TEST_IMPL(handler_at_every_instruction_of_capture_and_release_sees_the_context_and_leaks_nothing)
{
    skip_unless_stepping();
    unsigned long long base = setup();
    expect_values("A", "a=A", "A", "a=A");
    at_every_point(capture_release_round, EACH_ALONE);
    check_after(base);
}

static void set_reset_round(void)
{
    ctxvar_token tok;
    step_begin();
    int set = ctxvar_set(var_a, "B", &tok);
    int reset = ctxvar_reset(&tok);
    step_end();
    ASSERT_INT(0, set);
    ASSERT_INT(0, reset);
}

/* The general path of reset: another variable changed since the set. */
static void general_reset_round(void)
{
    ctxvar *x = test_var("x");
    ctxvar_token tok, tx;
    ASSERT_INT(0, ctxvar_set(var_a, "C", &tok));
    ASSERT_INT(0, ctxvar_set(x, "y", &tx));
    step_begin();
    int reset = ctxvar_reset(&tok);
    step_end();
    ASSERT_INT(0, reset);
    ASSERT_INT(0, ctxvar_reset(&tx));
}

TEST_IMPL(handler_at_every_instruction_of_set_and_reset_sees_before_or_after_and_leaks_nothing)
{
    skip_unless_stepping();
    unsigned long long base = setup();
    expect_values("A", "a=A", "B", "a=B");
    at_every_point(set_reset_round, LONG_CALLS);
    expect_values("C", "a=C x=y", "A", "a=A x=y");
    at_every_point(general_reset_round, LONG_CALLS);
    check_after(base);
}

static ctxvar_ctx *snapshot_s;

static void swap_round(void)
{
    step_begin();
    ctxvar_ctx *old = ctxvar_swap(ctxvar_retain(snapshot_s));
    ctxvar_ctx *back = ctxvar_swap(old);
    step_end();
    ASSERT_PTR(snapshot_s, back);
    ctxvar_release(back);
}

TEST_IMPL(handler_at_every_instruction_of_swap_and_swap_back_leaks_nothing)
{
    skip_unless_stepping();
    unsigned long long base = setup();
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(var_a, "S", &tok));
    snapshot_s = ctxvar_capture();
    ASSERT_INT(0, ctxvar_reset(&tok));
    expect_values("A", "a=A", "S", "a=S");
    at_every_point(swap_round, EACH_ALONE);
    ctxvar_release(snapshot_s);
    check_after(base);
}

static void *read_a(void *arg)
{
    (void)arg;
    return (void *)ctxvar_get(var_a, NULL);
}

/* A copy: the string belongs to the task's context, released after it. */
static char task_value[8];
static void read_a_into_task_value(void *arg)
{
    const char *v = read_a(arg);
    snprintf(task_value, sizeof task_value, "%s", v ? v : "(null)");
}

static void run_round(void)
{
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(var_a, "R", &tok));
    ctxvar_task *task = ctxvar_wrap(read_a_into_task_value, NULL);
    ASSERT_INT(0, ctxvar_reset(&tok));
    task_value[0] = '\0';
    step_begin();
    void *seen = ctxvar_run(snapshot_s, read_a, NULL);
    ctxvar_task_run(task);
    step_end();
    ASSERT_STR("R", seen);
    ASSERT_STR("R", task_value);
}

TEST_IMPL(handler_at_every_instruction_of_run_and_task_run_leaks_nothing)
{
    skip_unless_stepping();
    unsigned long long base = setup();
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(var_a, "R", &tok));
    snapshot_s = ctxvar_capture();
    ASSERT_INT(0, ctxvar_reset(&tok));
    expect_values("A", "a=A", "R", "a=R");
    at_every_point(run_round, LONG_CALLS);
    ctxvar_release(snapshot_s);
    check_after(base);
}

static void format_clear_round(void)
{
    char text[64];
    step_begin();
    int n = ctxvar_format(text, sizeof text);
    ctxvar_clear();
    step_end();
    ASSERT_INT(3, n);
    ASSERT_STR("a=A", text);
    ASSERT_NULL(ctxvar_get(var_a, NULL));
    ASSERT_INT(0, ctxvar_set(var_a, "A", NULL));
}

TEST_IMPL(handler_at_every_instruction_of_format_and_clear_leaks_nothing)
{
    skip_unless_stepping();
    unsigned long long base = setup();
    expect_values("A", "a=A", NULL, "");
    at_every_point(format_clear_round, LONG_CALLS);
    check_after(base);
}

/* ---- Readers where malloc was interrupted -------------------------------------- */

/* The readers allocate nothing: a handler at every instruction of malloc
 * and free formats a context of 100 variables (beyond what fits on the
 * stack to sort) and reads it, and both are exact.  The test runs with
 * glibc's per-thread cache off and after a thread has existed, so that
 * malloc takes its arena lock: a reader that called malloc there would
 * wait for that lock forever. */
static char expected_text[2048], handler_text[2048];
static ctxvar *var_v50;

static void format_in_handler(void)
{
    steps++;
    int n = ctxvar_format(handler_text, sizeof handler_text);
    if (n != (int)strlen(expected_text) || strcmp(handler_text, expected_text) != 0)
        fail_in_handler("ctxvar_format of 100 variables where malloc was interrupted", handler_text);
    if (!same(ctxvar_get(var_v50, NULL), "value-50"))
        fail_in_handler("ctxvar_get where malloc was interrupted", ctxvar_get(var_v50, NULL));
}

static void *volatile allocated[2]; /* so that the compiler keeps the calls */

static void malloc_round(void)
{
    step_begin();
    allocated[0] = malloc(48);
    allocated[1] = malloc(100000);
    free(allocated[0]);
    free(allocated[1]);
    step_end();
}

TEST_IMPL(handler_at_every_instruction_of_malloc_and_free_formats_100_variables_exactly)
{
    skip_unless_stepping();
#if defined(__SANITIZE_ADDRESS__)
    test_skip("ASan's malloc replaces glibc's, whose arena lock this test relies on");
#endif
    char name[16], value[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "v%03d", i);
        snprintf(value, sizeof value, "value-%d", i);
        ASSERT_INT(0, ctxvar_set(test_var(name), value, NULL));
    }
    var_v50 = test_var("v050");
    test_in_thread(read_a, NULL); /* from now on malloc locks its arena */
    ASSERT(ctxvar_format(expected_text, sizeof expected_text) < (int)sizeof expected_text);
    ASSERT(strncmp(expected_text, "v000=value-0 v001=value-1 ", 26) == 0);
    install_trap_handler();
    void (*work)(void) = format_in_handler;
    handler_work_hook = work;
    at_every_point(malloc_round, 1);
    handler_work_hook = NULL;
    check_handler();
    fprintf(stderr, "%lu interruptions\n", steps);
    ASSERT(steps > 100);
}

/* ---- At a high rate, from another thread ------------------------------------------- */

static pthread_t target;
static atomic_int target_done;
static atomic_ulong interruptions;

static void on_usr1(int sig)
{
    (void)sig;
    int saved_errno = errno;
    interruptions++;
    handler_work();
    errno = saved_errno;
}

static void *sender(void *arg)
{
    (void)arg;
    while (!atomic_load(&target_done)) pthread_kill(target, SIGUSR1);
    return NULL;
}

/* What the issue's program did: handlers capturing and releasing, and
 * setting, while the thread does the same; it crashed or leaked. */
TEST_IMPL(handlers_at_high_rate_during_capture_release_and_set_reset_leak_nothing)
{
    SKIP_UNDER_TSAN("TSan holds asynchronous signals back until the thread is in none of "
                    "the runtime's code, and reports the handler's deliberate malloc");
    unsigned long long base = setup();
    expect_values("A", "a=A", "A", "a=A b=x");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    ASSERT_INT(0, sigaction(SIGUSR1, &sa, NULL));
    target = pthread_self();
    pthread_t th;
    CHECK_PT(pthread_create(&th, NULL, sender, NULL));
    ctxvar *b = test_var("b");
    /* Until both enough calls and enough interruptions (the sender may be
     * slow to get a CPU) have been made. */
    for (long i = 0; i < 200000 || atomic_load(&interruptions) < 2000; i++) {
        ctxvar_ctx *c = ctxvar_capture();
        ctxvar_release(c);
        ctxvar_token tok;
        ASSERT_INT(0, ctxvar_set(b, "x", &tok));
        ASSERT_INT(0, ctxvar_reset(&tok));
    }
    atomic_store(&target_done, 1);
    CHECK_PT(pthread_join(th, NULL));
    fprintf(stderr, "%lu interruptions\n", (unsigned long)interruptions);
    check_handler();
    ctxvar_release(kept);
    while (held_next < HELD) ctxvar_release(held[held_next++]);
    ASSERT_STR("A", ctxvar_get(var_a, NULL));
    ASSERT_NULL(ctxvar_get(b, NULL));
    ASSERT_ULL(base, live_contexts());
}
