/* libevent_buffer.c - a bufferevent's callbacks run in the context of the
 * bufferevent_setcb call that registered them (they are persistent: every
 * read, write and event callback until the next bufferevent_setcb), and
 * bufferevent_getcb shows the program what it passed.
 *
 * The callback argument libevent keeps is our record {read, write, event
 * callbacks, argument, context}; it is also kept by the bufferevent's
 * address (lib/keyed.c), replaced by the next bufferevent_setcb and
 * retired by bufferevent_free, and freed then: libevent calls a
 * bufferevent's callbacks under its lock, which those calls take.  Except
 * with BEV_OPT_UNLOCK_CALLBACKS: the loop thread reads the callback and its
 * argument (our record) under the lock, lets go of it, then calls, so
 * another thread's bufferevent_setcb or bufferevent_free may come in
 * between, and libevent then still runs the old callback with its old
 * argument.  Such callbacks are always deferred: libevent runs them from
 * the base's loop, one at a time.  So such a bufferevent's record, once
 * replaced, waits under its base until that loop runs a callback of ours
 * again (by then any callback handed the record has started, and copied
 * it), or until the base is freed (shim/libevent.c).  As for events, only
 * the program's callbacks are carried: filters and evhttp set callbacks
 * of their own on the bufferevents they own, and read them back.
 */
#include "loops.h"
#ifdef CTXVAR_WITH_LIBEVENT
#include <errno.h>

#include "libevent.h"

struct buffer_record {
    struct ctxvar__keyed k;        /* cb: the read callback (or NULL) and the argument */
    bufferevent_data_cb write;
    bufferevent_event_cb event;
    struct ctxvar__libevent_retired retired; /* once replaced, with BEV_OPT_UNLOCK_CALLBACKS */
};

struct buffer_args {
    struct bufferevent *bev;
    short what;
    int which; /* 0 read, 1 write, 2 event */
};

static void call_buffer(const struct ctxvar__callback *cb, void *io)
{
    const struct buffer_record *r = (const struct buffer_record *)(const void *)cb;
    const struct buffer_args *a = io;
    if (a->which == 0) ((bufferevent_data_cb)cb->fn)(a->bev, cb->arg);
    else if (a->which == 1) r->write(a->bev, cb->arg);
    else r->event(a->bev, a->what, cb->arg);
}

/* libevent 2.1 exports it, undeclared in its public headers. */
int bufferevent_get_options_(struct bufferevent *bev);

/* The base whose loop runs bev's callbacks, when they are deferred and
 * records wait to be freed: that loop may free them now (shim/libevent.h).
 * NULL otherwise. */
static const struct event_base *quiet_loop(struct bufferevent *bev)
{
    if (__builtin_expect(!atomic_load_explicit(&ctxvar__libevent_retired_waiting, memory_order_relaxed), 1))
        return NULL;
    __typeof__(&bufferevent_get_options_) options = EV_NEXT(bufferevent_get_options_);
    __typeof__(&bufferevent_get_base) get_base = EV_NEXT(bufferevent_get_base);
    return options && get_base && (options(bev) & BEV_OPT_DEFER_CALLBACKS) ? get_base(bev) : NULL;
}

/* From a copy: the callback may free the bufferevent or set new callbacks,
 * which retires the record. */
static void run_buffer(void *p, struct bufferevent *bev, short what, int which)
{
    /* The callback fields only: the table's link may be rewritten by
     * another thread's insertion meanwhile. */
    const struct buffer_record *r = p;
    struct buffer_record copy;
    copy.k.cb = r->k.cb;
    copy.write = r->write;
    copy.event = r->event;
    struct buffer_args a = {bev, what, which};
    const struct event_base *loop = quiet_loop(bev);
    if (!loop) {
        ctxvar__callback_invoke(&copy.k.cb, call_buffer, &a);
        return;
    }
    /* r itself may be among the records freed: its context is held first. */
    copy.k.cb.context = ctxvar_retain(copy.k.cb.context);
    ctxvar__libevent_loop_between(loop);
    ctxvar__callback_invoke_owned(&copy.k.cb, call_buffer, &a);
}

static void read_trampoline(struct bufferevent *bev, void *p) { run_buffer(p, bev, 0, 0); }
static void write_trampoline(struct bufferevent *bev, void *p) { run_buffer(p, bev, 0, 1); }
static void event_trampoline(struct bufferevent *bev, short what, void *p)
{
    run_buffer(p, bev, what, 2);
}

#define FOREIGN_OR_NULL(fn) (!(fn) || ctxvar__libevent_foreign((void (*)(void))(fn)))

/* The base whose loop must free bev's replaced records (see the top), or
 * NULL when they may be freed at once. */
static struct event_base *unlocked_callbacks_base(struct bufferevent *bev)
{
    __typeof__(&bufferevent_get_options_) options = EV_NEXT(bufferevent_get_options_);
    __typeof__(&bufferevent_get_base) get_base = EV_NEXT(bufferevent_get_base);
    if (options && !(options(bev) & BEV_OPT_UNLOCK_CALLBACKS)) return NULL;
    return get_base ? get_base(bev) : NULL;
}

/* A record libevent may still call back with (see the top): freed by the
 * loop of `base`, or at once when base is NULL or being freed (then
 * callbacks are over). */
static void retire(struct event_base *base, struct ctxvar__keyed *old)
{
    struct buffer_record *r = (struct buffer_record *)(void *)old;
    r->retired.record = &old->cb;
    if (base && ctxvar__libevent_free_later(base, &r->retired) == 0) return;
    ctxvar__callback_free(&old->cb);
}

CTXVAR__EXPORT void bufferevent_setcb(struct bufferevent *bev, bufferevent_data_cb readcb,
                                      bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                                      void *arg)
{
    __typeof__(&bufferevent_setcb) next = EV_NEXT(bufferevent_setcb);
    if (!next) return;
    /* Ours passed back (nested calls) or libevent's own: through. */
    if (!ctxvar__loops_enabled() || !ctxvar__libevent_present() || !FOREIGN_OR_NULL(readcb) ||
        !FOREIGN_OR_NULL(writecb) || !FOREIGN_OR_NULL(eventcb)) {
        next(bev, readcb, writecb, eventcb, arg);
        return;
    }
    struct buffer_record *r = NULL;
    if (readcb || writecb || eventcb) {
        r = ctxvar__keyed_new(sizeof *r, bev, EV_KIND_BUFFEREVENT, (void (*)(void))readcb, arg,
                              "bufferevent_setcb");
    }
    if (!r) {
        /* No callbacks left (or no memory): the old record retires like
         * any replaced one, since libevent may be about to call it. */
        struct ctxvar__keyed *gone = ctxvar__keyed_take(bev, EV_KIND_BUFFEREVENT);
        next(bev, readcb, writecb, eventcb, arg);
        if (gone) retire(unlocked_callbacks_base(bev), gone);
        return;
    }
    r->write = writecb;
    r->event = eventcb;
    struct ctxvar__keyed *old = ctxvar__keyed_take(bev, EV_KIND_BUFFEREVENT);
    ctxvar__keyed_put(&r->k);
    next(bev, readcb ? read_trampoline : NULL, writecb ? write_trampoline : NULL,
         eventcb ? event_trampoline : NULL, r);
    if (old) retire(unlocked_callbacks_base(bev), old);
}

CTXVAR__EXPORT void bufferevent_getcb(struct bufferevent *bev, bufferevent_data_cb *readcb_out,
                                      bufferevent_data_cb *writecb_out,
                                      bufferevent_event_cb *eventcb_out, void **arg_out)
{
    __typeof__(&bufferevent_getcb) next = EV_NEXT(bufferevent_getcb);
    if (!next) return;
    bufferevent_data_cb readcb = NULL, writecb = NULL;
    bufferevent_event_cb eventcb = NULL;
    void *arg = NULL;
    /* Under the bufferevent's lock (recursive: libevent's getcb takes it
     * too), so that the record is read before another thread's setcb can
     * replace it and free or retire it (it does so once libevent's setcb,
     * which waits for the lock, has returned). */
    __typeof__(&bufferevent_lock) lock = EV_NEXT(bufferevent_lock);
    __typeof__(&bufferevent_unlock) unlock = EV_NEXT(bufferevent_unlock);
    if (lock && unlock) lock(bev);
    next(bev, &readcb, &writecb, &eventcb, &arg);
    if (readcb == read_trampoline || writecb == write_trampoline || eventcb == event_trampoline) {
        const struct buffer_record *r = arg;
        readcb = (bufferevent_data_cb)r->k.cb.fn;
        writecb = r->write;
        eventcb = r->event;
        arg = r->k.cb.arg;
    }
    if (lock && unlock) unlock(bev);
    if (readcb_out) *readcb_out = readcb;
    if (writecb_out) *writecb_out = writecb;
    if (eventcb_out) *eventcb_out = eventcb;
    if (arg_out) *arg_out = arg;
}

/* libevent clears the callbacks first thing, so none of ours starts after;
 * one already started may still be using the record (see the top). */
CTXVAR__EXPORT void bufferevent_free(struct bufferevent *bev)
{
    __typeof__(&bufferevent_free) next = EV_NEXT(bufferevent_free);
    if (!next) return;
    struct ctxvar__keyed *r =
        bev && ctxvar__loops_enabled() ? ctxvar__keyed_take(bev, EV_KIND_BUFFEREVENT) : NULL;
    struct event_base *base = r ? unlocked_callbacks_base(bev) : NULL; /* bev may be gone after */
    next(bev);
    if (r) retire(base, r);
}
#else
/* No event2/event.h at build time: no bufferevent interposers. */
typedef int ctxvar__no_bufferevents;
#endif
