/* runtime.h - what the runtime's parts share: lib/runtime.c (per-thread state,
 * the API), lib/baggage.c (W3C Baggage and Trace Context) and the
 * interposers in shim/ (threads, OpenMP, notifications, processes).
 * Nothing here is exported. */
#ifndef CTXVAR_RUNTIME_H
#define CTXVAR_RUNTIME_H

#include <stddef.h>

#include <pthread.h>

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

/* The definition of `name` that ours stands in front of, looked up on first
 * use and kept in *cache; NULL when there is none.  `ours` is our own
 * definition (or NULL): when the search after us finds it again (the runtime
 * loaded in an unusual order), libc's own default version is asked for by
 * name.  Racing lookups find the same answer.  Safe before our constructor
 * has run: other libraries' constructors create threads too. */
void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name, const void *ours) CTXVAR__HIDDEN;

/* The next definition of the function `name`, typed as our own declaration
 * of it, with a lookup cache private to this use. */
#define CTXVAR__NEXT(name)                                                        \
    __extension__({                                                               \
        static _Atomic(void *) ctxvar__next_cache_;                               \
        (__typeof__(&name))ctxvar__next_symbol(&ctxvar__next_cache_, #name,       \
                                               (const void *)&name);              \
    })

/* Reads CTXVAR_DEBUG / CTXVAR_INHERIT / CTXVAR_EXPORT, creates the
 * thread-exit key, decides whether this copy of the runtime is the process's
 * one, and seeds the main thread from BAGGAGE, TRACEPARENT and TRACESTATE
 * when called on it.  Idempotent, thread-safe, and safe before the
 * runtime's constructor has run (pitfall 3). */
void ctxvar__ensure_init(void) CTXVAR__HIDDEN;

/* The value the environment variable `name` (BAGGAGE, TRACEPARENT or
 * TRACESTATE) had when the runtime read it at start-up, as a private copy
 * that lives for the process; NULL when it was unset (or could not be
 * copied).  Lets the exec interposers tell a value the program put in the
 * environment itself from the one it was started with. */
const char *ctxvar__environment_at_load(const char *name) CTXVAR__HIDDEN;


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

/* RELEASE AT JOIN.  A joinable thread started by our pthread_create or
 * thrd_create does not arm a pthread key to release its context at exit
 * (glibc then runs every key's destructor loop, PTHREAD_DESTRUCTOR_ITERATIONS
 * times, for each thread).  When its start routine ends, by return,
 * pthread_exit or cancellation, it hands what it holds to an exit record
 * (its start slot) and goes on showing it to whatever still runs (key and
 * thread_local destructors, which may still log and set); whoever joins it
 * releases the record after the real join, when nothing of the thread runs
 * any more.  A thread detached before its start routine ends releases its
 * own context from the key instead; one detached after is joined on the
 * spot (pthread_tryjoin_np) if it has finished, which is what detaching
 * it would have done.  Available when the runtime's TLS is static and
 * pthread_t is glibc's thread pointer; otherwise every thread uses the key. */
struct ctxvar__exit_record {
    atomic_int state;                /* CTXVAR__EXIT_* */
    atomic_int published;            /* CTXVAR__RECORD_*: set by the creator */
    ctxvar_ctx *current, *inherited; /* handed over: what the thread holds */
    void (*dispose)(struct ctxvar__exit_record *); /* frees the record's memory */
    pthread_t thread;                /* once published */
    /* A forked child releases what the threads of published records held:
     * it finds those in interpose.c's static start slots (pooled) there,
     * the others on runtime.c's list, under the registry lock. */
    int pooled, listed;
    struct ctxvar__exit_record *prev, *next;
};
enum {
    CTXVAR__EXIT_RUNNING,     /* the start routine runs */
    CTXVAR__EXIT_DETACHED,    /* it runs, and the thread will release its own */
    CTXVAR__EXIT_HANDED_OVER, /* it has ended: current and inherited are here */
    CTXVAR__EXIT_RELEASED     /* joined: the joiner is releasing them */
};
enum { CTXVAR__RECORD_NEW, CTXVAR__RECORD_PUBLISHED };

/* In a forked child: calls fn for the record of every busy static start
 * slot (interpose.c; weak, for the fuzz targets, built without it). */
void ctxvar__pooled_records(void (*fn)(struct ctxvar__exit_record *))
    CTXVAR__HIDDEN __attribute__((weak));

/* What a thread creation does: CTXVAR__START_* bits, 0 for nothing.  It
 * passes a snapshot when CTXVAR_INHERIT is not 0 and this copy is the
 * process's runtime (a second copy loaded from another path defers);
 * initialises the runtime first. */
int ctxvar__thread_start_mode(void) CTXVAR__HIDDEN;
#define CTXVAR__START_INHERIT 1          /* the new thread gets a snapshot */
#define CTXVAR__START_RELEASE_AT_JOIN 2  /* a joinable one gets an exit record */

/* In a new thread, before its start routine: makes `inherited` (owned) its
 * current context and counts the inheritance, or, when the runtime cannot
 * arrange its release at thread exit, releases it, counts a failure, and
 * leaves the thread empty.  `record` (or NULL) is the thread's exit record. */
void ctxvar__thread_adopt(ctxvar_ctx *inherited, struct ctxvar__exit_record *record) CTXVAR__HIDDEN;

/* In the thread, when its start routine has ended (returned or unwound). */
void ctxvar__thread_body_ended(struct ctxvar__exit_record *record) CTXVAR__HIDDEN;

/* The creator, after the real thread creation succeeded: lets a joiner of
 * thread find the record.  The thread waits for it before its start
 * routine, so it cannot end, be joined or detached before. */
void ctxvar__exit_record_publish(pthread_t thread, struct ctxvar__exit_record *record) CTXVAR__HIDDEN;

/* The record of a thread not yet joined, or NULL when it has none. */
struct ctxvar__exit_record *ctxvar__exit_record_of(pthread_t thread) CTXVAR__HIDDEN;

/* After a successful join: releases what the thread handed over and
 * disposes of the record. */
void ctxvar__exit_record_joined(struct ctxvar__exit_record *record) CTXVAR__HIDDEN;

/* Before detaching: 1 when the thread will release its own context at exit
 * (its start routine still runs, or the caller is the thread itself, in its
 * destructors), 0 when it has handed it over and must be reaped, -1 when
 * there is nothing to do (detached already). */
int ctxvar__exit_record_detach(struct ctxvar__exit_record *record, int from_itself) CTXVAR__HIDDEN;

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
