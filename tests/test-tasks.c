/* test-tasks.c - ctxvar_wrap, ctxvar_task_run, ctxvar_wrap_ret,
 * ctxvar_task_call, ctxvar_task_free, and a small thread pool. */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

struct seen {
    char id[64], worker[64];
    int calls;
};

static void record_task(void *arg)
{
    struct seen *s = arg;
    snprintf(s->id, sizeof s->id, "%s", ctxvar_get(ctxvar_named("id"), "unset"));
    snprintf(s->worker, sizeof s->worker, "%s", ctxvar_get(ctxvar_named("worker"), "unset"));
    s->calls++;
    ctxvar_set(ctxvar_named("id"), "set-by-task", NULL);
}

static void *record_task_ret(void *arg)
{
    record_task(arg);
    return (void *)0x77;
}

/* The worker: its own context, then runs the task it was given. */
static void *worker_runs_task(void *task)
{
    test_set("worker", "w1");
    ctxvar_ctx *before = ctxvar_capture();
    ctxvar_task_run(task);
    ASSERT_STR("w1", ctxvar_get(test_var("worker"), NULL));
    ASSERT_STR("unset", ctxvar_get(test_var("id"), "unset"));
    ctxvar_ctx *after = ctxvar_capture();
    ASSERT_PTR(before, after); /* the worker's own context, exactly */
    ctxvar_release(before);
    ctxvar_release(after);
    return NULL;
}

static void *worker_calls_task(void *task)
{
    test_set("worker", "w1");
    void *r = ctxvar_task_call(task);
    ASSERT_STR("w1", ctxvar_get(test_var("worker"), NULL));
    ASSERT_STR("unset", ctxvar_get(test_var("id"), "unset"));
    return r;
}

TEST_IMPL(wrap_captures_context_at_wrap_time)
{
    struct seen s = {"", "", 0};
    ctxvar_set(test_var("id"), "at-wrap", NULL);
    ctxvar_task *t = ctxvar_wrap(record_task, &s);
    ASSERT_NOT_NULL(t);
    ASSERT_INT(0, ctxvar_set(test_var("id"), "after-wrap", NULL));
    /* The worker starts empty (created from a context without id). */
    ctxvar_ctx *saved = ctxvar_swap(NULL);
    pthread_t w;
    CHECK_PT(pthread_create(&w, NULL, worker_runs_task, t));
    ctxvar_release(ctxvar_swap(saved));
    CHECK_PT(pthread_join(w, NULL));
    ASSERT_INT(1, s.calls);
    ASSERT_STR("at-wrap", s.id);
    ASSERT_STR("unset", s.worker); /* the submitter's context, not the worker's */
    ASSERT_STR("after-wrap", ctxvar_get(test_var("id"), NULL));
}

TEST_IMPL(task_run_in_same_thread_restores_context)
{
    struct seen s = {"", "", 0};
    test_set("id", "at-wrap");
    ctxvar_task *t = ctxvar_wrap(record_task, &s);
    test_set("id", "caller");
    test_set("worker", "same-thread");
    ctxvar_task_run(t);
    ASSERT_STR("at-wrap", s.id);
    ASSERT_STR("unset", s.worker);
    ASSERT_STR("caller", ctxvar_get(test_var("id"), NULL));
    ASSERT_STR("same-thread", ctxvar_get(test_var("worker"), NULL));
}

TEST_IMPL(task_call_returns_fn_result)
{
    struct seen s = {"", "", 0};
    test_set("id", "at-wrap");
    ctxvar_task *t = ctxvar_wrap_ret(record_task_ret, &s);
    ASSERT_NOT_NULL(t);
    test_set("id", NULL);
    ctxvar_ctx *saved = ctxvar_swap(NULL);
    pthread_t w;
    void *r = NULL;
    CHECK_PT(pthread_create(&w, NULL, worker_calls_task, t));
    ctxvar_release(ctxvar_swap(saved));
    CHECK_PT(pthread_join(w, &r));
    ASSERT_PTR((void *)0x77, r);
    ASSERT_STR("at-wrap", s.id);
}

TEST_IMPL(task_run_frees_task_and_snapshot)
{
    struct seen s = {"", "", 0};
    unsigned long long base = test_live();
    test_set("id", "1");
    ctxvar_task *t = ctxvar_wrap(record_task, &s);
    test_set("id", NULL);
    ASSERT_ULL(base + 1, test_live()); /* the task holds {id=1} */
    ctxvar_task_run(t);
    ASSERT_ULL(base, test_live());
    t = ctxvar_wrap_ret(record_task_ret, &s);
    ASSERT_PTR((void *)0x77, ctxvar_task_call(t));
    ASSERT_INT(2, s.calls);
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(task_free_discards_without_running)
{
    struct seen s = {"", "", 0};
    unsigned long long base = test_live();
    test_set("id", "1");
    ctxvar_task *t = ctxvar_wrap(record_task, &s);
    ctxvar_task *t2 = ctxvar_wrap_ret(record_task_ret, &s);
    test_set("id", NULL);
    ASSERT_ULL(base + 1, test_live());
    ctxvar_task_free(t);
    ctxvar_task_free(t2);
    ctxvar_task_free(NULL);
    ASSERT_ULL(base, test_live());
    ASSERT_INT(0, s.calls);
}

TEST_IMPL(wrap_of_empty_context_runs_in_empty_context)
{
    struct seen s = {"", "", 0};
    ctxvar_task *t = ctxvar_wrap(record_task, &s);
    ASSERT_NOT_NULL(t);
    test_set("id", "later");
    ctxvar_task_run(t);
    ASSERT_STR("unset", s.id);
    ASSERT_STR("later", ctxvar_get(test_var("id"), NULL));
}

TEST_IMPL(wrap_null_fn_returns_null)
{
    ASSERT_NULL(ctxvar_wrap(NULL, NULL));
    ASSERT_NULL(ctxvar_wrap_ret(NULL, NULL));
}

/* A minimal pool of the usual shape: jobs are a function and an argument. */
#define POOL_JOBS 128
struct pool {
    pthread_mutex_t lock;
    pthread_cond_t more, done;
    void (*fn[POOL_JOBS])(void *);
    void *arg[POOL_JOBS];
    int head, tail, finished, stop;
};

static struct pool pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                           PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0, 0, 0};
static atomic_int mismatches, stale_worker;

static void pool_submit(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&pool.lock);
    pool.fn[pool.tail % POOL_JOBS] = fn;
    pool.arg[pool.tail % POOL_JOBS] = arg;
    pool.tail++;
    pthread_cond_signal(&pool.more);
    pthread_mutex_unlock(&pool.lock);
}

static void *pool_worker(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (pool.head == pool.tail && !pool.stop) pthread_cond_wait(&pool.more, &pool.lock);
        if (pool.head == pool.tail) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        void (*fn)(void *) = pool.fn[pool.head % POOL_JOBS];
        void *arg = pool.arg[pool.head % POOL_JOBS];
        pool.head++;
        pthread_mutex_unlock(&pool.lock);
        fn(arg);
        /* Outside a task the worker shows no request's context. */
        if (ctxvar_get(ctxvar_named("submitter"), NULL) != NULL) atomic_fetch_add(&stale_worker, 1);
        pthread_mutex_lock(&pool.lock);
        pool.finished++;
        pthread_cond_broadcast(&pool.done);
        pthread_mutex_unlock(&pool.lock);
    }
}

static void check_submitter(void *expected)
{
    const char *got = ctxvar_get(ctxvar_named("submitter"), "none");
    if (strcmp(got, expected) != 0) atomic_fetch_add(&mismatches, 1);
}

static void *submitter(void *id)
{
    test_set("submitter", id);
    for (int i = 0; i < 50; i++) {
        ctxvar_task *t = ctxvar_wrap(check_submitter, id);
        ASSERT_NOT_NULL(t);
        pool_submit(ctxvar_task_run, t);
    }
    return NULL;
}

TEST_IMPL(pool_tasks_run_in_their_submitters_context)
{
    unsigned long long base = test_live();
    pthread_t workers[2], subs[2];
    for (int i = 0; i < 2; i++) CHECK_PT(pthread_create(&workers[i], NULL, pool_worker, NULL));
    CHECK_PT(pthread_create(&subs[0], NULL, submitter, (void *)"alice"));
    CHECK_PT(pthread_create(&subs[1], NULL, submitter, (void *)"bob"));
    for (int i = 0; i < 2; i++) CHECK_PT(pthread_join(subs[i], NULL));
    pthread_mutex_lock(&pool.lock);
    while (pool.finished < 100) pthread_cond_wait(&pool.done, &pool.lock);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.more);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < 2; i++) CHECK_PT(pthread_join(workers[i], NULL));
    ASSERT_INT(100, pool.finished);
    ASSERT_INT(0, atomic_load(&mismatches));
    ASSERT_INT(0, atomic_load(&stale_worker));
    ASSERT_ULL(base, test_live());
}

/* Regression (review): the stale-context rule stripped the frame the first
 * task ran in; when that was a ctxvar_run frame, the inherited value came
 * back with the thread's base frame after the run, for good, and the run's
 * own context lost values meanwhile. */
static void *task_inside_run(void *task)
{
    ctxvar_task_run(task);
    /* Still inside the run: its context, given explicitly, is untouched. */
    return (void *)ctxvar_get(ctxvar_named("req"), "(none)");
}

static void note_task(void *arg) { (void)arg; }

static void *worker_first_task_inside_run(void *out)
{
    char **seen = out;
    ctxvar_ctx *explicit_context = ctxvar_capture(); /* req=A, inherited */
    seen[0] = (char *)ctxvar_run(explicit_context, task_inside_run, ctxvar_wrap(note_task, NULL));
    seen[1] = (char *)ctxvar_get(ctxvar_named("req"), "(none)");
    ctxvar_release(explicit_context);
    return NULL;
}

TEST_IMPL(stale_rule_applies_to_base_frame_when_first_task_runs_inside_run)
{
    char *seen[2];
    test_set("req", "A");
    test_in_thread(worker_first_task_inside_run, seen);
    ASSERT_STR("A", seen[0]);
    ASSERT_STR("(none)", seen[1]);
}
