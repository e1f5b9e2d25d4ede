/* test-tokens.c - ctxvar_reset and ctxvar_token_drop. */
#include "test.h"

#include <pthread.h>

TEST_IMPL(reset_restores_previous_value)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "old", NULL));
    ASSERT_INT(0, ctxvar_set(v, "new", &tok));
    ASSERT_STR("new", ctxvar_get(v, NULL));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("old", ctxvar_get(v, NULL));
}

TEST_IMPL(reset_restores_unset)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "new", &tok));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
    ASSERT_NULL(ctxvar_capture());
}

TEST_IMPL(reset_of_unset_restores_value)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "was", NULL));
    ASSERT_INT(0, ctxvar_set(v, NULL, &tok));
    ASSERT_STR("fb", ctxvar_get(v, "fb"));
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_STR("was", ctxvar_get(v, "fb"));
}

/* set a, set b with a token, set a again, reset b's token: a keeps its
 * newest value (reset is not "restore the whole old context"). */
TEST_IMPL(reset_leaves_other_variables_untouched)
{
    ctxvar *a = test_var("a"), *b = test_var("b"), *c = test_var("c");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(a, "a1", NULL));
    ASSERT_INT(0, ctxvar_set(b, "b1", &tok));
    ASSERT_INT(0, ctxvar_set(a, "a2", NULL));
    ASSERT_INT(0, ctxvar_set(c, "c1", NULL));
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_STR("a2", ctxvar_get(a, "fb"));
    ASSERT_STR("fb", ctxvar_get(b, "fb"));
    ASSERT_STR("c1", ctxvar_get(c, "fb"));
}

TEST_IMPL(reset_tokens_in_reverse_order_unwinds)
{
    ctxvar *v = test_var("v");
    ctxvar_token t1, t2, t3;
    ASSERT_INT(0, ctxvar_set(v, "1", &t1));
    ASSERT_INT(0, ctxvar_set(v, "2", &t2));
    ASSERT_INT(0, ctxvar_set(v, "3", &t3));
    ASSERT_INT(0, ctxvar_reset(&t3));
    ASSERT_STR("2", ctxvar_get(v, NULL));
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_STR("1", ctxvar_get(v, NULL));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_NULL(ctxvar_get(v, NULL));
}

TEST_IMPL(reset_twice_is_ealready)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "1", &tok));
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_INT(0, ctxvar_set(v, "2", NULL));
    ASSERT_INT(EALREADY, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("2", ctxvar_get(v, NULL)); /* nothing restored */
}

TEST_IMPL(reset_after_drop_is_ealready)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "1", &tok));
    ctxvar_token_drop(&tok);
    ASSERT_STR("1", ctxvar_get(v, NULL)); /* drop restores nothing */
    ASSERT_INT(EALREADY, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("1", ctxvar_get(v, NULL));
}

TEST_IMPL(reset_never_filled_token_is_einval)
{
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    test_set("v", "1");
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok))); /* not used up either */
    ASSERT_STR("1", ctxvar_get(test_var("v"), NULL));
}

TEST_IMPL(reset_null_token_is_einval)
{
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(NULL)));
}

static void *reset_elsewhere(void *arg)
{
    return (void *)(long)CALL(ctxvar_reset(arg));
}

TEST_IMPL(reset_from_other_thread_is_einval)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "old", NULL));
    ASSERT_INT(0, ctxvar_set(v, "new", &tok));
    ASSERT_INT(EINVAL, (long)test_in_thread(reset_elsewhere, &tok));
    ASSERT_STR("new", ctxvar_get(v, NULL));
    /* Not used up: the owner can still reset it. */
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_STR("old", ctxvar_get(v, NULL));
}

static ctxvar_token outer_token;
static void *reset_outer_token(void *arg)
{
    (void)arg;
    return (void *)(long)CALL(ctxvar_reset(&outer_token));
}

TEST_IMPL(reset_inside_run_of_token_from_outside_is_einval)
{
    ctxvar *v = test_var("v");
    ASSERT_INT(0, ctxvar_set(v, "before", NULL));
    ASSERT_INT(0, ctxvar_set(v, "outer", &outer_token));
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(EINVAL, (long)ctxvar_run(c, reset_outer_token, NULL));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    /* Back in its own frame, the token works. */
    ASSERT_INT(0, ctxvar_reset(&outer_token));
    ASSERT_STR("before", ctxvar_get(v, NULL));
    ctxvar_release(c);
}

static ctxvar_token inner_token;
static void *fill_inner_token(void *arg)
{
    (void)arg;
    return (void *)(long)ctxvar_set(test_var("v"), "inner", &inner_token);
}

TEST_IMPL(reset_after_run_of_token_from_inside_is_einval)
{
    ctxvar *v = test_var("v");
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(0, (long)ctxvar_run(c, fill_inner_token, NULL));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&inner_token)));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ctxvar_token_drop(&inner_token);
    ASSERT_INT(EALREADY, ctxvar_reset(&inner_token));
    ctxvar_release(c);
}

TEST_IMPL(reset_after_swap_of_token_from_before_is_einval)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "before", NULL));
    ASSERT_INT(0, ctxvar_set(v, "tok", &tok));
    ctxvar_ctx *snap = ctxvar_capture();
    ctxvar_ctx *prev = ctxvar_swap(snap);
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("tok", ctxvar_get(v, NULL));
    ctxvar_token_drop(&tok);
    ASSERT_INT(EALREADY, ctxvar_reset(&tok));
    ctxvar_release(ctxvar_swap(prev));
}

TEST_IMPL(reset_after_swap_back_of_token_from_swap_is_einval)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "outer", NULL));
    ctxvar_ctx *prev = ctxvar_swap(NULL);
    ASSERT_INT(0, ctxvar_set(v, "swapped", &tok));
    ctxvar_ctx *swapped = ctxvar_swap(prev);
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("outer", ctxvar_get(v, NULL));
    ctxvar_token_drop(&tok);
    ctxvar_release(swapped);
}

/* Regression (review): every swap opened a new frame, the swap back too, so
 * a token filled before a swap/swap-back pair could never be reset, and a
 * CTXVAR_SCOPE around such a pair silently left its value set. */
TEST_IMPL(reset_after_swap_and_swap_back_of_token_from_before_works)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    unsigned long long base = test_live();
    ASSERT_INT(0, ctxvar_set(v, "before", &tok));
    ctxvar_ctx *mine = ctxvar_swap(NULL);
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ctxvar_release(ctxvar_swap(mine));
    ASSERT_STR("before", ctxvar_get(v, NULL));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    ASSERT_STR("unset", ctxvar_get(v, "unset"));
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(scope_around_swap_and_swap_back_still_resets)
{
    ctxvar *v = test_var("v");
    CTXVAR_SCOPE(v, "scoped") {
        ctxvar_ctx *mine = ctxvar_swap(NULL);
        ASSERT_STR("unset", ctxvar_get(v, "unset"));
        ctxvar_release(ctxvar_swap(mine));
        ASSERT_STR("scoped", ctxvar_get(v, NULL));
    }
    ASSERT_STR("unset", ctxvar_get(v, "unset"));
}

TEST_IMPL(token_drop_harmless_on_null_unfilled_and_used)
{
    ctxvar_token zero, tok;
    memset(&zero, 0, sizeof zero);
    ctxvar *v = test_var("v");
    unsigned long long base = test_live();
    ctxvar_token_drop(NULL);
    ctxvar_token_drop(&zero);
    ASSERT_INT(EINVAL, ctxvar_reset(&zero));
    ASSERT_INT(0, ctxvar_set(v, "1", &tok));
    ASSERT_INT(0, ctxvar_reset(&tok));
    ctxvar_token_drop(&tok); /* already used by reset */
    ctxvar_token_drop(&tok);
    ASSERT_INT(EALREADY, ctxvar_reset(&tok));
    ASSERT_ULL(base, test_live());
    ASSERT_NULL(ctxvar_get(v, NULL));
}

TEST_IMPL(live_contexts_back_to_baseline_after_reset)
{
    ctxvar *v = test_var("v"), *w = test_var("w");
    ctxvar_token t1, t2, t3;
    unsigned long long base = test_live();
    ASSERT_INT(0, ctxvar_set(v, "1", &t1));
    ASSERT_INT(0, ctxvar_set(w, "2", &t2));
    ASSERT_INT(0, ctxvar_set(v, "3", &t3));
    ASSERT(test_live() > base);
    ASSERT_INT(0, ctxvar_reset(&t3));
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_ULL(base, test_live());
}

/* Setting a variable over and over without tokens: each version borrows
 * from the one before, until a version 8 lenders deep; the next borrows from
 * a flat twin of that one instead, and the chain behind it is freed.  So the
 * versions alive never pile up: after set n there are n of them up to n = 9,
 * then the twin plus (n - 10) % 8 + 1 on the chain, never more than 9. */
TEST_IMPL(versions_kept_alive_by_borrowing_are_bounded)
{
    ctxvar *v = test_var("v");
    unsigned long long base = test_live();
    char value[16];
    for (int i = 1; i <= 100; i++) {
        snprintf(value, sizeof value, "%d", i);
        ASSERT_INT(0, ctxvar_set(v, value, NULL));
        ASSERT_ULL(base + (unsigned)(i <= 9 ? i : 1 + (i - 10) % 8 + 1), test_live());
    }
    ASSERT_STR("100", ctxvar_get(v, NULL));
    ctxvar_clear();
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(live_contexts_back_to_baseline_after_drop)
{
    ctxvar *v = test_var("v");
    ctxvar_token t1, t2;
    unsigned long long base = test_live();
    ASSERT_INT(0, ctxvar_set(v, "1", NULL));
    ASSERT_INT(0, ctxvar_set(v, "2", &t1)); /* t1 holds {v=1} */
    ASSERT_INT(0, ctxvar_set(v, "3", &t2)); /* t2 holds {v=2} */
    ASSERT_ULL(base + 3, test_live());
    /* Each version is the lender of the next (store.c, BORROWING), so the
     * dropped ones live on as long as {v=3} does, and no longer. */
    ctxvar_token_drop(&t1);
    ASSERT_ULL(base + 3, test_live());
    ctxvar_token_drop(&t2);
    ASSERT_ULL(base + 3, test_live());
    ASSERT_INT(0, ctxvar_set(v, NULL, NULL));
    ASSERT_ULL(base, test_live());
}
