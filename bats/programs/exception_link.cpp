// exception_link.cpp - a C++ exception thrown through the runtime's frames
// (ctxvar_run, a wrapped task, a nested run) is caught by the program, and
// the caller's context is restored, whichever way the program links its
// unwinder and C++ library (bats/exceptions.bats builds it three ways).
#include <cstdio>
#include <stdexcept>

#include "ctxvar.h"

static ctxvar *request_id;

static void *throwing_body(void *)
{
    ctxvar_set(request_id, "inner", NULL);
    throw std::runtime_error("boom");
}

static void *nested_body(void *)
{
    ctxvar_set(request_id, "middle", NULL);
    ctxvar_ctx *here = ctxvar_capture();
    try {
        ctxvar_run(here, throwing_body, NULL);
    } catch (const std::exception &) {
        std::printf("nested inner caught: request_id=%s\n", ctxvar_get(request_id, "-"));
        ctxvar_release(here);
        throw;
    }
    ctxvar_release(here);
    return NULL;
}

static void throwing_task(void *) { throwing_body(NULL); }

int main()
{
    request_id = ctxvar_named("request_id");
    ctxvar_set(request_id, "outer", NULL);
    ctxvar_ctx *snapshot = ctxvar_capture();
    try {
        ctxvar_run(snapshot, throwing_body, NULL);
    } catch (const std::exception &e) {
        std::printf("run: caught %s: request_id=%s\n", e.what(), ctxvar_get(request_id, "-"));
    }
    try {
        ctxvar_task_run(ctxvar_wrap(throwing_task, NULL));
    } catch (const std::exception &e) {
        std::printf("task: caught %s: request_id=%s\n", e.what(), ctxvar_get(request_id, "-"));
    }
    try {
        ctxvar_run(snapshot, nested_body, NULL);
    } catch (const std::exception &e) {
        std::printf("nested outer caught %s: request_id=%s\n", e.what(), ctxvar_get(request_id, "-"));
    }
    ctxvar_release(snapshot);
    struct ctxvar_stats s;
    ctxvar_stats(&s);
    std::printf("live_contexts=%llu\n", s.live_contexts);
    return 0;
}
