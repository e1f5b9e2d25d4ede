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

/* 1 when the callback `fn` is neither libevent's nor ours, while libevent
 * is loaded (lib/keyed.h, ctxvar__code_foreign): the program's, to be
 * carried.  libevent registers callbacks of its own (event_base_loopexit
 * through event_base_once, bufferevents and evhttp on the events and
 * bufferevents they own, which they read back) and passes ours back
 * (event_set and event_new through event_assign): those pass through.
 * With no libevent loaded, the event_* that reached us is another
 * library's (libev's libevent emulation exports the same names), whose
 * structs are not libevent's: that call passes through too. */
int ctxvar__libevent_foreign(void (*fn)(void)) CTXVAR__HIDDEN;

/* 1 when libevent is loaded. */
int ctxvar__libevent_present(void) CTXVAR__HIDDEN;

/* Whether a call registering the callback `fn` should be carried: the
 * loops are on and the callback is the program's. */
#define EV_CARRY_CB(fn) (ctxvar__loops_enabled() && ctxvar__libevent_foreign((void (*)(void))(fn)))

/* Records keyed by an event or a bufferevent. */
enum {
    EV_KIND_EVENT = 0x65760001, /* 'ev' */
    EV_KIND_BUFFEREVENT,
};

/* A bufferevent's record that libevent may still call back with
 * (shim/libevent_buffer.c), waiting, under its base, to be freed by that
 * base's loop. */
struct ctxvar__libevent_retired {
    struct ctxvar__indexed by_base;
    struct ctxvar__callback *record;
    struct ctxvar__libevent_retired *next_free;
};

/* Queues `retired` (record set) to be freed by `base`'s loop: 0, or -1
 * when there is no base, or it is being freed on this thread (its
 * callbacks are over), and the caller frees the record. */
int ctxvar__libevent_free_later(struct event_base *base,
                                struct ctxvar__libevent_retired *retired) CTXVAR__HIDDEN;

/* How many records wait to be freed, over all bases. */
extern _Atomic long ctxvar__libevent_retired_waiting CTXVAR__HIDDEN;

/* Called by a trampoline that `base`'s loop runs (an event's callback, a
 * deferred bufferevent callback), once it has copied its own record: the
 * loop is then between two of its callbacks' starts, so none of the
 * records retired on that base can still be about to be called back
 * with, and they are freed.  libevent lets one thread at a time run a
 * base's loop. */
void ctxvar__libevent_loop_between(const struct event_base *base) CTXVAR__HIDDEN;
static inline void ctxvar__libevent_loop_quiet(const struct event_base *base)
{
    if (__builtin_expect(atomic_load_explicit(&ctxvar__libevent_retired_waiting, memory_order_relaxed) != 0, 0))
        ctxvar__libevent_loop_between(base);
}

#endif
