/* test-snapshots.c - capture, retain, release, swap, run, ctx_get,
 * ctx_count, ctx_foreach. */
#include "test.h"

TEST_IMPL(capture_of_empty_context_is_null)
{
    ASSERT_NULL(ctxvar_capture());
    test_set("v", "1");
    test_set("v", NULL);
    ASSERT_NULL(ctxvar_capture());
}

TEST_IMPL(capture_is_a_reference_not_a_copy)
{
    test_set("v", "1");
    unsigned long long base = test_live();
    ctxvar_ctx *c1 = ctxvar_capture(), *c2 = ctxvar_capture();
    ASSERT_NOT_NULL(c1);
    ASSERT_PTR(c1, c2);
    ASSERT_ULL(base, test_live()); /* no new context object */
    ctxvar_release(c1);
    ctxvar_release(c2);
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(retain_release_counting)
{
    ctxvar *v = test_var("v");
    unsigned long long base = test_live();
    ASSERT_INT(0, ctxvar_set(v, "1", NULL));
    ASSERT_ULL(base + 1, test_live());
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_PTR(c, ctxvar_retain(c));
    ASSERT_INT(0, ctxvar_set(v, NULL, NULL)); /* current: empty */
    ASSERT_ULL(base + 1, test_live());        /* two references on c */
    ctxvar_release(c);
    ASSERT_ULL(base + 1, test_live());        /* one left */
    ASSERT_STR("1", ctxvar_ctx_get(c, v, NULL));
    ctxvar_release(c);
    ASSERT_ULL(base, test_live());
    /* NULL is the empty snapshot. */
    ASSERT_NULL(ctxvar_retain(NULL));
    ctxvar_release(NULL);
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(snapshot_unchanged_by_later_sets)
{
    ctxvar *a = test_var("a"), *b = test_var("b");
    ASSERT_INT(0, ctxvar_set(a, "1", NULL));
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(0, ctxvar_set(a, "2", NULL));
    ASSERT_INT(0, ctxvar_set(b, "x", NULL));
    ASSERT_STR("1", ctxvar_ctx_get(c, a, "fb"));
    ASSERT_STR("fb", ctxvar_ctx_get(c, b, "fb"));
    ASSERT_INT(1, (int)ctxvar_ctx_count(c));
    ASSERT_STR("2", ctxvar_get(a, NULL));
    ctxvar_release(c);
}

TEST_IMPL(ctx_get_fallback_for_null_ctx_and_var)
{
    static const char fb[] = "fb";
    ctxvar *a = test_var("a");
    ASSERT_PTR(fb, ctxvar_ctx_get(NULL, a, fb));
    test_set("a", "1");
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_PTR(fb, ctxvar_ctx_get(c, NULL, fb));
    ASSERT_PTR(fb, ctxvar_ctx_get(c, test_var("not_in_c"), fb));
    ASSERT_NULL(ctxvar_ctx_get(c, test_var("not_in_c"), NULL));
    ctxvar_release(c);
}

TEST_IMPL(ctx_count_counts_variables)
{
    ASSERT_INT(0, (int)ctxvar_ctx_count(NULL));
    test_set("a", "1");
    test_set("b", "2");
    test_set("a", "3");
    test_set("c", "");
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(3, (int)ctxvar_ctx_count(c));
    ctxvar_release(c);
    test_set("b", NULL);
    c = ctxvar_capture();
    ASSERT_INT(2, (int)ctxvar_ctx_count(c));
    ctxvar_release(c);
}

struct visit {
    char text[512];
    int calls, stop_at;
};

static int record(const char *name, const char *value, void *arg)
{
    struct visit *vis = arg;
    size_t n = strlen(vis->text);
    snprintf(vis->text + n, sizeof vis->text - n, "%s%s=%s", n ? " " : "", name, value);
    vis->calls++;
    return vis->calls == vis->stop_at ? 77 : 0;
}

TEST_IMPL(foreach_visits_in_ascending_byte_order)
{
    /* Set in a scrambled order; byte order puts upper case and '_' before
     * lower case, and '-' (0x2d) < '.' (0x2e) < '0' (0x30). */
    static const char *const names[] = {"a.b", "_x", "B", "a0", "a-b", "Z9", "a", "aa"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) test_set(names[i], names[i]);
    ctxvar_ctx *c = ctxvar_capture();
    struct visit vis = {"", 0, 0};
    ASSERT_INT(0, ctxvar_ctx_foreach(c, record, &vis));
    ASSERT_STR("B=B Z9=Z9 _x=_x a=a a-b=a-b a.b=a.b a0=a0 aa=aa", vis.text);
    ASSERT_INT(8, vis.calls);
    ctxvar_release(c);
}

TEST_IMPL(foreach_many_variables_in_order)
{
    /* Enough variables for any trie or hash layout to matter. */
    char name[32];
    for (int i = 299; i >= 0; i--) {
        snprintf(name, sizeof name, "k%03d", i);
        test_set(name, "v");
    }
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(300, (int)ctxvar_ctx_count(c));
    struct visit vis = {"", 0, 0};
    /* Only the first ~40 fit in vis.text; check the order of those and the count. */
    ASSERT_INT(0, ctxvar_ctx_foreach(c, record, &vis));
    ASSERT_INT(300, vis.calls);
    ASSERT(strncmp(vis.text, "k000=v k001=v k002=v k003=v", 27) == 0);
    ctxvar_release(c);
}

TEST_IMPL(foreach_stops_at_nonzero_and_returns_it)
{
    test_set("a", "1");
    test_set("b", "2");
    test_set("c", "3");
    ctxvar_ctx *c = ctxvar_capture();
    struct visit vis = {"", 0, 2};
    ASSERT_INT(77, ctxvar_ctx_foreach(c, record, &vis));
    ASSERT_INT(2, vis.calls);
    ASSERT_STR("a=1 b=2", vis.text);
    ctxvar_release(c);
}

TEST_IMPL(foreach_on_null_visits_nothing)
{
    struct visit vis = {"", 0, 0};
    ASSERT_INT(0, ctxvar_ctx_foreach(NULL, record, &vis));
    ASSERT_INT(0, vis.calls);
}

TEST_IMPL(swap_returns_previous_and_transfers_ownership)
{
    ctxvar *a = test_var("a");
    unsigned long long base = test_live();
    ASSERT_INT(0, ctxvar_set(a, "1", NULL));
    ctxvar_ctx *one = ctxvar_capture();
    ASSERT_INT(0, ctxvar_set(a, "2", NULL));
    ASSERT_ULL(base + 2, test_live());
    ctxvar_ctx *prev = ctxvar_swap(one); /* takes over our reference to one */
    ASSERT_NOT_NULL(prev);
    ASSERT_STR("1", ctxvar_get(a, NULL));
    ASSERT_STR("2", ctxvar_ctx_get(prev, a, NULL));
    ASSERT_ULL(base + 2, test_live());
    ctxvar_ctx *back = ctxvar_swap(prev);
    ASSERT_PTR(one, back);
    ASSERT_STR("2", ctxvar_get(a, NULL));
    ctxvar_release(back);
    /* {a=1} is still the lender of {a=2} (store.c, BORROWING)... */
    ASSERT_ULL(base + 2, test_live());
    ASSERT_INT(0, ctxvar_set(a, NULL, NULL));
    ASSERT_ULL(base, test_live()); /* ...and goes with it */
}

TEST_IMPL(swap_null_clears_context)
{
    test_set("a", "1");
    unsigned long long base = test_live();
    ctxvar_ctx *prev = ctxvar_swap(NULL);
    ASSERT_NOT_NULL(prev);
    ASSERT_NULL(ctxvar_capture());
    ASSERT_STR("fb", ctxvar_get(test_var("a"), "fb"));
    ASSERT_ULL(base, test_live()); /* prev now ours */
    ctxvar_release(prev);
    ASSERT_ULL(base - 1, test_live());
    ASSERT_NULL(ctxvar_swap(NULL));
}

struct run_probe {
    ctxvar *v;
    const char *seen;
    char seen_buf[64];
};

static void *probe_and_mess(void *arg)
{
    struct run_probe *p = arg;
    const char *s = ctxvar_get(p->v, "unset");
    snprintf(p->seen_buf, sizeof p->seen_buf, "%s", s);
    p->seen = p->seen_buf;
    /* Change everything: sets, a swap never undone, more sets. */
    ctxvar_set(p->v, "changed-in-fn", NULL);
    ctxvar_set(test_var("fn_only"), "x", NULL);
    ctxvar_release(ctxvar_swap(NULL));
    ctxvar_set(p->v, "after-swap-in-fn", NULL);
    return (void *)0x1234;
}

TEST_IMPL(run_restores_callers_context_whatever_fn_did)
{
    ctxvar *v = test_var("v");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(v, "run-ctx", NULL));
    ctxvar_ctx *other = ctxvar_capture();
    ASSERT_INT(0, ctxvar_set(v, "caller-old", NULL));
    ASSERT_INT(0, ctxvar_set(v, "caller", &tok));
    ctxvar_ctx *before = ctxvar_capture();
    struct run_probe p = {v, NULL, ""};
    ASSERT_PTR((void *)0x1234, ctxvar_run(other, probe_and_mess, &p));
    ASSERT_STR("run-ctx", p.seen);
    ASSERT_STR("caller", ctxvar_get(v, NULL));
    ASSERT_NULL(ctxvar_get(test_var("fn_only"), NULL));
    ctxvar_ctx *after = ctxvar_capture();
    ASSERT_PTR(before, after); /* exactly the caller's context */
    /* and the caller's frame: its token still works. */
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_STR("caller-old", ctxvar_get(v, NULL));
    ctxvar_release(before);
    ctxvar_release(after);
    ctxvar_release(other);
}

TEST_IMPL(run_does_not_consume_ctx)
{
    ctxvar *v = test_var("v");
    test_set("v", "in-c");
    ctxvar_ctx *c = ctxvar_capture();
    test_set("v", NULL);
    unsigned long long base = test_live();
    struct run_probe p = {v, NULL, ""};
    ctxvar_run(c, probe_and_mess, &p);
    ASSERT_STR("in-c", p.seen);
    ASSERT_ULL(base, test_live()); /* c still alive, nothing else */
    ASSERT_STR("in-c", ctxvar_ctx_get(c, v, NULL));
    ctxvar_run(c, probe_and_mess, &p); /* again */
    ASSERT_STR("in-c", p.seen);
    ctxvar_release(c);
    ASSERT_ULL(base - 1, test_live());
}

TEST_IMPL(run_with_null_runs_in_empty_context)
{
    ctxvar *v = test_var("v");
    test_set("v", "caller");
    struct run_probe p = {v, NULL, ""};
    ASSERT_PTR((void *)0x1234, ctxvar_run(NULL, probe_and_mess, &p));
    ASSERT_STR("unset", p.seen);
    ASSERT_STR("caller", ctxvar_get(v, NULL));
}

static void *return_arg(void *arg) { return arg; }

TEST_IMPL(run_returns_fn_result)
{
    int x;
    ASSERT_PTR(&x, ctxvar_run(NULL, return_arg, &x));
    ASSERT_NULL(ctxvar_run(NULL, return_arg, NULL));
}

struct nest {
    ctxvar *v;
    ctxvar_ctx *inner_ctx;
    char inner_seen[32], after_inner[32];
};

static void *inner_fn(void *arg)
{
    struct nest *n = arg;
    snprintf(n->inner_seen, sizeof n->inner_seen, "%s", ctxvar_get(n->v, "unset"));
    ctxvar_set(n->v, "set-in-inner", NULL);
    return NULL;
}

static void *outer_fn(void *arg)
{
    struct nest *n = arg;
    ctxvar_set(n->v, "set-in-outer", NULL);
    ctxvar_run(n->inner_ctx, inner_fn, n);
    snprintf(n->after_inner, sizeof n->after_inner, "%s", ctxvar_get(n->v, "unset"));
    return NULL;
}

TEST_IMPL(run_nested_restores_each_level)
{
    ctxvar *v = test_var("v");
    test_set("v", "inner-ctx");
    struct nest n = {v, ctxvar_capture(), "", ""};
    test_set("v", "outer-ctx");
    ctxvar_ctx *outer = ctxvar_capture();
    test_set("v", "caller");
    ctxvar_run(outer, outer_fn, &n);
    ASSERT_STR("inner-ctx", n.inner_seen);
    ASSERT_STR("set-in-outer", n.after_inner);
    ASSERT_STR("caller", ctxvar_get(v, NULL));
    ctxvar_release(outer);
    ctxvar_release(n.inner_ctx);
}

TEST_IMPL(live_contexts_zero_for_empty_process)
{
    /* Nothing set: the empty context and interned variables are not counted. */
    test_var("interned_only");
    ASSERT_ULL(0, test_live());
    test_set("x", "1");
    ASSERT_ULL(1, test_live());
    test_set("x", NULL);
    ASSERT_ULL(0, test_live());
}
