/* runtime.h - what the runtime's parts share: lib/runtime.c (per-thread state,
 * the API), lib/baggage.c (W3C Baggage and Trace Context) and the
 * interposers in shim/ (threads, OpenMP, notifications, processes).
 * Nothing here is exported. */
#ifndef CTXVAR_RUNTIME_H
#define CTXVAR_RUNTIME_H

#include <stddef.h>

#include "store.h"

#define CTXVAR__EXPORT __attribute__((visibility("default")))

/* Code that runs in a new thread before the start routine it wraps.  Under a
 * dynamic ThreadSanitizer, preloaded first as it must be, TSan's own start
 * routine is the one we wrap, so this code runs before TSan has set the
 * thread up: it must not be instrumented, nor call what is (so no malloc or
 * free through TSan's interceptors either).  Nothing changes otherwise. */
#if defined(__SANITIZE_THREAD__)
#define CTXVAR__BEFORE_THREAD_START __attribute__((no_sanitize("thread"), noinline))
#else
#define CTXVAR__BEFORE_THREAD_START
#endif

/* The definition of `name` after ours (dlsym RTLD_NEXT), looked up on first
 * use and kept in *cache; NULL when there is none.  Racing lookups find the
 * same answer. */
void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name) CTXVAR__HIDDEN;

/* Reads CTXVAR_DEBUG / CTXVAR_INHERIT / CTXVAR_EXPORT, creates the
 * thread-exit key, decides whether this copy of the runtime is the process's
 * one, and seeds the main thread from BAGGAGE, TRACEPARENT and TRACESTATE
 * when called on it.  Idempotent, thread-safe, and safe before the
 * runtime's constructor has run (pitfall 3). */
void ctxvar__ensure_init(void) CTXVAR__HIDDEN;

/* Whether pthread_create should pass a snapshot to the new thread: the
 * runtime is initialised, CTXVAR_INHERIT is not 0, and this copy is the
 * process's runtime (a second copy loaded from another path defers). */
int ctxvar__inherit_enabled(void) CTXVAR__HIDDEN;

/* Whether OpenMP regions and tasks, and SIGEV_THREAD notifications, should
 * carry their creator's context: this copy is the process's runtime.  Unlike
 * inheritance at thread creation, CTXVAR_INHERIT=0 does not turn this off. */
int ctxvar__propagation_enabled(void) CTXVAR__HIDDEN;

/* Whether child processes get the calling thread's context in their
 * environment: CTXVAR_EXPORT is not 0 and this copy is the runtime. */
int ctxvar__export_enabled(void) CTXVAR__HIDDEN;

/* 1 when c is the context the process was started with, read from its
 * environment at load (NULL when that was empty). */
int ctxvar__is_environment_context(const ctxvar_ctx *c) CTXVAR__HIDDEN;

/* The calling thread's current context, borrowed. */
ctxvar_ctx *ctxvar__current_borrowed(void) CTXVAR__HIDDEN;

/* A new reference to the calling thread's context, for a thread it starts. */
ctxvar_ctx *ctxvar__capture_for_child(void) CTXVAR__HIDDEN;

/* In a new thread, before its start routine: makes `inherited` (owned) its
 * current context and counts the inheritance, or, when the runtime cannot
 * arrange its release at thread exit, releases it, counts a failure, and
 * leaves the thread empty. */
void ctxvar__thread_adopt(ctxvar_ctx *inherited) CTXVAR__HIDDEN;

/* Runs fn(arg) with c (borrowed) current in a new frame, then restores the
 * caller's, like ctxvar_run.  For the OpenMP and timer interposers.  The
 * stale-context rule does not apply: an OpenMP thread that runs a region or
 * task may be a request's own thread, whose inherited context must stay. */
void ctxvar__run_in(ctxvar_ctx *c, void (*fn)(void *), void *arg) CTXVAR__HIDDEN;

/* Counts a thread that started without its creator's context. */
void ctxvar__count_inherit_failure(void) CTXVAR__HIDDEN;

/* With CTXVAR_DEBUG=1, one line on stderr: "ctxvar: " + the message. */
void ctxvar__debug(const char *fmt, ...) CTXVAR__HIDDEN __attribute__((format(printf, 1, 2)));

/* 1 when name is a valid variable name of `len` bytes. */
int ctxvar__valid_name(const char *name, size_t len) CTXVAR__HIDDEN;

/* The variable of that name if it was ever interned, else NULL; allocates
 * nothing, takes no lock. */
struct ctxvar *ctxvar__lookup(const char *name, size_t len) CTXVAR__HIDDEN;

/* The variable of that name (len bytes, not NUL-terminated), interned. */
struct ctxvar *ctxvar__intern(const char *name, size_t len) CTXVAR__HIDDEN;

#endif
