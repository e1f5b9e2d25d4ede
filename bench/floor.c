/* floor.c - the least a context carrier for libuv can do, preloaded
 * instead of the runtime by bench/run.py to show where the floor of the
 * loop rows lies on the machine that measures them.
 *
 * A context here is a pointer in initial-exec TLS (bench/floor.h).  A
 * uv_queue_work keeps {callbacks, context} in the request's reserved
 * words; each trampoline makes the context current around the program's
 * callback and restores the thread's own after.  A timer keeps its callback and
 * context in the handle's reserved words from its start until uv_close.
 *
 * Nothing else, not even a reference count: a real carrier must keep the
 * context alive until its last callback, which the runtime does with
 * per-thread batches of references that rarely touch a shared line, and
 * this one counts nothing.  No check that the words are ours, no check
 * that the caller is not libuv itself, no switch to turn it off, no frame
 * that survives an exception or a fork, no profiler's view.  It is
 * correct only for a program like bench/loops.c, which initialises every
 * timer after this library is loaded and uses no other libuv callback.
 * The runtime cannot be cheaper than this; what it costs above it is what
 * it does for the programs it does not know. */
#include <stddef.h>
#include <uv.h>

#include "floor.h"

/* Function pointers travel through the words as their bytes. */
union floor_word {
    void *p;
    void (*fn)(void);
};

static void **request_words(uv_work_t *req) { return &req->reserved[2]; }

static void work_trampoline(uv_work_t *req)
{
    void **w = request_words(req);
    union floor_word fn = {.p = w[0]};
    struct floor_context *saved = current;
    current = w[2];
    ((uv_work_cb)fn.fn)(req);
    current = saved;
}

static void after_work_trampoline(uv_work_t *req, int status)
{
    void **w = request_words(req);
    union floor_word fn = {.p = w[1]};
    struct floor_context *saved = current;
    current = w[2];
    if (fn.fn) ((uv_after_work_cb)fn.fn)(req, status);
    current = saved;
}

int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                  uv_after_work_cb after_work_cb)
{
    NEXT(uv_queue_work);
    if (!work_cb) return next_uv_queue_work(loop, req, work_cb, after_work_cb);
    void **w = request_words(req);
    w[0] = ((union floor_word){.fn = (void (*)(void))work_cb}).p;
    w[1] = ((union floor_word){.fn = (void (*)(void))after_work_cb}).p;
    w[2] = floor_capture();
    return next_uv_queue_work(loop, req, work_trampoline, after_work_trampoline);
}

static void **handle_words(uv_timer_t *t) { return &t->u.reserved[0]; }

int uv_timer_init(uv_loop_t *loop, uv_timer_t *t)
{
    NEXT(uv_timer_init);
    int r = next_uv_timer_init(loop, t);
    void **w = handle_words(t);
    w[0] = w[1] = NULL;
    return r;
}

static void timer_trampoline(uv_timer_t *t)
{
    void **w = handle_words(t);
    union floor_word fn = {.p = w[0]};
    struct floor_context *saved = current;
    current = w[1];
    ((uv_timer_cb)fn.fn)(t);
    current = saved;
}

int uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    NEXT(uv_timer_start);
    if (!cb) return next_uv_timer_start(t, cb, timeout, repeat);
    void **w = handle_words(t);
    w[1] = floor_capture();
    w[0] = ((union floor_word){.fn = (void (*)(void))cb}).p;
    return next_uv_timer_start(t, timer_trampoline, timeout, repeat);
}

void uv_close(uv_handle_t *handle, uv_close_cb close_cb)
{
    NEXT(uv_close);
    if (handle->type == UV_TIMER) {
        void **w = handle_words((uv_timer_t *)handle);
        w[0] = w[1] = NULL;
    }
    next_uv_close(handle, close_cb);
}
