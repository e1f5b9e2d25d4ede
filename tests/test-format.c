/* test-format.c - ctxvar_format: logfmt, quoting, snprintf semantics. */
#include "test.h"

/* The format of a context holding only k=value. */
static void check_one(const char *value, const char *want)
{
    ctxvar *k = test_var("k");
    char buf[256];
    ASSERT_INT(0, ctxvar_set(k, value, NULL));
    memset(buf, '#', sizeof buf);
    int n = CALL(ctxvar_format(buf, sizeof buf));
    ASSERT_STR(want, buf);
    ASSERT_INT((int)strlen(want), n);
}

TEST_IMPL(format_empty_context_is_empty_string)
{
    char buf[16];
    memset(buf, '#', sizeof buf);
    ASSERT_INT(0, CALL(ctxvar_format(buf, sizeof buf)));
    ASSERT_STR("", buf);
    ASSERT_INT(0, CALL(ctxvar_format(NULL, 0)));
}

TEST_IMPL(format_pairs_in_name_order_one_space_apart)
{
    test_set("b", "2");
    test_set("a", "1");
    ASSERT_STR("a=1 b=2", test_format());
    test_set("B", "0");
    test_set("a.b", "3");
    test_set("a-b", "4");
    ASSERT_STR("B=0 a=1 a-b=4 a.b=3 b=2", test_format());
}

TEST_IMPL(format_plain_values_unquoted)
{
    check_one("abc", "k=abc");
    check_one("a,b;c:d/e", "k=a,b;c:d/e");
    check_one("{json:1}", "k={json:1}");
}

TEST_IMPL(format_empty_value_quoted)
{
    check_one("", "k=\"\"");
}

TEST_IMPL(format_space_equals_quote_are_quoted)
{
    check_one("a b", "k=\"a b\"");
    check_one("a=b", "k=\"a=b\"");
    check_one("say \"hi\"", "k=\"say \\\"hi\\\"\"");
    check_one("\"", "k=\"\\\"\"");
}

TEST_IMPL(format_backslash_alone_not_quoted)
{
    check_one("a\\b", "k=a\\b");
    check_one("\\", "k=\\");
}

TEST_IMPL(format_backslash_escaped_inside_quotes)
{
    check_one("a \\b", "k=\"a \\\\b\"");
}

TEST_IMPL(format_control_escapes)
{
    check_one("a\nb", "k=\"a\\nb\"");
    check_one("a\rb", "k=\"a\\rb\"");
    check_one("a\tb", "k=\"a\\tb\"");
    check_one("\x01", "k=\"\\u0001\"");
    check_one("x\x1b[0m", "k=\"x\\u001b[0m\"");
    check_one("\x1f", "k=\"\\u001f\"");
    check_one("del\x7f", "k=\"del\\u007f\"");
}

TEST_IMPL(format_utf8_bytes_raw)
{
    check_one("h\xc3\xa9llo \xe2\x82\xac", "k=\"h\xc3\xa9llo \xe2\x82\xac\"");
    check_one("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "k=\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST_IMPL(format_sizes_like_snprintf)
{
    test_set("a", "1");
    test_set("b", "2"); /* "a=1 b=2": 7 bytes */
    ASSERT_INT(7, CALL(ctxvar_format(NULL, 0)));
    char buf[16];
    memset(buf, '#', sizeof buf);
    ASSERT_INT(7, CALL(ctxvar_format(buf, 0)));
    ASSERT_INT('#', buf[0]); /* size 0: nothing written */
    ASSERT_INT(7, CALL(ctxvar_format(buf, 1)));
    ASSERT_STR("", buf);
    memset(buf, '#', sizeof buf);
    ASSERT_INT(7, CALL(ctxvar_format(buf, 5)));
    ASSERT_STR("a=1 ", buf);
    ASSERT_INT('#', buf[5]);
    memset(buf, '#', sizeof buf);
    ASSERT_INT(7, CALL(ctxvar_format(buf, 7)));
    ASSERT_STR("a=1 b=", buf);
    memset(buf, '#', sizeof buf);
    ASSERT_INT(7, CALL(ctxvar_format(buf, 8)));
    ASSERT_STR("a=1 b=2", buf);
    ASSERT_INT('#', buf[8]);
}

TEST_IMPL(format_short_buffer_cuts_quoted_text)
{
    test_set("k", "a b");
    char buf[5];
    ASSERT_INT(7, ctxvar_format(buf, sizeof buf)); /* k="a b" */
    ASSERT_STR("k=\"a", buf);
}

TEST_IMPL(format_large_context)
{
    char name[16], want[8192] = "";
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "n%02d", i);
        test_set(name, "value with space");
        n += (size_t)snprintf(want + n, sizeof want - n, "%s%s=\"value with space\"",
                              i ? " " : "", name);
    }
    int len = ctxvar_format(NULL, 0);
    ASSERT_INT((int)n, len);
    char *buf = malloc((size_t)len + 1);
    ASSERT_INT(len, ctxvar_format(buf, (size_t)len + 1));
    ASSERT_STR(want, buf);
    free(buf);
}

TEST_IMPL(format_max_value_fully_escaped)
{
    /* 4096 control bytes: each becomes \u0001, and the length says so. */
    char *value = malloc(CTXVAR_VALUE_MAX + 1);
    memset(value, 1, CTXVAR_VALUE_MAX);
    value[CTXVAR_VALUE_MAX] = '\0';
    ASSERT_INT(0, ctxvar_set(test_var("k"), value, NULL));
    int len = ctxvar_format(NULL, 0);
    ASSERT_INT(2 + 1 + 6 * CTXVAR_VALUE_MAX + 1, len);
    char *buf = malloc((size_t)len + 1);
    ASSERT_INT(len, ctxvar_format(buf, (size_t)len + 1));
    ASSERT(strncmp(buf, "k=\"\\u0001\\u0001", 15) == 0);
    ASSERT_INT('"', buf[len - 1]);
    free(buf);
    free(value);
}
