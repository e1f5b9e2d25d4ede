/* keyed.h - callback records found by the address of a library's object,
 * for interposers whose library calls back with that object instead of
 * with an argument of ours (lib/keyed.c).
 *
 * libuv calls a work or timer callback with the request or handle the
 * program gave it, and the program reads its own fields there (req->data);
 * its records live in words libuv reserves in the object when the libuv
 * is a version known to leave them alone, and here otherwise
 * (shim/libuv_req.c).  libevent does take an argument of ours, but the
 * program may free an event embedded in its own struct with free(), so its
 * records are keyed by the event's address, and registering a new event at
 * an old address replaces (and frees) the old record.
 *
 * The table is sharded by address, each shard a hash table under its own
 * mutex, held only to link or unlink: lookups and updates are O(1).  A
 * record found by ctxvar__keyed_find is borrowed: the interposers use it
 * only where their library serialises the object's callbacks and its
 * freeing (one loop thread per handle, a work request's phases one after
 * the other).  Nothing here is exported. */
#ifndef CTXVAR_KEYED_H
#define CTXVAR_KEYED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* A record: the callback record, then the table's fields, then whatever the
 * interposer adds.  `kind` tells apart records of different interposers
 * that may share an address (a handle and its first member). */
struct ctxvar__keyed {
    struct ctxvar__callback cb;
    const void *key;
    int kind;
    struct ctxvar__keyed *next; /* in its bucket */
};

/* A new record of `size` bytes (at least the struct's) for (key, kind),
 * capturing the calling thread's context with fn and arg, not yet in the
 * table; NULL when this copy of the runtime defers or is out of memory
 * (said under CTXVAR_DEBUG=1, naming `what`): the interposer then passes
 * the program's own callback through.  errno is kept. */
void *ctxvar__keyed_new(size_t size, const void *key, int kind, void (*fn)(void), void *arg,
                        const char *what) CTXVAR__HIDDEN;

/* Puts rec in the table and frees the record it replaces at the same
 * (key, kind), if any: an object reused at the same address. */
void ctxvar__keyed_put(struct ctxvar__keyed *rec) CTXVAR__HIDDEN;

/* The record at (key, kind), borrowed, or NULL. */
struct ctxvar__keyed *ctxvar__keyed_find(const void *key, int kind) CTXVAR__HIDDEN;

/* Takes the record at (key, kind) out of the table and returns it (the
 * caller frees it with ctxvar__callback_free), or NULL. */
struct ctxvar__keyed *ctxvar__keyed_take(const void *key, int kind) CTXVAR__HIDDEN;

/* Takes (key, kind) out and frees it: the object is gone. */
void ctxvar__keyed_drop(const void *key, int kind) CTXVAR__HIDDEN;

/* How many records the table holds (for tests and statistics). */
size_t ctxvar__keyed_count(void) CTXVAR__HIDDEN;

/* Replaces cb's context with the calling thread's: a one-shot event
 * scheduled again runs in the context of the call that scheduled it. */
void ctxvar__callback_recapture(struct ctxvar__callback *cb) CTXVAR__HIDDEN;

/* The code of one library's loaded objects, found on first use and kept:
 * those whose file name is `name`, or `name` followed by one of
 * `variants` ("_core", "_pthreads"; NULL for none), then by a version
 * ("-2.1...") or ".so".  A library calls its own exported functions
 * through its PLT, so its internal calls reach the interposers too
 * (libuv's loop initialisation registers its own async handle, libevent's
 * bufferevents assign and read back their own events); they are told
 * apart by what they register, the library's own callback, and passed
 * through, since the library relies on what it registered and has no
 * request to carry.  A second copy of the library dlopen'ed after the
 * first use is not seen (its calls are then treated as the program's);
 * when the program unloads the library (dlclose), its code is looked for
 * again on next use, wherever it was loaded again. */
struct ctxvar__code_ranges {
    const char *name;
    const char *const *variants;
    _Atomic int state; /* 0 not looked for, 1 being looked for, 2 found */
    _Atomic unsigned long last_foreign; /* the last callback found foreign (below) */
    int count;
    struct {
        unsigned long start, end;
    } range[8];
    struct ctxvar__code_ranges *next; /* the list of all, once found (written once) */
    atomic_int listed;
};

/* After the program's dlclose: the ranges of a library no longer loaded are
 * forgotten, to be looked for again on next use. */
void ctxvar__code_ranges_unloaded(void) CTXVAR__HIDDEN;

/* 1 when `fn`, a callback handed to an interposer, is neither r's library's
 * code nor the runtime's, while that library is loaded: the program's own,
 * and the call is carried.  This, not the caller's return address, is what
 * tells the library's own calls: a tail call moves the return address.
 * libuv's uv_write ends in a jump to uv_write2 and libevent's
 * event_base_loopexit in one to event_base_once, which then return straight
 * to the program; the other way round, a program's callback that libevent
 * calls directly (an evconnlistener's, evhttp's) and that ends in a jump to
 * event_base_once returns straight to libevent.  What is passed tells: the
 * library's own callback, or the trampoline our interposer of the outer
 * call gave it.  A library's wrapper that forwards the program's callback
 * (libevent's event_once, bufferevent_new; libuv's uv_tcp_close_reset) is
 * carried, in the context of the program's call it serves. */
int ctxvar__code_foreign(struct ctxvar__code_ranges *r, void (*fn)(void)) CTXVAR__HIDDEN;

/* 1 when r's library is loaded. */
int ctxvar__code_present(struct ctxvar__code_ranges *r) CTXVAR__HIDDEN;
static inline int ctxvar__code_present_fast(struct ctxvar__code_ranges *r)
{
    if (atomic_load_explicit(&r->state, memory_order_acquire) == 2) return r->count > 0;
    return ctxvar__code_present(r);
}

/* 1 when `address` is in r's library's code, or that library is not
 * loaded: a call from there is not the program's.  Only where the caller's
 * address is all there is to tell (our own trampoline passed back: by the
 * library restarting what it holds, or by the program, which read it from
 * a public member). */
int ctxvar__code_inside(struct ctxvar__code_ranges *r, const void *address) CTXVAR__HIDDEN;

/* 1 when `fn` is in r's library's code (found now if it is not known,
 * also while another thread is finding it). */
int ctxvar__code_holds(struct ctxvar__code_ranges *r, void (*fn)(void)) CTXVAR__HIDDEN;

/* The same, once that code is known (else 0, without looking for it). */
int ctxvar__code_holds_known(struct ctxvar__code_ranges *r, void (*fn)(void)) CTXVAR__HIDDEN;

/* ctxvar__code_foreign, inline for the usual call: the callback found
 * foreign last time (most programs start many handles with one callback). */
static inline int ctxvar__code_foreign_fast(struct ctxvar__code_ranges *r, void (*fn)(void))
{
    if ((unsigned long)(uintptr_t)fn == atomic_load_explicit(&r->last_foreign, memory_order_relaxed))
        return 1;
    return ctxvar__code_foreign(r, fn);
}

/* 1 when `address` is in a loaded object whose file is one of the
 * libraries `names` (a NULL-terminated list, named as above, no
 * variants), and is not a function that object exports, one a program can
 * name: code the library keeps to itself.  Asked of the loader each time,
 * taking no lock (lib/keyed.c), so a library loaded later, or unloaded, is
 * seen as it is now; 0 where the loader cannot answer so (glibc before
 * 2.35, or before the runtime's initialisation).  errno is kept. */
int ctxvar__code_unexported_in(const void *address, const char *const *names) CTXVAR__HIDDEN;

/* At initialisation: finds the loader's fast lookup (lib/keyed.c). */
void ctxvar__code_files_init(void) CTXVAR__HIDDEN;

#endif
