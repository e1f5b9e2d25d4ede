/* runtime.h - what the runtime in lib/ offers the interposers in shim/, and
 * what its own files share that is not about a thread's state (that is
 * lib/thread.h).  Nothing here is exported.  Arrows run one way: shim/
 * includes this, nothing in lib/ knows shim/.
 */
#ifndef CTXVAR_RUNTIME_H
#define CTXVAR_RUNTIME_H

#include <stddef.h>

#include <pthread.h>

#include "store.h"

#define CTXVAR__EXPORT __attribute__((visibility("default")))

/* ---- Finding the function we stand in front of --------------------------- */

/* The definition of `name` that ours stands in front of, looked up on first
 * use and kept in *cache; NULL when there is none.  `ours` is our own
 * definition (or NULL): when the search after us finds it again (the runtime
 * loaded in an unusual order), libc's own default version is asked for by
 * name.  Racing lookups find the same answer.  Safe before our constructor
 * has run: other libraries' constructors create threads too. */
void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name, const void *ours) CTXVAR__HIDDEN;

/* The next definition of the function `name`, typed as our own declaration
 * of it, with a lookup cache private to this use, read inline. */
#define CTXVAR__NEXT(name)                                                        \
    __extension__({                                                               \
        static _Atomic(void *) ctxvar__next_cache_;                               \
        void *ctxvar__next_ = atomic_load_explicit(&ctxvar__next_cache_,          \
                                                   memory_order_acquire);         \
        (__typeof__(&name))(__builtin_expect(ctxvar__next_ != NULL, 1)            \
                                ? ctxvar__next_                                   \
                                : ctxvar__next_symbol(&ctxvar__next_cache_, #name, \
                                                      (const void *)&name));      \
    })

/* ---- Settings (lib/startup.c) ---------------------------------------------- */

/* Reads the settings (CTXVAR_*), decides whether this copy of the runtime is
 * the process's one, and seeds the main thread from BAGGAGE, TRACEPARENT and
 * TRACESTATE when called on it.  Idempotent, thread-safe, and safe before
 * the runtime's constructor has run. */
void ctxvar__ensure_init(void) CTXVAR__HIDDEN;

/* The settings alone, without the seed. */
void ctxvar__ensure_settings(void) CTXVAR__HIDDEN;

/* What the interposers ask on every call, as bits of one word that
 * start-up settles once (ctxvar__features_settle reads the settings and
 * seeds the main thread, as the first call into the runtime must; until
 * both are done it is asked again).  A library callback or a pool job
 * checks a bit, not a function call. */
extern atomic_int ctxvar__features CTXVAR__HIDDEN;
#define CTXVAR__FEATURE_SETTLED 1
#define CTXVAR__FEATURE_PROPAGATION 2
#define CTXVAR__FEATURE_EXPORT 4
#define CTXVAR__FEATURE_LOOPS 8
#define CTXVAR__FEATURE_SYSLOG 16
#define CTXVAR__FEATURE_HTTP 32
#define CTXVAR__FEATURE_OTEL 64
int ctxvar__features_settle(void) CTXVAR__HIDDEN;
static inline int ctxvar__feature(int which)
{
    int f = atomic_load_explicit(&ctxvar__features, memory_order_acquire);
    if (__builtin_expect(!(f & CTXVAR__FEATURE_SETTLED), 0)) f = ctxvar__features_settle();
    return (f & which) != 0;
}

/* Whether OpenMP regions and tasks, SIGEV_THREAD notifications and library
 * callbacks should carry their creator's context: this copy is the
 * process's runtime.  Unlike inheritance at thread creation,
 * CTXVAR_INHERIT=0 does not turn this off. */
static inline int ctxvar__propagation_enabled(void)
{
    return ctxvar__feature(CTXVAR__FEATURE_PROPAGATION);
}

/* Whether child processes get the calling thread's context in their
 * environment: CTXVAR_EXPORT is not 0 and this copy is the runtime. */
static inline int ctxvar__export_enabled(void) { return ctxvar__feature(CTXVAR__FEATURE_EXPORT); }

/* The opt-outs and opt-ins of the outlets beyond threads and processes, read
 * once at load: CTXVAR_LOOPS=0 stops carrying context through event loops
 * and library thread pools (CTXVAR_INHERIT keeps meaning thread creation
 * only); CTXVAR_SYSLOG=1, CTXVAR_HTTP=1 and CTXVAR_OTEL=1 turn on the syslog
 * suffix, outgoing HTTP headers and the OpenTelemetry contexts.  Each is 0
 * in a copy of the runtime that defers to another. */
static inline int ctxvar__loops_enabled(void) { return ctxvar__feature(CTXVAR__FEATURE_LOOPS); }
static inline int ctxvar__syslog_enabled(void) { return ctxvar__feature(CTXVAR__FEATURE_SYSLOG); }
static inline int ctxvar__http_enabled(void) { return ctxvar__feature(CTXVAR__FEATURE_HTTP); }
static inline int ctxvar__otel_enabled(void) { return ctxvar__feature(CTXVAR__FEATURE_OTEL); }

/* The value the environment variable `name` (BAGGAGE, TRACEPARENT or
 * TRACESTATE) had when the runtime read it at start-up, as a private copy
 * that lives for the process; NULL when it was unset (or could not be
 * copied).  Lets the exec interposers tell a value the program put in the
 * environment itself from the one it was started with. */
const char *ctxvar__environment_at_load(const char *name) CTXVAR__HIDDEN;

/* The file the runtime was loaded from, as the loader names it; NULL in a
 * static program or before the runtime is initialised. */
const char *ctxvar__runtime_file(void) CTXVAR__HIDDEN;

/* 1 when c is the context the process was started with, read from its
 * environment at load (NULL when that was empty). */
int ctxvar__is_environment_context(const ctxvar_ctx *c) CTXVAR__HIDDEN;

/* The calling thread's current context, borrowed. */
ctxvar_ctx *ctxvar__current_borrowed(void) CTXVAR__HIDDEN;
/* The same for a reader that may run in a signal handler which interrupted
 * a change of the thread's context: the context as it stands. */
ctxvar_ctx *ctxvar__current_for_reader(void) CTXVAR__HIDDEN;

/* c (borrowed) as the outlets show it (syslog lines): ctxvar_format's
 * logfmt pairs of the variables a child process would get (no name
 * starting with '_', not traceparent or tracestate), then, when c holds a
 * valid traceparent, trace_id=<32 hex> span_id=<16 hex> trace_flags=<2 hex>.
 * snprintf's way: returns the whole length, writes a NUL-terminated prefix
 * when size > 0; "" for a context with nothing to show.  lib/api.c. */
size_t ctxvar__format_exported(const ctxvar_ctx *c, char *buf, size_t size) CTXVAR__HIDDEN;

/* The W3C headers the calling thread's context sends (lib/headers.c), the
 * values a child process would get in TRACEPARENT, TRACESTATE and BAGGAGE:
 * traceparent when it is valid (and tracestate only with it, and only
 * when it holds nothing but visible ASCII, space and tab), baggage by
 * ctxvar__baggage_encode.  A NULL value is a header not to send.  The two
 * trace values are borrowed from the thread's context (valid until the
 * thread changes it); the baggage is in `room` or in a block that
 * ctxvar__trace_headers_free releases. */
struct ctxvar__trace_headers {
    const char *traceparent, *tracestate, *baggage;
    size_t traceparent_len, tracestate_len, baggage_len;
    char *baggage_block; /* owned, when the baggage did not fit in room */
    char room[512];
};

/* Fills *h for the calling thread: 0, or ENOMEM with nothing to free. */
int ctxvar__trace_headers_current(struct ctxvar__trace_headers *h) CTXVAR__HIDDEN;
void ctxvar__trace_headers_free(struct ctxvar__trace_headers *h) CTXVAR__HIDDEN;

/* The same, kept for the calling thread until its context changes (made
 * again only then): borrowed, valid until the thread's next call or change
 * of context.  NULL when no memory or no thread key is left: the caller
 * then uses ctxvar__trace_headers_current.  Keeps errno. */
const struct ctxvar__trace_headers *ctxvar__trace_headers_cached(void) CTXVAR__HIDDEN;

/* With CTXVAR_DEBUG=1, one line on stderr: "ctxvar: " + the message. */
void ctxvar__debug(const char *fmt, ...) CTXVAR__HIDDEN __attribute__((format(printf, 1, 2)));
/* Whether CTXVAR_DEBUG=1: for a diagnostic that takes work to gather. */
int ctxvar__debug_on(void) CTXVAR__HIDDEN;

/* ---- Threads (lib/handover.c) ------------------------------------------------
 *
 * An interposer of thread creation does, around the real call:
 *
 *     s = ctxvar__thread_prepare(start, arg, joinable, &prepared);
 *     r = real(..., s ? our_trampoline : start, s ? s : arg);
 *     if (s && r != 0) ctxvar__thread_discard(s);
 *     if (!s && r == 0 && prepared.failed) ctxvar__count_inherit_failure();
 *
 * and its trampoline, in the new thread:
 *
 *     rec = ctxvar__thread_begin(s, &start, &arg);   (rec: cleanup calls
 *     start(arg);                                     ctxvar__thread_end)
 *
 * An interposer of joining: j = ctxvar__join_prepare(thread) before the real
 * join, ctxvar__join_finish(thread, j, succeeded) after. */

struct ctxvar__start;

/* What a thread creation does: CTXVAR__START_* bits, 0 for nothing.  A
 * snapshot when CTXVAR_INHERIT is not 0 and this copy is the process's
 * runtime (a second copy loaded from another path defers).  Initialises the
 * runtime first. */
extern atomic_int ctxvar__start_mode CTXVAR__HIDDEN;
#define CTXVAR__START_INHERIT 1          /* the new thread gets a snapshot */
#define CTXVAR__START_RELEASE_AT_JOIN 2  /* a joinable one, an exit record */
#define CTXVAR__START_SETTLED 4          /* the settings have been read */
int ctxvar__thread_start_mode_settle(void) CTXVAR__HIDDEN;
static inline int ctxvar__thread_start_mode(void)
{
    int mode = atomic_load_explicit(&ctxvar__start_mode, memory_order_acquire);
    return __builtin_expect(mode & CTXVAR__START_SETTLED, 1) ? mode
                                                             : ctxvar__thread_start_mode_settle();
}

/* What ctxvar__thread_prepare tells its caller besides the record. */
struct ctxvar__prepared {
    int failed; /* no record because memory ran out: count it if the thread starts */
};

/* Before the real creation: a start record holding fn, arg and a snapshot
 * of the caller's context, or NULL when the thread gets nothing
 * (inheritance off, or out of memory: then p->failed is 1). */
struct ctxvar__start *ctxvar__thread_prepare(void (*fn)(void), void *arg, int joinable,
                                             struct ctxvar__prepared *p) CTXVAR__HIDDEN;

/* After the real creation failed: no thread will read s. */
void ctxvar__thread_discard(struct ctxvar__start *s) CTXVAR__HIDDEN;

/* In the new thread, before its start routine: takes s over, gives the
 * start routine and argument, and makes the snapshot the thread's context.
 * Returns the thread's exit record, to pass to ctxvar__thread_end when the
 * start routine has ended, or NULL.  Never waits for any other thread. */
struct ctxvar__start *ctxvar__thread_begin(struct ctxvar__start *s, void (**fn)(void),
                                           void **arg) CTXVAR__HIDDEN;

/* In the thread, when its start routine has ended (returned or unwound). */
void ctxvar__thread_end(struct ctxvar__start *record) CTXVAR__HIDDEN;

/* Threads a library starts for itself, which start with no context: made
 * inside whichever request first needed them, they would otherwise keep
 * its context for good, and run other requests' work and the library's
 * own in it.  1 when `start` is libuv's pool worker, known once the
 * program has used libuv through the runtime (shim/libuv_req.c); the
 * program's jobs there are carried each with its own request. */
int ctxvar__libuv_worker(void (*start)(void)) CTXVAR__HIDDEN;
/* 1 when pthread_create(start, arg) is GLib starting a thread of its own
 * (its worker, GDBus's, its pool threads), not one for the program
 * (shim/glib_pool.c). */
int ctxvar__glib_own_thread(void (*start)(void), void *arg) CTXVAR__HIDDEN;

/* Counts a thread that started without its creator's context. */
void ctxvar__count_inherit_failure(void) CTXVAR__HIDDEN;

/* What a joiner learnt before the real join. */
struct ctxvar__join {
    struct ctxvar__start *record; /* the exit record, when published */
    int look_in_table;            /* else look for it after the join */
    int marked;                   /* the joiner marked the thread's slot */
};
struct ctxvar__join ctxvar__join_prepare(pthread_t thread) CTXVAR__HIDDEN;

/* After the real join: `joined` when it succeeded, so that what the thread
 * handed over is released; else the joiner's mark is taken back. */
void ctxvar__join_finish(pthread_t thread, struct ctxvar__join j, int joined) CTXVAR__HIDDEN;

/* Before detaching `thread`: what it holds will be released once it is
 * gone, without anyone waiting for it. */
void ctxvar__detach_prepare(pthread_t thread) CTXVAR__HIDDEN;

/* ---- Running code in another context (lib/frames.c) --------------------------- */

/* A new reference to the calling thread's context, for code that will run
 * later or elsewhere. */
ctxvar_ctx *ctxvar__capture_for_child(void) CTXVAR__HIDDEN;

/* Drops such a reference (NULL: nothing).  Use this, not
 * ctxvar__ctx_release: the thread is marked busy meanwhile, so that a
 * signal handler interrupting the free changes nothing under it
 * (lib/sigsafe.h). */
void ctxvar__context_release(ctxvar_ctx *c) CTXVAR__HIDDEN;

/* Runs fn(arg) with c (borrowed) current in a new frame, then restores the
 * caller's, like ctxvar_run.  The stale-context rule does not apply: an
 * OpenMP thread that runs a region may be a request's own thread, whose
 * inherited context must stay. */
void ctxvar__run_in(ctxvar_ctx *c, void (*fn)(void *), void *arg) CTXVAR__HIDDEN;

/* ---- Callbacks (records in lib/callback.c, calls in lib/frames.c) ---------------- */

/* A callback registered with a library, carried into the context it was
 * registered in.  Records may be larger: an interposer's fields follow. */
struct ctxvar__callback {
    void (*fn)(void);       /* the program's function, cast back by the caller */
    void *arg;              /* the program's argument */
    ctxvar_ctx *context;    /* owned: the registering thread's context */
    unsigned home, size;    /* where ctxvar__callback_free returns a new record (lib/alloc.h) */
};

/* Fills *cb (on the caller's stack, say) with fn, arg and the calling
 * thread's context: 1, or 0 when this copy of the runtime defers and *cb is
 * untouched. */
int ctxvar__callback_capture(struct ctxvar__callback *cb, void (*fn)(void), void *arg) CTXVAR__HIDDEN;

/* The same in a new record of `size` bytes (at least the struct's), NULL
 * when this copy defers or out of memory (said under CTXVAR_DEBUG=1,
 * naming `what`): the interposer then registers the program's own fn and
 * arg unchanged.  errno is kept. */
void *ctxvar__callback_new(size_t size, void (*fn)(void), void *arg, const char *what) CTXVAR__HIDDEN;

/* Drops cb's context (a captured one); frees a new one.  NULL is a no-op
 * for free. */
void ctxvar__callback_release(struct ctxvar__callback *cb) CTXVAR__HIDDEN;
void ctxvar__callback_free(struct ctxvar__callback *cb) CTXVAR__HIDDEN;

/* Calls call(cb, io) with cb's context current in a new frame, then
 * restores the thread's own, whatever call did. */
void ctxvar__callback_invoke(const struct ctxvar__callback *cb,
                             void (*call)(const struct ctxvar__callback *cb, void *io),
                             void *io) CTXVAR__HIDDEN;

/* The same, run as a pool task, for a job whose record is freed once it
 * has run: the worker must stop showing what it inherited (the
 * stale-context rule, lib/frames.c), and the frame takes over cb's context
 * reference (cb->context is NULL from then on, so that freeing the record
 * releases nothing): the pool thread touches the count once, when the
 * frame gives it back, not three times (a reference taken, given back,
 * then the record's). */
void ctxvar__callback_invoke_task_owned(struct ctxvar__callback *cb,
                                        void (*call)(const struct ctxvar__callback *cb, void *io),
                                        void *io) CTXVAR__HIDDEN;

/* ctxvar__callback_invoke for a record taken out of wherever it was kept
 * (a one-shot request's): the frame takes over cb's context reference and
 * gives it back when it is left, so the caller releases nothing. */
void ctxvar__callback_invoke_owned(const struct ctxvar__callback *cb,
                                   void (*call)(const struct ctxvar__callback *cb, void *io),
                                   void *io) CTXVAR__HIDDEN;

/* fn(arg), for a callback the library calls with one pointer (a libuv
 * handle's), with c (borrowed) current in a new frame, like
 * ctxvar__callback_invoke without a call function in between; _owned takes
 * over the reference c, as ctxvar__callback_invoke_owned does. */
void ctxvar__callback_run(ctxvar_ctx *c, void (*fn)(void), void *arg) CTXVAR__HIDDEN;
void ctxvar__callback_run_owned(ctxvar_ctx *c, void (*fn)(void), void *arg) CTXVAR__HIDDEN;

/* fn(arg) as pool work (the stale-context rule applies, as in
 * ctxvar__callback_invoke_task_owned) in c, whose reference stays the caller's:
 * it must outlive the call, whatever fn does (a libuv job, whose record
 * its after-work callback releases once the job has returned).  No
 * reference count is touched unless fn changes its context
 * (lib/frames.c, "Lent contexts"). */
void ctxvar__callback_run_task_lent(ctxvar_ctx *c, void (*fn)(void), void *arg) CTXVAR__HIDDEN;

/* fn(arg, status), a completion callback of a pointer and an int (libuv's
 * after-work callback), in c, whose reference the frame takes over. */
void ctxvar__callback_run_status_owned(ctxvar_ctx *c, void (*fn)(void), void *arg,
                                       int status) CTXVAR__HIDDEN;

/* A record in which the callback runs with no context: for a library whose
 * queue must only ever hold records (a GLib pool hands every item to the one
 * trampoline), when the record with a context could not be allocated.  From
 * malloc itself, so the fault-injection build still gets one; NULL only when
 * the process is really out of memory. */
void *ctxvar__callback_new_empty(size_t size, void (*fn)(void), void *arg) CTXVAR__HIDDEN;

/* ---- Indexes: several records per address, walkable (lib/callback.c) -------
 *
 * An interposer that must find its records again from what the library or
 * the program hands it later, where several records may share the address
 * and a search may go by another field (the jobs of a pool, found by the
 * program's data for g_thread_pool_move_to_front; the sources that carry
 * one datum, for remove-by-data; an APR pool's queued tasks, by owner),
 * links them into an index: a fixed array of buckets, each a mutex and a
 * list, chosen by a hash of the key.  Entries are intrusive: the record
 * embeds a struct ctxvar__indexed.  A forked child finds every bucket
 * unlocked (pthread_atfork).  (One record per object, replaced when the
 * address is reused, is what a table keyed by object wants instead.)
 *
 *   static struct ctxvar__index pending;      (zero-initialised)
 *   ctxvar__index_add(&pending, &rec->link, pool);
 *   if (ctxvar__index_remove(&pending, &rec->link))  ... it was linked: ours
 */
struct ctxvar__indexed {
    const void *key;
    struct ctxvar__indexed *next, **pprev; /* pprev NULL: not linked */
};

/* The fork handler holds every bucket of every index at once (a forked
 * child must find none held).  ThreadSanitizer's deadlock detector tracks
 * at most 64 mutexes held by one thread, and stops the process beyond:
 * under TSan an index has 2 buckets (the 7 indexes, lib/keyed.c's 8 shards
 * and the few single locks stay well below), the same code with more
 * contention. */
#if defined(__SANITIZE_THREAD__)
#define CTXVAR__INDEX_BUCKETS 2
#else
#define CTXVAR__INDEX_BUCKETS 64
#endif
struct ctxvar__index {
    pthread_mutex_t lock[CTXVAR__INDEX_BUCKETS];
    struct ctxvar__indexed *head[CTXVAR__INDEX_BUCKETS];
    _Atomic int ready;
};

/* Links e under key. */
void ctxvar__index_add(struct ctxvar__index *t, struct ctxvar__indexed *e,
                       const void *key) CTXVAR__HIDDEN;

/* Unlinks e: 1 when it was linked (the caller now owns it), 0 when another
 * thread unlinked it first. */
int ctxvar__index_remove(struct ctxvar__index *t, struct ctxvar__indexed *e) CTXVAR__HIDDEN;

/* Calls visit(e, arg) for each entry under key, with its bucket locked, until
 * one returns nonzero: returns that value, or 0.  visit may unlink e with
 * ctxvar__index_unlink_locked (not ctxvar__index_remove: the lock is held)
 * and must not call into the table otherwise. */
int ctxvar__index_visit(struct ctxvar__index *t, const void *key,
                        int (*visit)(struct ctxvar__indexed *e, void *arg), void *arg) CTXVAR__HIDDEN;
void ctxvar__index_unlink_locked(struct ctxvar__indexed *e) CTXVAR__HIDDEN;

/* The same over every entry of the table, bucket by bucket: for the rare
 * search by something else than the key (records keyed by their own
 * address, so that adding and removing spread over the buckets). */
int ctxvar__index_visit_all(struct ctxvar__index *t,
                            int (*visit)(struct ctxvar__indexed *e, void *arg), void *arg) CTXVAR__HIDDEN;

/* ---- Libraries found lazily ------------------------------------------------------ */

/* The one lookup behind both macros: ctxvar__next_symbol is this with
 * soname "libc.so.6".  For a library's function, when the search after us
 * finds nothing (the library was dlopen()ed RTLD_LOCAL by a plugin, and its
 * callers still reach us), the library already loaded under `soname` is
 * asked, never loaded: RTLD_NOLOAD.  `soname` may name alternatives,
 * separated by ':' and tried in order ("libevent-2.1.so.7:libevent_core-2.1.so.7").
 * Keeps errno. */
/* Where a library's symbol is kept once found: one per call site.  Every
 * one is listed when first filled, so that when the program unloads a
 * library (dlclose) those whose address went with it are emptied and
 * looked up again on next use: a plugin host may unload a library and load
 * it again elsewhere, and a kept address would then be a jump into
 * unmapped memory. */
struct ctxvar__library_symbol {
    _Atomic(void *) address;
    struct ctxvar__library_symbol *next; /* written once, before listing */
    atomic_int listed;
};

void *ctxvar__next_symbol_in(struct ctxvar__library_symbol *kept, const char *name,
                             const void *ours, const char *soname) CTXVAR__HIDDEN;

/* Keeps `address` in `kept` (not NULL: the library may be loaded later)
 * and returns it: for an interposer that finds its function another way. */
void *ctxvar__library_symbol_keep(struct ctxvar__library_symbol *kept, void *address) CTXVAR__HIDDEN;

/* The address of a library's exported variable `name`, cached in *cache:
 * the first definition in the global scope, not the next after us (a
 * program that names the variable gets a copy in its own data, a copy
 * relocation, which the library then uses too), else the one in the
 * library already loaded under `soname` (RTLD_NOLOAD; alternatives
 * separated by ':'), or NULL.  Keeps errno. */
void *ctxvar__library_variable(struct ctxvar__library_symbol *kept, const char *name,
                               const char *soname) CTXVAR__HIDDEN;

/* The C library's dlclose, not our interposer (shim/dlclose.c): for the
 * handles the runtime opens with RTLD_NOLOAD, which unload nothing. */
int ctxvar__real_dlclose(void *handle) CTXVAR__HIDDEN;

/* After the program's dlclose succeeded: every kept library symbol whose
 * address is in no loaded object any more is emptied, and so are the code
 * ranges of a library that went (lib/keyed.c). */
void ctxvar__libraries_unloaded(void) CTXVAR__HIDDEN;

/* CTXVAR__NEXT for a library's function.  Our own definition is not
 * passed: taking its address would make the loader bind the name in every
 * process at start-up, also in those that never use the library. */
#define CTXVAR__NEXT_IN(name, soname)                                             \
    __extension__({                                                               \
        static struct ctxvar__library_symbol ctxvar__next_kept_;                  \
        void *ctxvar__next_ = atomic_load_explicit(&ctxvar__next_kept_.address,   \
                                                   memory_order_acquire);         \
        (__typeof__(&name))(__builtin_expect(ctxvar__next_ != NULL, 1)            \
                                ? ctxvar__next_                                   \
                                : ctxvar__next_symbol_in(&ctxvar__next_kept_, #name, \
                                                         NULL, soname));          \
    })

/* ---- Shared inside lib/ -------------------------------------------------------- */

/* glibc's registration of C++ thread_local destructors, which releases
 * what a thread the runtime did not start holds when it ends.  Weak in the
 * shared runtime, so that a libc without it leaves such a thread's context
 * to leak rather than the runtime failing to load; a plain reference in
 * the static archive (CTXVAR_STATIC_WRAP), where a weak one would not pull
 * it out of libc.a, and every such thread's context would leak. */
#ifdef CTXVAR_STATIC_WRAP
extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol);
#define CTXVAR__THREAD_ATEXIT_PRESENT() 1
#else
extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol)
    __attribute__((weak));
#define CTXVAR__THREAD_ATEXIT_PRESENT() (__cxa_thread_atexit_impl != 0)
#endif
extern void *__dso_handle;

/* 1 when name is a valid variable name of `len` bytes (lib/names.c). */
int ctxvar__valid_name(const char *name, size_t len) CTXVAR__HIDDEN;

/* The variable of that name if it was ever interned, else NULL; allocates
 * nothing, takes no lock. */
struct ctxvar *ctxvar__lookup(const char *name, size_t len) CTXVAR__HIDDEN;

/* The variable of that name (len bytes, not NUL-terminated), interned. */
struct ctxvar *ctxvar__intern(const char *name, size_t len) CTXVAR__HIDDEN;

/* This copy's binding table (lib/api.c). */
const void *ctxvar__runtime_table(void) CTXVAR__HIDDEN;

/* lib/registry.c: its lock (a mutex), for lists a forked child walks. */
void ctxvar__registry_lock(void) CTXVAR__HIDDEN;
void ctxvar__registry_unlock(void) CTXVAR__HIDDEN;
void ctxvar__registry_init(void) CTXVAR__HIDDEN;

/* lib/startup.c, in a forked child. */
void ctxvar__startup_forked(void) CTXVAR__HIDDEN;

#endif
