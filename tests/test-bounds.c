/* test-bounds.c - what a long-running thread that keeps replacing values
 * holds: a bounded number of context versions and flat memory. */
#include <malloc.h>

#include "test.h"

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ASSERT_INT(0, ctxvar_stats(&s));
    return s.live_contexts;
}

/* A copy borrows unchanged slots from the version it was made from, and a
 * chain of such versions is cut at 8 (lib/store.c), so replacing one value
 * forever keeps at most 8 older versions alive, whatever their size. */
TEST_IMPL(replacing_a_4kb_value_5000_times_keeps_live_contexts_and_heap_bounded)
{
    static char value[4097];
    ctxvar *big = ctxvar_named("big");
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    for (int i = 0; i < 100; i++) { /* warm up the free lists and the cache */
        memset(value, 'a' + i % 26, 4096);
        ASSERT_INT(0, ctxvar_set(big, value, NULL));
    }
    unsigned long long live_before = live_contexts();
    size_t heap_before = mallinfo2().uordblks;
    for (int i = 0; i < 5000; i++) {
        memset(value, 'a' + i % 26, 4096);
        ASSERT_INT(0, ctxvar_set(big, value, NULL));
    }
    ASSERT_STR(value, ctxvar_get(big, NULL));
    unsigned long long live_after = live_contexts();
    size_t heap_after = mallinfo2().uordblks;
    ASSERT(live_after <= live_before + 8);
    ASSERT(live_after <= 10);
    /* 5,000 values of 4 KiB are 20 MB; bounded means under a tenth of one. */
    ASSERT(heap_after < heap_before + 2 * 1024 * 1024);
}

static void *set_in_run(void *arg)
{
    ctxvar_set(ctxvar_named("in_run"), "1", NULL);
    return arg;
}

static void set_in_task(void *arg) { (void)set_in_run(arg); }

/* After any sequence that undoes what it did, live_contexts is back where
 * it started: the versions made on the way are not kept alive, so a leak
 * test that compares before and after sees only leaks. */
TEST_IMPL(balanced_sequences_return_live_contexts_to_baseline)
{
    ctxvar *a = ctxvar_named("a"), *b = ctxvar_named("b");
    ASSERT_INT(0, ctxvar_set(a, "1", NULL));
    const unsigned long long base = live_contexts();
    ctxvar_token t1, t2;

    ASSERT_INT(0, ctxvar_set(b, "x", &t1));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_ULL(base, live_contexts()); /* set, reset */

    ASSERT_INT(0, ctxvar_set(b, "x", &t1));
    ASSERT_INT(0, ctxvar_set(a, "2", &t2));
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_ULL(base, live_contexts()); /* nested */

    ASSERT_INT(0, ctxvar_set(b, "x", &t1));
    ASSERT_INT(0, ctxvar_set(a, "2", &t2));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_ULL(base, live_contexts()); /* crossed */

    ASSERT_INT(0, ctxvar_set(b, "x", &t1));
    ASSERT_INT(0, ctxvar_set(b, "y", &t2));
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_ULL(base, live_contexts()); /* the same variable twice */

    CTXVAR_SCOPE(b, "outer") {
        CTXVAR_SCOPE(a, "inner") { ASSERT_STR("inner", ctxvar_get(a, NULL)); }
    }
    ASSERT_ULL(base, live_contexts()); /* nested scopes */

    ctxvar_ctx *mine = ctxvar_swap(NULL);
    ctxvar_release(ctxvar_swap(mine));
    ASSERT_ULL(base, live_contexts()); /* swap, swap back */

    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_run(c, set_in_run, NULL);
    ctxvar_release(c);
    ASSERT_ULL(base, live_contexts()); /* capture, run, release */

    ctxvar_task_run(ctxvar_wrap(set_in_task, NULL));
    ASSERT_ULL(base, live_contexts()); /* wrap, task run */

    ASSERT_STR("1", ctxvar_get(a, NULL));
    ASSERT_NULL(ctxvar_get(b, NULL));
}
