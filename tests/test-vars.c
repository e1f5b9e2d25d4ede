/* test-vars.c - ctxvar_get and ctxvar_set, and errno. */
#include "test.h"

#include <pthread.h>
#include <semaphore.h>

TEST_IMPL(get_unset_returns_fallback)
{
    static const char fb[] = "fallback";
    ctxvar *v = test_var("never_set");
    ASSERT_PTR(fb, ctxvar_get(v, fb));
    ASSERT_NULL(ctxvar_get(v, NULL));
}

TEST_IMPL(get_null_var_returns_fallback)
{
    static const char fb[] = "fb";
    test_set("something", "1"); /* a non-empty context */
    ASSERT_PTR(fb, ctxvar_get(NULL, fb));
    ASSERT_NULL(ctxvar_get(NULL, NULL));
}

TEST_IMPL(set_then_get_returns_value)
{
    ctxvar *v = test_var("request_id");
    ASSERT_INT(0, CALL(ctxvar_set(v, "42", NULL)));
    ASSERT_STR("42", ctxvar_get(v, "fb"));
    ASSERT_INT(0, CALL(ctxvar_set(v, "43", NULL)));
    ASSERT_STR("43", ctxvar_get(v, "fb"));
}

TEST_IMPL(set_copies_value)
{
    char buf[] = "original";
    ctxvar *v = test_var("copied");
    ASSERT_INT(0, ctxvar_set(v, buf, NULL));
    buf[0] = 'X';
    ASSERT_STR("original", ctxvar_get(v, NULL));
    ASSERT(ctxvar_get(v, NULL) != buf);
}

TEST_IMPL(set_empty_string_is_set_not_unset)
{
    ctxvar *v = test_var("empty");
    ASSERT_INT(0, ctxvar_set(v, "", NULL));
    ASSERT_STR("", ctxvar_get(v, "fb"));
}

TEST_IMPL(set_null_value_unsets)
{
    ctxvar *v = test_var("to_unset");
    ASSERT_INT(0, CALL(ctxvar_set(v, "1", NULL)));
    ASSERT_INT(0, CALL(ctxvar_set(v, NULL, NULL)));
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
    ASSERT_NULL(ctxvar_capture()); /* the context is empty again */
    /* Unsetting an unset variable is fine too. */
    ASSERT_INT(0, CALL(ctxvar_set(v, NULL, NULL)));
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
}

TEST_IMPL(set_other_variables_untouched)
{
    ctxvar *a = test_var("a"), *b = test_var("b");
    ASSERT_INT(0, ctxvar_set(a, "1", NULL));
    ASSERT_INT(0, ctxvar_set(b, "2", NULL));
    ASSERT_INT(0, ctxvar_set(a, NULL, NULL));
    ASSERT_STR("2", ctxvar_get(b, NULL));
    ASSERT_STR("fb", ctxvar_get(a, "fb"));
}

TEST_IMPL(set_value_of_4096_bytes_ok)
{
    char *value = malloc(CTXVAR_VALUE_MAX + 1);
    memset(value, 'v', CTXVAR_VALUE_MAX);
    value[CTXVAR_VALUE_MAX] = '\0';
    ctxvar *v = test_var("big");
    ASSERT_INT(0, CALL(ctxvar_set(v, value, NULL)));
    ASSERT_STR(value, ctxvar_get(v, NULL));
    free(value);
}

TEST_IMPL(set_value_of_4097_bytes_is_e2big_and_unchanged)
{
    char *value = malloc(CTXVAR_VALUE_MAX + 2);
    memset(value, 'v', CTXVAR_VALUE_MAX + 1);
    value[CTXVAR_VALUE_MAX + 1] = '\0';
    ctxvar *v = test_var("big");
    ASSERT_INT(0, ctxvar_set(v, "old", NULL));
    ctxvar_ctx *before = ctxvar_capture();
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    ASSERT_INT(E2BIG, CALL(ctxvar_set(v, value, &tok)));
    ASSERT_STR("old", ctxvar_get(v, NULL));
    ctxvar_ctx *after = ctxvar_capture();
    ASSERT_PTR(before, after); /* the very same context stays current */
    /* tok was not filled: resetting it is EINVAL, and nothing changes. */
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("old", ctxvar_get(v, NULL));
    /* Unset variable stays unset. */
    ctxvar *w = test_var("big_unset");
    ASSERT_INT(E2BIG, ctxvar_set(w, value, NULL));
    ASSERT_STR("fb", ctxvar_get(w, "fb"));
    ctxvar_release(before);
    ctxvar_release(after);
    free(value);
}

TEST_IMPL(set_null_var_is_einval)
{
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    test_set("keep", "1");
    ctxvar_ctx *before = ctxvar_capture();
    ASSERT_INT(EINVAL, CALL(ctxvar_set(NULL, "x", NULL)));
    ASSERT_INT(EINVAL, CALL(ctxvar_set(NULL, "x", &tok)));
    ASSERT_INT(EINVAL, CALL(ctxvar_set(NULL, NULL, NULL)));
    ctxvar_ctx *after = ctxvar_capture();
    ASSERT_PTR(before, after);
    ASSERT_INT(EINVAL, ctxvar_reset(&tok)); /* not filled */
    ctxvar_release(before);
    ctxvar_release(after);
}

static int count_pair(const char *name, const char *value, void *arg)
{
    (void)name;
    (void)value;
    ++*(int *)arg;
    return 0;
}

/* Every int-returning call, on success and on each error, leaves errno. */
TEST_IMPL(errno_unchanged_by_every_call)
{
    char big[CTXVAR_VALUE_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ctxvar_token tok, zero;
    memset(&zero, 0, sizeof zero);
    struct ctxvar_stats st;
    char buf[64];
    int n = 0;
    ctxvar *v;

    errno = TEST_ERRNO_MARK;
    v = ctxvar_named("errno_var");
    ASSERT_INT(TEST_ERRNO_MARK, errno);
    ASSERT_NOT_NULL(v);
    errno = TEST_ERRNO_MARK;
    ASSERT_NULL(ctxvar_named("bad name"));
    ASSERT_INT(TEST_ERRNO_MARK, errno);
    errno = TEST_ERRNO_MARK;
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
    ASSERT_INT(TEST_ERRNO_MARK, errno);

    ASSERT_INT(0, CALL(ctxvar_set(v, "1", &tok)));
    ASSERT_INT(E2BIG, CALL(ctxvar_set(v, big, NULL)));
    ASSERT_INT(EINVAL, CALL(ctxvar_set(NULL, "1", NULL)));
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&zero)));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    ASSERT_INT(EALREADY, CALL(ctxvar_reset(&tok)));
    ASSERT_INT(0, CALL(ctxvar_set(v, "2", NULL)));
    ASSERT_INT(11, CALL(ctxvar_format(buf, sizeof buf)));
    ASSERT_STR("errno_var=2", buf);
    ASSERT_INT(11, CALL(ctxvar_format(NULL, 0)));
    ASSERT_INT(0, CALL(ctxvar_stats(&st)));
    ASSERT_INT(EINVAL, CALL(ctxvar_stats(NULL)));
    ASSERT_INT(1, CALL(ctxvar_runtime_present()));

    errno = TEST_ERRNO_MARK;
    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_ctx *r = ctxvar_retain(c);
    ctxvar_release(r);
    ASSERT_INT(1, (int)ctxvar_ctx_count(c));
    ASSERT_INT(0, ctxvar_ctx_foreach(c, count_pair, &n));
    ASSERT_INT(1, n);
    ctxvar_release(ctxvar_swap(ctxvar_retain(c)));
    ctxvar_set(v, "3", &tok);
    ctxvar_token_drop(&tok);
    ctxvar_token_drop(&tok);
    ctxvar_token_drop(NULL);
    ctxvar_release(c);
    ASSERT_INT(TEST_ERRNO_MARK, errno);
}

/* The string ctxvar_get returns stays valid and unchanged while the thread
 * does not change its own context, whatever other threads do. */
static sem_t churn_done;
static void *churn(void *arg)
{
    (void)arg;
    ctxvar *v = test_var("stable");
    char value[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(value, sizeof value, "other-%d", i);
        ASSERT_INT(0, ctxvar_set(v, value, NULL));
        ASSERT_INT(0, ctxvar_set(v, NULL, NULL));
    }
    sem_post(&churn_done);
    return NULL;
}

TEST_IMPL(get_string_stable_until_own_change)
{
    ctxvar *v = test_var("stable");
    ASSERT_INT(0, ctxvar_set(v, "mine", NULL));
    const char *p = ctxvar_get(v, NULL);
    ASSERT_STR("mine", p);
    sem_init(&churn_done, 0, 0);
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, churn, NULL));
    sem_wait(&churn_done);
    CHECK_PT(pthread_join(t, NULL));
    /* Reads that are not changes keep p alive too. */
    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_release(c);
    char buf[64];
    ctxvar_format(buf, sizeof buf);
    ASSERT_STR("stable=mine", buf);
    ASSERT_STR("mine", p);
    ASSERT_PTR(p, ctxvar_get(v, NULL));
    sem_destroy(&churn_done);
}
