/* header_everywhere.c - every function of ctxvar.h called once, in code
 * that is C89 with GNU's __inline__, C99 and later, C++98 and later, and
 * TinyCC's C alike, so that bats/header_builds.bats can compile it under each of them
 * with strict warnings as errors and check what it prints, with the runtime
 * and without. */
#include "ctxvar.h"

#include <stdio.h>
#include <string.h>

/* The null pointer, and a pointer from void *, as each language spells
 * them without a warning. */
#if defined(__cplusplus)
#define FROM_VOID(type, p) static_cast<type>(p)
#if __cplusplus >= 201103L
#define NIL nullptr
#else
#define NIL NULL
#endif
#else
#define FROM_VOID(type, p) ((type)(p))
#define NIL NULL
#endif

/* What each task prints first: writable, so that they pass as void *. */
static char wrapped_task[] = "wrapped task", freed_task[] = "freed task",
            returning_task[] = "returning task", run_in_capture[] = "run in the capture";

static const char *value_of(const char *name)
{
    return ctxvar_get(ctxvar_named(name), "(none)");
}

static void task_prints(void *what)
{
    printf("%s: request_id=%s\n", FROM_VOID(const char *, what), value_of("request_id"));
}

static void *run_prints(void *what)
{
    task_prints(what);
    return what;
}

static int count_member(const char *name, const char *value, void *count)
{
    (void)name;
    (void)value;
    ++*FROM_VOID(int *, count);
    return 0;
}

int main(void)
{
    ctxvar *request = ctxvar_named("request_id");
    ctxvar_token tok;
    ctxvar_ctx *captured, *decoded = NIL, *previous;
    ctxvar_task *task;
    struct ctxvar_stats stats;
    char line[256];
    size_t dropped = 0, skipped = 0;
    unsigned long count; /* printed with %lu: C89 has no %zu */
    int members = 0, rc;

    printf("runtime present: %d\n", ctxvar_runtime_present());
    printf("name: %s\n", ctxvar_name(request) ? ctxvar_name(request) : "(null)");
    rc = ctxvar_set(request, "42", &tok);
    printf("set: %d (%s), request_id=%s\n", rc, ctxvar_strerror(rc), value_of("request_id"));
    rc = ctxvar_format(line, sizeof line);
    printf("format: %d \"%s\"\n", rc, line);

    captured = ctxvar_capture();
    count = ctxvar_ctx_count(captured);
    printf("captured: %lu variable(s), request_id=%s\n", count,
           ctxvar_ctx_get(captured, request, "(none)"));
    rc = ctxvar_ctx_foreach(captured, count_member, &members);
    printf("foreach: %d, %d member(s)\n", rc, members);

    task = ctxvar_wrap(task_prints, wrapped_task);
    ctxvar_task_free(ctxvar_wrap(task_prints, freed_task));
    if (ctxvar_reset(&tok) == 0) printf("reset: request_id=%s\n", value_of("request_id"));
    else ctxvar_token_drop(&tok);
    ctxvar_task_run(task);
    task = ctxvar_wrap_ret(run_prints, returning_task);
    printf("returned: %s\n",
           ctxvar_task_call(task) ? "its argument" : "nothing");
    ctxvar_run(captured, run_prints, run_in_capture);

    previous = ctxvar_swap(ctxvar_retain(captured));
    printf("swapped in: request_id=%s\n", value_of("request_id"));
    ctxvar_release(ctxvar_swap(previous));

    rc = ctxvar_baggage_encode(captured, line, sizeof line, &dropped);
    count = dropped;
    printf("baggage_encode: %d \"%s\", %lu dropped\n", rc, line, count);
    rc = ctxvar_baggage_current(line, sizeof line, &dropped);
    printf("baggage_current: %d \"%s\"\n", rc, line);
    rc = ctxvar_baggage_decode("user_id=7", captured, &decoded, &skipped);
    printf("baggage_decode: %d, user_id=%s\n", rc,
           ctxvar_ctx_get(decoded, ctxvar_named("user_id"), "(none)"));
    ctxvar_release(decoded);
    ctxvar_release(captured);

    rc = ctxvar_set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NIL);
    printf("set_traceparent: %d\n", rc);
    rc = ctxvar_accept_headers(NIL, NIL, "tenant_id=acme", NIL);
    printf("accept_headers: %d, tenant_id=%s\n", rc, value_of("tenant_id"));
    ctxvar_clear();
    printf("cleared: tenant_id=%s\n", value_of("tenant_id"));

#if defined(CTXVAR_SCOPE)
    CTXVAR_SCOPE(request, "9") { printf("in scope: request_id=%s\n", value_of("request_id")); }
    printf("after scope: request_id=%s\n", value_of("request_id"));
#else
    /* What CTXVAR_SCOPE does, spelled out: C89 has no declaration in a
     * for, and TinyCC no cleanup attribute. */
    rc = ctxvar_set(request, "9", &tok);
    printf("in scope: request_id=%s\n", value_of("request_id"));
    if (rc == 0) ctxvar_reset(&tok);
    printf("after scope: request_id=%s\n", value_of("request_id"));
#endif

    rc = ctxvar_stats(&stats);
    printf("stats: %s\n", rc == 0 ? "0" : ctxvar_strerror(rc));
    printf("version: %s\n",
           strcmp(ctxvar_version(), CTXVAR_VERSION) == 0 ? "the header's" : "another");
    return 0;
}
