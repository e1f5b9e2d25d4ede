/* glib_apr - fault injection for the records of the library-loop interposers
 * (GLib pools, sources and tasks, APR-util pools).  Run with the fault-injection
 * build preloaded:
 *
 *     LD_PRELOAD=build/fault/libctxvar.so build/reliability/fault_glib_apr SCENARIO|all|list
 *
 * Like driver.c, it fails the runtime's nth allocation for n = 1, 2, ...
 * while one scheduling call runs, until the nth is not reached.  Each step
 * checks that the callback ran exactly once, in the scheduler's context
 * when no fault was reached and, when one was, without it (in the context
 * the thread that runs it has of its own); that the call's result is the
 * plain one; and that live_contexts is back to its value before the step.
 * One line per scenario, "NAME: N faults injected, every one handled", and
 * for "all" a total; mishandled faults on stderr and exit status 1.
 */
#ifndef _GNU_SOURCE /* apr-1.pc defines it */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <apr_general.h>
#include <apr_thread_pool.h>
#include <dlfcn.h>
#include <gio/gio.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "ctxvar.h"

#define MAX_STEPS 1000UL

static void (*fail_allocation)(unsigned long nth);
static unsigned long (*allocations)(void);
static const char *scenario;
static unsigned long step, mishandled;

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

static void clear(void) { ctxvar_release(ctxvar_swap(NULL)); }

static void set(const char *name, const char *value) { ctxvar_set(ctxvar_named(name), value, NULL); }

/* What the callback saw, and how many times it ran. */
static GMutex seen_lock;
static GCond seen_cond;
static char seen[256];
static int runs;

static void saw(void)
{
    g_mutex_lock(&seen_lock);
    ctxvar_format(seen, sizeof seen);
    runs++;
    g_cond_broadcast(&seen_cond);
    g_mutex_unlock(&seen_lock);
}

static void wait_runs(int n)
{
    g_mutex_lock(&seen_lock);
    while (runs < n) g_cond_wait(&seen_cond, &seen_lock);
    g_mutex_unlock(&seen_lock);
}

static void reset_seen(void)
{
    g_mutex_lock(&seen_lock);
    seen[0] = '\0';
    runs = 0;
    g_mutex_unlock(&seen_lock);
}

/* The callback ran once, in `expected` without a fault, in `plain` with. */
static void check_seen(int reached, const char *expected, const char *plain)
{
    CHECK(runs == 1, "the callback ran %d times", runs);
    if (!reached) CHECK(strcmp(seen, expected) == 0, "no fault, and the callback saw \"%s\"", seen);
    else CHECK(strcmp(seen, expected) == 0 || strcmp(seen, plain) == 0,
               "the callback saw \"%s\", expected \"%s\" or \"%s\"", seen, expected, plain);
}

/* ---- GLib ---------------------------------------------------------------- */

static void job(gpointer data, gpointer user_data)
{
    (void)data, (void)user_data;
    saw();
}

/* g_thread_pool_new under the fault, then one job pushed with request_id=P:
 * a pool we could not record runs its jobs in the worker's own context. */
static int step_pool_new(void)
{
    fail_allocation(step);
    GThreadPool *pool = g_thread_pool_new(job, NULL, 1, TRUE, NULL);
    int reached = disarm();
    CHECK(pool != NULL, "g_thread_pool_new returned NULL");
    set("request_id", "P");
    g_thread_pool_push(pool, (gpointer) "job", NULL);
    clear();
    wait_runs(1);
    g_thread_pool_free(pool, FALSE, TRUE);
    check_seen(reached, "request_id=P", "");
    return reached;
}

static GThreadPool *pool;

static int step_pool_push(void)
{
    set("request_id", "P");
    fail_allocation(step);
    gboolean pushed = g_thread_pool_push(pool, (gpointer) "job", NULL);
    wait_runs(1);
    int reached = disarm();
    clear();
    CHECK(pushed, "g_thread_pool_push returned FALSE");
    check_seen(reached, "request_id=P", "");
    return reached;
}

static gboolean idle(gpointer data)
{
    (void)data;
    saw();
    return G_SOURCE_REMOVE;
}

static void notify(gpointer data) { (*(int *)data)++; }

/* g_idle_add_full under the fault while request_id=I; the loop runs it
 * while main has loop=own: that is what it sees without a record. */
static int step_idle(void)
{
    static int notified;
    notified = 0;
    set("request_id", "I");
    fail_allocation(step);
    guint id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, idle, &notified, notify);
    int reached = disarm();
    clear();
    set("loop", "own");
    while (g_main_context_iteration(NULL, FALSE)) {}
    CHECK(id != 0, "g_idle_add_full returned 0");
    CHECK(notified == 1, "the destroy notify ran %d times", notified);
    check_seen(reached, "request_id=I", "loop=own");
    CHECK(strcmp(seen, "") != 0, "the callback saw an empty context");
    clear();
    return reached;
}

static void task_done(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source, (void)data;
    CHECK(g_task_propagate_boolean(G_TASK(result), NULL), "the task's result is not TRUE");
    saw();
}

/* g_task_new under the fault while request_id=T; the task returned while
 * returner=R, which GLib completes from an idle source that the loop runs
 * while main has loop=own.  A task we could not record completes in the
 * returner's context, as the idle source GLib attaches is carried. */
static int step_task(void)
{
    set("request_id", "T");
    fail_allocation(step);
    errno = EOVERFLOW;
    GTask *task = g_task_new(NULL, NULL, task_done, NULL);
    int e = errno, reached = disarm();
    clear();
    CHECK(task != NULL, "g_task_new returned NULL");
    CHECK(e == EOVERFLOW, "g_task_new changed errno to %d", e);
    set("returner", "R");
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    clear();
    set("loop", "own");
    while (g_main_context_iteration(NULL, FALSE)) {}
    check_seen(reached, "request_id=T", "returner=R");
    clear();
    return reached;
}

/* ---- APR ------------------------------------------------------------------ */

static apr_thread_pool_t *apr_pool;

static void *APR_THREAD_FUNC task(apr_thread_t *thread, void *param)
{
    (void)thread, (void)param;
    saw();
    return NULL;
}

static int step_apr_push(void)
{
    set("request_id", "A");
    fail_allocation(step);
    apr_status_t rv = apr_thread_pool_push(apr_pool, task, NULL, 0, NULL);
    wait_runs(1);
    int reached = disarm();
    clear();
    CHECK(rv == APR_SUCCESS, "apr_thread_pool_push returned %d", rv);
    check_seen(reached, "request_id=A", "");
    return reached;
}

/* ---- Driver --------------------------------------------------------------- */

struct scenario {
    const char *name;
    int (*step)(void);
};

static const struct scenario scenarios[] = {
    {"glib-pool-new", step_pool_new},
    {"glib-pool-push", step_pool_push},
    {"glib-idle", step_idle},
    {"glib-task", step_task},
    {"apr-push", step_apr_push},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static unsigned long walk(const struct scenario *s)
{
    unsigned long injected = 0, before = mishandled;
    scenario = s->name;
    for (step = 1; step <= MAX_STEPS; step++) {
        reset_seen();
        unsigned long long base = live();
        int reached = s->step();
        clear();
        /* The worker frees the record after the callback has reported: give
         * it up to 5 s to get there. */
        unsigned long long after = live();
        for (int i = 0; i < 5000 && after != base; i++) {
            g_usleep(1000);
            after = live();
        }
        CHECK(after == base, "live_contexts is %llu after the step, expected %llu", after, base);
        if (!reached) break;
        injected++;
    }
    if (injected == 0) complain("made no allocation: the scenario tests nothing");
    if (mishandled == before) printf("%s: %lu faults injected, every one handled\n", s->name, injected);
    else printf("%s: %lu faults injected, %lu mishandled\n", s->name, injected, mishandled - before);
    fflush(stdout);
    return injected;
}

int main(int argc, char **argv)
{
    fail_allocation = (void (*)(unsigned long))dlsym(RTLD_DEFAULT, "ctxvar_test_fail_allocation");
    allocations = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ctxvar_test_allocations");
    if (!fail_allocation || !allocations || !ctxvar_runtime_present()) {
        fprintf(stderr, "fault_glib_apr: preload build/fault/libctxvar.so (the fault-injection build)\n");
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: fault_glib_apr SCENARIO|all|list\n");
        return 2;
    }
    if (strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < N_SCENARIOS; i++) puts(scenarios[i].name);
        return 0;
    }
    /* Everything that lives for the process exists before any step. */
    ctxvar_named("request_id");
    ctxvar_named("loop");
    apr_initialize();
    apr_pool_t *root;
    apr_pool_create(&root, NULL);
    apr_thread_pool_create(&apr_pool, 1, 1, root);
    pool = g_thread_pool_new(job, NULL, 1, TRUE, NULL);
    ctxvar_named("returner");
    /* GIO's worker thread (gmain), started on its first use. */
    g_object_unref(g_task_new(NULL, NULL, NULL, NULL));
    unsigned long total = 0;
    size_t ran = 0;
    for (size_t i = 0; i < N_SCENARIOS; i++) {
        if (strcmp(argv[1], "all") != 0 && strcmp(argv[1], scenarios[i].name) != 0) continue;
        total += walk(&scenarios[i]);
        ran++;
    }
    g_thread_pool_free(pool, FALSE, TRUE);
    apr_pool_destroy(root);
    apr_terminate();
    if (ran == 0) {
        fprintf(stderr, "fault_glib_apr: no scenario called %s\n", argv[1]);
        return 2;
    }
    if (ran > 1)
        printf("total: %lu faults injected in %zu scenarios, %s\n", total, ran,
               mishandled ? "some mishandled" : "every one handled");
    return mishandled ? 1 : 0;
}
