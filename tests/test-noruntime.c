/* test-noruntime.c - with no runtime in the process the API degrades and
 * never fails a run.  These run without LD_PRELOAD (see test-list.h). */
#include "test.h"

#include <pthread.h>

TEST_IMPL(noruntime_runtime_present_is_0)
{
    ASSERT_INT(0, ctxvar_runtime_present());
}

TEST_IMPL(noruntime_named_returns_null)
{
    ASSERT_NULL(ctxvar_named("request_id"));
    ASSERT_NULL(ctxvar_named(NULL));
    ASSERT_NULL(ctxvar_name(NULL));
}

TEST_IMPL(noruntime_get_returns_fallback)
{
    static const char fb[] = "fb";
    ASSERT_PTR(fb, ctxvar_get(ctxvar_named("request_id"), fb));
    ASSERT_PTR(fb, ctxvar_get(NULL, fb));
    ASSERT_NULL(ctxvar_get(NULL, NULL));
}

TEST_IMPL(noruntime_set_is_enosys_whatever_the_arguments)
{
    ctxvar_token tok;
    ASSERT_INT(ENOSYS, CALL(ctxvar_set(NULL, "x", NULL)));
    ASSERT_INT(ENOSYS, CALL(ctxvar_set(NULL, NULL, &tok)));
    ASSERT_INT(ENOSYS, CALL(ctxvar_set(ctxvar_named("v"), "x", &tok)));
}

TEST_IMPL(noruntime_reset_is_enosys)
{
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    ASSERT_INT(ENOSYS, CALL(ctxvar_reset(&tok)));
    ASSERT_INT(ENOSYS, CALL(ctxvar_reset(NULL)));
    ctxvar_token_drop(&tok);
    ctxvar_token_drop(NULL);
}

TEST_IMPL(noruntime_snapshots_are_empty)
{
    ASSERT_NULL(ctxvar_capture());
    ASSERT_NULL(ctxvar_retain(NULL));
    ctxvar_release(NULL);
    ASSERT_NULL(ctxvar_swap(NULL));
    ASSERT_INT(0, (int)ctxvar_ctx_count(NULL));
    ASSERT_STR("fb", ctxvar_ctx_get(NULL, NULL, "fb"));
}

static void *return_arg(void *arg)
{
    ++*(int *)arg;
    return arg;
}

TEST_IMPL(noruntime_run_calls_fn_and_returns_result)
{
    int calls = 0;
    ASSERT_PTR(&calls, ctxvar_run(NULL, return_arg, &calls));
    ASSERT_INT(1, calls);
    /* fn NULL: nothing happens, NULL is returned, as with the runtime. */
    ASSERT_PTR(NULL, ctxvar_run(NULL, NULL, &calls));
    ASSERT_INT(1, calls);
}

static void count_call(void *arg) { ++*(int *)arg; }

TEST_IMPL(noruntime_task_helpers_call_the_function)
{
    int calls = 0;
    ctxvar_task *t = ctxvar_wrap(count_call, &calls);
    ASSERT_NOT_NULL(t);
    ctxvar_task_run(t);
    ASSERT_INT(1, calls);
    t = ctxvar_wrap_ret(return_arg, &calls);
    ASSERT_NOT_NULL(t);
    ASSERT_PTR(&calls, ctxvar_task_call(t));
    ASSERT_INT(2, calls);
    ctxvar_task_free(ctxvar_wrap(count_call, &calls)); /* never runs, no leak */
    ASSERT_INT(2, calls);
    ASSERT_NULL(ctxvar_wrap(NULL, NULL));
}

TEST_IMPL(noruntime_format_writes_empty_string)
{
    char buf[8];
    memset(buf, '#', sizeof buf);
    ASSERT_INT(0, CALL(ctxvar_format(buf, sizeof buf)));
    ASSERT_STR("", buf);
    ASSERT_INT(0, CALL(ctxvar_format(NULL, 0)));
}

TEST_IMPL(noruntime_stats_is_enosys_and_zeroed)
{
    struct ctxvar_stats s;
    memset(&s, 0xff, sizeof s);
    ASSERT_INT(ENOSYS, CALL(ctxvar_stats(&s)));
    ASSERT_ULL(0, s.live_contexts);
    ASSERT_ULL(0, s.threads_inherited);
    ASSERT_ULL(0, s.inherit_failures);
    ASSERT_INT(EINVAL, CALL(ctxvar_stats(NULL)));
}

TEST_IMPL(noruntime_version_and_strerror)
{
    ASSERT_STR("1.0.0", ctxvar_version());
    ASSERT_NOT_NULL(ctxvar_strerror(ENOSYS));
    ASSERT(strlen(ctxvar_strerror(ENOSYS)) > 0);
}

static void *thread_fn(void *arg) { return arg; }

TEST_IMPL(noruntime_threads_and_scope_still_work)
{
    void *r = NULL;
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, thread_fn, (void *)5));
    CHECK_PT(pthread_join(t, &r));
    ASSERT_PTR((void *)5, r);
    int ran = 0;
    CTXVAR_SCOPE(ctxvar_named("v"), "x") ran++;
    ASSERT_INT(1, ran);
}

TEST_IMPL(noruntime_ignores_baggage)
{
    ASSERT_STR("fb", ctxvar_get(ctxvar_named("a"), "fb"));
    char buf[8];
    ASSERT_INT(0, ctxvar_format(buf, sizeof buf));
    ASSERT_STR("", buf);
}
