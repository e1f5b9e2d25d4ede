/* loops_apr - APR-util's thread pool runs each task in the context of the
 * code that pushed, topped or scheduled it (bats/loops_apr.bats).  Run as
 * `loops_apr SCENARIO`; lines are collected and printed sorted.
 *
 * tasks: 4 request threads r1..r4 each submit 3 tasks (push, top,
 *        schedule) to a pool of 2 threads started by main.
 *   task r1.push: request_id=r1 owner=yes ... task r4.schedule: ...
 * cancel: one busy thread; tasks of owners A and B queued; A's cancelled,
 *        B's run; then tasks queued behind a busy thread when the pool is
 *        destroyed; live_contexts back to its starting value.
 * race: 4 threads push 20,000 tasks each, owned by one owner, inside a
 *        request, while another thread cancels that owner again and again;
 *        then how many tasks ran more than once (0) and live_contexts.
 */
#define _POSIX_C_SOURCE 200809L
#include <apr_general.h>
#include <apr_thread_pool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "show.h"

#define MAX_LINES 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static char *lines[MAX_LINES];
static int line_count, done, gate_open, gate_reached;
static apr_thread_pool_t *tp;

static void record(const char *label)
{
    char ids[512], line[700];
    ctxvar_format(ids, sizeof ids);
    snprintf(line, sizeof line, "%s: %s", label, ids);
    pthread_mutex_lock(&lock);
    if (line_count < MAX_LINES) lines[line_count++] = strdup(line);
    done++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_lines(void)
{
    qsort(lines, (size_t)line_count, sizeof lines[0], compare_lines);
    for (int i = 0; i < line_count; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    line_count = 0;
}

static void wait_done(int n)
{
    pthread_mutex_lock(&lock);
    while (done < n) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : 0;
}

static char owner_a, owner_b, owner_c;

static void *APR_THREAD_FUNC task(apr_thread_t *thread, void *param)
{
    void *owner = NULL;
    apr_thread_pool_task_owner_get(thread, &owner);
    char label[96];
    snprintf(label, sizeof label, "task %s (owner %s)", (const char *)param,
             owner == &owner_a ? "A" : owner == &owner_b ? "B" : owner == &owner_c ? "C" : "other");
    record(label);
    return NULL;
}

/* Labels live for the process: a cancelled task never gets to free its. */
static char *label_of(const char *id, const char *how)
{
    static char labels[64][32];
    static int next;
    pthread_mutex_lock(&lock);
    char *s = labels[next++ % 64];
    pthread_mutex_unlock(&lock);
    snprintf(s, 32, "%s.%s", id, how);
    return s;
}

static void *request(void *arg)
{
    const char *id = arg;
    set_or_say("request_id", id);
    apr_thread_pool_push(tp, task, label_of(id, "push"), APR_THREAD_TASK_PRIORITY_NORMAL, &owner_a);
    apr_thread_pool_top(tp, task, label_of(id, "top"), APR_THREAD_TASK_PRIORITY_HIGH, &owner_b);
    apr_thread_pool_schedule(tp, task, label_of(id, "schedule"), 2000, &owner_c);
    return NULL;
}

static int run_tasks(apr_pool_t *pool)
{
    apr_thread_pool_create(&tp, 2, 2, pool);
    pthread_t t[4];
    static const char *ids[4] = {"r1", "r2", "r3", "r4"};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, request, (void *)ids[i]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    wait_done(12);
    apr_thread_pool_destroy(tp);
    print_lines();
    return 0;
}

static void *APR_THREAD_FUNC gate(apr_thread_t *thread, void *param)
{
    (void)thread, (void)param;
    pthread_mutex_lock(&lock);
    gate_reached = 1;
    pthread_cond_broadcast(&changed);
    while (!gate_open) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* The pool's one thread is busy in gate() when this returns. */
static void close_gate(void)
{
    pthread_mutex_lock(&lock);
    gate_open = gate_reached = 0;
    pthread_mutex_unlock(&lock);
    apr_thread_pool_push(tp, gate, NULL, APR_THREAD_TASK_PRIORITY_HIGHEST, NULL);
    pthread_mutex_lock(&lock);
    while (!gate_reached) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&lock);
    gate_open = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Busy until APR has removed every queued and scheduled task: what the
 * pool's cleanup does when it is destroyed. */
static void *APR_THREAD_FUNC busy_until_cancelled(apr_thread_t *thread, void *param)
{
    (void)thread, (void)param;
    while (apr_thread_pool_tasks_count(tp) + apr_thread_pool_scheduled_tasks_count(tp) > 0)
        apr_sleep(1000);
    return NULL;
}

static int run_cancel(apr_pool_t *parent)
{
    unsigned long long before = live();
    apr_pool_t *pool;
    apr_pool_create(&pool, parent);
    apr_thread_pool_create(&tp, 1, 1, pool);
    close_gate();
    set_or_say("request_id", "ca");
    for (int i = 1; i <= 3; i++) apr_thread_pool_push(tp, task, label_of("a", i == 1 ? "1" : i == 2 ? "2" : "3"), 0, &owner_a);
    apr_thread_pool_schedule(tp, task, label_of("a", "later"), 60 * 1000000LL, &owner_a);
    set_or_say("request_id", "cb");
    apr_thread_pool_push(tp, task, label_of("b", "1"), 0, &owner_b);
    apr_thread_pool_top(tp, task, label_of("b", "2"), 0, &owner_b);
    ctxvar_release(ctxvar_swap(NULL));
    /* Cancelling A waits for nothing: A has nothing running. */
    printf("cancel A: %d\n", apr_thread_pool_tasks_cancel(tp, &owner_a));
    open_gate();
    wait_done(2);
    print_lines();
    close_gate();
    set_or_say("request_id", "cc");
    apr_thread_pool_push(tp, busy_until_cancelled, NULL, APR_THREAD_TASK_PRIORITY_HIGHEST, NULL);
    apr_thread_pool_push(tp, task, label_of("c", "1"), 0, &owner_c);
    apr_thread_pool_push(tp, task, label_of("c", "2"), 0, NULL);
    apr_thread_pool_schedule(tp, task, label_of("c", "later"), 60 * 1000000LL, &owner_c);
    ctxvar_release(ctxvar_swap(NULL));
    open_gate();
    /* Destroying the pool cancels everything queued (owner NULL) and waits
     * for its threads; the busy one returns once that is done. */
    apr_pool_destroy(pool);
    printf("tasks run after the cancellations: %d\n", done - 2);
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

/* ---- race ------------------------------------------------------------------ */

enum { RACE_PUSHERS = 4, RACE_TASKS = 20000 };
static apr_thread_pool_t *race_pool;
static int race_owner;
static unsigned char race_runs[RACE_PUSHERS * RACE_TASKS];
static volatile int race_over;

static void *race_task(apr_thread_t *thread, void *index)
{
    (void)thread;
    __atomic_add_fetch(&race_runs[(uintptr_t)index], 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *race_pusher(void *first)
{
    set_or_say("request_id", "race");
    for (uintptr_t i = 0; i < RACE_TASKS; i++)
        apr_thread_pool_push(race_pool, race_task, (void *)((uintptr_t)first + i), 0, &race_owner);
    return NULL;
}

static void *race_canceller(void *unused)
{
    (void)unused;
    while (!__atomic_load_n(&race_over, __ATOMIC_RELAXED))
        apr_thread_pool_tasks_cancel(race_pool, &race_owner);
    return NULL;
}

static int run_race(apr_pool_t *pool)
{
    unsigned long long before = live();
    apr_thread_pool_create(&race_pool, 2, 4, pool);
    pthread_t pushers[RACE_PUSHERS], canceller;
    pthread_create(&canceller, NULL, race_canceller, NULL);
    for (uintptr_t i = 0; i < RACE_PUSHERS; i++)
        pthread_create(&pushers[i], NULL, race_pusher, (void *)(i * RACE_TASKS));
    for (int i = 0; i < RACE_PUSHERS; i++) pthread_join(pushers[i], NULL);
    __atomic_store_n(&race_over, 1, __ATOMIC_RELAXED);
    pthread_join(canceller, NULL);
    apr_thread_pool_destroy(race_pool);
    int twice = 0;
    for (int i = 0; i < RACE_PUSHERS * RACE_TASKS; i++) twice += race_runs[i] > 1;
    printf("tasks run more than once: %d\n", twice);
    printf("live_contexts back to baseline: %s\n", live() == before ? "yes" : "no");
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    apr_initialize();
    apr_pool_t *pool;
    apr_pool_create(&pool, NULL);
    int r = 2;
    if (strcmp(what, "tasks") == 0) r = run_tasks(pool);
    else if (strcmp(what, "cancel") == 0) r = run_cancel(pool);
    else if (strcmp(what, "race") == 0) r = run_race(pool);
    else fprintf(stderr, "usage: loops_apr tasks|cancel|race\n");
    apr_pool_destroy(pool);
    apr_terminate();
    return r;
}
