/* libuv.h - what the libuv interposers (shim/libuv.c, shim/libuv_req.c)
 * share.  Built only where uv.h is installed; the functions are found in
 * the process's libuv on first use, so nothing links or loads libuv. */
#ifndef CTXVAR_SHIM_LIBUV_H
#define CTXVAR_SHIM_LIBUV_H

#include <stdatomic.h>
#include <uv.h>

#include "keyed.h"
#include "runtime.h"

#define LIBUV_SONAME "libuv.so.1"
#define UV_NEXT(name) CTXVAR__NEXT_IN(name, LIBUV_SONAME)

/* Records are keyed by the handle or request the program passed.  A
 * handle has at most one record of each handle kind (its timer, idle,
 * async ... callback, or its listen callback; its read callbacks; its close
 * callback), a request one. */
enum {
    UV_KIND_HANDLE = 0x75760001, /* 'uv' */
    UV_KIND_READ,
    UV_KIND_CLOSE,
    UV_KIND_REQ,
};

/* fn (in k.cb) is the program's callback; fn2 its second one, when the call
 * takes two: uv_queue_work's after_work_cb, uv_read_start's read_cb. */
struct uv_record {
    struct ctxvar__keyed k;
    void (*fn2)(void);
};

/* 1 when a call from `return_address` should be carried: CTXVAR_LOOPS is
 * not 0 and the caller is not libuv itself (its loop initialisation
 * registers an async handle of its own, uv_fs_poll its own stats and
 * timers: lib/keyed.h, struct ctxvar__code_ranges). */
int ctxvar__uv_carry(const void *return_address) CTXVAR__HIDDEN;
#define UV_CALLER __builtin_return_address(0)

/* A record for a one-shot request, in the table, capturing the caller's
 * context; NULL when the callback should be passed through as it is
 * (no callback: the call is synchronous; not carried; out of memory). */
struct uv_record *ctxvar__uv_request_begin(const void *req, void (*fn)(void), const char *what,
                                           const void *caller) CTXVAR__HIDDEN;

/* After the real call: when it failed (r < 0), libuv will not call back,
 * so the record goes. */
void ctxvar__uv_request_end(const void *req, int r) CTXVAR__HIDDEN;

/* In a request's trampoline: takes the request's record, calls call(cb, io)
 * in its context, frees it.  The record is out of the table before the
 * program's callback runs, which may reuse the request at once. */
void ctxvar__uv_request_finish(const void *req,
                               void (*call)(const struct ctxvar__callback *cb, void *io),
                               void *io) CTXVAR__HIDDEN;

#endif
