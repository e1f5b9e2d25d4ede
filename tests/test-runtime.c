/* test-runtime.c - stats, version, strerror, CTXVAR_DEBUG diagnostics. */
#include "test.h"

TEST_IMPL(stats_null_is_einval)
{
    ASSERT_INT(EINVAL, CALL(ctxvar_stats(NULL)));
}

TEST_IMPL(stats_fields_fresh_process)
{
    struct ctxvar_stats s;
    memset(&s, 0xff, sizeof s);
    ASSERT_INT(0, CALL(ctxvar_stats(&s)));
    ASSERT_ULL(0, s.live_contexts);
    ASSERT_ULL(0, s.threads_inherited);
    ASSERT_ULL(0, s.inherit_failures);
}

TEST_IMPL(version_is_1_0_0)
{
    ASSERT_STR("1.0.0", ctxvar_version());
    ASSERT_STR(CTXVAR_VERSION, ctxvar_version());
}

TEST_IMPL(strerror_has_a_message_for_every_code)
{
    static const int codes[] = {0, EINVAL, E2BIG, ENOMEM, EALREADY, ENOSYS, ESRCH, EBUSY, 99999, -1};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *m = ctxvar_strerror(codes[i]);
        if (!m || !*m) test_fail(__FILE__, __LINE__, "ctxvar_strerror(%d) empty", codes[i]);
    }
    /* Distinct codes, distinct messages; unknown codes share one. */
    for (size_t i = 0; i < 8; i++)
        for (size_t j = i + 1; j < 8; j++)
            ASSERT(strcmp(ctxvar_strerror(codes[i]), ctxvar_strerror(codes[j])) != 0);
    ASSERT_STR(ctxvar_strerror(99999), ctxvar_strerror(-1));
    for (size_t i = 0; i < 8; i++)
        ASSERT(strcmp(ctxvar_strerror(codes[i]), ctxvar_strerror(99999)) != 0);
}

/* Refused calls: what CTXVAR_DEBUG=1 prints, and that the value never does. */
static void refuse_some_calls(void)
{
    char big[CTXVAR_VALUE_MAX + 64];
    memset(big, 'S', sizeof big - 1);
    memcpy(big, "SECRETVALUE", 11);
    big[sizeof big - 1] = '\0';
    ctxvar_token zero;
    memset(&zero, 0, sizeof zero);
    ASSERT_NULL(ctxvar_named("bad name"));
    ASSERT_INT(E2BIG, ctxvar_set(test_var("k"), big, NULL));
    ASSERT_INT(EINVAL, ctxvar_set(NULL, "SECRETVALUE2", NULL));
    ASSERT_INT(EINVAL, ctxvar_reset(&zero));
}

TEST_IMPL(debug_explains_refused_calls_on_stderr)
{
    test_stderr_start();
    refuse_some_calls();
    char *text = test_stderr_stop();
    int lines = 0;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        if (!end) test_fail(__FILE__, __LINE__, "unterminated diagnostic: %s", line);
        if (strncmp(line, "ctxvar: ", 8) != 0)
            test_fail(__FILE__, __LINE__, "diagnostic without \"ctxvar: \": %.*s",
                      (int)(end - line), line);
        lines++;
        line = end + 1;
    }
    ASSERT(lines >= 3);
    if (strstr(text, "SECRETVALUE"))
        test_fail(__FILE__, __LINE__, "a value appears in diagnostics: %s", text);
    free(text);
}

TEST_IMPL(no_diagnostics_without_debug)
{
    test_stderr_start();
    refuse_some_calls();
    char *text = test_stderr_stop();
    ASSERT_STR("", text);
    free(text);
}
