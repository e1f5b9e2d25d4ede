/* libevent.h - what the libevent interposers (shim/libevent.c,
 * shim/libevent_buffer.c) share.  Built only where event2/event.h is
 * installed; the functions are found in the process's libevent on first
 * use, so nothing links or loads libevent. */
#ifndef CTXVAR_SHIM_LIBEVENT_H
#define CTXVAR_SHIM_LIBEVENT_H

#include <stdatomic.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_compat.h>

#include "keyed.h"
#include "runtime.h"

/* A program links libevent-2.1 (everything) or libevent_core-2.1; when a
 * plugin loaded RTLD_LOCAL hides it, the one the symbol is in is looked up
 * by these names. */
#define LIBEVENT_SONAME "libevent-2.1.so.7"
#define LIBEVENT_CORE_SONAME "libevent_core-2.1.so.7"

/* The real `name` (ours or one we only call), typed as libevent's: in
 * whichever of the two libraries is loaded. */
#define EV_NEXT(name) CTXVAR__NEXT_IN(name, LIBEVENT_SONAME ":" LIBEVENT_CORE_SONAME)

/* 1 when the code at `return_address` is not libevent's own (lib/keyed.h,
 * struct ctxvar__code_ranges).  event_set calls event_assign, and
 * bufferevents assign, add and read back their own events, relying on
 * reading back exactly what they assigned: those calls pass through. */
int ctxvar__libevent_outside(const void *return_address) CTXVAR__HIDDEN;

/* 1 when the callback `fn` is neither libevent's nor ours (lib/keyed.h,
 * ctxvar__code_foreign): event_base_loopexit schedules its own callback
 * through event_base_once by a tail call, which looks like the program's
 * call. */
int ctxvar__libevent_foreign(void (*fn)(void)) CTXVAR__HIDDEN;

/* Whether a call should be carried: the loops are on and the caller is not
 * libevent. */
#define EV_CARRY() \
    (ctxvar__loops_enabled() && ctxvar__libevent_outside(__builtin_return_address(0)))

/* Whether a call registering the callback `fn` should be carried: EV_CARRY,
 * and the callback is not libevent's own nor ours. */
#define EV_CARRY_CB(fn) (EV_CARRY() && ctxvar__libevent_foreign((void (*)(void))(fn)))

/* Records keyed by an event or a bufferevent. */
enum {
    EV_KIND_EVENT = 0x65760001, /* 'ev' */
    EV_KIND_BUFFEREVENT,
};

/* Frees `retired`, a bufferevent's record that libevent may still call
 * back with, once `base`'s loop has finished the callbacks it is running
 * (shim/libevent_buffer.c): a once event of ours on that base, or with the
 * base when it is freed first.  0, or -1 when that could not be arranged
 * (out of memory, no base) or need not be (the base is being freed on
 * this thread: its callbacks are over), and the caller frees it. */
int ctxvar__libevent_free_later(struct event_base *base, struct ctxvar__callback *retired) CTXVAR__HIDDEN;

#endif
