/* test-scope.c - CTXVAR_SCOPE: set on entry, reset on every way out. */
#include "test.h"

TEST_IMPL(scope_value_inside_restored_after_end)
{
    ctxvar *v = test_var("scoped");
    unsigned long long base;
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    base = test_live();
    int ran = 0;
    CTXVAR_SCOPE(v, "inner") {
        ASSERT_STR("inner", ctxvar_get(v, NULL));
        ran++;
    }
    ASSERT_INT(1, ran);
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ASSERT_ULL(base, test_live()); /* the token was used up */
}

TEST_IMPL(scope_restores_unset)
{
    ctxvar *v = test_var("scoped");
    CTXVAR_SCOPE(v, "inner") ASSERT_STR("inner", ctxvar_get(v, NULL));
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
    ASSERT_NULL(ctxvar_capture());
}

TEST_IMPL(scope_break_leaves_block_only)
{
    ctxvar *v = test_var("scoped");
    int iterations = 0, after_block = 0, after_break = 0;
    for (int i = 0; i < 3; i++) {
        iterations++;
        CTXVAR_SCOPE(v, "inner") {
            ASSERT_STR("inner", ctxvar_get(v, NULL));
            if (i >= 0) break;
            after_break++;
        }
        ASSERT_STR("fb", ctxvar_get(v, "fb"));
        after_block++;
    }
    ASSERT_INT(3, iterations);   /* the enclosing loop went on */
    ASSERT_INT(3, after_block);  /* and so did the code after the block */
    ASSERT_INT(0, after_break);
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
}

TEST_IMPL(scope_continue_leaves_block_and_resets)
{
    ctxvar *v = test_var("scoped");
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    int after_continue = 0, after_block = 0;
    for (int i = 0; i < 3; i++) {
        CTXVAR_SCOPE(v, "inner") {
            ASSERT_STR("inner", ctxvar_get(v, NULL));
            if (i >= 0) continue;
            after_continue++;
        }
        ASSERT_STR("outer", ctxvar_get(v, NULL));
        after_block++;
    }
    ASSERT_INT(0, after_continue);
    ASSERT_INT(3, after_block);
    ASSERT_STR("outer", ctxvar_get(v, NULL));
}

static const char *return_from_scope(ctxvar *v, int early)
{
    CTXVAR_SCOPE(v, "inner") {
        if (early) return ctxvar_get(v, NULL) ? "returned" : "unset";
    }
    return "end";
}

TEST_IMPL(scope_return_restores)
{
    ctxvar *v = test_var("scoped");
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    unsigned long long base = test_live();
    ASSERT_STR("returned", return_from_scope(v, 1));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ASSERT_STR("end", return_from_scope(v, 0));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(scope_goto_out_restores)
{
    ctxvar *v = test_var("scoped");
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    int after_goto = 0;
    CTXVAR_SCOPE(v, "inner") {
        ASSERT_STR("inner", ctxvar_get(v, NULL));
        goto out;
    }
    after_goto++;
out:
    ASSERT_INT(0, after_goto);
    ASSERT_STR("outer", ctxvar_get(v, NULL));
}

TEST_IMPL(scope_nested_restores_each_level)
{
    ctxvar *v = test_var("scoped"), *w = test_var("other");
    ASSERT_INT(0, ctxvar_set(v, "0", NULL));
    CTXVAR_SCOPE(v, "1") {
        CTXVAR_SCOPE(w, "w1") {
            CTXVAR_SCOPE(v, "2") {
                ASSERT_STR("2", ctxvar_get(v, NULL));
                ASSERT_STR("w1", ctxvar_get(w, NULL));
            }
            ASSERT_STR("1", ctxvar_get(v, NULL));
            ASSERT_STR("w1", ctxvar_get(w, NULL));
        }
        ASSERT_STR("1", ctxvar_get(v, NULL));
        ASSERT_NULL(ctxvar_get(w, NULL));
    }
    ASSERT_STR("0", ctxvar_get(v, NULL));
}

TEST_IMPL(scope_leaves_later_changes_to_other_variables)
{
    ctxvar *v = test_var("scoped"), *w = test_var("other");
    CTXVAR_SCOPE(v, "inner") {
        ASSERT_INT(0, ctxvar_set(w, "set-inside", NULL));
    }
    ASSERT_NULL(ctxvar_get(v, NULL));
    ASSERT_STR("set-inside", ctxvar_get(w, NULL));
}

TEST_IMPL(scope_with_failing_set_still_runs_block)
{
    ctxvar *v = test_var("scoped");
    char *big = malloc(CTXVAR_VALUE_MAX + 2);
    memset(big, 'b', CTXVAR_VALUE_MAX + 1);
    big[CTXVAR_VALUE_MAX + 1] = '\0';
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    int ran = 0;
    CTXVAR_SCOPE(v, big) {
        ASSERT_STR("outer", ctxvar_get(v, NULL));
        ran++;
    }
    ASSERT_INT(1, ran);
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    CTXVAR_SCOPE(NULL, "x") ran++;
    ASSERT_INT(2, ran);
    free(big);
}
