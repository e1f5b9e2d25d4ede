/* libuv_req.c - libuv's one-shot requests call back in the context of the
 * call that made them: uv_queue_work (both callbacks), every uv_fs_* call
 * given a callback, uv_getaddrinfo, uv_getnameinfo, uv_random, uv_write,
 * uv_write2, uv_shutdown, uv_tcp_connect, uv_pipe_connect, uv_udp_send.
 *
 * libuv calls a request's callback with the request itself, whose public
 * fields (req->data above all) belong to the program: the record {callback,
 * context} is kept with the request (see "Where records are kept" below),
 * libuv is given a trampoline, and the trampoline takes the record out,
 * runs the program's callback in the captured context, then releases it.
 * Every started request gets its callback called exactly once, also when
 * cancelled (uv_cancel: status UV_ECANCELED) or when its handle is closed,
 * so that is where the record goes; a call that fails at once (r < 0)
 * never calls back, and the record goes then.  A NULL callback makes the uv_fs_* calls, uv_getaddrinfo,
 * uv_getnameinfo and uv_random synchronous: they pass through untouched.
 *
 * Visible to the program: the public callback fields libuv fills from the
 * arguments (uv_work_t's work_cb and after_work_cb, uv_fs_t's cb, and the
 * like) hold our trampolines; req->data and everything else are the
 * program's.
 *
 * Pool work (uv_queue_work's work_cb) runs as a task: in the submitter's
 * context, and a pool thread that has run one no longer shows the context
 * it inherited when libuv created it.  uv_queue_work's after_work_cb is
 * reached through our trampoline even when the program passed NULL, since
 * that is where the record goes. */
#include "loops.h"
#ifdef CTXVAR_WITH_LIBUV
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "libuv.h"

#define STRIP(...) __VA_ARGS__

struct ctxvar__code_ranges ctxvar__libuv_code = {.name = "libuv"};

/* ---- Where records are kept -------------------------------------------------
 *
 * libuv calls back with the program's own handle or request, and the
 * program owns their public fields, so a record must be found from the
 * object's address.  A table keyed by address (lib/keyed.c) does that
 * under a mutex, and each record is a block of its own: a uv_queue_work
 * job used to look its record up three times, on two threads.
 *
 * Every request starts with six pointer-sized words libuv declares private
 * and reserved (uv_req_t's `reserved`), every handle with a union of four
 * (uv_handle_t's `u.reserved`).  On Unix no libuv from 1.0 to 1.52 reads
 * or writes the last four of a request's (1.0 called the first two
 * `active_queue` and used them) nor any of a handle's but an async
 * handle's: from 1.45, `u.fd`, overlaid on the first word, is its busy
 * count, which uv_async_send updates from any thread, so async handles
 * keep their records in the table.  With a libuv of those versions the
 * record itself lives in those four words: the program's callback, its
 * second one, the context (a reference of its own), and a check word, the
 * three mixed with the object's address, the kind and a per-process random
 * secret.  The check tells our record from whatever the words held before
 * (a handle's memory is the program's, uninitialised or reused, or a
 * byte-for-byte copy of another object), so a record is found only where
 * it was put; nothing is allocated, and the words share the cache lines
 * libuv is reading anyway.
 *
 * A handle has one set of words: its timer (idle, poll ...) callback or its
 * read callbacks, whichever comes first; a second kind on the same handle
 * goes to the table, and from then on lookups that miss the words look
 * there too.  Close callbacks, once per handle, always go to the table,
 * so that a start libuv refuses on a closing handle cannot displace one.
 * A later libuv might find a use for the words, so any version past the
 * last one checked keeps all its records in the table; so does a 32-bit
 * process, where garbage would pass a 32-bit check word too often. */

#define UV_NEWEST_CHECKED_MINOR 52

_Atomic int ctxvar__uv_place;
_Atomic int ctxvar__uv_table_used;
uintptr_t ctxvar__uv_secret;
static pthread_once_t place_once = PTHREAD_ONCE_INIT;

/* The secret of the check words: random bytes of its own.  Not the
 * kernel's AT_RANDOM bytes, from which glibc makes the stack protector's
 * canary and the pointer guard: a check word is readable wherever the
 * program's handles are, and a secret mixed in by XOR can be read back
 * from one.  The secret only has to make garbage unlikely to pass, so
 * without getrandom the address space layout and the clock will do. */
static uintptr_t new_secret(void)
{
    uintptr_t secret = 0;
    int saved_errno = errno;
    if (getrandom(&secret, sizeof secret, GRND_NONBLOCK) != (ssize_t)sizeof secret) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        secret = (uintptr_t)&secret ^ (uintptr_t)now.tv_nsec * 0x9e3779b9u ^
                 (uintptr_t)now.tv_sec << 20 ^ (uintptr_t)getpid() * 0x85ebca6bu;
    }
    errno = saved_errno;
    return secret | 1;
}

static void decide_place(void)
{
    unsigned (*version)(void) = UV_NEXT(uv_version);
    unsigned v = version ? version() : 0;
    ctxvar__uv_secret = new_secret();
    int place = (v >> 16) == 1 && ((v >> 8) & 0xff) <= UV_NEWEST_CHECKED_MINOR ? 1 : 2;
    /* On 32 bits garbage would pass a check word once in about a billion
     * handles: too often. */
    if (sizeof(void *) < 8) place = 2;
#ifdef CTXVAR_FAULT_INJECTION
    /* The fault-injection build keeps every record in the table, so that
     * `make fault` fails the table's own allocations too and the table
     * stays tested against the installed libuv; the other builds test the
     * words. */
    place = 2;
#endif
    atomic_store_explicit(&ctxvar__uv_place, place, memory_order_release);
    if (place == 2)
        ctxvar__debug("libuv %u.%u: its records are kept in a table", v >> 16, (v >> 8) & 0xff);
}

int ctxvar__uv_place_decide(void)
{
    pthread_once(&place_once, decide_place);
    return atomic_load_explicit(&ctxvar__uv_place, memory_order_acquire);
}

/* ---- The table, for what has no words ---- */

static int table_attach(const void *object, int kind, void (*fn)(void), void (*fn2)(void),
                        const char *what)
{
    struct uv_record *r = ctxvar__keyed_new(sizeof *r, object, kind, fn, NULL, what);
    if (!r) return 0;
    r->fn2 = fn2;
    /* Close and async callbacks are only ever looked for in the table. */
    if (kind != UV_KIND_CLOSE && kind != UV_KIND_ASYNC &&
        !atomic_load_explicit(&ctxvar__uv_table_used, memory_order_relaxed))
        atomic_store_explicit(&ctxvar__uv_table_used, 1, memory_order_relaxed);
    ctxvar__keyed_put(&r->k);
    return 1;
}

int ctxvar__uv_lookup_in_table(const void *object, int kind, struct uv_record *copy)
{
    const struct uv_record *r = (const void *)ctxvar__keyed_find(object, kind);
    if (!r) return 0;
    /* The callback fields only: the table's link may be rewritten by
     * another thread's insertion meanwhile. */
    copy->k.cb = r->k.cb;
    copy->fn2 = r->fn2;
    return 1;
}

/* ---- The four calls ---- */

int ctxvar__uv_attach(const void *object, int kind, void (*fn)(void), void (*fn2)(void),
                      const char *what)
{
    if (!ctxvar__propagation_enabled()) return 0;
    void **w = ctxvar__uv_words(object, kind);
    if (w && kind != UV_KIND_REQ) {
        /* A handle's words may hold its other kind of record; one of this
         * kind is replaced, as the table would replace it (a handle that
         * libuv still held, started again through a path we did not see). */
        int held = ctxvar__uv_words_kind(w, object);
        if (held == kind) ctxvar_release(w[2]);
        else if (held) w = NULL;
    }
    if (!w) return table_attach(object, kind, fn, fn2, what);
    ctxvar__uv_words_write(w, object, kind, fn, fn2, ctxvar_capture()); /* which keeps errno */
    return 1;
}

void ctxvar__uv_update(const void *object, int kind, void (*fn)(void), void (*fn2)(void))
{
    void **w = ctxvar__uv_words(object, kind);
    if (w && ctxvar__uv_words_hold(w, object, kind)) {
        ctxvar_ctx *old = w[2], *now = ctxvar__current_borrowed();
        int saved_errno = errno;
        if (old != now) {
            now = ctxvar_capture();
            ctxvar_release(old);
        }
        ctxvar__uv_words_write(w, object, kind, fn, fn2, now);
        errno = saved_errno;
        return;
    }
    struct uv_record *r = (struct uv_record *)(void *)ctxvar__keyed_find(object, kind);
    if (!r) return;
    r->k.cb.fn = fn;
    r->fn2 = fn2;
    ctxvar__callback_recapture(&r->k.cb);
}

int ctxvar__uv_detach(const void *object, int kind, struct uv_record *copy)
{
    void **w = ctxvar__uv_words(object, kind);
    if (w && ctxvar__uv_words_hold(w, object, kind)) {
        copy->k.cb.fn = ctxvar__uv_word_fn(w[0]);
        copy->fn2 = ctxvar__uv_word_fn(w[1]);
        copy->k.cb.context = w[2];
        ctxvar__uv_words_clear(w);
        return 1;
    }
    if (w && !atomic_load_explicit(&ctxvar__uv_table_used, memory_order_relaxed)) return 0;
    struct uv_record *r = (struct uv_record *)(void *)ctxvar__keyed_take(object, kind);
    if (!r) return 0;
    copy->k.cb = r->k.cb;
    copy->fn2 = r->fn2;
    r->k.cb.context = NULL; /* now the copy's */
    ctxvar__callback_free(&r->k.cb);
    return 1;
}

void ctxvar__uv_drop(const void *object, int kind)
{
    struct uv_record r;
    if (ctxvar__uv_detach(object, kind, &r)) ctxvar_release(r.k.cb.context);
}

/* ---- Requests ------------------------------------------------------------------ */

int ctxvar__uv_request_begin(const void *req, void (*fn)(void), void (*fn2)(void),
                             const char *what)
{
    if (!fn || !req || !ctxvar__uv_carry(fn)) return 0;
    return ctxvar__uv_attach(req, UV_KIND_REQ, fn, fn2, what);
}

void ctxvar__uv_request_end(const void *req, int r)
{
    if (r < 0) ctxvar__uv_drop(req, UV_KIND_REQ);
}

/* A completed request's record, taken away: 1 and *rec, or 0 (said). */
static int request_taken(const void *req, struct uv_record *rec)
{
    if (ctxvar__uv_detach(req, UV_KIND_REQ, rec)) return 1;
    ctxvar__debug("libuv: a request completed with no record; its callback is lost");
    return 0;
}

void ctxvar__uv_request_finish(const void *req,
                               void (*call)(const struct ctxvar__callback *cb, void *io), void *io)
{
    struct uv_record rec;
    if (request_taken(req, &rec)) ctxvar__callback_invoke_owned(&rec.k.cb, call, io);
}

/* ---- uv_queue_work ---------------------------------------------------------- */

/* On a pool thread; the record stays for the after-work callback.  libuv
 * runs the two callbacks of one request one after the other, and only the
 * after-work one (on the loop thread) takes the record out, so the job
 * runs on the record's own reference (lib/frames.c, "Lent contexts").
 * uv_cancel succeeds only for a job that has not started, and then the
 * job never runs. */
static void work_trampoline(uv_work_t *req)
{
    struct uv_record rec;
    if (ctxvar__uv_lookup(req, UV_KIND_REQ, &rec))
        ctxvar__callback_run_task_lent(rec.k.cb.context, rec.k.cb.fn, req);
    else
        ctxvar__debug("libuv: work started with no record; it is lost");
}

static void after_work_trampoline(uv_work_t *req, int status)
{
    struct uv_record rec;
    if (!request_taken(req, &rec)) return;
    if (rec.fn2)
        ctxvar__callback_run_status_owned(rec.k.cb.context, rec.fn2, req, status);
    else
        ctxvar_release(rec.k.cb.context); /* the program passed no after-work callback */
}

CTXVAR__EXPORT int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                                 uv_after_work_cb after_work_cb)
{
    __typeof__(&uv_queue_work) next = UV_NEXT(uv_queue_work);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))work_cb, (void (*)(void))after_work_cb,
                                  "uv_queue_work"))
        return next(loop, req, work_cb, after_work_cb);
    int result = next(loop, req, work_trampoline, after_work_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

/* ---- The uv_fs_* family ------------------------------------------------------- */

static void call_fs(const struct ctxvar__callback *cb, void *req) { ((uv_fs_cb)cb->fn)(req); }

static void fs_trampoline(uv_fs_t *req) { ctxvar__uv_request_finish(req, call_fs, req); }

#define INTERPOSE_FS(name, PARAMS, ARGS)                                                   \
    CTXVAR__EXPORT int name(uv_loop_t *loop, uv_fs_t *req, STRIP PARAMS, uv_fs_cb cb)      \
    {                                                                                      \
        __typeof__(&name) next = UV_NEXT(name);                                            \
        if (!next) return UV_ENOSYS;                                                       \
        if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, #name))          \
            return next(loop, req, STRIP ARGS, cb);                                        \
        int result = next(loop, req, STRIP ARGS, fs_trampoline);                           \
        ctxvar__uv_request_end(req, result);                                               \
        return result;                                                                     \
    }
#define PATH_ONLY(name) INTERPOSE_FS(name, (const char *path), (path))
#define FILE_ONLY(name) INTERPOSE_FS(name, (uv_file file), (file))
#define TWO_PATHS(name) INTERPOSE_FS(name, (const char *path, const char *new_path), (path, new_path))

FILE_ONLY(uv_fs_close)
INTERPOSE_FS(uv_fs_open, (const char *path, int flags, int mode), (path, flags, mode))
INTERPOSE_FS(uv_fs_read, (uv_file file, const uv_buf_t bufs[], unsigned nbufs, int64_t offset),
             (file, bufs, nbufs, offset))
PATH_ONLY(uv_fs_unlink)
INTERPOSE_FS(uv_fs_write, (uv_file file, const uv_buf_t bufs[], unsigned nbufs, int64_t offset),
             (file, bufs, nbufs, offset))
INTERPOSE_FS(uv_fs_copyfile, (const char *path, const char *new_path, int flags),
             (path, new_path, flags))
INTERPOSE_FS(uv_fs_mkdir, (const char *path, int mode), (path, mode))
PATH_ONLY(uv_fs_mkdtemp)
PATH_ONLY(uv_fs_mkstemp)
PATH_ONLY(uv_fs_rmdir)
INTERPOSE_FS(uv_fs_scandir, (const char *path, int flags), (path, flags))
PATH_ONLY(uv_fs_opendir)
INTERPOSE_FS(uv_fs_readdir, (uv_dir_t *dir), (dir))
INTERPOSE_FS(uv_fs_closedir, (uv_dir_t *dir), (dir))
PATH_ONLY(uv_fs_stat)
FILE_ONLY(uv_fs_fstat)
TWO_PATHS(uv_fs_rename)
FILE_ONLY(uv_fs_fsync)
FILE_ONLY(uv_fs_fdatasync)
INTERPOSE_FS(uv_fs_ftruncate, (uv_file file, int64_t offset), (file, offset))
INTERPOSE_FS(uv_fs_sendfile, (uv_file out_fd, uv_file in_fd, int64_t in_offset, size_t length),
             (out_fd, in_fd, in_offset, length))
INTERPOSE_FS(uv_fs_access, (const char *path, int mode), (path, mode))
INTERPOSE_FS(uv_fs_chmod, (const char *path, int mode), (path, mode))
INTERPOSE_FS(uv_fs_utime, (const char *path, double atime, double mtime), (path, atime, mtime))
INTERPOSE_FS(uv_fs_futime, (uv_file file, double atime, double mtime), (file, atime, mtime))
INTERPOSE_FS(uv_fs_lutime, (const char *path, double atime, double mtime), (path, atime, mtime))
PATH_ONLY(uv_fs_lstat)
TWO_PATHS(uv_fs_link)
INTERPOSE_FS(uv_fs_symlink, (const char *path, const char *new_path, int flags),
             (path, new_path, flags))
PATH_ONLY(uv_fs_readlink)
PATH_ONLY(uv_fs_realpath)
INTERPOSE_FS(uv_fs_fchmod, (uv_file file, int mode), (file, mode))
INTERPOSE_FS(uv_fs_chown, (const char *path, uv_uid_t uid, uv_gid_t gid), (path, uid, gid))
INTERPOSE_FS(uv_fs_fchown, (uv_file file, uv_uid_t uid, uv_gid_t gid), (file, uid, gid))
INTERPOSE_FS(uv_fs_lchown, (const char *path, uv_uid_t uid, uv_gid_t gid), (path, uid, gid))
PATH_ONLY(uv_fs_statfs)

/* ---- Name resolution and random bytes ------------------------------------------- */

struct result_args {
    void *req;
    int status;
    void *ptr;
    const char *text1, *text2;
    size_t length;
};

static void call_getaddrinfo(const struct ctxvar__callback *cb, void *io)
{
    const struct result_args *a = io;
    ((uv_getaddrinfo_cb)cb->fn)(a->req, a->status, a->ptr);
}

static void getaddrinfo_trampoline(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct result_args a = {.req = req, .status = status, .ptr = res};
    ctxvar__uv_request_finish(req, call_getaddrinfo, &a);
}

CTXVAR__EXPORT int uv_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb,
                                  const char *node, const char *service,
                                  const struct addrinfo *hints)
{
    __typeof__(&uv_getaddrinfo) next = UV_NEXT(uv_getaddrinfo);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_getaddrinfo"))
        return next(loop, req, cb, node, service, hints);
    int result = next(loop, req, getaddrinfo_trampoline, node, service, hints);
    ctxvar__uv_request_end(req, result);
    return result;
}

static void call_getnameinfo(const struct ctxvar__callback *cb, void *io)
{
    const struct result_args *a = io;
    ((uv_getnameinfo_cb)cb->fn)(a->req, a->status, a->text1, a->text2);
}

static void getnameinfo_trampoline(uv_getnameinfo_t *req, int status, const char *hostname,
                                   const char *service)
{
    struct result_args a = {.req = req, .status = status, .text1 = hostname, .text2 = service};
    ctxvar__uv_request_finish(req, call_getnameinfo, &a);
}

CTXVAR__EXPORT int uv_getnameinfo(uv_loop_t *loop, uv_getnameinfo_t *req, uv_getnameinfo_cb cb,
                                  const struct sockaddr *addr, int flags)
{
    __typeof__(&uv_getnameinfo) next = UV_NEXT(uv_getnameinfo);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_getnameinfo"))
        return next(loop, req, cb, addr, flags);
    int result = next(loop, req, getnameinfo_trampoline, addr, flags);
    ctxvar__uv_request_end(req, result);
    return result;
}

static void call_random(const struct ctxvar__callback *cb, void *io)
{
    const struct result_args *a = io;
    ((uv_random_cb)cb->fn)(a->req, a->status, a->ptr, a->length);
}

static void random_trampoline(uv_random_t *req, int status, void *buf, size_t length)
{
    struct result_args a = {.req = req, .status = status, .ptr = buf, .length = length};
    ctxvar__uv_request_finish(req, call_random, &a);
}

CTXVAR__EXPORT int uv_random(uv_loop_t *loop, uv_random_t *req, void *buf, size_t length,
                             unsigned flags, uv_random_cb cb)
{
    __typeof__(&uv_random) next = UV_NEXT(uv_random);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_random"))
        return next(loop, req, buf, length, flags, cb);
    int result = next(loop, req, buf, length, flags, random_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

/* ---- Stream and socket requests: callback(req, status) ---------------------------- */

#define STATUS_TRAMPOLINE(req_type, cb_type)                                           \
    static void call_##cb_type(const struct ctxvar__callback *cb, void *io)            \
    {                                                                                  \
        const struct result_args *a = io;                                              \
        ((cb_type)cb->fn)(a->req, a->status);                                          \
    }                                                                                  \
    static void cb_type##_trampoline(req_type *req, int status)                        \
    {                                                                                  \
        struct result_args a = {.req = req, .status = status};                         \
        ctxvar__uv_request_finish(req, call_##cb_type, &a);                            \
    }
STATUS_TRAMPOLINE(uv_write_t, uv_write_cb)
STATUS_TRAMPOLINE(uv_shutdown_t, uv_shutdown_cb)
STATUS_TRAMPOLINE(uv_connect_t, uv_connect_cb)
STATUS_TRAMPOLINE(uv_udp_send_t, uv_udp_send_cb)

CTXVAR__EXPORT int uv_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[],
                            unsigned nbufs, uv_write_cb cb)
{
    __typeof__(&uv_write) next = UV_NEXT(uv_write);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_write"))
        return next(req, handle, bufs, nbufs, cb);
    int result = next(req, handle, bufs, nbufs, uv_write_cb_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

CTXVAR__EXPORT int uv_write2(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[],
                             unsigned nbufs, uv_stream_t *send_handle, uv_write_cb cb)
{
    __typeof__(&uv_write2) next = UV_NEXT(uv_write2);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_write2"))
        return next(req, handle, bufs, nbufs, send_handle, cb);
    int result = next(req, handle, bufs, nbufs, send_handle, uv_write_cb_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

CTXVAR__EXPORT int uv_shutdown(uv_shutdown_t *req, uv_stream_t *handle, uv_shutdown_cb cb)
{
    __typeof__(&uv_shutdown) next = UV_NEXT(uv_shutdown);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_shutdown"))
        return next(req, handle, cb);
    int result = next(req, handle, uv_shutdown_cb_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

CTXVAR__EXPORT int uv_tcp_connect(uv_connect_t *req, uv_tcp_t *handle, const struct sockaddr *addr,
                                  uv_connect_cb cb)
{
    __typeof__(&uv_tcp_connect) next = UV_NEXT(uv_tcp_connect);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_tcp_connect"))
        return next(req, handle, addr, cb);
    int result = next(req, handle, addr, uv_connect_cb_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

/* Returns nothing: libuv reports every failure through the callback. */
CTXVAR__EXPORT void uv_pipe_connect(uv_connect_t *req, uv_pipe_t *handle, const char *name,
                                    uv_connect_cb cb)
{
    __typeof__(&uv_pipe_connect) next = UV_NEXT(uv_pipe_connect);
    if (!next) return;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_pipe_connect")) {
        next(req, handle, name, cb);
        return;
    }
    next(req, handle, name, uv_connect_cb_trampoline);
}

CTXVAR__EXPORT int uv_udp_send(uv_udp_send_t *req, uv_udp_t *handle, const uv_buf_t bufs[],
                               unsigned nbufs, const struct sockaddr *addr, uv_udp_send_cb cb)
{
    __typeof__(&uv_udp_send) next = UV_NEXT(uv_udp_send);
    if (!next) return UV_ENOSYS;
    if (!ctxvar__uv_request_begin(req, (void (*)(void))cb, NULL, "uv_udp_send"))
        return next(req, handle, bufs, nbufs, addr, cb);
    int result = next(req, handle, bufs, nbufs, addr, uv_udp_send_cb_trampoline);
    ctxvar__uv_request_end(req, result);
    return result;
}

/* ---- libuv's own threads ------------------------------------------------------------ */

/* libuv starts its pool inside the first request that needs it, and each
 * worker is a thread whose start routine is libuv's own: created in that
 * request, it would keep its context between jobs for good (the program's
 * queued jobs run as tasks, which drop it, but libuv's file system, DNS
 * and random work do not).  libuv's uv_thread_create passes the program's
 * function straight to pthread_create, so the program's threads still
 * inherit. */
int ctxvar__libuv_worker(void (*start)(void))
{
    return ctxvar__code_holds_known(&ctxvar__libuv_code, start);
}
#else
/* No uv.h at build time: no libuv interposers. */
int ctxvar__libuv_worker(void (*start)(void))
{
    (void)start;
    return 0;
}
#endif
