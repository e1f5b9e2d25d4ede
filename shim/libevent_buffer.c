/* libevent_buffer.c - a bufferevent's callbacks run in the context of the
 * bufferevent_setcb call that registered them (they are persistent: every
 * read, write and event callback until the next bufferevent_setcb), and
 * bufferevent_getcb shows the program what it passed.
 *
 * The callback argument libevent keeps is our record {read, write, event
 * callbacks, argument, context}; it is also kept by the bufferevent's
 * address (lib/keyed.c), replaced by the next bufferevent_setcb and freed
 * by bufferevent_free, which first clears the callbacks so that none runs
 * after it.  As for events (shim/libevent.c), only calls from outside
 * libevent are carried: filters and evhttp set callbacks of their own on
 * the bufferevents they own, and read them back.
 */
#include "loops.h"
#ifdef CTXVAR_WITH_LIBEVENT
#include <errno.h>

#include "libevent.h"

struct buffer_record {
    struct ctxvar__keyed k;        /* cb: the read callback (or NULL) and the argument */
    bufferevent_data_cb write;
    bufferevent_event_cb event;
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

/* From a copy: the callback may free the bufferevent or set new callbacks,
 * which frees the record. */
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
    ctxvar__callback_invoke(&copy.k.cb, call_buffer, &a);
}

static void read_trampoline(struct bufferevent *bev, void *p) { run_buffer(p, bev, 0, 0); }
static void write_trampoline(struct bufferevent *bev, void *p) { run_buffer(p, bev, 0, 1); }
static void event_trampoline(struct bufferevent *bev, short what, void *p)
{
    run_buffer(p, bev, what, 2);
}

#define FOREIGN_OR_NULL(fn) (!(fn) || ctxvar__libevent_foreign((void (*)(void))(fn)))

CTXVAR__EXPORT void bufferevent_setcb(struct bufferevent *bev, bufferevent_data_cb readcb,
                                      bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                                      void *arg)
{
    __typeof__(&bufferevent_setcb) next = EV_NEXT(bufferevent_setcb);
    if (!next) return;
    /* Ours passed back (nested calls) or libevent's own: through. */
    if (!EV_CARRY() || !FOREIGN_OR_NULL(readcb) || !FOREIGN_OR_NULL(writecb) ||
        !FOREIGN_OR_NULL(eventcb)) {
        next(bev, readcb, writecb, eventcb, arg);
        return;
    }
    struct buffer_record *r = NULL;
    if (readcb || writecb || eventcb) {
        r = ctxvar__keyed_new(sizeof *r, bev, EV_KIND_BUFFEREVENT, (void (*)(void))readcb, arg,
                              "bufferevent_setcb");
    }
    if (!r) {
        next(bev, readcb, writecb, eventcb, arg);
        ctxvar__keyed_drop(bev, EV_KIND_BUFFEREVENT);
        return;
    }
    r->write = writecb;
    r->event = eventcb;
    /* libevent switches to the new record before the old one is freed, so
     * a callback on another thread never gets a freed one. */
    struct ctxvar__keyed *old = ctxvar__keyed_take(bev, EV_KIND_BUFFEREVENT);
    ctxvar__keyed_put(&r->k);
    next(bev, readcb ? read_trampoline : NULL, writecb ? write_trampoline : NULL,
         eventcb ? event_trampoline : NULL, r);
    if (old) ctxvar__callback_free(&old->cb);
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
    next(bev, &readcb, &writecb, &eventcb, &arg);
    if ((readcb == read_trampoline || writecb == write_trampoline || eventcb == event_trampoline) &&
        EV_CARRY()) {
        const struct buffer_record *r = arg;
        readcb = (bufferevent_data_cb)r->k.cb.fn;
        writecb = r->write;
        eventcb = r->event;
        arg = r->k.cb.arg;
    }
    if (readcb_out) *readcb_out = readcb;
    if (writecb_out) *writecb_out = writecb;
    if (eventcb_out) *eventcb_out = eventcb;
    if (arg_out) *arg_out = arg;
}

/* libevent clears the callbacks first thing, so none of ours runs after. */
CTXVAR__EXPORT void bufferevent_free(struct bufferevent *bev)
{
    __typeof__(&bufferevent_free) next = EV_NEXT(bufferevent_free);
    if (!next) return;
    struct ctxvar__keyed *r =
        bev && ctxvar__loops_enabled() ? ctxvar__keyed_take(bev, EV_KIND_BUFFEREVENT) : NULL;
    next(bev);
    if (r) ctxvar__callback_free(&r->cb);
}
#else
/* No event2/event.h at build time: no bufferevent interposers. */
typedef int ctxvar__no_bufferevents;
#endif
