/* ctxvar.h - context variables for C, v1.0.0.  MIT licence, see LICENSE.
 *
 * Python's contextvars (PEP 567) for C: a variable that reads like a global
 * but holds a separate value per thread, follows the work into the threads it
 * starts, and can be snapshotted in O(1) and restored with a token.
 *
 *     #include "ctxvar.h"          // cc prog.c -pthread      (nothing to link)
 *
 *     static void log_info(const char *msg) {
 *         char ids[256];
 *         ctxvar_format(ids, sizeof ids);            // "request_id=42 user_id=u7"
 *         fprintf(stderr, "[%s] %s\n", ids, msg);
 *     }
 *     void handle(const char *req, const char *user) {
 *         ctxvar_set(ctxvar_named("request_id"), req, NULL);
 *         ctxvar_set(ctxvar_named("user_id"), user, NULL);
 *         legacy_code();        // its threads log with the same ids
 *     }
 *
 *     $ ctxrun --set tenant=acme -- ./server    // or LD_PRELOAD=.../libctxvar.so
 *
 * CONTENTS
 *   1. How it works          the header, the runtime, what is and is not covered
 *   2. Variables             ctxvar_named  ctxvar_name  ctxvar_get  ctxvar_set
 *                            ctxvar_reset  ctxvar_token_drop  CTXVAR_SCOPE
 *   3. Snapshots             ctxvar_capture  ctxvar_retain  ctxvar_release
 *                            ctxvar_swap  ctxvar_run  ctxvar_ctx_get
 *                            ctxvar_ctx_count  ctxvar_ctx_foreach
 *   4. Thread pools          ctxvar_wrap  ctxvar_task_run  ctxvar_wrap_ret
 *                            ctxvar_task_call  ctxvar_task_free  ctxvar_clear
 *                            OpenMP, SIGEV_THREAD timers, mq_notify,
 *                            event loops and library pools (GLib, APR)
 *   5. Logs                  ctxvar_format
 *   6. Across processes      ctxvar_baggage_encode  ctxvar_baggage_current
 *                            ctxvar_baggage_decode  ctxvar_set_traceparent
 *                            ctxvar_accept_headers
 *                            child processes: BAGGAGE, TRACEPARENT, TRACESTATE
 *                            libcurl requests: CTXVAR_HTTP
 *   7. Runtime               ctxvar_runtime_present  ctxvar_stats
 *                            ctxvar_version  ctxvar_strerror
 *   8. Environment           BAGGAGE  TRACEPARENT  TRACESTATE  CTXVAR_INHERIT
 *                            CTXVAR_EXPORT  CTXVAR_LOOPS  CTXVAR_DEBUG
 *                            CTXVAR_OTEL  CTXVAR_SYSLOG  CTXVAR_HTTP
 *
 * 1. HOW IT WORKS
 *
 *   Every function below is usable with this header alone.  All state lives in
 *   one runtime, build/libctxvar.so, which a process gets by LD_PRELOAD (no
 *   rebuild: that is what `ctxrun` does) or by linking it.  On its first call
 *   from a translation unit the header looks the runtime up (one dlsym) and
 *   caches the answer; each later call is one indirect call.  With no runtime
 *   in the process the API degrades and never fails a build or a run:
 *   ctxvar_named returns NULL, ctxvar_get the fallback, ctxvar_set and
 *   ctxvar_reset ENOSYS, ctxvar_capture NULL, and ctxvar_run and the task
 *   helpers simply call the function.  The answer is fixed at that first call:
 *   a runtime dlopen()ed later is not seen by code that already asked.
 *
 *   The header compiles warning-free with warnings as errors as C89 (GCC's
 *   __inline__; CTXVAR_SCOPE needs C99), C99 to C2x and C++98 to C++20,
 *   under gcc, g++, clang and clang++, with -Wpedantic, -Wshadow,
 *   -Wconversion, -Wold-style-cast, -Wzero-as-null-pointer-constant and
 *   Clang's -Weverything among them; and with TinyCC, less CTXVAR_SCOPE.
 *
 *   Compile-time options (define before including):
 *     CTXVAR_LINKED   call the runtime's exported functions directly instead of
 *                     binding at run time; link with -lctxvar (pkg-config
 *                     ctxvar gives both).  The program then needs the runtime.
 *
 *   The runtime replaces pthread_create and thrd_create (so std::thread too):
 *   a new thread starts with a snapshot of its creator's context, taken at the
 *   call; afterwards neither side sees the other's changes.  What a thread
 *   it started holds is released when it ends, however it ends, after the
 *   program's own thread-local destructors and pthread key destructors have
 *   run, so those may still log (and set) with it: a joinable thread's when
 *   it is joined (the runtime also replaces pthread_join, its _np variants,
 *   thrd_join, pthread_detach and thrd_detach for that), a detached one's
 *   once the kernel has finished it, noticed at the next thread creation or
 *   ctxvar_stats (nothing ever waits for it).  Another thread the runtime
 *   did not start (one started before the runtime was loaded) releases its
 *   context after its thread_local destructors, before its pthread key
 *   destructors, which then see an empty context.  The main thread's
 *   context lasts as long as the process: exit() (and a return from main)
 *   runs the atexit handlers and the program's destructors after the
 *   thread_local ones, and they see it, change it and start children with
 *   it.  The runtime takes no pthread key.  A forked child keeps the
 *   forking thread's context.
 *   It also carries context, with no code change, into OpenMP regions and
 *   tasks, SIGEV_THREAD timers and mq_notify, GLib's and APR-util's pools
 *   and GLib's main-loop callbacks (section 4), and into
 *   child processes as W3C Baggage and Trace Context (section 6).
 *
 *   Static programs: link libctxvar.a with the flags of `pkg-config
 *   --static --cflags --libs ctxvar` (-Wl,--wrap= for each function the
 *   runtime stands in front of, OpenMP's aside): threads, joins, exec, spawn
 *   and notifications are then covered as in a dynamic program.
 *
 *   Not covered: static binaries not linked that way, and pure-Go programs
 *   (the loader ignores LD_PRELOAD there); setuid programs (the loader drops LD_PRELOAD); the
 *   SIGEV_THREAD callbacks of POSIX AIO (aio_read, aio_write, lio_listio)
 *   and getaddrinfo_a; OpenMP's pre-4.9 GOMP_parallel_start API, target
 *   offloading, and tasks with detach or task reductions or created while
 *   OMP_CANCELLATION is on; code that reaches glibc's thread creation
 *   through dlvsym() or a libc handle.  Such code runs with an empty context
 *   (or, in an OpenMP worker, the worker's own).
 *
 *   Threads: every function may be called from any thread at any time.  A
 *   context is immutable; "setting" replaces the calling thread's current
 *   context with a new one, so nothing another thread holds ever changes.
 *
 *   Errors: functions returning int return 0 or a positive errno value and
 *   never change errno.  With CTXVAR_DEBUG=1 in the environment, the runtime
 *   explains each refused call in one line on stderr, prefixed "ctxvar: ".
 *   Nothing here aborts, exits or writes to stdout.
 *
 *   Signal handlers.  Async-signal-safe, from any handler at any point (no
 *   heap, no lock; the interrupted thread's context as it was just before
 *   or just after the change it interrupted): ctxvar_get, ctxvar_format,
 *   ctxvar_ctx_get, ctxvar_ctx_count, ctxvar_ctx_foreach (if fn is),
 *   ctxvar_baggage_encode, ctxvar_baggage_current, ctxvar_name, ctxvar_named
 *   of an existing name, ctxvar_version, ctxvar_strerror,
 *   ctxvar_runtime_present, ctxvar_capture, ctxvar_retain, and
 *   ctxvar_release or ctxvar_token_drop of a reference not the last (one
 *   the handler captured).  So a crash handler can log the crashing
 *   thread's ids (examples/crash_handler).  Header-only, a translation
 *   unit's first call binds with dlsym: make one before installing the
 *   handler.  The other calls may allocate, free or lock; like malloc, call
 *   them from a handler only where the program knows what it interrupted.
 *   From a handler that interrupted a ctxvar call changing the same
 *   thread's context they fail cleanly, changing and leaking nothing:
 *   ctxvar_set, ctxvar_reset (tok not used up), ctxvar_set_traceparent,
 *   ctxvar_baggage_decode, ctxvar_accept_headers and ctxvar_stats return
 *   EBUSY; ctxvar_swap releases c and returns NULL; ctxvar_wrap and
 *   ctxvar_wrap_ret return NULL; ctxvar_clear does nothing; ctxvar_run and
 *   the task runs call fn in the context as it is, in no new frame.  A last
 *   reference dropped there is freed later by an uninterrupted thread
 *   (ctxvar_stats frees it first, so live_contexts stays exact).  Not
 *   covered: reads before the runtime's constructor has run (the main
 *   thread's first read seeds it, which allocates); a thread's first call
 *   where the runtime was dlopen()ed (glibc may allocate its TLS); a change
 *   from a handler in a new thread before the runtime has set it up; a
 *   handler that longjmps out of an interrupted ctxvar call (the thread's
 *   changes are then refused with EBUSY for good).
 *
 * 2. VARIABLES
 *
 *   ctxvar *ctxvar_named(const char *name)
 *     The variable called name, created on first use and never freed: the
 *     same pointer for the same name from any thread or shared object.  A
 *     name is 1 to 64 bytes of [A-Za-z0-9_.-] starting with a letter or '_'.
 *     NULL for an invalid or NULL name, when out of memory, or with no
 *     runtime.  Cache the pointer: the lookup hashes the name.
 *
 *   const char *ctxvar_name(const ctxvar *v)
 *     v's name, valid for the life of the process; NULL for NULL.
 *
 *   const char *ctxvar_get(const ctxvar *v, const char *fallback)
 *     v's value in the calling thread's current context, or fallback when it
 *     is unset or v is NULL.  The string belongs to the context: it stays
 *     valid until this thread next changes its current context (set, reset,
 *     swap, run, task run).  Copy it to keep it longer.
 *
 *   int ctxvar_set(ctxvar *v, const char *value, ctxvar_token *tok)
 *     Gives v a copy of value (at most 4096 bytes before the NUL) in the
 *     calling thread's current context; value NULL unsets v.  If tok is not
 *     NULL it is filled so that ctxvar_reset(tok) undoes this set.
 *     EINVAL: v is NULL.  E2BIG: value too long.  ENOMEM.  ENOSYS: no runtime.
 *     ESRCH: the calling thread's context has been released for good at its
 *     exit (a thread other than the main one that the runtime did not
 *     start, past its thread_local destructors).  EBUSY: called from a
 *     signal handler that interrupted a ctxvar call (section 1).
 *     On any error nothing changes and tok is not filled.
 *
 *   int ctxvar_reset(ctxvar_token *tok)
 *     Gives the token's variable back the value it had before the set that
 *     filled tok (unset if it was unset); other variables keep what they have
 *     now.  Uses the token up.  EALREADY: tok was already reset or dropped.
 *     EINVAL: tok was never filled, or was filled in another thread or in
 *     another frame (see ctxvar_swap and ctxvar_run) - tok is not used up.
 *     ENOMEM: tok is not used up, retry or drop it.  ENOSYS: no runtime.
 *     EBUSY: from a signal handler that interrupted a ctxvar call, checked
 *     first (section 1); tok is not used up.
 *
 *   void ctxvar_token_drop(ctxvar_token *tok)
 *     Uses the token up without restoring anything.  Every filled token goes
 *     exactly once to ctxvar_reset (successfully) or ctxvar_token_drop; a
 *     filled token holds a reference to the context before the set.  Harmless
 *     on NULL, on a token never filled and on one already used.
 *
 *   CTXVAR_SCOPE(v, value) { ... }
 *     Sets v to value for the block and resets it on every way out of the
 *     block: its end, break, continue, return, goto.  break leaves the block
 *     only.  If the set fails (bad value, no runtime) the block still runs.
 *     Needs GCC or Clang (the cleanup attribute) and C99 or C++; elsewhere
 *     the macro is not defined.
 *
 * 3. SNAPSHOTS
 *
 *   A ctxvar_ctx * is a counted reference to an immutable context.  NULL is a
 *   valid snapshot: the empty context.  Taking one costs O(1) whatever the
 *   number of variables.  Any thread may read or release any snapshot.
 *
 *   ctxvar_ctx *ctxvar_capture(void)
 *     A new reference to the calling thread's current context.  NULL when it
 *     is empty (or with no runtime).  Release it with ctxvar_release.
 *   ctxvar_ctx *ctxvar_retain(ctxvar_ctx *c)       another reference to c; c.
 *   void ctxvar_release(ctxvar_ctx *c)             drops one reference.
 *   ctxvar_ctx *ctxvar_swap(ctxvar_ctx *c)
 *     Makes c the calling thread's current context, taking over the caller's
 *     reference to c, and returns the previous one, whose reference the caller
 *     now owns.  Opens a new frame: tokens filled before cannot be reset in
 *     it, and tokens filled in it cannot be reset outside it.  Swapping back
 *     what a swap returned (old = ctxvar_swap(c); ... ctxvar_swap(old))
 *     returns to the frame it replaced, so its tokens work again (this is
 *     remembered for the last 4 swaps on a thread).  ctxvar_clear empties
 *     the context without leaving the frame.
 *   void *ctxvar_run(ctxvar_ctx *c, void *(*fn)(void *), void *arg)
 *     Calls fn(arg) with c current in a new frame, then restores exactly the
 *     caller's context and frame, whatever fn set, and returns fn's result.
 *     fn NULL: nothing happens, NULL is returned.
 *     Does not consume c.  The caller's context is also restored when fn
 *     leaves by a C++ exception, pthread_exit or cancellation (not longjmp).
 *   const char *ctxvar_ctx_get(const ctxvar_ctx *c, const ctxvar *v,
 *                              const char *fallback)
 *     v's value in c (valid while c is referenced), or fallback.
 *   size_t ctxvar_ctx_count(const ctxvar_ctx *c)   number of variables set.
 *   int ctxvar_ctx_foreach(const ctxvar_ctx *c,
 *                          int (*fn)(const char *name, const char *value,
 *                                    void *arg), void *arg)
 *     Calls fn for every variable of c in ascending byte order of name; stops
 *     at the first nonzero return of fn and returns it; 0 otherwise.
 *
 * 4. THREAD POOLS
 *
 *   A pool whose jobs are a void (*)(void *) and a void * is used unchanged:
 *     pool_submit(pool, ctxvar_task_run, ctxvar_wrap(fn, arg));
 *   The task captures the submitter's context when wrapped; running it calls
 *   fn(arg) in that context, then restores the worker's own context and frees
 *   the task.  For jobs returning void *, use ctxvar_wrap_ret and
 *   ctxvar_task_call, which returns fn's result.  A task runs at most once;
 *   ctxvar_task_free discards one that will never run.  ctxvar_wrap and
 *   ctxvar_wrap_ret return NULL only when out of memory (fn NULL: EINVAL
 *   would be meaningless, so a NULL fn also gives NULL).
 *
 *   The stale-context rule.  A pool creates its workers while some request
 *   is current, so a worker inherits that request's context.  Once a thread
 *   has run a wrapped task it never again shows the context it inherited when
 *   it was created: after each task it is back to only what it set itself
 *   (in its base frame), so an unwrapped job on a worker shows no request.
 *
 *   void ctxvar_clear(void)
 *     Empties the calling thread's context, in the current frame (tokens of
 *     this frame stay usable), and forgets what it inherited.
 *   A thread that inherits nothing: create it inside ctxvar_run(NULL, ...),
 *     e.g. ctxvar_run(NULL, start_pool, pool), or set CTXVAR_INHERIT=0 for
 *     the whole process.
 *
 *   OpenMP, with no code change.  Every team thread of a parallel region
 *   (parallel, parallel for with any schedule, sections, the combined forms,
 *   teams) runs the region in the context of the thread that opened it, and
 *   every task and taskloop runs in the context of the thread that created
 *   it, although libgomp reuses its threads.  The opening thread runs its
 *   share as it would without ctxvar.  Works with gcc's libgomp (and any
 *   runtime that provides its GOMP_ entry points); a program without OpenMP
 *   does not load libgomp because of ctxvar.
 *
 *   SIGEV_THREAD timers and message queues.  The function given to
 *   timer_create or mq_notify runs, on every expiry or notification, in the
 *   context the caller had at that call (later changes are not seen).
 *
 *   Event loops and library pools, with no code change.  The runtime stands
 *   in front of the calls that hand a library a callback to run later or
 *   elsewhere, and runs each callback in a context of the program's:
 *     - pool work captures the submitter's context at submit and runs as a
 *       task: the stale-context rule above applies to the library's
 *       workers, which show no request between jobs;
 *     - threads a library starts for itself (libuv's workers; GLib's
 *       worker gmain, GDBus's gdbus thread, GLib's pool threads) start with
 *       no context, not that of the request that happened to make the
 *       library start them; a thread the program starts through the
 *       library (uv_thread_create, g_thread_new, also of a function GLib
 *       exports such as g_main_loop_run) inherits like any other.  GLib's
 *       are told apart with glibc 2.35 or later; elsewhere they inherit;
 *     - a one-shot callback runs in the context current at the call that
 *       scheduled it;
 *     - a repeating timer or source, in the context of its registration,
 *       each time it runs;
 *     - after every callback, the loop thread's own context is back: what a
 *       callback sets never reaches the next one;
 *     - work that never runs (cancelled, removed before it fired, dropped
 *       by a pool freed at once) frees its record through the library's own
 *       completion or free path; the program's destroy notify or item-free
 *       function is still called with its data, exactly once, after that.
 *   The library sees what the program passed wherever the program can look
 *   back: comparators, item-free and destroy notifies get the program's
 *   data, and the remove- and find-by-data functions find sources by it,
 *   the one GLib's own walk of the context comes to first (by priority,
 *   then in the order the sources were attached).
 *   Covered:
 *     GLib     GThreadPool (g_thread_pool_new, _new_full, _push,
 *              _set_sort_function, _move_to_front, _free), so GTask's
 *              g_task_run_in_thread(_sync) and its callback; g_idle_add,
 *              _full, _once; g_timeout_add, _full, _once, _seconds,
 *              _seconds_full; g_main_context_invoke, _full;
 *              g_source_set_callback on idle and timeout sources;
 *              g_source_remove_by_user_data, g_idle_remove_by_data,
 *              g_source_remove_by_funcs_user_data,
 *              g_main_context_find_source_by_user_data and _by_funcs_.
 *              Visible: a pool created through the runtime has its own
 *              trampoline in the public member pool->func (pool->user_data
 *              is the program's; the program may call it with data of its
 *              own: its function runs, that of the first pool with the same
 *              user data when several share one); so is the callback GLib
 *              keeps behind a GSource's callback_data member, whose data is
 *              the runtime's record.
 *     APR-util apr_thread_pool_push, _top, _schedule (the owner passes
 *              unchanged), apr_thread_pool_tasks_cancel and pool cleanup.
 *     libuv    uv_queue_work: the work callback runs as a task on a pool
 *              thread, the after-work callback on the loop thread, both in
 *              the context of the uv_queue_work call (a cancelled request's
 *              UV_ECANCELED after-work callback too).  Every uv_fs_* given a
 *              callback, uv_getaddrinfo, uv_getnameinfo, uv_random,
 *              uv_write, uv_write2, uv_shutdown, uv_tcp_connect,
 *              uv_pipe_connect, uv_udp_send: the context of the call (a NULL
 *              callback, synchronous, passes through).  Handles:
 *              uv_timer_start (every repeat; uv_timer_again keeps the
 *              start's context), idle/prepare/check starts, uv_poll_start,
 *              uv_signal_start(_oneshot), uv_listen, uv_read_start,
 *              uv_udp_recv_start: the context of the start; uv_async_init:
 *              of the init (uv_async_send captures nothing: it coalesces
 *              and is async-signal-safe); uv_close's callback: of the
 *              uv_close call, which also frees the handle's records.
 *              Visible: req->data and handle->data are the program's; the
 *              public callback members libuv fills from the arguments
 *              (uv_work_t's work_cb and after_work_cb, uv_fs_t's cb, a
 *              handle's close_cb, a stream's alloc_cb, read_cb and
 *              connection_cb) hold the runtime's trampolines.  With
 *              libuv 1.0 to 1.52 the runtime's record of a request or
 *              handle is kept in words libuv reserves in the struct and
 *              has never used on Unix (a request's reserved[2..5], the
 *              u.reserved of any handle but an async one): a program must
 *              not write there.
 *     libevent EV_PERSIST events and bufferevent_setcb run in the context of
 *              their registration (event_new, event_assign, event_set,
 *              bufferevent_setcb; once event_del'd, of the event_add or
 *              event_active that starts the event again); other events in
 *              that of the event_add, event_active or event_base_once that
 *              scheduled them; event_active on a persistent event running
 *              captures nothing.
 *              event_get_callback(_arg), event_get_assignment,
 *              event_self_cbarg, bufferevent_getcb and the finalizers'
 *              arguments are the program's (after event_finalize the
 *              getters show its finalizer, as libevent's do); a finalizer
 *              runs in its event's context (none once it was deleted).
 *              event_free, event_debug_unassign and bufferevent_free free
 *              the records (event_del keeps the record, the event may be
 *              added again, but gives its context back: an event embedded
 *              in a struct the program frees with free() after event_del
 *              holds none; one freed without event_del keeps its context
 *              until its address is assigned again),
 *              event_base_free those of its once events that never fired,
 *              and an event embedded in a struct and assigned again frees
 *              the old one.  libevent's calls to itself pass through,
 *              also those it makes by a tail call (event_base_loopexit's
 *              to event_base_once), told by the callback they pass; so do
 *              libuv's (uv_write's to uv_write2).  Who calls does not
 *              matter: a program's callback that libevent calls directly
 *              (an evconnlistener's) and that ends in a jump to
 *              event_base_once is carried like any call of the program's,
 *              and so are library wrappers that forward the program's
 *              callback (bufferevent_new, uv_tcp_close_reset).
 *   The libraries are bound lazily: the runtime has no DT_NEEDED on them,
 *   and a program that uses none never loads one.  A library loaded by a
 *   plugin with RTLD_LOCAL is found by its soname.  Out of memory, the call
 *   reaches the library unchanged and the callback runs without the
 *   scheduler's context.  CTXVAR_LOOPS=0 turns all of this off
 *   (CTXVAR_INHERIT=0 is about thread creation only and leaves it on).
 *   Not covered: header-only or macro libraries and libraries compiled
 *   into the program (Boost.Asio, TBB, libev's macros, node's bundled
 *   libuv), and libuv's uv_fs_poll, uv_fs_event and uv_spawn exit
 *   callbacks and libevent's evhttp, evconnlistener and evdns callbacks:
 *   wrap at the submit site, post(ex, [t = ctxvar_wrap(fn, arg)]
 *   { ctxvar_task_run(t); }).  A GLib pool created before the runtime was
 *   loaded, or by libglib itself, runs its jobs unchanged.
 *
 * 5. LOGS
 *
 *   int ctxvar_format(char *buf, size_t size)
 *     Writes the calling thread's context as logfmt: name=value pairs in name
 *     order, one space apart.  A value that is empty or holds a space, '=',
 *     '"' or a control byte is double-quoted, with \" \\ \n \r \t escapes and
 *     \u00xx for other control bytes (a backslash alone does not quote).
 *     Returns the length of the whole text, like snprintf: a short buffer
 *     gets a prefix, and ctxvar_format(NULL, 0) sizes one.  Always
 *     NUL-terminates when size > 0.  Writes "" with no runtime.
 *
 * 6. ACROSS PROCESSES AND SERVICES
 *
 *   Context continues in the W3C standards every tracing system speaks:
 *   Baggage (https://www.w3.org/TR/baggage/) and Trace Context
 *   (https://www.w3.org/TR/trace-context/), carried between processes in the
 *   environment variables BAGGAGE, TRACEPARENT and TRACESTATE as
 *   OpenTelemetry's environment-variable carrier defines them.  The variables
 *   named traceparent and tracestate hold those two headers; every other
 *   variable whose name does not start with '_' is a baggage member.
 *
 *   int ctxvar_baggage_encode(const ctxvar_ctx *c, char *buf, size_t size,
 *                             size_t *dropped)
 *     c as a baggage header value: members name=value in name order joined
 *     by ',', values percent-encoded so only baggage-octets remain ('%' and
 *     every byte >= 0x80 too, so UTF-8 travels as its escaped bytes).  Never
 *     members: traceparent, tracestate, names starting with '_' (private).
 *     At most CTXVAR_BAGGAGE_MAX_MEMBERS (64) members and
 *     CTXVAR_BAGGAGE_MAX_BYTES (8192) bytes are carried: a member that does
 *     not fit is dropped whole, never cut, and counted in *dropped (if not
 *     NULL).  So is a value that would not arrive whole: W3C Baggage has
 *     its decoder replace what is not UTF-8 with U+FFFD (3 bytes for each
 *     bad byte or sequence), and a value that would then exceed 4096 bytes
 *     could not be held.  Returns the length like snprintf; NUL-terminates
 *     when size > 0.
 *   int ctxvar_baggage_current(char *buf, size_t size, size_t *dropped)
 *     The same for the calling thread's current context.
 *   int ctxvar_baggage_decode(const char *value, const ctxvar_ctx *base,
 *                             ctxvar_ctx **out, size_t *skipped)
 *     A new context in *out: base (borrowed, may be NULL) with each member of
 *     the header value bound.  Values are percent-decoded; whitespace around
 *     members, keys and values is ignored; properties (";k=v" after a value)
 *     are accepted and dropped; the last of a repeated key wins; an empty
 *     value binds "".  A member is skipped, and counted in *skipped (if not
 *     NULL), when it has no '=', its key is not a valid variable name or is
 *     traceparent/tracestate, its value has an ASCII byte that must be
 *     escaped, a bad escape or an escaped NUL, or decodes to more than 4096
 *     bytes.  Bytes >= 0x80 are let through unescaped, as raw UTF-8 (many
 *     senders write it); once decoded, what is not UTF-8 becomes U+FFFD, as
 *     W3C Baggage requires, and the 4096 bytes count after that.
 *     0, EINVAL (value or out NULL), ENOMEM, ENOSYS.
 *   int ctxvar_set_traceparent(const char *value, ctxvar_token *tok)
 *     ctxvar_set of the variable traceparent, after checking value: version
 *     00 is exactly 00-<32 lowercase hex, not all 0>-<16 lowercase hex, not
 *     all 0>-<2 hex flags>; a later version (not ff) is read by those four
 *     fields and may continue after a '-' in visible ASCII (no space, no
 *     control byte: the value becomes an HTTP header).  At most 4096 bytes.
 *     EINVAL for anything else.
 *   int ctxvar_accept_headers(const char *traceparent, const char *tracestate,
 *                             const char *baggage, ctxvar_token *tok)
 *     The receiving side of a request, in one call at its entry: makes the
 *     raw header values of an incoming request (any may be NULL) the calling
 *     thread's context.  traceparent and tracestate replace the thread's
 *     (a NULL traceparent leaves the thread with none, and a tracestate is
 *     kept only with a traceparent, as W3C Trace Context says, and only
 *     when valid: at most 32 members key=value by W3C's rules; an
 *     invalid one is dropped, the traceparent kept); the baggage
 *     members are bound on top of the thread's other variables, decoded as
 *     ctxvar_baggage_decode does (a malformed member is skipped, never an
 *     error).  When tok is not NULL it is filled like ctxvar_set's, and
 *     ctxvar_reset(tok) brings back the whole context the thread had before
 *     the call (sets made since, not reset, are undone with it); same token
 *     rules, same errors.  Errors change nothing: EINVAL (traceparent not
 *     valid, by ctxvar_set_traceparent's rule), E2BIG (tracestate longer
 *     than 4096 bytes), ENOMEM, ESRCH (the thread has finished exiting),
 *     ENOSYS (no runtime).
 *
 *         ctxvar_token tok;
 *         ctxvar_accept_headers(hdr(req, "traceparent"), hdr(req, "tracestate"),
 *                               hdr(req, "baggage"), &tok);
 *         handle(req);              // its logs, threads and children carry it
 *         ctxvar_reset(&tok);
 *
 *   Outgoing requests.  With CTXVAR_HTTP=1 (ctxrun --http), requests a
 *   program makes with libcurl (curl_easy_perform, curl_multi_add_handle;
 *   not mail over SMTP or IMAP, whose MIME headers libcurl takes from the
 *   same list) carry the context of the thread that started the transfer
 *   as traceparent, tracestate and baggage headers, encoded as for a child
 *   process; a header the program set itself (any case) is never replaced
 *   or repeated, and its CURLOPT_HTTPHEADER list is never changed.  Off by
 *   default: the headers go to whatever host the program calls.
 *
 *   Child processes.  A process started from any thread gets that thread's
 *   current context, not the process's: in the child's environment BAGGAGE,
 *   TRACEPARENT and TRACESTATE are replaced by the encoding of the calling
 *   thread's context (and are absent when it has none).  This covers the
 *   exec family, posix_spawn, posix_spawnp, system, popen, and fork then
 *   exec.  The parent's own environment is never modified, not even
 *   briefly, and nothing the program passes is made longer: system() and
 *   popen() run /bin/sh -c with the command exactly as written and the
 *   context in the shell's environment only (never in its argv, which
 *   every local user can read).  Each of the three variables is treated on
 *   its own: a value the program put there itself (different from the one
 *   the process was started with: setenv, env VAR=... cmd, an envp it
 *   built) passes unchanged; the start-up value is replaced by the calling
 *   thread's context, or removed when it has none; an absent one is added
 *   only with the process environment (environ), never to an explicit
 *   envp.  From a thread whose context is still exactly the one the process
 *   was started with, the environment passes untouched, byte for byte, so
 *   pass-through programs (timeout, nice, xargs) give their children what
 *   they were given.  CTXVAR_EXPORT=0 turns this off.  The exec functions
 *   allocate nothing from the heap and take no lock, so they are safe
 *   after vfork and fork, and use under 1 KiB of stack whatever the
 *   environment's size: the new environment is built in an anonymous
 *   mapping of its own (if none can be made, the environment passes on
 *   unchanged, with a diagnostic).  A TRACEPARENT is exported only when
 *   valid (TRACESTATE only with it, and when valid).  A process whose
 *   BAGGAGE named a private variable ('_') never passes it on byte for
 *   byte: its children get the encoding, which leaves it out.
 *
 * 7. RUNTIME
 *
 *   int ctxvar_runtime_present(void)     1 when the runtime is bound, else 0.
 *   int ctxvar_stats(struct ctxvar_stats *out)
 *     live_contexts: context objects alive now (the empty context and the
 *     variables excluded): compare before and after to find a leak.  After
 *     any sequence that undoes what it did (set then reset, nested or
 *     crossed; scopes; swap and swap back; run; wrapped tasks) it is back
 *     where it started.  While a thread keeps changing its context, each
 *     version shares its unchanged parts with the one before and keeps it
 *     alive for that, at most 8 deep: replacing a value forever, even a
 *     4 KiB one, holds at most 8 older versions and no growing memory.
 *     threads_inherited: threads that started with their creator's context.
 *     inherit_failures: threads that started with an empty context instead,
 *     because the runtime could not do its part (pthread_create still
 *     returned what the real one returned).  EINVAL for NULL; ENOSYS with no
 *     runtime (out is zeroed); EBUSY from a handler (section 1).
 *   const char *ctxvar_version(void)     the runtime's version ("1.0.0"), or
 *                                        this header's with no runtime.
 *   const char *ctxvar_strerror(int err) a static message for an error code.
 *
 * 8. ENVIRONMENT (read once by the runtime at load, with secure_getenv)
 *
 *   BAGGAGE           a W3C Baggage header value; each member key=value seeds
 *                     the main thread's context (values percent-decoded,
 *                     properties after ';' ignored, the last of a repeated
 *                     key wins, an empty value sets "").  A malformed member,
 *                     or one whose key is not a valid name, is skipped.
 *   TRACEPARENT       a W3C traceparent; when valid, seeds the main thread's
 *                     variable traceparent (an invalid one is ignored), and
 *   TRACESTATE        then seeds tracestate, when valid too (an invalid one is
 *                     ignored, the traceparent kept).
 *   CTXVAR_INHERIT=0  threads start empty instead of inheriting.
 *   CTXVAR_EXPORT=0   child processes get the environment unchanged.
 *   CTXVAR_LOOPS=0    event loops and library pools run callbacks as they
 *                     would without the runtime (section 4).
 *   CTXVAR_DEBUG=1    one-line diagnostics on stderr.  Values never appear.
 *   CTXVAR_OTEL=1     show each thread's context to profilers outside the
 *                     process (`ctxrun --otel` sets it), the way
 *                     OpenTelemetry defines it for them:
 *                     - the process context: a mapping named OTEL_CTX (in
 *                       /proc/PID/maps as /memfd:OTEL_CTX, or [anon:OTEL_CTX])
 *                       holding a protobuf ProcessContext with the resource
 *                       attributes service.name (OTEL_SERVICE_NAME, else
 *                       service.name in OTEL_RESOURCE_ATTRIBUTES, else
 *                       "unknown_service:" and the program's name; what is
 *                       not UTF-8 becomes U+FFFD) and service.instance.id (a random
 *                       UUID, new in every process, a forked child too), and
 *                       threadlocal.schema_version and
 *                       threadlocal.attribute_key_map (the attribute names,
 *                       appended as variables first appear, at most 256);
 *                     - the thread context: the runtime's TLS variable
 *                       otel_thread_ctx_v1 (an exported symbol, reached
 *                       through TLS descriptors) points, on each thread, at
 *                       a record of its current context: trace id, span id
 *                       and flags from its traceparent, and its variables as
 *                       attributes, except traceparent, tracestate and
 *                       private ('_') ones; NULL when there is nothing to
 *                       show.  A value is cut to 255 bytes, and the
 *                       attributes to 612 bytes in name order (cut at a
 *                       UTF-8 character; CTXVAR_DEBUG=1 names the variables
 *                       concerned); what is not UTF-8 shows as U+FFFD.
 *                     Neither when the process already has such a writer
 *                     (the program exports its own otel_thread_ctx_v1, or
 *                     an OTEL_CTX mapping exists at start-up): one per
 *                     process, as OpenTelemetry requires.
 *                     Every change of the thread's context (set, reset,
 *                     scope exit, swap, run, task, a new thread, OpenMP
 *                     regions, timer notifications) moves the pointer before
 *                     it returns; a record belongs to its context, is built
 *                     once and freed with it.  Off by default: the pointer
 *                     stays NULL and nothing is published.
 */
#ifndef CTXVAR_H
#define CTXVAR_H

#include <errno.h>
#include <stddef.h>

/* A header must not break the build that includes it, whatever the
 * language and warnings: it compiles warning-free as C89 with GNU's
 * __inline__ (CTXVAR_SCOPE alone needs C99), C99 and later, and C++98
 * and later, under -Wall -Wextra -Wpedantic -Wshadow -Wconversion
 * -Wold-style-cast -Wzero-as-null-pointer-constant and their kin.  The
 * warnings that fire on it by design are silenced here, for the header
 * only: -Wlong-long (C89 and C++98 know the API's unsigned long long as an
 * extension), g++'s -Wshadow (the function ctxvar_stats hides the struct
 * of that name; the API names both), and Clang's -Wreserved-identifier
 * (the private ctxvar__ names), -Wused-but-marked-unused (the binding's
 * statics are marked unused for translation units that call nothing) and,
 * in C++11 and later, -Wc++98-compat-pedantic (nullptr, long long). */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wlong-long"
#if defined(__cplusplus)
#pragma GCC diagnostic ignored "-Wshadow"
#endif
#if defined(__clang__) && defined(__has_warning)
#if __has_warning("-Wreserved-identifier")
#pragma GCC diagnostic ignored "-Wreserved-identifier"
#endif
#if __has_warning("-Wused-but-marked-unused")
#pragma GCC diagnostic ignored "-Wused-but-marked-unused"
#endif
#if defined(__cplusplus) && __has_warning("-Wc++98-compat-pedantic")
#pragma GCC diagnostic ignored "-Wc++98-compat-pedantic"
#endif
#endif
#endif

#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define CTXVAR__INLINE inline
#elif defined(__GNUC__)
#define CTXVAR__INLINE __inline__
#else
#define CTXVAR__INLINE
#endif

/* A pointer from void *, and the null pointer, as each language spells
 * them without a warning. */
#if defined(__cplusplus)
#define CTXVAR__FROM_VOID(type, p) static_cast<type>(p)
#if __cplusplus >= 201103L
#define CTXVAR__NULL nullptr
#else
#define CTXVAR__NULL NULL
#endif
#else
#define CTXVAR__FROM_VOID(type, p) ((type)(p))
#define CTXVAR__NULL NULL
#endif

#define CTXVAR_VERSION "1.0.0"
#define CTXVAR_VERSION_MAJOR 1
#define CTXVAR_VERSION_MINOR 0
#define CTXVAR_VERSION_PATCH 0

/* Limits of the contract. */
#define CTXVAR_NAME_MAX 64
#define CTXVAR_VALUE_MAX 4096
/* What ctxvar_baggage_encode carries at most (W3C Baggage's minimums). */
#define CTXVAR_BAGGAGE_MAX_MEMBERS 64
#define CTXVAR_BAGGAGE_MAX_BYTES 8192

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ctxvar ctxvar;
typedef struct ctxvar_ctx ctxvar_ctx;
typedef struct ctxvar_task ctxvar_task;

/* Filled by ctxvar_set; the fields are private to ctxvar. */
typedef struct ctxvar_token {
    unsigned long long ctxvar__state;   /* CTXVAR__TOKEN_FILLED or _USED */
    unsigned long long ctxvar__thread;  /* thread that filled it */
    unsigned long long ctxvar__frame;   /* that thread's frame then */
    unsigned long long ctxvar__version; /* its context version right after */
    ctxvar *ctxvar__var;
    ctxvar_ctx *ctxvar__previous;       /* owned: the context before the set */
} ctxvar_token;

struct ctxvar_stats {
    unsigned long long live_contexts, threads_inherited, inherit_failures;
};

/* A wrapped pool job.  Private layout, shared by the header and the runtime
 * so that either may run or free a task the other made. */
struct ctxvar_task {
    void (*ctxvar__fn)(void *);
    void *(*ctxvar__fn_ret)(void *);
    void *ctxvar__arg;
    ctxvar_ctx *ctxvar__ctx;            /* owned: the submitter's context */
};

#define CTXVAR__TOKEN_FILLED 0x63747876746f6b31ULL /* "ctxvtok1" */
#define CTXVAR__TOKEN_USED   0x63747876746f6b30ULL /* "ctxvtok0" */

/* Every function the runtime serves, in table order, declared once:
 * X(return type, name after "ctxvar_", (parameters), (arguments), return
 * or CTXVAR__NO_RETURN: an empty argument, which C89 and C++98 do not
 * allow).  The table, the runtime's definitions of it, the
 * linked-mode prototypes, the header-only wrappers and the no-runtime table
 * are all made from this list.  Entries are only ever appended. */
#define CTXVAR__NO_RETURN
#define CTXVAR__API(X)                                                                       \
    X(ctxvar *, named, (const char *name), (name), return)                                   \
    X(const char *, name, (const ctxvar *v), (v), return)                                    \
    X(const char *, get, (const ctxvar *v, const char *fallback), (v, fallback), return)     \
    X(int, set, (ctxvar *v, const char *value, ctxvar_token *tok), (v, value, tok), return)  \
    X(int, reset, (ctxvar_token *tok), (tok), return)                                        \
    X(void, token_drop, (ctxvar_token *tok), (tok), CTXVAR__NO_RETURN)                       \
    X(ctxvar_ctx *, capture, (void), (), return)                                             \
    X(ctxvar_ctx *, retain, (ctxvar_ctx *c), (c), return)                                    \
    X(void, release, (ctxvar_ctx *c), (c), CTXVAR__NO_RETURN)                                \
    X(ctxvar_ctx *, swap, (ctxvar_ctx *c), (c), return)                                      \
    X(void *, run, (ctxvar_ctx *c, void *(*fn)(void *), void *arg), (c, fn, arg), return)    \
    X(const char *, ctx_get, (const ctxvar_ctx *c, const ctxvar *v, const char *fallback),   \
      (c, v, fallback), return)                                                              \
    X(size_t, ctx_count, (const ctxvar_ctx *c), (c), return)                                 \
    X(int, ctx_foreach,                                                                      \
      (const ctxvar_ctx *c, int (*fn)(const char *name, const char *value, void *arg),       \
       void *arg),                                                                           \
      (c, fn, arg), return)                                                                  \
    X(ctxvar_task *, wrap, (void (*fn)(void *), void *arg), (fn, arg), return)               \
    X(ctxvar_task *, wrap_ret, (void *(*fn)(void *), void *arg), (fn, arg), return)          \
    X(void, task_run, (void *task), (task), CTXVAR__NO_RETURN)                               \
    X(void *, task_call, (void *task), (task), return)                                       \
    X(void, task_free, (ctxvar_task *t), (t), CTXVAR__NO_RETURN)                             \
    X(int, format, (char *buf, size_t size), (buf, size), return)                            \
    X(int, stats, (struct ctxvar_stats *out), (out), return)                                 \
    X(const char *, version, (void), (), return)                                             \
    X(void, clear, (void), (), CTXVAR__NO_RETURN)                                            \
    X(int, baggage_encode, (const ctxvar_ctx *c, char *buf, size_t size, size_t *dropped),   \
      (c, buf, size, dropped), return)                                                       \
    X(int, baggage_current, (char *buf, size_t size, size_t *dropped), (buf, size, dropped), \
      return)                                                                                \
    X(int, baggage_decode,                                                                   \
      (const char *value, const ctxvar_ctx *base, ctxvar_ctx **out, size_t *skipped),        \
      (value, base, out, skipped), return)                                                   \
    X(int, set_traceparent, (const char *value, ctxvar_token *tok), (value, tok), return)  \
    X(int, accept_headers,                                                                   \
      (const char *traceparent, const char *tracestate, const char *baggage,                 \
       ctxvar_token *tok),                                                                   \
      (traceparent, tracestate, baggage, tok), return)

/* The binding between this header and the runtime: one table of functions
 * that the runtime exports as ctxvar__runtime_v1.  size tells how many
 * fields a runtime has. */
#define CTXVAR__TABLE_FIELD(ret, name, params, args, ret_kw) ret(*name) params;
struct ctxvar__runtime {
    unsigned abi;                       /* CTXVAR__ABI */
    unsigned size;                      /* sizeof the runtime's table */
    CTXVAR__API(CTXVAR__TABLE_FIELD)
};

/* A table entry's initializer: by name in C, in order in C89 and C++
 * (whose designated initializers came with C99 and C++20). */
#if defined(__cplusplus) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#define CTXVAR__FIELD_INIT(name, value) value,
#else
#define CTXVAR__FIELD_INIT(name, value) .name = value,
#endif
#define CTXVAR__ABI 1
#define CTXVAR__RUNTIME_SYMBOL "ctxvar__runtime_v1"

/* Messages for ctxvar_strerror; one copy, used by the header and runtime. */
static CTXVAR__INLINE const char *ctxvar__error_text(int err)
{
    switch (err) {
    case 0: return "success";
    case EINVAL: return "invalid argument (NULL or invalid variable, or a token "
                        "never filled or filled in another thread or frame)";
    case E2BIG: return "value longer than 4096 bytes";
    case ENOMEM: return "out of memory";
    case EALREADY: return "token already reset or dropped";
    case ENOSYS: return "no ctxvar runtime in this process";
    case ESRCH: return "the calling thread has finished exiting";
    case EBUSY: return "called from a signal handler that interrupted a ctxvar call "
                       "changing this thread's context";
    default: return "unknown error";
    }
}

#if defined(CTXVAR_LINKED) || defined(CTXVAR_BUILDING_RUNTIME)

/* The runtime's exported functions, called directly. */
#define CTXVAR__PROTOTYPE(ret, name, params, args, ret_kw) ret ctxvar_##name params;
CTXVAR__API(CTXVAR__PROTOTYPE)
int ctxvar_runtime_present(void);
const char *ctxvar_strerror(int err);

#else /* header-only: bind to the runtime at first use */

#include <dlfcn.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define CTXVAR__UNUSED __attribute__((unused))
#define CTXVAR__COLD __attribute__((noinline, cold))
#define CTXVAR__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CTXVAR__UNUSED
#define CTXVAR__COLD
#define CTXVAR__UNLIKELY(x) (x)
#endif

/* What the API does with no runtime in the process. */
static ctxvar *ctxvar__absent_named(const char *name) { (void)name; return CTXVAR__NULL; }
static const char *ctxvar__absent_name(const ctxvar *v) { (void)v; return CTXVAR__NULL; }
static const char *ctxvar__absent_get(const ctxvar *v, const char *fallback)
{ (void)v; return fallback; }
static int ctxvar__absent_set(ctxvar *v, const char *value, ctxvar_token *tok)
{ (void)v; (void)value; (void)tok; return ENOSYS; }
static int ctxvar__absent_reset(ctxvar_token *tok) { (void)tok; return ENOSYS; }
static void ctxvar__absent_token_drop(ctxvar_token *tok) { (void)tok; }
static ctxvar_ctx *ctxvar__absent_capture(void) { return CTXVAR__NULL; }
static ctxvar_ctx *ctxvar__absent_retain(ctxvar_ctx *c) { return c; }
static void ctxvar__absent_release(ctxvar_ctx *c) { (void)c; }
static ctxvar_ctx *ctxvar__absent_swap(ctxvar_ctx *c) { (void)c; return CTXVAR__NULL; }
static void *ctxvar__absent_run(ctxvar_ctx *c, void *(*fn)(void *), void *arg)
{ (void)c; return fn ? fn(arg) : CTXVAR__NULL; }
static const char *ctxvar__absent_ctx_get(const ctxvar_ctx *c, const ctxvar *v,
                                          const char *fallback)
{ (void)c; (void)v; return fallback; }
static size_t ctxvar__absent_ctx_count(const ctxvar_ctx *c) { (void)c; return 0; }
static int ctxvar__absent_ctx_foreach(const ctxvar_ctx *c,
                                      int (*fn)(const char *, const char *, void *),
                                      void *arg)
{ (void)c; (void)fn; (void)arg; return 0; }
static ctxvar_task *ctxvar__absent_wrap_any(void (*fn)(void *), void *(*fn_ret)(void *),
                                            void *arg)
{
    ctxvar_task *t;
    if (!fn && !fn_ret) return CTXVAR__NULL;
    t = CTXVAR__FROM_VOID(ctxvar_task *, malloc(sizeof *t));
    if (!t) return CTXVAR__NULL;
    t->ctxvar__fn = fn;
    t->ctxvar__fn_ret = fn_ret;
    t->ctxvar__arg = arg;
    t->ctxvar__ctx = CTXVAR__NULL;
    return t;
}
static ctxvar_task *ctxvar__absent_wrap(void (*fn)(void *), void *arg)
{ return ctxvar__absent_wrap_any(fn, CTXVAR__NULL, arg); }
static ctxvar_task *ctxvar__absent_wrap_ret(void *(*fn)(void *), void *arg)
{ return ctxvar__absent_wrap_any(CTXVAR__NULL, fn, arg); }
static void *ctxvar__absent_task_call(void *task)
{
    ctxvar_task t;
    void *result = CTXVAR__NULL;
    if (!task) return CTXVAR__NULL;
    t = *CTXVAR__FROM_VOID(ctxvar_task *, task);
    free(task);
    if (t.ctxvar__fn_ret) result = t.ctxvar__fn_ret(t.ctxvar__arg);
    else t.ctxvar__fn(t.ctxvar__arg);
    return result;
}
static void ctxvar__absent_task_run(void *task) { (void)ctxvar__absent_task_call(task); }
static void ctxvar__absent_task_free(ctxvar_task *t) { free(t); }
static int ctxvar__absent_format(char *buf, size_t size)
{ if (buf && size) buf[0] = '\0'; return 0; }
static int ctxvar__absent_stats(struct ctxvar_stats *out)
{
    if (!out) return EINVAL;
    out->live_contexts = out->threads_inherited = out->inherit_failures = 0;
    return ENOSYS;
}
static const char *ctxvar__absent_version(void) { return CTXVAR_VERSION; }
static void ctxvar__absent_clear(void) {}
static int ctxvar__absent_baggage_encode(const ctxvar_ctx *c, char *buf, size_t size,
                                         size_t *dropped)
{
    (void)c;
    if (dropped) *dropped = 0;
    return ctxvar__absent_format(buf, size);
}
static int ctxvar__absent_baggage_current(char *buf, size_t size, size_t *dropped)
{ return ctxvar__absent_baggage_encode(CTXVAR__NULL, buf, size, dropped); }
static int ctxvar__absent_baggage_decode(const char *value, const ctxvar_ctx *base,
                                         ctxvar_ctx **out, size_t *skipped)
{ (void)value; (void)base; (void)out; (void)skipped; return ENOSYS; }
static int ctxvar__absent_set_traceparent(const char *value, ctxvar_token *tok)
{ (void)value; (void)tok; return ENOSYS; }
static int ctxvar__absent_accept_headers(const char *traceparent, const char *tracestate,
                                         const char *baggage, ctxvar_token *tok)
{ (void)traceparent; (void)tracestate; (void)baggage; (void)tok; return ENOSYS; }

/* This translation unit's answer to "which runtime?", found once.  Every
 * thread that finds it finds the same table, which the loader filled
 * before any code ran, so the pointer alone needs to be read and written
 * whole: GCC's atomics where the compiler has them, else (TinyCC) a
 * volatile pointer, which every platform the runtime runs on reads and
 * writes whole. */
#if defined(__GNUC__)
static const struct ctxvar__runtime *ctxvar__bound CTXVAR__UNUSED;
#define CTXVAR__BOUND_LOAD() __atomic_load_n(&ctxvar__bound, __ATOMIC_ACQUIRE)
#define CTXVAR__BOUND_STORE(rt) __atomic_store_n(&ctxvar__bound, (rt), __ATOMIC_RELEASE)
#else
static const struct ctxvar__runtime *volatile ctxvar__bound;
#define CTXVAR__BOUND_LOAD() ctxvar__bound
#define CTXVAR__BOUND_STORE(rt) (ctxvar__bound = (rt))
#endif

#define CTXVAR__ABSENT_INIT(ret, name, params, args, ret_kw) \
    CTXVAR__FIELD_INIT(name, ctxvar__absent_##name)
static const struct ctxvar__runtime ctxvar__absent CTXVAR__UNUSED = {
    CTXVAR__ABI, sizeof(struct ctxvar__runtime), CTXVAR__API(CTXVAR__ABSENT_INIT)
};

static CTXVAR__COLD CTXVAR__UNUSED const struct ctxvar__runtime *ctxvar__bind(void)
{
    const struct ctxvar__runtime *rt;
#ifdef RTLD_DEFAULT
    rt = CTXVAR__FROM_VOID(const struct ctxvar__runtime *,
                           dlsym(RTLD_DEFAULT, CTXVAR__RUNTIME_SYMBOL));
#else
    /* Without _GNU_SOURCE there is no RTLD_DEFAULT; the global handle
     * searches the same objects a preloaded or linked runtime is among. */
    void *global = dlopen(CTXVAR__NULL, RTLD_LAZY);
    rt = global ? CTXVAR__FROM_VOID(const struct ctxvar__runtime *,
                                    dlsym(global, CTXVAR__RUNTIME_SYMBOL))
                : CTXVAR__NULL;
#endif
    if (!rt || rt->abi != CTXVAR__ABI || rt->size < sizeof(struct ctxvar__runtime))
        rt = &ctxvar__absent;
    CTXVAR__BOUND_STORE(rt);
    return rt;
}

static CTXVAR__INLINE const struct ctxvar__runtime *ctxvar__rt(void)
{
    const struct ctxvar__runtime *rt = CTXVAR__BOUND_LOAD();
    return CTXVAR__UNLIKELY(!rt) ? ctxvar__bind() : rt;
}

#define CTXVAR__WRAPPER(ret, name, params, args, ret_kw) \
    static CTXVAR__INLINE ret ctxvar_##name params { ret_kw ctxvar__rt()->name args; }
CTXVAR__API(CTXVAR__WRAPPER)
static CTXVAR__INLINE int ctxvar_runtime_present(void) { return ctxvar__rt() != &ctxvar__absent; }
static CTXVAR__INLINE const char *ctxvar_strerror(int err) { return ctxvar__error_text(err); }

#endif /* CTXVAR_LINKED */

/* CTXVAR_SCOPE: a one-pass for loop whose control variable holds the token;
 * the cleanup attribute resets it on every way out of the loop's scope.
 * Defined only where both exist: C99 or C++ (a declaration in a for), and
 * a compiler with the attribute (GCC, Clang); one that ignored it would
 * compile a scope that never resets. */
#if defined(__has_attribute)
#if __has_attribute(cleanup)
#define CTXVAR__HAS_CLEANUP 1
#endif
#elif defined(__GNUC__)
#define CTXVAR__HAS_CLEANUP 1
#endif
#if defined(CTXVAR__HAS_CLEANUP) && \
    (defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L))
typedef struct ctxvar__scope {
    ctxvar_token token;
    int filled;
    int once;
} ctxvar__scope;

static CTXVAR__INLINE ctxvar__scope ctxvar__scope_enter(ctxvar *v, const char *value)
{
    ctxvar__scope s;
    s.filled = ctxvar_set(v, value, &s.token) == 0;
    s.once = 1;
    return s;
}

static CTXVAR__INLINE void ctxvar__scope_exit(ctxvar__scope *s)
{
    if (s->filled && ctxvar_reset(&s->token) != 0)
        ctxvar_token_drop(&s->token); /* the block swapped frames: release */
}

#define CTXVAR__CONCAT2(a, b) a##b
#define CTXVAR__CONCAT(a, b) CTXVAR__CONCAT2(a, b)
#ifdef __COUNTER__
#define CTXVAR__UNIQUE(prefix) CTXVAR__CONCAT(prefix, __COUNTER__)
#else
#define CTXVAR__UNIQUE(prefix) CTXVAR__CONCAT(prefix, __LINE__)
#endif
#define CTXVAR__SCOPE_NAMED(scope, var, value)                                   \
    for (ctxvar__scope scope __attribute__((cleanup(ctxvar__scope_exit))) =     \
             ctxvar__scope_enter((var), (value));                               \
         scope.once; scope.once = 0)
#define CTXVAR_SCOPE(var, value) CTXVAR__SCOPE_NAMED(CTXVAR__UNIQUE(ctxvar_scope_), var, value)
#endif /* CTXVAR__HAS_CLEANUP, C99 or C++ */

#ifdef __cplusplus
}
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif /* CTXVAR_H */
