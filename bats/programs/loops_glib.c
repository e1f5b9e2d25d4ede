/* loops_glib - GLib's pools, GTask, idle, timeout and invoke callbacks run in
 * the context of the code that scheduled them (bats/loops_glib.bats).  Run
 * as `loops_glib SCENARIO`.  Lines are collected and printed sorted (or in
 * the order that is the point of the test), so the output is exact.
 *
 * pool shared|exclusive: 4 request threads r1..r4 each push 3 jobs to one
 *        pool of at most 2 threads; every job prints what it saw.
 *   job r1.1: request_id=r1 ... job r4.3: request_id=r4
 * gtask: 3 threads t1..t3 run g_task_run_in_thread_sync; then main, with
 *        request_id=async1, runs g_task_run_in_thread and its callback.
 * returned: GTasks created on main in requests a1, a2 and returned by a
 *        helper thread started in request helper (a1 with a boolean, a2
 *        with g_task_return_new_error), and one created in request d1 and
 *        returned from an fd source's callback on the loop thread, where
 *        GLib calls the task's callback at once, and one created in
 *        request r1 and run with g_task_run_in_thread from request
 *        other, which GLib completes after its thread function; then the
 *        live contexts once the tasks are gone.
 * sources: 3 request threads each schedule every idle/timeout/invoke variant,
 *        then end; main sets loop=main and runs the loop, which also runs an
 *        idle main added itself.
 * remove: sources removed by the program's data before they fire, and one
 *        kept, scheduled while request_id=rm and run while main has loop.
 * shared: 44 sources with one data (idle, timeout, a source type of the
 *        program's own, several priorities): found and removed by data in
 *        GLib's own order.
 * free: an exclusive one-thread pool freed with immediate=TRUE holding 3
 *        queued jobs: the program's item-free function gets each one's data.
 * sort: a sort function and move_to_front on a pool with one busy thread.
 * func: whether pool->func and pool->user_data are the program's; then
 *        pool->func called by the program with its own data.
 * null: a push of NULL data, which GLib refuses.
 * resort: the sort function set again 200,000 times on one pool: the heap
 *        in use before and after.
 * contexts: sources with the same id in the default context and another,
 *        looked up and removed by data.
 * sortnested: a pool's comparator, run while its sort function is set,
 *        sets another pool's.
 * reuse: 2 request threads push 20 rounds of 500 jobs each to one shared
 *        2-thread pool, waiting for each round; jobs check their pusher's
 *        request_id, and the heap in use after round 20 is compared with
 *        after round 2 (the runtime reuses the job records it frees).
 * own:   main, in request own, makes GLib start threads of its own: its
 *        worker (g_unix_signal_add), GDBus's (a peer-to-peer connection
 *        over a socket pair) and an exclusive pool's thread; and threads
 *        of the program's (g_thread_new of its own function, and of
 *        g_main_loop_run); joins a thread started at g_usleep with a
 *        number for argument.  Prints "g_usleep as a start routine:
 *        joined", "main PID", "gmain TID", "gdbus TID", "pool TID",
 *        "mine TID", "loop TID", "ready", then waits to be killed, for an
 *        outside reader (bats/otel.bats).
 * fork:  a pool job, an idle and a GTask scheduled in request parent and
 *        run while main has request_id=loop, then a fork; the child runs an
 *        idle it scheduled in request child.
 *   job: request_id=parent ... child idle: request_id=child, child exited: 0
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* syscall */
#include <glib.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "show.h"

#define MAX_LINES 256

static GMutex lines_lock;
static char *lines[MAX_LINES];
static int line_count;

/* Records "<label>: <context>" (or label alone when ctx is 0). */
static void record(const char *label, int ctx)
{
    char ids[512], line[700];
    ids[0] = '\0';
    if (ctx) ctxvar_format(ids, sizeof ids);
    snprintf(line, sizeof line, ctx ? "%s: %s" : "%s", label, ids);
    g_mutex_lock(&lines_lock);
    if (line_count < MAX_LINES) lines[line_count++] = g_strdup(line);
    g_mutex_unlock(&lines_lock);
}

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_lines(int sorted)
{
    if (sorted) qsort(lines, (size_t)line_count, sizeof lines[0], compare_lines);
    for (int i = 0; i < line_count; i++) {
        printf("%s\n", lines[i]);
        g_free(lines[i]);
    }
    line_count = 0;
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : 0;
}

static void clear_context(void) { ctxvar_release(ctxvar_swap(NULL)); }

/* ---- pool ---------------------------------------------------------------- */

static GThreadPool *shared_pool;
static gpointer pool_user_data = (gpointer) "pool data";

static void job(gpointer data, gpointer user_data)
{
    char label[64];
    snprintf(label, sizeof label, "job %s%s", (const char *)data,
             user_data == pool_user_data ? "" : " (wrong user_data)");
    g_usleep(1000); /* let the requests interleave on the two workers */
    record(label, 1);
    g_free(data);
}

static void *request_pushes(void *arg)
{
    const char *id = arg;
    set_or_say("request_id", id);
    for (int k = 1; k <= 3; k++) {
        g_thread_pool_push(shared_pool, g_strdup_printf("%s.%d", id, k), NULL);
        g_usleep(500);
    }
    return NULL;
}

static int run_pool(int exclusive)
{
    shared_pool = g_thread_pool_new(job, pool_user_data, 2, exclusive, NULL);
    pthread_t t[4];
    static const char *ids[4] = {"r1", "r2", "r3", "r4"};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, request_pushes, (void *)ids[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    g_thread_pool_free(shared_pool, FALSE, TRUE);
    print_lines(1);
    return 0;
}

/* ---- gtask --------------------------------------------------------------- */

static void task_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    (void)source, (void)cancellable;
    char label[64];
    snprintf(label, sizeof label, "task %s", (const char *)data);
    record(label, 1);
    g_task_return_boolean(task, TRUE);
}

static void *request_task(void *arg)
{
    set_or_say("request_id", arg);
    GTask *task = g_task_new(NULL, NULL, NULL, NULL);
    g_task_set_task_data(task, arg, NULL);
    g_task_run_in_thread_sync(task, task_thread);
    g_object_unref(task);
    return NULL;
}

static GMainLoop *loop;

static void task_done(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source;
    char label[64];
    snprintf(label, sizeof label, "callback of %s (result %d)", (const char *)data,
             g_task_propagate_boolean(G_TASK(result), NULL));
    record(label, 1);
    g_main_loop_quit(loop);
}

static int run_gtask(void)
{
    pthread_t t[3];
    static const char *ids[3] = {"t1", "t2", "t3"};
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, request_task, (void *)ids[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    print_lines(1);
    loop = g_main_loop_new(NULL, FALSE);
    set_or_say("request_id", "async1");
    GTask *task = g_task_new(NULL, NULL, task_done, (gpointer) "async1");
    g_task_set_task_data(task, (gpointer) "async1", NULL);
    g_task_run_in_thread(task, task_thread);
    g_object_unref(task);
    set_or_say("request_id", NULL);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    print_lines(0);
    show("main after the loop");
    return 0;
}

/* ---- returned ------------------------------------------------------------ */

static GAsyncQueue *to_helper;
static int returned_left = 4;

static void returned_done(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source;
    GError *error = NULL;
    gboolean ok = g_task_propagate_boolean(G_TASK(result), &error);
    char label[128];
    snprintf(label, sizeof label, "callback of %s (%s)", (const char *)data,
             ok ? "true" : error ? error->message : "no error");
    g_clear_error(&error);
    record(label, 1);
    if (--returned_left == 0) g_main_loop_quit(loop);
}

/* A long-lived helper that completes the tasks it is handed, in whatever
 * request it was started in. */
static gpointer returning_helper(gpointer unused)
{
    (void)unused;
    GTask *task;
    while ((task = g_async_queue_pop(to_helper)) != (gpointer)to_helper) {
        if (strcmp(g_task_get_task_data(task), "a1") == 0) g_task_return_boolean(task, TRUE);
        else g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "failed: %d %s", 7, "a2");
        g_object_unref(task);
    }
    return NULL;
}

static void return_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    (void)source, (void)data, (void)cancellable;
    g_task_return_boolean(task, TRUE);
}

static GTask *direct_task;

/* An fd source, which the runtime does not carry: it runs in the loop
 * thread's own context, later than the iteration that made the task, so
 * GLib completes the task inside g_task_return_boolean. */
static gboolean fd_ready(gint fd, GIOCondition condition, gpointer unused)
{
    (void)condition, (void)unused;
    char byte;
    if (read(fd, &byte, 1) != 1) return G_SOURCE_REMOVE;
    g_task_return_boolean(direct_task, TRUE);
    g_clear_object(&direct_task);
    record("fd source after the return", 1);
    return G_SOURCE_REMOVE;
}

static int run_returned(void)
{
    /* GIO starts its worker thread, gmain, on first use: with no request
     * current, so that it holds none. */
    g_object_unref(g_task_new(NULL, NULL, NULL, NULL));
    unsigned long long before = live();
    loop = g_main_loop_new(NULL, FALSE);
    to_helper = g_async_queue_new();
    set_or_say("request_id", "helper");
    GThread *helper = g_thread_new("helper", returning_helper, NULL);
    set_or_say("request_id", NULL);
    static const char *ids[2] = {"a1", "a2"};
    for (int i = 0; i < 2; i++) {
        set_or_say("request_id", ids[i]);
        GTask *task = g_task_new(NULL, NULL, returned_done, (gpointer)ids[i]);
        g_task_set_task_data(task, (gpointer)ids[i], NULL);
        g_async_queue_push(to_helper, task);
    }
    set_or_say("request_id", "r1");
    GTask *threaded = g_task_new(NULL, NULL, returned_done, (gpointer) "r1");
    set_or_say("request_id", "other");
    g_task_run_in_thread(threaded, return_in_thread);
    g_object_unref(threaded);
    set_or_say("request_id", "d1");
    direct_task = g_task_new(NULL, NULL, returned_done, (gpointer) "d1");
    set_or_say("request_id", NULL);
    int fds[2];
    if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1) return 1;
    g_unix_fd_add(fds[0], G_IO_IN, fd_ready, NULL);
    g_main_loop_run(loop);
    g_async_queue_push(to_helper, to_helper);
    g_thread_join(helper);
    g_async_queue_unref(to_helper);
    g_main_loop_unref(loop);
    close(fds[0]);
    close(fds[1]);
    print_lines(1);
    show("main after the loop");
    clear_context();
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

/* ---- sources ------------------------------------------------------------- */

static int pending_sources;

static void finish_one(void)
{
    if (g_atomic_int_dec_and_test(&pending_sources)) g_main_loop_quit(loop);
}

static gboolean repeat_callback(gpointer data)
{
    static GMutex count_lock;
    static GHashTable *counts;
    g_mutex_lock(&count_lock);
    if (!counts) counts = g_hash_table_new(g_str_hash, g_str_equal);
    int n = GPOINTER_TO_INT(g_hash_table_lookup(counts, data)) + 1;
    g_hash_table_insert(counts, data, GINT_TO_POINTER(n));
    g_mutex_unlock(&count_lock);
    char label[96];
    snprintf(label, sizeof label, "%s run %d", (const char *)data, n);
    record(label, 1);
    ctxvar_set(ctxvar_named("leaked"), "yes", NULL); /* must not reach the next callback */
    if (n < 2) return G_SOURCE_CONTINUE;
    finish_one();
    return G_SOURCE_REMOVE;
}

static void once_callback(gpointer data)
{
    record(data, 1);
    ctxvar_set(ctxvar_named("leaked"), "yes", NULL);
    finish_one();
}

static void notified(gpointer data)
{
    char label[96];
    snprintf(label, sizeof label, "notify %s", (const char *)data);
    record(label, 0);
    finish_one();
}

static gboolean source_callback_once(gpointer data)
{
    once_callback(data);
    return G_SOURCE_REMOVE;
}

static void *request_sources(void *arg)
{
    const char *id = arg;
    set_or_say("request_id", id);
#define LABEL(what) g_strdup_printf("%s %s", id, what)
    g_idle_add(repeat_callback, LABEL("g_idle_add"));
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, repeat_callback, LABEL("g_idle_add_full"), notified);
    g_idle_add_once(once_callback, LABEL("g_idle_add_once"));
    g_timeout_add(5, repeat_callback, LABEL("g_timeout_add"));
    g_timeout_add_full(G_PRIORITY_DEFAULT, 5, repeat_callback, LABEL("g_timeout_add_full"), notified);
    g_timeout_add_once(5, once_callback, LABEL("g_timeout_add_once"));
    g_timeout_add_seconds(0, repeat_callback, LABEL("g_timeout_add_seconds"));
    g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, 0, repeat_callback, LABEL("g_timeout_add_seconds_full"),
                               notified);
    g_main_context_invoke(NULL, source_callback_once, LABEL("g_main_context_invoke"));
    g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, source_callback_once,
                               LABEL("g_main_context_invoke_full"), notified);
    GSource *source = g_idle_source_new();
    g_source_set_callback(source, source_callback_once, LABEL("g_source_set_callback"), notified);
    g_source_attach(source, NULL);
    g_source_unref(source);
#undef LABEL
    return NULL;
}

static gboolean own_idle(gpointer data)
{
    record(data, 1);
    finish_one();
    return G_SOURCE_REMOVE;
}

/* What ends the loop: per request, 6 repeating sources' second runs, 5
 * one-shot callbacks and 5 destroy notifies; and main's own idle. */
#define FINISHING_PER_REQUEST 16

static int run_sources(void)
{
    loop = g_main_loop_new(NULL, FALSE);
    pending_sources = 3 * FINISHING_PER_REQUEST + 1;
    pthread_t t[3];
    static const char *ids[3] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, request_sources, (void *)ids[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    set_or_say("loop", "main");
    g_idle_add(own_idle, (gpointer) "main's own idle");
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    print_lines(1);
    show("main after the loop");
    return 0;
}

/* ---- remove -------------------------------------------------------------- */

static int notifications;

static gboolean must_not_run(gpointer data)
{
    printf("ran although removed: %s\n", (const char *)data);
    return G_SOURCE_REMOVE;
}

static gboolean kept_source(gpointer data)
{
    char label[64];
    snprintf(label, sizeof label, "kept source %s ran", (const char *)data);
    show(label);
    return G_SOURCE_REMOVE;
}

static void count_notify(gpointer data)
{
    printf("notify: %s\n", (const char *)data);
    notifications++;
}

static int run_remove(void)
{
    static char a[] = "a", b[] = "b", c[] = "c", d[] = "d";
    unsigned long long before = live();
    set_or_say("request_id", "rm");
    guint ida = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, must_not_run, a, count_notify);
    g_timeout_add_full(G_PRIORITY_DEFAULT, 60000, must_not_run, b, count_notify);
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, must_not_run, c, count_notify);
    GSource *source = g_timeout_source_new(60000);
    g_source_set_callback(source, must_not_run, d, count_notify);
    guint idd = g_source_attach(source, NULL);
    g_source_unref(source);
    GSource *found = g_main_context_find_source_by_user_data(NULL, a);
    printf("find_source_by_user_data(a) is a's source: %s\n",
           found && g_source_get_id(found) == ida ? "yes" : "no");
    found = g_main_context_find_source_by_funcs_user_data(NULL, &g_timeout_funcs, d);
    printf("find_source_by_funcs_user_data(timeout, d) is d's source: %s\n",
           found && g_source_get_id(found) == idd ? "yes" : "no");
    printf("find_source_by_funcs_user_data(idle, d): %s\n",
           g_main_context_find_source_by_funcs_user_data(NULL, &g_idle_funcs, d) ? "found" : "none");
    printf("g_source_remove_by_user_data(a): %d\n", g_source_remove_by_user_data(a));
    printf("g_source_remove_by_funcs_user_data(timeout, b): %d\n",
           g_source_remove_by_funcs_user_data(&g_timeout_funcs, b));
    printf("g_idle_remove_by_data(c): %d\n", g_idle_remove_by_data(c));
    printf("g_idle_remove_by_data(c) again: %d\n", g_idle_remove_by_data(c));
    printf("g_source_remove_by_user_data(d): %d\n", g_source_remove_by_user_data(d));
    static char e[] = "e";
    g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, kept_source, e, count_notify);
    set_or_say("request_id", "loop");
    while (g_main_context_iteration(NULL, FALSE)) {}
    printf("notifications: %d\n", notifications);
    clear_context();
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

/* ---- shared: many sources with one data --------------------------------- */

static gboolean never_ready(GSource *source, gint *timeout)
{
    (void)source;
    *timeout = -1;
    return FALSE;
}

static gboolean never_dispatched(GSource *source, GSourceFunc callback, gpointer data)
{
    (void)source, (void)callback, (void)data;
    return G_SOURCE_REMOVE;
}

/* A source type of the program's own: the runtime leaves its callback
 * alone, so its data is GLib's to find. */
static GSourceFuncs own_funcs = {never_ready, NULL, never_dispatched, NULL, NULL, NULL};

enum { SHARED_MORE = 40 };

static int run_shared(void)
{
    static char x[] = "x";
    unsigned long long before = live();
    guint ids[4 + SHARED_MORE];
    const char *names[4 + SHARED_MORE];
    char more[SHARED_MORE][16];
    int n = 0;
    set_or_say("request_id", "shared");
    names[n] = "timeout";
    ids[n++] = g_timeout_add_full(G_PRIORITY_DEFAULT, 60000, must_not_run, x, NULL);
    GSource *own = g_source_new(&own_funcs, sizeof(GSource));
    g_source_set_callback(own, must_not_run, x, NULL);
    names[n] = "own";
    ids[n++] = g_source_attach(own, NULL);
    g_source_unref(own);
    names[n] = "idle";
    ids[n++] = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, must_not_run, x, NULL);
    names[n] = "high";
    ids[n++] = g_timeout_add_full(G_PRIORITY_HIGH, 60000, must_not_run, x, NULL);
    for (int i = 0; i < SHARED_MORE; i++) {
        snprintf(more[i], sizeof more[i], "more%d", i);
        names[n] = more[i];
        ids[n++] = g_timeout_add_full(G_PRIORITY_DEFAULT, 60000, must_not_run, x, NULL);
    }
    /* The idle source comes after 42 of the others in GLib's walk. */
    printf("g_idle_remove_by_data(x): %d\n", g_idle_remove_by_data(x));
    GSource *found = g_main_context_find_source_by_funcs_user_data(NULL, &g_timeout_funcs, x);
    printf("first timeout: %s\n", !found ? "none" : g_source_get_id(found) == ids[3] ? "high" : "other");
    /* Then every one in GLib's order: found, then removed. */
    char order[4096] = "";
    while ((found = g_main_context_find_source_by_user_data(NULL, x))) {
        guint id = g_source_get_id(found);
        const char *name = "?";
        for (int i = 0; i < n; i++)
            if (ids[i] == id) name = names[i];
        if (strlen(order) + strlen(name) + 2 < sizeof order) {
            strcat(order, " ");
            strcat(order, name);
        }
        if (!g_source_remove_by_user_data(x)) break;
    }
    printf("found in order:%s\n", order);
    printf("g_source_remove_by_user_data(x) once none is left: %d\n", g_source_remove_by_user_data(x));
    clear_context();
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

/* ---- free, sort ---------------------------------------------------------- */

static GMutex gate_lock;
static GCond gate_cond;
static int gate_open, gate_reached, dropped;

static void gate_job(gpointer data, gpointer user_data)
{
    (void)user_data;
    if (strcmp(data, "gate") == 0) {
        record("gate", 1);
        g_mutex_lock(&gate_lock);
        gate_reached = 1;
        g_cond_broadcast(&gate_cond);
        while (!gate_open) g_cond_wait(&gate_cond, &gate_lock);
        g_mutex_unlock(&gate_lock);
        return;
    }
    char label[64];
    snprintf(label, sizeof label, "ran %s", (const char *)data);
    record(label, 1);
}

static void item_free(gpointer data)
{
    char label[64];
    snprintf(label, sizeof label, "item_free %s", (const char *)data);
    record(label, 1);
    g_mutex_lock(&gate_lock);
    dropped++;
    g_cond_broadcast(&gate_cond);
    g_mutex_unlock(&gate_lock);
}

/* A pool with one thread, busy in the "gate" job until open_gate. */
static GThreadPool *gated_pool(GDestroyNotify free_func)
{
    GThreadPool *pool = g_thread_pool_new_full(gate_job, NULL, free_func, 1, TRUE, NULL);
    set_or_say("request_id", "g");
    g_thread_pool_push(pool, (gpointer) "gate", NULL);
    clear_context();
    g_mutex_lock(&gate_lock);
    while (!gate_reached) g_cond_wait(&gate_cond, &gate_lock);
    g_mutex_unlock(&gate_lock);
    return pool;
}

static void open_gate(void)
{
    g_mutex_lock(&gate_lock);
    gate_open = 1;
    g_cond_broadcast(&gate_cond);
    g_mutex_unlock(&gate_lock);
}

static int run_free(void)
{
    static char j1[] = "j1", j2[] = "j2", j3[] = "j3";
    unsigned long long before = live();
    GThreadPool *pool = gated_pool(item_free);
    set_or_say("request_id", "f1");
    g_thread_pool_push(pool, j1, NULL);
    set_or_say("request_id", "f2");
    g_thread_pool_push(pool, j2, NULL);
    g_thread_pool_push(pool, j3, NULL);
    clear_context();
    g_thread_pool_free(pool, TRUE, FALSE);
    open_gate();
    g_mutex_lock(&gate_lock);
    while (dropped < 3) g_cond_wait(&gate_cond, &gate_lock);
    g_mutex_unlock(&gate_lock);
    print_lines(1);
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

static const char *const sort_names[] = {"a", "b", "c", "d", "x", NULL};
static int foreign_compares;

static gint compare_names(gconstpointer a, gconstpointer b, gpointer user_data)
{
    int known = 0;
    for (int i = 0; sort_names[i]; i++) known += (a == sort_names[i]) + (b == sort_names[i]);
    if (known != 2 || user_data != (gpointer) "sort data") foreign_compares++;
    return strcmp(a, b);
}

static int run_sort(void)
{
    GThreadPool *pool = gated_pool(NULL);
    g_thread_pool_set_sort_function(pool, compare_names, (gpointer) "sort data");
    static const char *ids[] = {"rc", "ra", "rd", "rb"};
    static const int order[] = {2, 0, 3, 1}; /* c a d b */
    for (int i = 0; i < 4; i++) {
        set_or_say("request_id", ids[i]);
        g_thread_pool_push(pool, (gpointer)sort_names[order[i]], NULL);
    }
    clear_context();
    printf("move_to_front(d): %d\n", g_thread_pool_move_to_front(pool, (gpointer)sort_names[3]));
    printf("move_to_front(x), never pushed: %d\n", g_thread_pool_move_to_front(pool, (gpointer)sort_names[4]));
    open_gate();
    g_thread_pool_free(pool, FALSE, TRUE);
    print_lines(0);
    printf("comparisons with data that is not the program's: %d\n", foreign_compares);
    return 0;
}

static void noop_job(gpointer data, gpointer user_data) { (void)data, (void)user_data; }

static int null_jobs;
static void count_job(gpointer data, gpointer user_data) { (void)data, (void)user_data; null_jobs++; }

/* GLib refuses NULL data with a critical warning and runs nothing. */
static int run_null(void)
{
    GThreadPool *pool = g_thread_pool_new(count_job, NULL, 1, TRUE, NULL);
    printf("push NULL: %d\n", g_thread_pool_push(pool, NULL, NULL));
    g_thread_pool_free(pool, FALSE, TRUE);
    printf("jobs run: %d\n", null_jobs);
    return 0;
}

static void inline_job(gpointer data, gpointer user_data)
{
    printf("called inline with %s, user data %s\n", (const char *)data,
           user_data == pool_user_data ? "the pool's" : "another");
}

static int run_func(void)
{
    GThreadPool *pool = g_thread_pool_new(noop_job, pool_user_data, 1, FALSE, NULL);
    printf("pool->func is the program's: %s\n", pool->func == noop_job ? "yes" : "no");
    printf("pool->user_data is the program's: %s\n", pool->user_data == pool_user_data ? "yes" : "no");
    g_thread_pool_free(pool, FALSE, TRUE);
    /* A program may run a job itself through the member (a saturated
     * pool): its own function, with its own data. */
    pool = g_thread_pool_new(inline_job, pool_user_data, 1, FALSE, NULL);
    pool->func("its own data", pool->user_data);
    g_thread_pool_free(pool, FALSE, TRUE);
    return 0;
}

/* ---- fork ----------------------------------------------------------------- */

static gboolean fork_idle(gpointer who)
{
    show(who);
    return G_SOURCE_REMOVE;
}

static void fork_job(gpointer who, gpointer user_data)
{
    (void)user_data;
    show(who);
}

static void fork_task_done(GObject *source, GAsyncResult *result, gpointer who)
{
    (void)source, (void)result;
    show(who);
}

/* A pool job, an idle and a task scheduled in request parent (every table
 * of the GLib interposers in use), then a fork: the child schedules its own
 * in request child.  Under ThreadSanitizer the fork handler, which holds the
 * runtime's index locks across the fork, must stay within what its deadlock
 * detector tracks. */
static int run_fork(void)
{
    set_or_say("request_id", "parent");
    GThreadPool *pool = g_thread_pool_new(fork_job, NULL, 1, TRUE, NULL);
    g_thread_pool_push(pool, "job", NULL);
    g_thread_pool_free(pool, FALSE, TRUE);
    g_idle_add(fork_idle, "idle");
    GTask *task = g_task_new(NULL, NULL, fork_task_done, "task");
    g_task_return_boolean(task, TRUE);
    g_object_unref(task);
    set_or_say("request_id", "loop");
    while (g_main_context_iteration(NULL, FALSE)) {}
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        set_or_say("request_id", "child");
        g_idle_add(fork_idle, "child idle");
        set_or_say("request_id", "child loop");
        while (g_main_context_iteration(NULL, FALSE)) {}
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("child exited: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

/* ---- contexts ------------------------------------------------------------- */

static gboolean keep_source(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

/* GLib numbers each context's sources on its own: the same id in two
 * contexts is two sources, and a lookup by data in one must not find, nor
 * a removal destroy, the other's. */
static int run_contexts(void)
{
    static int x, y, z, w;
    GMainContext *other = g_main_context_new();
    GSource *in_other = g_idle_source_new();
    g_source_set_callback(in_other, keep_source, &z, NULL);
    guint other_id = g_source_attach(in_other, other);
    guint default_id = g_idle_add(keep_source, &x);
    printf("ids: %s\n", other_id == default_id ? "the same in both contexts" : "different");
    GSource *found = g_main_context_find_source_by_user_data(other, &x);
    printf("found in the other context by the default one's data: %s\n", found ? "a source" : "none");
    /* Attached first, its callback set after: numbered by the other context. */
    GSource *second = g_idle_source_new();
    guint second_id = g_source_attach(second, other);
    g_source_set_callback(second, keep_source, &w, NULL);
    guint timeout_id = 0;
    while ((timeout_id = g_timeout_add(100000, keep_source, &y)) < second_id) continue;
    printf("ids: %s\n", second_id == timeout_id ? "the same in both contexts" : "different");
    printf("removed by the other context's data: %d\n", g_source_remove_by_user_data(&w));
    printf("the default context's source with that id: %s\n",
           g_main_context_find_source_by_id(NULL, timeout_id) ? "still there" : "destroyed");
    return 0;
}

/* ---- sortnested ----------------------------------------------------------- */

static GMutex nested_gate; /* holds pool A's one worker */
static GThreadPool *nested_a, *nested_b;
static int nested_sorts;

static void gated_job(gpointer data, gpointer user_data)
{
    (void)data, (void)user_data;
    g_mutex_lock(&nested_gate);
    g_mutex_unlock(&nested_gate);
}

static gint by_value(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    return (a > b) - (a < b);
}

/* A's comparator sets B's sort function, as GLib allows: each pool's queue
 * has a lock of its own. */
static gint sorts_other_pool(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    if (nested_sorts++ == 0) g_thread_pool_set_sort_function(nested_b, by_value, NULL);
    return (a > b) - (a < b);
}

static int run_sortnested(void)
{
    alarm(20); /* a deadlock ends the test */
    nested_a = g_thread_pool_new(gated_job, NULL, 1, TRUE, NULL);
    nested_b = g_thread_pool_new(gated_job, NULL, 1, TRUE, NULL);
    g_mutex_lock(&nested_gate);
    for (int i = 1; i <= 4; i++) g_thread_pool_push(nested_a, GINT_TO_POINTER(i), NULL);
    while (g_thread_pool_unprocessed(nested_a) > 3) g_usleep(1000); /* job 1 taken */
    g_thread_pool_set_sort_function(nested_a, sorts_other_pool, NULL); /* sorts 2..4 */
    g_mutex_unlock(&nested_gate);
    g_thread_pool_free(nested_a, FALSE, TRUE);
    g_thread_pool_free(nested_b, FALSE, TRUE);
    printf("sorted, the comparator having set another pool's: %s\n", nested_sorts > 0 ? "yes" : "no");
    return 0;
}

/* ---- resort --------------------------------------------------------------- */

static gint by_address(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    return a < b ? -1 : a > b;
}

/* Re-applying the sort function is GLib's way to re-sort a pool: the
 * comparator records it takes must not pile up while the pool lives. */
static int run_resort(void)
{
    GThreadPool *pool = g_thread_pool_new(noop_job, pool_user_data, 1, FALSE, NULL);
    g_thread_pool_set_sort_function(pool, by_address, NULL);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 200000; i++) g_thread_pool_set_sort_function(pool, by_address, NULL);
    size_t after = mallinfo2().uordblks;
    printf("heap grew by a megabyte or more: %s\n", after >= before + (1u << 20) ? "yes" : "no");
    g_thread_pool_free(pool, FALSE, TRUE);
    return 0;
}

/* ---- reuse ---------------------------------------------------------------- */

#define REUSE_ROUNDS 20
#define REUSE_JOBS 500

static GThreadPool *reuse_pool;
static pthread_barrier_t reuse_barrier;
static gint reuse_done[2], reuse_right;
static size_t heap_at_round_2, heap_at_round_20;
static ctxvar *request_id_var;

static void reuse_job(gpointer data, gpointer user_data)
{
    (void)user_data;
    const char *id = data; /* "r1" or "r2": its pusher's request_id */
    if (strcmp(ctxvar_get(request_id_var, ""), id) == 0) g_atomic_int_inc(&reuse_right);
    g_atomic_int_inc(&reuse_done[id[1] - '1']);
}

static void *reuse_requests(void *arg)
{
    const char *id = arg;
    int me = id[1] - '1';
    set_or_say("request_id", id);
    for (int round = 1; round <= REUSE_ROUNDS; round++) {
        for (int j = 0; j < REUSE_JOBS; j++) g_thread_pool_push(reuse_pool, (gpointer)id, NULL);
        while (g_atomic_int_get(&reuse_done[me]) < round * REUSE_JOBS) g_usleep(100);
        if (round == 2 || round == REUSE_ROUNDS) {
            /* Both requests idle: nothing of theirs is in flight. */
            pthread_barrier_wait(&reuse_barrier);
            if (me == 0) *(round == 2 ? &heap_at_round_2 : &heap_at_round_20) = mallinfo2().uordblks;
            pthread_barrier_wait(&reuse_barrier);
        }
    }
    return NULL;
}

static int run_reuse(void)
{
    request_id_var = ctxvar_named("request_id");
    reuse_pool = g_thread_pool_new(reuse_job, NULL, 2, FALSE, NULL);
    pthread_barrier_init(&reuse_barrier, NULL, 2);
    pthread_t t[2];
    pthread_create(&t[0], NULL, reuse_requests, (void *)"r1");
    pthread_create(&t[1], NULL, reuse_requests, (void *)"r2");
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    g_thread_pool_free(reuse_pool, FALSE, TRUE);
    printf("jobs that saw their pusher's request_id: %d of %d\n", g_atomic_int_get(&reuse_right),
           2 * REUSE_ROUNDS * REUSE_JOBS);
    /* One round's records are 1,000 of about 80 bytes: records lost every
     * round would add well over a MiB in 18 rounds.  GLib itself grows by
     * some 30 KiB here, and the records kept for reuse by the most ever in
     * flight at once (at most one round's). */
    long grown = (long)heap_at_round_20 - (long)heap_at_round_2;
    if (grown < 256 * 1024) printf("heap in use from round 2 to round 20: grew less than 256 KiB\n");
    else printf("heap in use from round 2 to round 20: grew %ld bytes\n", grown);
    return 0;
}

/* ---- GLib's own threads ---------------------------------------------------------- */

/* The id of this process's thread named `name`, or 0. */
static pid_t thread_named(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    pid_t found = 0;
    struct dirent *e;
    while (tasks && !found && (e = readdir(tasks))) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
        if (f && fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
        if (f) fclose(f);
        if (strcmp(comm, name) == 0) found = (pid_t)atoi(e->d_name);
    }
    if (tasks) closedir(tasks);
    return found;
}

static gboolean never_signalled(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE;
}

static GMainLoop *dbus_loop;
static int dbus_pending = 2;

static void dbus_connected(GObject *source, GAsyncResult *result, gpointer out)
{
    (void)source;
    GError *error = NULL;
    *(GDBusConnection **)out = g_dbus_connection_new_finish(result, &error);
    if (error) {
        printf("peer connection failed: %s\n", error->message);
        g_error_free(error);
    }
    if (--dbus_pending == 0) g_main_loop_quit(dbus_loop);
}

static sem_t noted;
static pid_t pool_thread, program_thread_id;

static void note_pool_thread(gpointer data, gpointer user_data)
{
    (void)data, (void)user_data;
    pool_thread = (pid_t)syscall(SYS_gettid);
    sem_post(&noted);
}

static gpointer program_thread(gpointer unused)
{
    (void)unused;
    program_thread_id = (pid_t)syscall(SYS_gettid);
    sem_post(&noted);
    for (;;) pause();
    return NULL;
}

static void wait_noted(void)
{
    while (sem_wait(&noted) != 0) continue;
}

/* Makes GLib start threads of its own while request own is current, and
 * one thread of the program's; prints each one's id, then "ready", and
 * waits to be killed: an outside reader (bats/otel.bats) reads each
 * thread's context while they all stand still. */
static int run_own(void)
{
    sem_init(&noted, 0, 0);
    set_or_say("request_id", "own");

    g_unix_signal_add(SIGUSR2, never_signalled, NULL); /* starts GLib's worker, gmain */

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
    GIOStream *ends[2];
    for (int i = 0; i < 2; i++) {
        GSocket *socket = g_socket_new_from_fd(fds[i], NULL);
        ends[i] = G_IO_STREAM(g_socket_connection_factory_create_connection(socket));
        g_object_unref(socket);
    }
    /* A peer-to-peer connection's two ends: their message worker is GDBus's
     * thread, gdbus, started from the GTask pool thread that authenticates. */
    GDBusConnection *server = NULL, *client = NULL;
    gchar *guid = g_dbus_generate_guid();
    dbus_loop = g_main_loop_new(NULL, FALSE);
    g_dbus_connection_new(ends[0], guid,
                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS,
                          NULL, NULL, dbus_connected, &server);
    g_dbus_connection_new(ends[1], NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
                          NULL, dbus_connected, &client);
    g_main_loop_run(dbus_loop);

    /* An exclusive pool starts its thread at once, here. */
    GThreadPool *pool = g_thread_pool_new(note_pool_thread, NULL, 1, TRUE, NULL);
    g_thread_pool_push(pool, GINT_TO_POINTER(1), NULL);
    wait_noted();
    g_thread_unref(g_thread_new("mine", program_thread, NULL));
    wait_noted();
    /* The program's thread running a function GLib exports: the program's. */
    GMainLoop *loop_of_mine = g_main_loop_new(g_main_context_new(), FALSE);
    g_thread_unref(g_thread_new("loop", (GThreadFunc)(void (*)(void))g_main_loop_run, loop_of_mine));
    /* A GLib function as a start routine, with a number for argument: no
     * GThread to read. */
    pthread_t sleeper;
    void *(*start)(void *) = (void *(*)(void *))(void (*)(void))g_usleep;
    if (pthread_create(&sleeper, NULL, start, (void *)(uintptr_t)1000) == 0 &&
        pthread_join(sleeper, NULL) == 0)
        printf("g_usleep as a start routine: joined\n");
    while (!g_main_loop_is_running(loop_of_mine)) g_usleep(1000);
    /* GLib's threads name themselves once they run, which may be after the
     * work that started them is done: wait for the names (10 s at most;
     * a name still missing then prints as 0, and the test says so). */
    for (int waited = 0; waited < 10000 && (!thread_named("gmain") || !thread_named("gdbus"));
         waited++)
        g_usleep(1000);

    printf("main %d\ngmain %d\ngdbus %d\npool %d\nmine %d\nloop %d\nready\n", (int)getpid(),
           (int)thread_named("gmain"), (int)thread_named("gdbus"), (int)pool_thread,
           (int)program_thread_id, (int)thread_named("loop"));
    for (;;) pause();
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(what, "pool") == 0 && argc > 2) return run_pool(strcmp(argv[2], "exclusive") == 0);
    if (strcmp(what, "gtask") == 0) return run_gtask();
    if (strcmp(what, "returned") == 0) return run_returned();
    if (strcmp(what, "sources") == 0) return run_sources();
    if (strcmp(what, "remove") == 0) return run_remove();
    if (strcmp(what, "shared") == 0) return run_shared();
    if (strcmp(what, "free") == 0) return run_free();
    if (strcmp(what, "sort") == 0) return run_sort();
    if (strcmp(what, "func") == 0) return run_func();
    if (strcmp(what, "null") == 0) return run_null();
    if (strcmp(what, "reuse") == 0) return run_reuse();
    if (strcmp(what, "resort") == 0) return run_resort();
    if (strcmp(what, "contexts") == 0) return run_contexts();
    if (strcmp(what, "sortnested") == 0) return run_sortnested();
    if (strcmp(what, "fork") == 0) return run_fork();
    if (strcmp(what, "own") == 0) return run_own();
    fprintf(stderr, "usage: loops_glib pool shared|exclusive|gtask|returned|sources|remove|free|sort|func|null|reuse|"
                    "resort|contexts|sortnested|fork|own\n");
    return 2;
}
