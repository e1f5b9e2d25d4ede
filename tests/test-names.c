/* test-names.c - ctxvar_named and ctxvar_name. */
#include "test.h"

#include <pthread.h>

TEST_IMPL(named_accepts_valid_names)
{
    static const char *const valid[] = {
        "a", "Z", "_", "_x", "request_id", "a.b", "a-b", "A9", "aZ09_.-", "x--..__",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        errno = TEST_ERRNO_MARK;
        ctxvar *v = ctxvar_named(valid[i]);
        ASSERT_INT(TEST_ERRNO_MARK, errno);
        if (!v) test_fail(__FILE__, __LINE__, "ctxvar_named(\"%s\") returned NULL", valid[i]);
        ASSERT_STR(valid[i], ctxvar_name(v));
    }
}

TEST_IMPL(named_accepts_64_bytes_rejects_65)
{
    char name[66];
    memset(name, 'n', 64);
    name[64] = '\0';
    ctxvar *v = ctxvar_named(name);
    ASSERT_NOT_NULL(v);
    ASSERT_STR(name, ctxvar_name(v));
    ASSERT_PTR(v, ctxvar_named(name));
    name[64] = 'n';
    name[65] = '\0';
    errno = TEST_ERRNO_MARK;
    ASSERT_NULL(ctxvar_named(name));
    ASSERT_INT(TEST_ERRNO_MARK, errno);
}

TEST_IMPL(named_rejects_invalid_names)
{
    static const char *const invalid[] = {
        "",     "1abc", "9",   "-a",  ".a",   "a b", " a",  "a ",    "a/b",
        "a=b",  "a,b",  "a;b", "a:b", "a\"b", "a\\b", "a\tb", "a\nb", "\xc3\xa4",
        "a\xc3\xa4", "a\x7f", "a@b", "a+b", "a%b", "a*b",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        errno = TEST_ERRNO_MARK;
        ctxvar *v = ctxvar_named(invalid[i]);
        ASSERT_INT(TEST_ERRNO_MARK, errno);
        if (v) test_fail(__FILE__, __LINE__, "ctxvar_named(invalid #%zu \"%s\") = %p, want NULL",
                         i, invalid[i], (void *)v);
    }
    ASSERT_NULL(ctxvar_named(NULL));
}

TEST_IMPL(named_returns_same_pointer_for_same_name)
{
    ctxvar *a = ctxvar_named("same_name");
    ASSERT_NOT_NULL(a);
    ASSERT_PTR(a, ctxvar_named("same_name"));
    char copy[] = "same_name"; /* another address, same bytes */
    ASSERT_PTR(a, ctxvar_named(copy));
    ASSERT(ctxvar_named("same_name2") != a);
    ASSERT(ctxvar_named("Same_name") != a);
}

static pthread_barrier_t name_barrier;
static void *name_racer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&name_barrier);
    return ctxvar_named("raced_name");
}

TEST_IMPL(named_same_pointer_from_two_threads)
{
    pthread_t t1, t2;
    void *p1, *p2;
    CHECK_PT(pthread_barrier_init(&name_barrier, NULL, 2));
    CHECK_PT(pthread_create(&t1, NULL, name_racer, NULL));
    CHECK_PT(pthread_create(&t2, NULL, name_racer, NULL));
    CHECK_PT(pthread_join(t1, &p1));
    CHECK_PT(pthread_join(t2, &p2));
    ASSERT_NOT_NULL(p1);
    ASSERT_PTR(p1, p2);
    ASSERT_PTR(p1, ctxvar_named("raced_name"));
    pthread_barrier_destroy(&name_barrier);
}

TEST_IMPL(name_returns_name_and_null_for_null)
{
    ctxvar *v = test_var("my.var-1");
    ASSERT_STR("my.var-1", ctxvar_name(v));
    ASSERT_PTR(ctxvar_name(v), ctxvar_name(v)); /* lives for the process */
    ASSERT_NULL(ctxvar_name(NULL));
}

TEST_IMPL(two_translation_units_share_one_store)
{
    ASSERT_INT(0, test_set_from_other_unit("shared_tu", "from-helpers"));
    ASSERT_STR("from-helpers", ctxvar_get(test_var("shared_tu"), "fb"));
    test_set("shared_tu", "from-test");
    ASSERT_STR("from-test", test_get_from_other_unit("shared_tu", "fb"));
}

TEST_IMPL(runtime_present_when_preloaded)
{
    ASSERT_INT(1, ctxvar_runtime_present());
    ASSERT_INT(1, ctxvar_runtime_present());
}
