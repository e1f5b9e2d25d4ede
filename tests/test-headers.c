/* test-headers.c - ctxvar_accept_headers: an incoming request's
 * traceparent, tracestate and baggage made the thread's context in one
 * call, undone with its token; bad input changes nothing. */
#include "test.h"

#include <string.h>

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static int text_of(char *buf, size_t size) { return ctxvar_format(buf, size); }

TEST_IMPL(accept_headers_sets_trace_and_members_and_reset_restores)
{
    char text[512];
    ASSERT_INT(0, CALL(ctxvar_set(test_var("server"), "s1", NULL)));
    ASSERT_INT(0, CALL(ctxvar_set(test_var("tenant"), "own", NULL)));
    ctxvar_token tok;
    ASSERT_INT(0, CALL(ctxvar_accept_headers(TP, "vendor=x", " tenant=acme , user=a%20b;p=1 ", &tok)));
    text_of(text, sizeof text);
    ASSERT_STR("server=s1 tenant=acme traceparent=" TP " tracestate=\"vendor=x\" user=\"a b\"", text);
    /* A set after the call is undone with it. */
    ASSERT_INT(0, CALL(ctxvar_set(test_var("later"), "x", NULL)));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    text_of(text, sizeof text);
    ASSERT_STR("server=s1 tenant=own", text);
    ASSERT_INT(EALREADY, CALL(ctxvar_reset(&tok)));
}

TEST_IMPL(accept_headers_replaces_the_thread_trace_and_keeps_tracestate_only_with_traceparent)
{
    char text[512];
    ASSERT_INT(0, CALL(ctxvar_set_traceparent("00-11111111111111111111111111111111-2222222222222222-00", NULL)));
    ASSERT_INT(0, CALL(ctxvar_set(test_var("tracestate"), "old=1", NULL)));
    ASSERT_INT(0, CALL(ctxvar_accept_headers(NULL, "vendor=x", "k=v", NULL)));
    text_of(text, sizeof text);
    ASSERT_STR("k=v", text);
    ASSERT_INT(0, CALL(ctxvar_accept_headers(TP, NULL, NULL, NULL)));
    text_of(text, sizeof text);
    ASSERT_STR("k=v traceparent=" TP, text);
}

TEST_IMPL(accept_headers_all_null_clears_the_trace_only)
{
    char text[256];
    ctxvar_token tok;
    ASSERT_INT(0, CALL(ctxvar_set(test_var("a"), "1", NULL)));
    ASSERT_INT(0, CALL(ctxvar_set_traceparent(TP, NULL)));
    ASSERT_INT(0, CALL(ctxvar_accept_headers(NULL, NULL, NULL, &tok)));
    text_of(text, sizeof text);
    ASSERT_STR("a=1", text);
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    text_of(text, sizeof text);
    ASSERT_STR("a=1 traceparent=" TP, text);
}

TEST_IMPL(accept_headers_skips_malformed_members)
{
    char text[256];
    ASSERT_INT(0, CALL(ctxvar_accept_headers(NULL, NULL, "ok=1,noequals,9bad=x,traceparent=x,v=%zz,,last=2", NULL)));
    text_of(text, sizeof text);
    ASSERT_STR("last=2 ok=1", text);
}

TEST_IMPL(accept_headers_bad_input_gives_exact_errors_and_changes_nothing)
{
    char before[256], after[256];
    ASSERT_INT(0, CALL(ctxvar_set(test_var("a"), "1", NULL)));
    text_of(before, sizeof before);
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    static const char *bad[] = {
        "", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_INT(EINVAL, CALL(ctxvar_accept_headers(bad[i], "s=1", "b=2", &tok)));
        text_of(after, sizeof after);
        ASSERT_STR(before, after);
    }
    static char long_state[4098];
    memset(long_state, 'x', 4097);
    ASSERT_INT(E2BIG, CALL(ctxvar_accept_headers(TP, long_state, "b=2", &tok)));
    text_of(after, sizeof after);
    ASSERT_STR(before, after);
    /* The token was never filled: a reset of it is EINVAL. */
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    /* A valid tracestate of 4096 bytes is accepted: 16 members of 255
     * bytes and commas, one value a byte longer. */
    char *p = long_state;
    for (int i = 0; i < 16; i++) {
        p += sprintf(p, "%sk%02d=", i ? "," : "", i);
        memset(p, 'v', i ? 251 : 252);
        p += i ? 251 : 252;
    }
    *p = '\0';
    ASSERT_INT(4096, (int)strlen(long_state));
    ASSERT_INT(0, CALL(ctxvar_accept_headers(TP, long_state, NULL, NULL)));
    ASSERT_STR(long_state, ctxvar_get(test_var("tracestate"), ""));
}

TEST_IMPL(accept_headers_token_from_another_thread_is_einval)
{
    ctxvar_token tok;
    ASSERT_INT(0, CALL(ctxvar_accept_headers(TP, NULL, "k=v", &tok)));
    ctxvar_ctx *saved = ctxvar_swap(NULL); /* another frame */
    ASSERT_INT(EINVAL, CALL(ctxvar_reset(&tok)));
    ctxvar_release(ctxvar_swap(saved));
    ASSERT_INT(0, CALL(ctxvar_reset(&tok)));
    ASSERT_NULL(ctxvar_get(test_var("k"), NULL));
}

TEST_IMPL(noruntime_accept_headers_is_enosys)
{
    ctxvar_token tok;
    memset(&tok, 0, sizeof tok);
    ASSERT_INT(ENOSYS, CALL(ctxvar_accept_headers(TP, "a=1", "k=v", &tok)));
    ASSERT_INT(ENOSYS, CALL(ctxvar_accept_headers(NULL, NULL, NULL, NULL)));
    ASSERT_INT(0, (int)tok.ctxvar__state);
}
