/* libuv.h - what the libuv interposers (shim/libuv.c, shim/libuv_req.c)
 * share.  Built only where uv.h is installed; the functions are found in
 * the process's libuv on first use, so nothing links or loads libuv. */
#ifndef CTXVAR_SHIM_LIBUV_H
#define CTXVAR_SHIM_LIBUV_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "annotate.h"
#include "keyed.h"
#include "runtime.h"

#define LIBUV_SONAME "libuv.so.1"
#define UV_NEXT(name) CTXVAR__NEXT_IN(name, LIBUV_SONAME)

/* A record belongs to the handle or request the program passed, and to one
 * of its kinds: a handle has at most one record of each kind (its timer,
 * idle, async ... callback, or its listen callback; its read callbacks; its
 * close callback), a request one. */
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

/* Where the records are kept (shim/libuv_req.c, "Where records are kept"):
 * in two words of the object that libuv reserves and never touches on
 * Unix, when the running libuv is a version known to leave them alone,
 * else in the table keyed by address (lib/keyed.c).  The same calls either
 * way; the object and kind of a record are r->k.key and r->k.kind. */
void ctxvar__uv_put(struct uv_record *r) CTXVAR__HIDDEN;
void ctxvar__uv_drop(const void *object, int kind) CTXVAR__HIDDEN;

/* 1 in the object, 2 in the table, 0 not decided yet. */
extern _Atomic int ctxvar__uv_place CTXVAR__HIDDEN;
extern uintptr_t ctxvar__uv_secret CTXVAR__HIDDEN;
int ctxvar__uv_place_decide(void) CTXVAR__HIDDEN;
struct uv_record *ctxvar__uv_find_in_table(const void *object, int kind) CTXVAR__HIDDEN;
struct uv_record *ctxvar__uv_take_from_table(const void *object, int kind) CTXVAR__HIDDEN;

/* The object's pair of words for a kind of record, or NULL when the
 * record goes in the table: always for a close callback, which is rare and
 * must not share a pair with the callback a refused restart of a closing
 * handle would put. */
static inline void **ctxvar__uv_slot(const void *object, int kind)
{
    int place = atomic_load_explicit(&ctxvar__uv_place, memory_order_acquire);
    if (__builtin_expect(place == 0, 0)) place = ctxvar__uv_place_decide();
    if (place != 1) return NULL;
    switch (kind) {
    case UV_KIND_REQ: return &((uv_req_t *)(uintptr_t)object)->reserved[4];
    case UV_KIND_READ: return &((uv_handle_t *)(uintptr_t)object)->u.reserved[0];
    case UV_KIND_HANDLE: return &((uv_handle_t *)(uintptr_t)object)->u.reserved[2];
    default: return NULL;
    }
}

/* What the second word holds next to a record: tells our record from
 * whatever the words held before. */
static inline void *ctxvar__uv_check_word(const void *record, const void *object, int kind)
{
    return (void *)((uintptr_t)record ^ ((uintptr_t)object * 31u) ^ (uintptr_t)(unsigned)kind ^
                    ctxvar__uv_secret);
}

static inline struct uv_record *ctxvar__uv_slot_read(void **slot, const void *object, int kind)
{
    /* libuv never writes these words: before our first record they hold
     * whatever the program's memory held, which the check word is for. */
    CTXVAR__READ_ANYWAY(slot, 2 * sizeof *slot);
    void *record = slot[0];
    if (!record || slot[1] != ctxvar__uv_check_word(record, object, kind)) return NULL;
    return record;
}

/* The record of (object, kind), borrowed, or NULL. */
static inline struct uv_record *ctxvar__uv_find(const void *object, int kind)
{
    void **slot = ctxvar__uv_slot(object, kind);
    if (!slot) return ctxvar__uv_find_in_table(object, kind);
    return ctxvar__uv_slot_read(slot, object, kind);
}

/* The record of (object, kind), no longer with it (the caller frees it), or
 * NULL. */
static inline struct uv_record *ctxvar__uv_take(const void *object, int kind)
{
    void **slot = ctxvar__uv_slot(object, kind);
    if (!slot) return ctxvar__uv_take_from_table(object, kind);
    struct uv_record *r = ctxvar__uv_slot_read(slot, object, kind);
    if (r) slot[0] = slot[1] = NULL;
    return r;
}

/* 1 when a call from `return_address` should be carried: CTXVAR_LOOPS is
 * not 0 and the caller is not libuv itself (its loop initialisation
 * registers an async handle of its own, uv_fs_poll its own stats and
 * timers: lib/keyed.h, struct ctxvar__code_ranges). */
int ctxvar__uv_carry(const void *return_address) CTXVAR__HIDDEN;
#define UV_CALLER __builtin_return_address(0)

/* A record for a one-shot request, put with the request, capturing the caller's
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
