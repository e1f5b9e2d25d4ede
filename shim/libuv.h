/* libuv.h - what the libuv interposers (shim/libuv.c, shim/libuv_req.c)
 * share.  Built only where uv.h is installed; the functions are found in
 * the process's libuv on first use, so nothing links or loads libuv. */
#ifndef CTXVAR_SHIM_LIBUV_H
#define CTXVAR_SHIM_LIBUV_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
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
    UV_KIND_ASYNC, /* an async handle's callback: libuv uses its words */
};

/* fn (in k.cb) is the program's callback; fn2 its second one, when the call
 * takes two: uv_queue_work's after_work_cb, uv_read_start's read_cb. */
struct uv_record {
    struct ctxvar__keyed k;
    void (*fn2)(void);
};

/* Where records are kept (shim/libuv_req.c, "Where records are kept"): in
 * the four words libuv reserves in every request and handle and never
 * touches on Unix, when the running libuv is a version known to leave them
 * alone, else (and for close callbacks, and for a handle's second kind of
 * record) as a struct uv_record in the table keyed by address
 * (lib/keyed.c).  The same calls either way.  A record read out is a copy
 * in a struct uv_record on the caller's stack: the program's callbacks in
 * k.cb.fn and fn2, the context in k.cb.context. */

/* A new record for (object, kind) holding fn, fn2 and the calling thread's
 * context; 0 when there is none (propagation off, out of memory: said
 * under CTXVAR_DEBUG=1, naming `what`), and the caller passes the program's
 * callbacks through.  A request's words are written without being read. */
int ctxvar__uv_attach(const void *object, int kind, void (*fn)(void), void (*fn2)(void),
                      const char *what) CTXVAR__HIDDEN;

/* Gives (object, kind)'s record new callbacks and the calling thread's
 * context: a handle started again. */
void ctxvar__uv_update(const void *object, int kind, void (*fn)(void),
                       void (*fn2)(void)) CTXVAR__HIDDEN;

/* Takes (object, kind)'s record away: 1 and *copy, whose context reference
 * is now the caller's to release (ctxvar_release), or 0. */
int ctxvar__uv_detach(const void *object, int kind, struct uv_record *copy) CTXVAR__HIDDEN;

/* Takes (object, kind)'s record away and releases it: the object is gone. */
void ctxvar__uv_drop(const void *object, int kind) CTXVAR__HIDDEN;

/* 1 in the object, 2 in the table, 0 not decided yet. */
extern _Atomic int ctxvar__uv_place CTXVAR__HIDDEN;
/* Set once any record of a kind that has words went to the table. */
extern _Atomic int ctxvar__uv_table_used CTXVAR__HIDDEN;
extern uintptr_t ctxvar__uv_secret CTXVAR__HIDDEN;
int ctxvar__uv_place_decide(void) CTXVAR__HIDDEN;
int ctxvar__uv_lookup_in_table(const void *object, int kind, struct uv_record *copy) CTXVAR__HIDDEN;

/* The object's four words, or NULL when its records go in the table: a
 * request's reserved[2..5], a handle's u.reserved[0..3]; a close
 * callback's never (it is rare, and a refused restart of a closing handle
 * must not displace it), nor an async handle's (libuv 1.45 and later keep
 * a busy count in its u.fd, updated from any thread). */
static inline void **ctxvar__uv_words(const void *object, int kind)
{
    int place = atomic_load_explicit(&ctxvar__uv_place, memory_order_acquire);
    if (__builtin_expect(place == 0, 0)) place = ctxvar__uv_place_decide();
    if (place != 1 || kind == UV_KIND_CLOSE || kind == UV_KIND_ASYNC) return NULL;
    if (kind == UV_KIND_REQ) return &((uv_req_t *)(uintptr_t)object)->reserved[2];
    return &((uv_handle_t *)(uintptr_t)object)->u.reserved[0];
}

/* Words hold {fn, fn2, context, check}; function pointers travel as their
 * bytes (C does not convert them to void *). */
_Static_assert(sizeof(void (*)(void)) == sizeof(void *), "a function pointer fits a word");

static inline void *ctxvar__uv_fn_word(void (*fn)(void))
{
    void *w;
    memcpy(&w, &fn, sizeof w);
    return w;
}

static inline void (*ctxvar__uv_word_fn(void *w))(void)
{
    void (*fn)(void);
    memcpy(&fn, &w, sizeof fn);
    return fn;
}

/* The fourth word: the other three mixed with the object's address, a
 * per-process secret and the kind.  It tells a record of ours from
 * whatever the words held before: garbage passes only by matching the
 * random secret, and a byte-for-byte copy of another object's record
 * only at that object's own address (read elsewhere, it decodes as its
 * kind XOR the two addresses, never a kind: handles and requests are
 * 8-byte aligned, and the kinds differ in their low three bits only).
 * XOR alone does that, in a few instructions: every start, callback and
 * close computes it. */
static inline uintptr_t ctxvar__uv_mix(void *const *w, const void *object)
{
    return (uintptr_t)w[0] ^ (uintptr_t)w[1] ^ (uintptr_t)w[2] ^ (uintptr_t)object ^
           ctxvar__uv_secret;
}

static inline void *ctxvar__uv_check(void *const *w, const void *object, int kind)
{
    return (void *)(ctxvar__uv_mix(w, object) ^ (uintptr_t)(unsigned)kind);
}

/* Makes the words a record of (object, kind): fn, fn2 and `context`, a
 * reference the words now own. */
static inline void ctxvar__uv_words_write(void **w, const void *object, int kind,
                                          void (*fn)(void), void (*fn2)(void), ctxvar_ctx *context)
{
    w[0] = ctxvar__uv_fn_word(fn);
    w[1] = ctxvar__uv_fn_word(fn2);
    w[2] = context;
    w[3] = ctxvar__uv_check(w, object, kind);
}

static inline void ctxvar__uv_words_clear(void **w) { w[0] = w[1] = w[2] = w[3] = NULL; }

/* The kind of the record the words hold, or 0.  libuv never writes them:
 * before our first record they hold what the program's memory held, which
 * the runtime reads on purpose (and tells memcheck so). */
static inline int ctxvar__uv_words_kind(void **w, const void *object)
{
    CTXVAR__READ_ANYWAY(w, 4 * sizeof *w);
    if (!w[0]) return 0;
    uintptr_t kind = (uintptr_t)w[3] ^ ctxvar__uv_mix(w, object);
    return kind == UV_KIND_HANDLE || kind == UV_KIND_READ || kind == UV_KIND_REQ ? (int)kind : 0;
}

/* ctxvar__uv_words_kind(w, object) == kind, for a kind words can hold, in
 * one compare. */
static inline int ctxvar__uv_words_hold(void **w, const void *object, int kind)
{
    CTXVAR__READ_ANYWAY(w, 4 * sizeof *w);
    return w[0] && w[3] == ctxvar__uv_check(w, object, kind);
}

/* 1 and a copy of (object, kind)'s record, its context borrowed, or 0;
 * *words is set to the object's words when the record is there, else to
 * NULL. */
static inline int ctxvar__uv_lookup_at(const void *object, int kind, struct uv_record *copy,
                                       void ***words)
{
    void **w = ctxvar__uv_words(object, kind);
    *words = NULL;
    if (w && ctxvar__uv_words_hold(w, object, kind)) {
        copy->k.cb.fn = ctxvar__uv_word_fn(w[0]);
        copy->fn2 = ctxvar__uv_word_fn(w[1]);
        copy->k.cb.context = w[2];
        *words = w;
        return 1;
    }
    if (w && !atomic_load_explicit(&ctxvar__uv_table_used, memory_order_relaxed)) return 0;
    return ctxvar__uv_lookup_in_table(object, kind, copy);
}

static inline int ctxvar__uv_lookup(const void *object, int kind, struct uv_record *copy)
{
    void **words;
    return ctxvar__uv_lookup_at(object, kind, copy, &words);
}

/* ctxvar__uv_update for a record found in `words` (NULL: in the table):
 * a timer restarted from its own callback, with the same callback in the
 * same context, changes nothing and costs a few compares. */
static inline void ctxvar__uv_update_at(void **words, const void *object, int kind,
                                        void (*fn)(void), void (*fn2)(void))
{
    if (words && words[2] == ctxvar__current_borrowed() && words[0] == ctxvar__uv_fn_word(fn) &&
        words[1] == ctxvar__uv_fn_word(fn2))
        return;
    ctxvar__uv_update(object, kind, fn, fn2);
}

/* 1 when a call passing `fn` should be carried: CTXVAR_LOOPS is not 0,
 * libuv is loaded, and the callback is neither libuv's (its loop
 * initialisation registers an async handle of its own, uv_fs_poll its own
 * stats and timers) nor ours (uv_write reaches uv_write2 by a tail call,
 * with our trampoline): lib/keyed.h, ctxvar__code_foreign. */
extern struct ctxvar__code_ranges ctxvar__libuv_code CTXVAR__HIDDEN;
static inline int ctxvar__uv_carry(void (*fn)(void))
{
    return ctxvar__loops_enabled() && ctxvar__code_foreign_fast(&ctxvar__libuv_code, fn);
}
#define UV_CALLER __builtin_return_address(0)

/* 1 when the callback(s) of a one-shot request are carried: a record for
 * req holds them and the caller's context.  0 when they should be passed
 * through as they are (no callback: the call is synchronous; not carried;
 * out of memory). */
int ctxvar__uv_request_begin(const void *req, void (*fn)(void), void (*fn2)(void),
                             const char *what) CTXVAR__HIDDEN;

/* In a request's trampoline: takes the request's record, calls call(cb, io)
 * in its context, releases it.  The record is taken before the program's
 * callback runs, which may reuse the request at once. */
void ctxvar__uv_request_finish(const void *req,
                               void (*call)(const struct ctxvar__callback *cb, void *io),
                               void *io) CTXVAR__HIDDEN;

#endif
