/* libuv.c - libuv's handles call back in the context of the call that
 * started them: timers (uv_timer_start, with repeat; uv_timer_again keeps
 * the start's context), uv_async_init, uv_poll_start, uv_signal_start(
 * _oneshot), uv_idle_start, uv_prepare_start, uv_check_start, uv_listen,
 * uv_read_start, uv_udp_recv_start, and uv_close's close callback.  One-shot
 * requests are in shim/libuv_req.c.
 *
 * A handle's callbacks are persistent: each call captures the context once,
 * at the start (or at uv_async_init: uv_async_send is async-signal-safe,
 * coalesces, and is called by libuv itself, so it captures nothing), and
 * every callback until the next start runs in it; the loop thread's own
 * context is back after each.  The record is kept with the handle
 * (shim/libuv_req.c, "Where records are kept"), since libuv calls back
 * with the handle, whose data field is the program's.  A new start
 * replaces it; uv_close frees it (libuv calls nothing of a closing handle
 * but its close callback), and a close callback runs in the context of the
 * uv_close call.
 *
 * Visible to the program: the handle's public callback fields (close_cb,
 * read_cb, alloc_cb, connection_cb) hold our trampolines.  A program that
 * passes them back to libuv (uv_read_start(s, s->alloc_cb, s->read_cb)) is
 * recognised: its own callbacks are started again, in the new start's
 * context; so are a timer's, idle, prepare, check, poll, signal and
 * listen handle's (uv_timer_start(t, t->timer_cb, ...)).  libuv's own
 * uv_timer_again, which restarts the timer with the callback it holds
 * (ours), keeps the record as it is: the caller's address tells.
 */
#include "loops.h"
#ifdef CTXVAR_WITH_LIBUV
#include <errno.h>
#include <stdint.h>

#include "libuv.h"

/* What a start asks for, applied once the real call has succeeded: a
 * start libuv refuses (UV_EALREADY for a stream already reading, UV_EINVAL
 * for a closing handle) must leave the handle's callbacks as they were. */
struct handle_start {
    int fresh;                    /* a record was made for this start */
    void **words;                 /* where the earlier record is, when not in the table */
    void (*fn)(void), (*fn2)(void);
};

/* handle_begin when the words cannot settle it: the record is in the table,
 * or the words hold a record of the handle's other kind. */
static __attribute__((noinline)) int handle_begin_general(const void *handle, int kind,
                                                          const char *what,
                                                          struct handle_start *hs)
{
    struct uv_record current;
    if (ctxvar__uv_lookup_at(handle, kind, &current, &hs->words)) {
        hs->fresh = 0;
        return 1;
    }
    if (!ctxvar__uv_attach(handle, kind, hs->fn, hs->fn2, what)) return 0;
    hs->fresh = 1;
    return 1;
}

/* 1 when the start is carried: a new record for handle's callback(s) holds
 * them and the caller's context, or the handle's earlier one is to be
 * updated by handle_end.  0 to pass the program's callbacks through.
 * Inlined in every start: a loop may start millions of timers. */
static inline __attribute__((always_inline)) int handle_begin(const void *handle, int kind,
                                                              void (*fn)(void), void (*fn2)(void),
                                                              const char *what,
                                                              struct handle_start *hs)
{
    if (!fn || !handle || !ctxvar__uv_carry(fn)) return 0;
    hs->fn = fn;
    hs->fn2 = fn2;
    void **w = ctxvar__uv_words(handle, kind);
    if (w) {
        /* A restart (a timer started again from its own callback, say)
         * updates the handle's record in place.  Only the loop thread
         * touches a handle's record, and a running trampoline has its own
         * copy. */
        int held = ctxvar__uv_words_kind(w, handle);
        if (held == kind) {
            hs->words = w;
            hs->fresh = 0;
            return 1;
        }
        /* The usual first start: words that hold nothing, no record in
         * the table. */
        if (!held && !atomic_load_explicit(&ctxvar__uv_table_used, memory_order_relaxed)) {
            /* ctxvar_capture keeps errno. */
            ctxvar__uv_words_write(w, handle, kind, fn, fn2, ctxvar_capture());
            return hs->fresh = 1;
        }
    }
    return handle_begin_general(handle, kind, what, hs);
}

/* After the real start: on success an earlier record takes the new
 * callbacks and the caller's context; on failure libuv kept nothing of this
 * start, so a record made for it goes and an earlier one stays as it was. */
static inline int handle_end(const void *handle, int kind, const struct handle_start *hs,
                             int result)
{
    if (__builtin_expect(result < 0, 0)) {
        if (hs->fresh) ctxvar__uv_drop(handle, kind);
        return result;
    }
    if (!hs->fresh) ctxvar__uv_update_at(hs->words, handle, kind, hs->fn, hs->fn2);
    return result;
}

/* In a handle's trampoline: its record, copied, so that the callback may
 * close the handle (releasing the record) or restart it (replacing it)
 * while it runs; the frame the copy is run in holds its own reference on
 * the context.  0 when there is none. */
static int handle_record(const void *handle, int kind, struct uv_record *copy)
{
    if (ctxvar__uv_lookup(handle, kind, copy)) return 1;
    ctxvar__debug("libuv: a handle called back with no record; its callback is lost");
    return 0;
}

/* A start given the handle's own trampoline: the program giving back what
 * it read from the public member (uv_timer_start(t, t->timer_cb, ...))
 * means its own callback, and starts it again in its own context like any
 * start.  libuv passes it back itself in one place only: uv_timer_again
 * restarting a timer, which keeps the start's context; there the caller's
 * address tells the two apart (so a timer restart the program makes by a
 * tail call from a callback libuv calls directly, uv_walk's, is taken for
 * libuv's).  The program's callback, or the trampoline as it is. */
static __attribute__((noinline)) void (*restarted_callback(const void *handle,
                                                            void (*trampoline)(void),
                                                            const void *caller))(void)
{
    if (!ctxvar__loops_enabled() ||
        (caller && ctxvar__code_inside(&ctxvar__libuv_code, caller)))
        return trampoline;
    struct uv_record r;
    return ctxvar__uv_lookup(handle, UV_KIND_HANDLE, &r) ? r.k.cb.fn : trampoline;
}
/* caller: UV_CALLER for a timer, NULL for handles libuv never restarts. */
#define RESTARTED(handle, cb, trampoline, caller)                                         \
    ((cb) != (trampoline) ? (cb)                                                          \
                          : (__typeof__(cb))restarted_callback(                           \
                                handle, (void (*)(void))(trampoline), caller))

/* ---- Callbacks that take the handle alone ------------------------------------ */

static void handle_trampoline(uv_handle_t *handle)
{
    struct uv_record r;
    if (handle_record(handle, UV_KIND_HANDLE, &r))
        ctxvar__callback_run(r.k.cb.context, r.k.cb.fn, handle);
}

/* handle_trampoline under each callback type.  libuv calls them with the
 * handle alone; defining one per type keeps every call exactly typed. */
static void timer_trampoline(uv_timer_t *h) { handle_trampoline((uv_handle_t *)h); }
static void async_trampoline(uv_async_t *h)
{
    struct uv_record r;
    if (handle_record(h, UV_KIND_ASYNC, &r)) ctxvar__callback_run(r.k.cb.context, r.k.cb.fn, h);
}
static void idle_trampoline(uv_idle_t *h) { handle_trampoline((uv_handle_t *)h); }
static void prepare_trampoline(uv_prepare_t *h) { handle_trampoline((uv_handle_t *)h); }
static void check_trampoline(uv_check_t *h) { handle_trampoline((uv_handle_t *)h); }

CTXVAR__EXPORT int uv_timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout,
                                  uint64_t repeat)
{
    __typeof__(&uv_timer_start) next = UV_NEXT(uv_timer_start);
    if (!next) return UV_ENOSYS;
    /* Our own trampoline: uv_timer_again restarting, or the program
     * passing back what it read: the start's record stays. */
    cb = RESTARTED(handle, cb, timer_trampoline, UV_CALLER);
    struct handle_start hs;
    if (cb == timer_trampoline ||
        !handle_begin(handle, UV_KIND_HANDLE, (void (*)(void))cb, NULL, "uv_timer_start",
                      &hs))
        return next(handle, cb, timeout, repeat);
    return handle_end(handle, UV_KIND_HANDLE, &hs, next(handle, timer_trampoline, timeout, repeat));
}

CTXVAR__EXPORT int uv_async_init(uv_loop_t *loop, uv_async_t *handle, uv_async_cb cb)
{
    __typeof__(&uv_async_init) next = UV_NEXT(uv_async_init);
    if (!next) return UV_ENOSYS;
    /* Our trampoline, read back from an async handle (a closed one, or
     * another): no record says whose callback it stands for, and recording
     * it as the program's would make it call itself.  Passed through, it
     * finds no record (README, "What is not covered"). */
    struct handle_start hs;
    if (cb == async_trampoline ||
        !handle_begin(handle, UV_KIND_ASYNC, (void (*)(void))cb, NULL, "uv_async_init",
                      &hs))
        return next(loop, handle, cb);
    /* Not initialised: the program will not close it, the record goes. */
    return handle_end(handle, UV_KIND_ASYNC, &hs, next(loop, handle, async_trampoline));
}

#define INTERPOSE_SIMPLE_START(type, name)                                                \
    CTXVAR__EXPORT int uv_##name##_start(uv_##type##_t *handle, uv_##name##_cb cb)        \
    {                                                                                     \
        __typeof__(&uv_##name##_start) next = UV_NEXT(uv_##name##_start);                 \
        if (!next) return UV_ENOSYS;                                                      \
        cb = RESTARTED(handle, cb, name##_trampoline, NULL);                              \
        struct handle_start hs;                                                           \
        if (cb == name##_trampoline ||                                                    \
            !handle_begin(handle, UV_KIND_HANDLE, (void (*)(void))cb, NULL,               \
                          "uv_" #name "_start", &hs))                          \
            return next(handle, cb);                                                      \
        return handle_end(handle, UV_KIND_HANDLE, &hs, next(handle, name##_trampoline));  \
    }
INTERPOSE_SIMPLE_START(idle, idle)
INTERPOSE_SIMPLE_START(prepare, prepare)
INTERPOSE_SIMPLE_START(check, check)

/* ---- Callbacks with more arguments ----------------------------------------------- */

struct handle_args {
    void *handle;
    long long number;
    int status, extra;
    size_t size;
    const void *ptr, *ptr2;
    void *out;
};

static void call_poll(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    ((uv_poll_cb)cb->fn)(a->handle, a->status, a->extra);
}

static void poll_trampoline(uv_poll_t *handle, int status, int events)
{
    struct uv_record r;
    struct handle_args a = {.handle = handle, .status = status, .extra = events};
    if (handle_record(handle, UV_KIND_HANDLE, &r)) ctxvar__callback_invoke(&r.k.cb, call_poll, &a);
}

CTXVAR__EXPORT int uv_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb)
{
    __typeof__(&uv_poll_start) next = UV_NEXT(uv_poll_start);
    if (!next) return UV_ENOSYS;
    cb = RESTARTED(handle, cb, poll_trampoline, NULL);
    struct handle_start hs;
    if (cb == poll_trampoline ||
        !handle_begin(handle, UV_KIND_HANDLE, (void (*)(void))cb, NULL, "uv_poll_start",
                      &hs))
        return next(handle, events, cb);
    return handle_end(handle, UV_KIND_HANDLE, &hs, next(handle, events, poll_trampoline));
}

static void call_signal(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    ((uv_signal_cb)cb->fn)(a->handle, a->status);
}

static void signal_trampoline(uv_signal_t *handle, int signum)
{
    struct uv_record r;
    struct handle_args a = {.handle = handle, .status = signum};
    if (handle_record(handle, UV_KIND_HANDLE, &r)) ctxvar__callback_invoke(&r.k.cb, call_signal, &a);
}

#define INTERPOSE_SIGNAL(name)                                                             \
    CTXVAR__EXPORT int name(uv_signal_t *handle, uv_signal_cb cb, int signum)              \
    {                                                                                      \
        __typeof__(&name) next = UV_NEXT(name);                                            \
        if (!next) return UV_ENOSYS;                                                       \
        cb = RESTARTED(handle, cb, signal_trampoline, NULL);                               \
        struct handle_start hs;                                                            \
        if (cb == signal_trampoline ||                                                     \
            !handle_begin(handle, UV_KIND_HANDLE, (void (*)(void))cb, NULL, #name, &hs))   \
            return next(handle, cb, signum);                                               \
        return handle_end(handle, UV_KIND_HANDLE, &hs, next(handle, signal_trampoline, signum)); \
    }
INTERPOSE_SIGNAL(uv_signal_start)
INTERPOSE_SIGNAL(uv_signal_start_oneshot)

static void call_connection(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    ((uv_connection_cb)cb->fn)(a->handle, a->status);
}

static void connection_trampoline(uv_stream_t *server, int status)
{
    struct uv_record r;
    struct handle_args a = {.handle = server, .status = status};
    if (handle_record(server, UV_KIND_HANDLE, &r))
        ctxvar__callback_invoke(&r.k.cb, call_connection, &a);
}

CTXVAR__EXPORT int uv_listen(uv_stream_t *stream, int backlog, uv_connection_cb cb)
{
    __typeof__(&uv_listen) next = UV_NEXT(uv_listen);
    if (!next) return UV_ENOSYS;
    cb = RESTARTED(stream, cb, connection_trampoline, NULL);
    struct handle_start hs;
    if (cb == connection_trampoline ||
        !handle_begin(stream, UV_KIND_HANDLE, (void (*)(void))cb, NULL, "uv_listen", &hs))
        return next(stream, backlog, cb);
    return handle_end(stream, UV_KIND_HANDLE, &hs, next(stream, backlog, connection_trampoline));
}

/* ---- Reading: an allocation callback and a read callback --------------------------- */

static void call_alloc(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    ((uv_alloc_cb)cb->fn)(a->handle, a->size, a->out);
}

static void alloc_trampoline(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct uv_record r;
    struct handle_args a = {.handle = handle, .size = suggested, .out = buf};
    if (handle_record(handle, UV_KIND_READ, &r)) ctxvar__callback_invoke(&r.k.cb, call_alloc, &a);
}

static void call_read(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    uv_read_cb read = (uv_read_cb)((const struct uv_record *)(const void *)cb)->fn2;
    read(a->handle, (ssize_t)a->number, a->ptr);
}

static void read_trampoline(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct uv_record r;
    struct handle_args a = {.handle = stream, .number = nread, .ptr = buf};
    if (handle_record(stream, UV_KIND_READ, &r)) ctxvar__callback_invoke(&r.k.cb, call_read, &a);
}

/* A program that passes back one of the callbacks it read from the handle
 * (uv_read_start(s, s->alloc_cb, my_read)) passes our trampoline: it means
 * its own callback, which the handle's record holds.  1 when *fn is now the
 * program's own (or was never ours); 0 when it is ours and no record says
 * whose: then the start is passed through as it is, never recorded (our
 * trampoline as the program's callback would call itself), and the
 * callbacks find no record (README, "What is not covered"). */
static int own_callback(const void *handle, void (**fn)(void), void (*trampoline)(void),
                        int second)
{
    if (*fn != trampoline) return 1;
    struct uv_record r;
    if (!ctxvar__uv_lookup(handle, UV_KIND_READ, &r)) return 0;
    *fn = second ? r.fn2 : r.k.cb.fn;
    return 1;
}

/* own_callback for a read start's two callbacks (uv_read_start,
 * uv_udp_recv_start): both replaced, or neither.  Both read back is a
 * restart with the program's own callbacks, which takes the new start's
 * context like any other start by the program (libuv never restarts a
 * read itself). */
static void own_read_callbacks(const void *handle, void (**alloc)(void), void (**second)(void),
                               void (*second_trampoline)(void))
{
    void (*a)(void) = *alloc, (*b)(void) = *second;
    if (!ctxvar__loops_enabled()) return;
    if (own_callback(handle, &a, (void (*)(void))alloc_trampoline, 0) &&
        own_callback(handle, &b, second_trampoline, 1)) {
        *alloc = a;
        *second = b;
    }
}

CTXVAR__EXPORT int uv_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
    __typeof__(&uv_read_start) next = UV_NEXT(uv_read_start);
    if (!next) return UV_ENOSYS;
    void (*alloc)(void) = (void (*)(void))alloc_cb, (*read)(void) = (void (*)(void))read_cb;
    own_read_callbacks(stream, &alloc, &read, (void (*)(void))read_trampoline);
    alloc_cb = (uv_alloc_cb)alloc;
    read_cb = (uv_read_cb)read;
    struct handle_start hs;
    if (alloc_cb == alloc_trampoline || read_cb == read_trampoline || !alloc_cb || !read_cb ||
        !handle_begin(stream, UV_KIND_READ, (void (*)(void))alloc_cb, (void (*)(void))read_cb,
                      "uv_read_start", &hs))
        return next(stream, alloc_cb, read_cb);
    return handle_end(stream, UV_KIND_READ, &hs, next(stream, alloc_trampoline, read_trampoline));
}

static void call_udp_recv(const struct ctxvar__callback *cb, void *io)
{
    const struct handle_args *a = io;
    uv_udp_recv_cb recv = (uv_udp_recv_cb)((const struct uv_record *)(const void *)cb)->fn2;
    recv(a->handle, (ssize_t)a->number, a->ptr, a->ptr2, (unsigned)a->extra);
}

static void udp_recv_trampoline(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                                const struct sockaddr *addr, unsigned flags)
{
    struct uv_record r;
    struct handle_args a = {.handle = handle, .number = nread, .ptr = buf, .ptr2 = addr,
                            .extra = (int)flags};
    if (handle_record(handle, UV_KIND_READ, &r))
        ctxvar__callback_invoke(&r.k.cb, call_udp_recv, &a);
}

CTXVAR__EXPORT int uv_udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb,
                                     uv_udp_recv_cb recv_cb)
{
    __typeof__(&uv_udp_recv_start) next = UV_NEXT(uv_udp_recv_start);
    if (!next) return UV_ENOSYS;
    void (*alloc)(void) = (void (*)(void))alloc_cb, (*recv)(void) = (void (*)(void))recv_cb;
    own_read_callbacks(handle, &alloc, &recv, (void (*)(void))udp_recv_trampoline);
    alloc_cb = (uv_alloc_cb)alloc;
    recv_cb = (uv_udp_recv_cb)recv;
    struct handle_start hs;
    if (alloc_cb == alloc_trampoline || recv_cb == udp_recv_trampoline || !alloc_cb || !recv_cb ||
        !handle_begin(handle, UV_KIND_READ, (void (*)(void))alloc_cb, (void (*)(void))recv_cb,
                      "uv_udp_recv_start", &hs))
        return next(handle, alloc_cb, recv_cb);
    return handle_end(handle, UV_KIND_READ, &hs, next(handle, alloc_trampoline, udp_recv_trampoline));
}

/* ---- Closing --------------------------------------------------------------------- */

/* libuv calls nothing of a closing handle but its close callback: its
 * other records go. */
static void forget_handle(const void *handle)
{
    /* Not an async handle's words: libuv may be updating them from another
     * thread (uv_async_send). */
    if (((const uv_handle_t *)handle)->type == UV_ASYNC) {
        ctxvar__keyed_drop(handle, UV_KIND_ASYNC);
        return;
    }
    void **w = ctxvar__uv_words(handle, UV_KIND_HANDLE);
    if (w) {
        if (ctxvar__uv_words_kind(w, handle)) {
            ctxvar_ctx *context = w[2];
            ctxvar__uv_words_clear(w);
            ctxvar_release(context);
        }
        if (!atomic_load_explicit(&ctxvar__uv_table_used, memory_order_relaxed)) return;
    }
    ctxvar__keyed_drop(handle, UV_KIND_HANDLE);
    ctxvar__keyed_drop(handle, UV_KIND_READ);
}

static void close_trampoline(uv_handle_t *handle)
{
    struct uv_record rec;
    if (!ctxvar__uv_detach(handle, UV_KIND_CLOSE, &rec)) {
        ctxvar__debug("libuv: a handle closed with no record; its close callback is lost");
        return;
    }
    /* The close callback usually frees the handle: nothing of ours is
     * read after it. */
    ctxvar__callback_run_owned(rec.k.cb.context, rec.k.cb.fn, handle);
}

/* uv_close with a close callback, out of line: uv_close without one, a
 * timer's usual end, stays short. */
static __attribute__((noinline)) void close_with_callback(uv_handle_t *handle,
                                                          uv_close_cb close_cb,
                                                          void (*next)(uv_handle_t *, uv_close_cb))
{
    struct handle_start hs;
    if (close_cb == close_trampoline ||
        !handle_begin(handle, UV_KIND_CLOSE, (void (*)(void))close_cb, NULL, "uv_close",
                      &hs)) {
        next(handle, close_cb);
        return;
    }
    next(handle, close_trampoline);
    handle_end(handle, UV_KIND_CLOSE, &hs, 0); /* uv_close cannot fail */
}

CTXVAR__EXPORT void uv_close(uv_handle_t *handle, uv_close_cb close_cb)
{
    __typeof__(&uv_close) next = UV_NEXT(uv_close);
    if (!next) return;
    /* Not with libuv absent: the uv_close that reached us is another
     * library's, and its object no uv_handle_t. */
    if (ctxvar__loops_enabled() && ctxvar__code_present_fast(&ctxvar__libuv_code))
        forget_handle(handle);
    if (close_cb) close_with_callback(handle, close_cb, next);
    else next(handle, NULL);
}
#else
/* No uv.h at build time: no libuv interposers (ISO C wants a declaration). */
typedef int ctxvar__no_libuv_handles;
#endif
