/* test-baggage.c - BAGGAGE seeds the main thread's context at load.  Each
 * test runs with the BAGGAGE value test-list.h gives it. */
#include "test.h"

#include <pthread.h>

static const char *get(const char *name) { return ctxvar_get(test_var(name), "unset"); }

static size_t count(void)
{
    ctxvar_ctx *c = ctxvar_capture();
    size_t n = ctxvar_ctx_count(c);
    ctxvar_release(c);
    return n;
}

/* BAGGAGE=request_id=42,user_id=alice */
TEST_IMPL(baggage_seeds_main_thread)
{
    ASSERT_STR("42", get("request_id"));
    ASSERT_STR("alice", get("user_id"));
    ASSERT_INT(2, (int)count());
    ASSERT_STR("request_id=42 user_id=alice", test_format());
}

static void *format_in_thread(void *arg)
{
    snprintf(arg, 256, "%s", test_format());
    return NULL;
}

/* BAGGAGE=request_id=42,user_id=alice */
TEST_IMPL(baggage_context_inherited_by_threads)
{
    char seen[256] = "";
    test_in_thread(format_in_thread, seen);
    ASSERT_STR("request_id=42 user_id=alice", seen);
}

/* BAGGAGE=a=x%20y%2C,b=%41%3d%25,c=caf%C3%A9 */
TEST_IMPL(baggage_values_percent_decoded)
{
    ASSERT_STR("x y,", get("a"));
    ASSERT_STR("A=%", get("b"));
    ASSERT_STR("caf\xc3\xa9", get("c"));
}

/* BAGGAGE=a=1;p=2,b=2;p1;p2=x */
TEST_IMPL(baggage_properties_dropped)
{
    ASSERT_STR("1", get("a"));
    ASSERT_STR("2", get("b"));
    ASSERT_STR("unset", get("p"));
    ASSERT_INT(2, (int)count());
}

/* BAGGAGE=" a = 1 ,b=2 ;p=3 ,	c	=	3	" */
TEST_IMPL(baggage_whitespace_trimmed)
{
    ASSERT_STR("1", get("a"));
    ASSERT_STR("2", get("b"));
    ASSERT_STR("3", get("c"));
    ASSERT_INT(3, (int)count());
}

/* BAGGAGE=bad key=1,=x,noequals,1abc=2,a=%zz,ok=yes,,b=%4,last=1 */
TEST_IMPL(baggage_malformed_members_skipped)
{
    ASSERT_STR("yes", get("ok"));
    ASSERT_STR("1", get("last"));
    ASSERT_STR("unset", get("bad"));
    ASSERT_STR("unset", get("key"));
    ASSERT_STR("unset", get("noequals"));
    ASSERT_STR("unset", get("a"));
    ASSERT_STR("unset", get("b"));
    ASSERT_NULL(ctxvar_named("1abc"));
    ASSERT_INT(2, (int)count());
}

/* BAGGAGE=a=1,b=x,a=2 */
TEST_IMPL(baggage_last_repeated_key_wins)
{
    ASSERT_STR("2", get("a"));
    ASSERT_STR("x", get("b"));
    ASSERT_INT(2, (int)count());
}

/* BAGGAGE=a=,b=1 */
TEST_IMPL(baggage_empty_value_sets_empty_string)
{
    ASSERT_STR("", get("a"));
    ASSERT_STR("1", get("b"));
    ASSERT_STR("a=\"\" b=1", test_format());
}

/* BAGGAGE=a=1 plus CTXVAR_DEBUG=1 and a malformed member: still applied. */
TEST_IMPL(baggage_with_debug_still_applies_good_members)
{
    ASSERT_STR("1", get("a"));
    ASSERT_INT(1, (int)count());
}

/* BAGGAGE= (empty): nothing seeded. */
TEST_IMPL(baggage_empty_seeds_nothing)
{
    ASSERT_NULL(ctxvar_capture());
    ASSERT_ULL(0, test_live());
}
