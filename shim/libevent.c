/* libevent.c - libevent's events call back in the context of the code that
 * registered or scheduled them: event_new, event_assign, the legacy
 * event_set, event_add, event_active, event_base_once; and the calls that
 * must keep showing the program what it passed: event_get_callback,
 * event_get_callback_arg, event_get_assignment, event_finalize,
 * event_free_finalize, event_free, event_debug_unassign.  Bufferevents are
 * in shim/libevent_buffer.c.
 *
 * An event's callback argument is ours: a record {callback, argument,
 * context} (libevent passes it back to the trampoline, so a callback costs
 * no lookup).  Records are also kept by the event's address (lib/keyed.c):
 * an event embedded in the program's own struct is freed with free(), and
 * the next event assigned at that address replaces and frees the old
 * record; event_free and event_debug_unassign free it at once, and
 * event_del (and event_del_block) makes it give its context back.
 *
 * When: a persistent event (EV_PERSIST) runs in the context of its
 * registration (event_new, event_assign, event_set), or, once deleted, of
 * the event_add or event_active that starts it again; any other event in
 * the context of the call that scheduled it (event_add, event_active,
 * event_base_once).  event_active on a persistent event captures nothing:
 * like a signal it may coalesce with other activations.  After each
 * callback the loop thread's own context is back.
 *
 * Only the program's callbacks are carried: libevent calls its own
 * exported functions (event_set calls event_assign; bufferevents assign,
 * add and read back their internal events) with callbacks of its own, and
 * relies on what it assigned staying there.  A trampoline passed back to
 * us (nested calls) is recognised and passed through.  Calls about an
 * event (event_add, event_del, the getters) act only on events whose
 * callback is our trampoline, whoever makes them.
 *
 * Not covered: an event_add and an event_del of one event on two threads
 * at once may leave it added with no context (the del gives back what the
 * add just captured); a process with both libevent-2.1 and
 * libevent_core-2.1 loaded uses the first one found after us.
 */
#include "loops.h"
#ifdef CTXVAR_WITH_LIBEVENT
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "libevent.h"

/* ---- Who is calling ------------------------------------------------------------- */

/* libevent-2.1.so.7 and the parts it also comes in. */
static const char *const libevent_parts[] = {"", "_core", "_extra", "_pthreads", "_openssl", "_mbedtls", NULL};
static struct ctxvar__code_ranges libevent_code = {.name = "libevent", .variants = libevent_parts};

int ctxvar__libevent_foreign(void (*fn)(void)) { return ctxvar__code_foreign_fast(&libevent_code, fn); }

int ctxvar__libevent_present(void) { return ctxvar__code_present(&libevent_code); }

/* Whether a call about an event, not its callback (event_add, event_del,
 * the getters), should look at it: only an event whose callback is our
 * trampoline has anything to carry or show, whoever calls.  (The caller's
 * address would not tell: a program's callback that libevent calls
 * directly and that ends in a jump to event_add returns straight to
 * libevent.) */
#define EV_LOOK() ctxvar__loops_enabled()

/* ---- Records -------------------------------------------------------------------- */

struct event_record {
    struct ctxvar__keyed k;       /* cb: the program's callback and argument */
    struct ctxvar__indexed by_base; /* event_base_once's, until it fires */
    int persistent;               /* EV_PERSIST: keep the registration's context */
    atomic_int deleted;           /* its context given back by event_del: capture at the next start */
    event_finalize_callback_fn finalizer; /* the program's, once finalizing */
    int frees_event;              /* event_free_finalize: libevent frees the event */
};

struct event_args {
    evutil_socket_t fd;
    short what;
};

static void call_event(const struct ctxvar__callback *cb, void *io)
{
    const struct event_args *a = io;
    ((event_callback_fn)cb->fn)(a->fd, a->what, cb->arg);
}

/* The base an event belongs to, as libevent keeps it. */
static const struct event_base *base_of(const struct event *ev)
{
    struct event_base *(*get_base)(const struct event *) = EV_NEXT(event_get_base);
    return get_base && ev ? get_base(ev) : NULL;
}

/* The callback may free, reassign or re-add its own event, and so free or
 * change the record: it runs from a copy, whose context the frame holds.
 * The frame's reference is taken from the record by exchange, never
 * borrowed: another thread's event_add, event_active or event_del may
 * replace and release the record's at any moment.  The record then gets
 * a reference back, unless that other thread already gave it a new one:
 * the event may have been scheduled again, in the same context, for the
 * next call. */
static void event_trampoline(evutil_socket_t fd, short what, void *p)
{
    struct event_record *r = p;
    /* Field by field: the context is only ever read by the exchange, as
     * another thread may exchange it at the same time. */
    struct ctxvar__callback copy = {.fn = r->k.cb.fn, .arg = r->k.cb.arg,
                                    .home = r->k.cb.home, .size = r->k.cb.size};
    struct event_args a = {fd, what};
    copy.context = __atomic_exchange_n(&r->k.cb.context, NULL, __ATOMIC_ACQ_REL);
    if (copy.context) {
        ctxvar_ctx *back = ctxvar_retain(copy.context), *empty = NULL;
        if (!__atomic_compare_exchange_n(&r->k.cb.context, &empty, back, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            ctxvar_release(back);
    }
    if (__builtin_expect(atomic_load_explicit(&ctxvar__libevent_retired_waiting, memory_order_relaxed), 0))
        ctxvar__libevent_loop_between(base_of(r->k.key));
    ctxvar__callback_invoke_owned(&copy, call_event, &a);
}

/* event_base_once's records, by base, until they fire: libevent frees a
 * once event that never fired in event_base_free, calling nothing, so
 * that is where the records left go (event_base_free below). */
static struct ctxvar__index once_by_base;

/* event_base_once's: libevent frees its event after the one call, and so
 * do we, unless event_base_free has taken the record already (libevent
 * does not run once events there; should one, the record is the freeing
 * call's). */
static void once_trampoline(evutil_socket_t fd, short what, void *p)
{
    struct event_record *r = p;
    struct event_args a = {fd, what};
    ctxvar__libevent_loop_quiet(r->by_base.key);
    if (!ctxvar__index_remove(&once_by_base, &r->by_base)) {
        ctxvar__callback_invoke(&r->k.cb, call_event, &a);
        return;
    }
    ctxvar__callback_invoke_owned(&r->k.cb, call_event, &a);
    r->k.cb.context = NULL; /* given back by the frame */
    ctxvar__callback_free(&r->k.cb);
}

static struct event_record *record_new(const struct event *ev, short events, event_callback_fn cb,
                                       void *arg, const char *what)
{
    struct event_record *r =
        ctxvar__keyed_new(sizeof *r, ev, EV_KIND_EVENT, (void (*)(void))cb, arg, what);
    if (!r) return NULL;
    r->persistent = (events & EV_PERSIST) != 0;
    atomic_init(&r->deleted, 0);
    r->finalizer = NULL;
    r->frees_event = 0;
    return r;
}

/* event_self_cbarg(): "pass the event itself"; with ours as the argument,
 * the record passes it. */
static void *self_marker(void)
{
    void *(*self)(void) = EV_NEXT(event_self_cbarg);
    return self ? self() : NULL;
}

/* The record of an event whose callback is our trampoline, else NULL:
 * libevent's getters (never interposed for its own calls) tell. */
static struct event_record *record_of(const struct event *ev)
{
    event_callback_fn (*get_callback)(const struct event *) = EV_NEXT(event_get_callback);
    void *(*get_arg)(const struct event *) = EV_NEXT(event_get_callback_arg);
    if (!ev || !get_callback || !get_arg) return NULL;
    event_callback_fn cb = get_callback(ev);
    if (cb != event_trampoline && cb != once_trampoline) return NULL;
    return get_arg(ev);
}

static void finalize_trampoline(struct event *ev, void *p);

/* What the program passed for an event whose callback libevent shows as
 * `*cb` and whose argument as `*arg`, written over them when they are
 * ours: the program's callback, or once the event is finalizing its
 * finalizer, which libevent keeps in the callback's place. */
static void program_view(event_callback_fn *cb, void **arg)
{
    const struct event_record *r = *arg;
    if (*cb == event_trampoline || *cb == once_trampoline) {
        *cb = (event_callback_fn)r->k.cb.fn;
    } else if ((void (*)(void))*cb == (void (*)(void))finalize_trampoline) {
        *cb = (event_callback_fn)(void (*)(void))r->finalizer;
    } else {
        return;
    }
    *arg = r->k.cb.arg;
}

/* ---- Registering ----------------------------------------------------------------- */

CTXVAR__EXPORT struct event *event_new(struct event_base *base, evutil_socket_t fd, short events,
                                       event_callback_fn cb, void *arg)
{
    __typeof__(&event_new) next = EV_NEXT(event_new);
    if (!next) return NULL;
    if (!cb || !EV_CARRY_CB(cb)) return next(base, fd, events, cb, arg);
    struct event_record *r = record_new(NULL, events, cb, arg, "event_new");
    if (!r) return next(base, fd, events, cb, arg);
    struct event *ev = next(base, fd, events, event_trampoline, r);
    if (!ev) {
        ctxvar__callback_free(&r->k.cb);
        return NULL;
    }
    r->k.key = ev;
    if (arg && arg == self_marker()) r->k.cb.arg = ev;
    ctxvar__keyed_put(&r->k);
    return ev;
}

CTXVAR__EXPORT int event_assign(struct event *ev, struct event_base *base, evutil_socket_t fd,
                                short events, event_callback_fn cb, void *arg)
{
    __typeof__(&event_assign) next = EV_NEXT(event_assign);
    if (!next) return -1;
    if (cb ? !EV_CARRY_CB(cb) : !EV_LOOK()) return next(ev, base, fd, events, cb, arg);
    struct event_record *r = cb ? record_new(ev, events, cb, arg, "event_assign") : NULL;
    if (!r) {
        /* Reassigned without us: what we kept for that address is stale. */
        ctxvar__keyed_drop(ev, EV_KIND_EVENT);
        return next(ev, base, fd, events, cb, arg);
    }
    if (arg && arg == self_marker()) r->k.cb.arg = ev;
    ctxvar__keyed_put(&r->k);
    int result = next(ev, base, fd, events, event_trampoline, r);
    /* A refusal may come after libevent has stored the callback and its
     * argument (2.1 refuses EV_SIGNAL with EV_READ so): the event then
     * holds ours, and the record stays with it. */
    if (result != 0 && record_of(ev) != r) ctxvar__keyed_drop(ev, EV_KIND_EVENT);
    return result;
}

/* The legacy form, which memcached uses; libevent's own event_set calls
 * event_assign, which then passes through as libevent's call. */
CTXVAR__EXPORT void event_set(struct event *ev, evutil_socket_t fd, short events,
                              void (*cb)(evutil_socket_t, short, void *), void *arg)
{
    __typeof__(&event_set) next = EV_NEXT(event_set);
    if (!next) return;
    if (cb ? !EV_CARRY_CB(cb) : !EV_LOOK()) {
        next(ev, fd, events, cb, arg);
        return;
    }
    struct event_record *r = cb ? record_new(ev, events, cb, arg, "event_set") : NULL;
    if (!r) {
        ctxvar__keyed_drop(ev, EV_KIND_EVENT);
        next(ev, fd, events, cb, arg);
        return;
    }
    if (arg && arg == self_marker()) r->k.cb.arg = ev;
    ctxvar__keyed_put(&r->k);
    next(ev, fd, events, event_trampoline, r);
}

/* ---- Scheduling ---------------------------------------------------------------------- */

CTXVAR__EXPORT int event_add(struct event *ev, const struct timeval *timeout)
{
    __typeof__(&event_add) next = EV_NEXT(event_add);
    if (!next) return -1;
    if (EV_LOOK()) {
        struct event_record *r = record_of(ev);
        if (r && (!r->persistent || atomic_exchange(&r->deleted, 0)))
            ctxvar__callback_recapture(&r->k.cb);
    }
    return next(ev, timeout);
}

/* An event deleted may never be added again (the program frees the
 * struct it is embedded in, as it may): its record gives its context back,
 * and the next event_add or event_active takes the caller's (for a
 * persistent event, only that once).  event_del and event_del_block wait
 * for the event's callback to return when it runs on another thread, so
 * none is using the context then; not for an EV_FINALIZE event, which
 * keeps its context.  A one-shot event that ran and whose struct is freed
 * without event_del keeps its context until the address is assigned
 * again: another thread may have scheduled it again while it ran, and
 * only libevent knows. */
static void give_back_context(struct event *ev)
{
    short (*events_of)(const struct event *) = EV_NEXT(event_get_events);
    struct event_record *r = record_of(ev);
    if (!r || !events_of || (events_of(ev) & EV_FINALIZE)) return;
    atomic_store(&r->deleted, 1);
    ctxvar_ctx *c = __atomic_exchange_n(&r->k.cb.context, NULL, __ATOMIC_ACQ_REL);
    if (c) {
        int saved_errno = errno;
        ctxvar__context_release(c);
        errno = saved_errno;
    }
}

#define INTERPOSE_DEL(name)                                                   \
    CTXVAR__EXPORT int name(struct event *ev)                                 \
    {                                                                         \
        __typeof__(&name) next = EV_NEXT(name);                               \
        if (!next) return -1;                                                 \
        int result = next(ev);                                                \
        if (result == 0 && EV_LOOK()) give_back_context(ev);                  \
        return result;                                                        \
    }
INTERPOSE_DEL(event_del)
INTERPOSE_DEL(event_del_block)

CTXVAR__EXPORT void event_active(struct event *ev, int res, short ncalls)
{
    __typeof__(&event_active) next = EV_NEXT(event_active);
    if (!next) return;
    if (EV_LOOK()) {
        struct event_record *r = record_of(ev);
        if (r && (!r->persistent || atomic_exchange(&r->deleted, 0)))
            ctxvar__callback_recapture(&r->k.cb);
    }
    next(ev, res, ncalls);
}

CTXVAR__EXPORT int event_base_once(struct event_base *base, evutil_socket_t fd, short events,
                                   event_callback_fn cb, void *arg, const struct timeval *timeout)
{
    __typeof__(&event_base_once) next = EV_NEXT(event_base_once);
    if (!next) return -1;
    if (!cb || !EV_CARRY_CB(cb)) return next(base, fd, events, cb, arg, timeout);
    struct event_record *r = record_new(NULL, events, cb, arg, "event_base_once");
    if (!r) return next(base, fd, events, cb, arg, timeout);
    ctxvar__index_add(&once_by_base, &r->by_base, base);
    int result = next(base, fd, events, once_trampoline, r, timeout);
    if (result != 0 && ctxvar__index_remove(&once_by_base, &r->by_base))
        ctxvar__callback_free(&r->k.cb);
    return result;
}

/* ---- Records freed by the loop -------------------------------------------------------- */

/* Bufferevent records retired while their base's loop may be about to
 * call back with them, by base.  Freed by the loop itself between two
 * callbacks (ctxvar__libevent_loop_quiet), or with the base.  Nothing of
 * this is the program's to see: no event is added for it, so
 * event_base_get_num_events and a loop run with EVLOOP_ONCE are as they
 * would be without us.  A base whose loop runs no callback of ours again
 * keeps what was retired on it until it is freed. */
static struct ctxvar__index retired_by_base;
_Atomic long ctxvar__libevent_retired_waiting;

/* The base this thread is freeing: its callbacks are over, and what is
 * retired on it now is freed at once (finalizers that free a bufferevent
 * run inside event_base_free). */
static _Thread_local const struct event_base *freeing_base;

int ctxvar__libevent_free_later(struct event_base *base, struct ctxvar__libevent_retired *retired)
{
    if (!base || base == freeing_base) return -1;
    ctxvar__index_add(&retired_by_base, &retired->by_base, base);
    atomic_fetch_add_explicit(&ctxvar__libevent_retired_waiting, 1, memory_order_relaxed);
    return 0;
}

/* Unlinks each record retired on a base onto a list. */
static int take_retired(struct ctxvar__indexed *e, void *list)
{
    struct ctxvar__libevent_retired *r =
        (struct ctxvar__libevent_retired *)(void *)((char *)e - offsetof(struct ctxvar__libevent_retired, by_base));
    ctxvar__index_unlink_locked(e);
    r->next_free = *(struct ctxvar__libevent_retired **)list;
    *(struct ctxvar__libevent_retired **)list = r;
    return 0;
}

static struct ctxvar__libevent_retired *take_all_retired(const struct event_base *base)
{
    struct ctxvar__libevent_retired *list = NULL;
    ctxvar__index_visit(&retired_by_base, base, take_retired, &list);
    return list;
}

static void free_retired(struct ctxvar__libevent_retired *list)
{
    while (list) {
        struct ctxvar__libevent_retired *r = list;
        list = r->next_free;
        atomic_fetch_sub_explicit(&ctxvar__libevent_retired_waiting, 1, memory_order_relaxed);
        ctxvar__callback_free(r->record); /* r is inside it */
    }
}

void ctxvar__libevent_loop_between(const struct event_base *base)
{
    if (base) free_retired(take_all_retired(base));
}

/* ---- Freeing a base ------------------------------------------------------------------ */

/* Unlinks each of a base's once records onto a list (through the keyed
 * link, unused by once records, which are never in the table). */
static int take_once(struct ctxvar__indexed *e, void *list)
{
    struct event_record *r = (struct event_record *)(void *)((char *)e - offsetof(struct event_record, by_base));
    ctxvar__index_unlink_locked(e);
    r->k.next = *(struct ctxvar__keyed **)list;
    *(struct ctxvar__keyed **)list = &r->k;
    return 0;
}

/* The base event_base_free(NULL) frees: libevent's current one, which
 * event_init made (the legacy API's event_once schedules on it). */
static struct event_base *base_to_free(struct event_base *base)
{
    static struct ctxvar__library_symbol current_cache;
    if (base) return base;
    struct event_base **current = ctxvar__library_variable(&current_cache, "event_global_current_base_",
                                                           LIBEVENT_SONAME ":" LIBEVENT_CORE_SONAME);
    return current ? *current : NULL;
}

/* The base's once records and retired bufferevent records are taken before
 * libevent frees it (another thread may get its address for a new base at
 * once) and freed after (its loop runs no more callbacks). */
#define INTERPOSE_BASE_FREE(name)                                                          \
    CTXVAR__EXPORT void name(struct event_base *base)                                      \
    {                                                                                      \
        __typeof__(&name) next = EV_NEXT(name);                                            \
        if (!next) return;                                                                 \
        struct ctxvar__keyed *taken = NULL;                                                \
        struct ctxvar__libevent_retired *retired = NULL;                                   \
        struct event_base *freed = ctxvar__loops_enabled() ? base_to_free(base) : NULL;    \
        if (freed) {                                                                       \
            ctxvar__index_visit(&once_by_base, freed, take_once, &taken);                  \
            retired = take_all_retired(freed);                                             \
        }                                                                                  \
        const struct event_base *outer = freeing_base;                                     \
        freeing_base = freed;                                                              \
        next(base);                                                                        \
        freeing_base = outer;                                                              \
        while (taken) {                                                                    \
            struct ctxvar__keyed *k = taken;                                               \
            taken = k->next;                                                               \
            ctxvar__callback_free(&k->cb);                                                 \
        }                                                                                  \
        free_retired(retired);                                                             \
    }
INTERPOSE_BASE_FREE(event_base_free)
INTERPOSE_BASE_FREE(event_base_free_nofinalize)

/* ---- Freeing and finalizing ---------------------------------------------------------- */

/* The record leaves the table before the event is freed (another thread
 * may get the address at once) and is freed after (libevent waits for a
 * callback running on another thread, which reads it). */
CTXVAR__EXPORT void event_free(struct event *ev)
{
    __typeof__(&event_free) next = EV_NEXT(event_free);
    if (!next) return;
    struct ctxvar__keyed *r = ev && ctxvar__loops_enabled() ? ctxvar__keyed_take(ev, EV_KIND_EVENT) : NULL;
    next(ev);
    if (r) ctxvar__callback_free(&r->cb);
}

CTXVAR__EXPORT void event_debug_unassign(struct event *ev)
{
    __typeof__(&event_debug_unassign) next = EV_NEXT(event_debug_unassign);
    if (!next) return;
    struct ctxvar__keyed *r = ev && ctxvar__loops_enabled() ? ctxvar__keyed_take(ev, EV_KIND_EVENT) : NULL;
    next(ev);
    if (r) ctxvar__callback_free(&r->cb);
}

struct finalize_args {
    event_finalize_callback_fn finalizer;
    struct event *ev;
};

static void call_finalizer(const struct ctxvar__callback *cb, void *io)
{
    const struct finalize_args *a = io;
    a->finalizer(a->ev, cb->arg);
}

/* libevent calls a finalizer with the event's argument, ours: the program's
 * gets its own, in the event's context (as its callback would run).
 *
 * event_free_finalize: libevent frees the event after this, and the record
 * (out of the table since the call) goes now.  event_finalize: the event's
 * memory stays the program's, which may still read the finalizer and its
 * argument back (libevent's getters give them), so the record stays in the
 * table, keyed by the event, without its context, until the address is
 * assigned again, freed with event_free or unassigned.  (Writing the
 * program's finalizer and argument into the event instead, and freeing the
 * record, would race with another thread's getter, which reads the two with
 * two calls: it could pair our trampoline with the program's argument.)
 * The finalizer may free that memory and another thread assign an event
 * there at once, so nothing of the record is touched after the call. */
static void finalize_trampoline(struct event *ev, void *p)
{
    struct event_record *r = p;
    struct finalize_args a = {r->finalizer, ev};
    if (r->frees_event) {
        ctxvar__callback_invoke_owned(&r->k.cb, call_finalizer, &a);
        r->k.cb.context = NULL; /* given back by the frame */
        ctxvar__callback_free(&r->k.cb);
        return;
    }
    struct ctxvar__callback copy = r->k.cb;
    r->k.cb.context = NULL; /* the frame's now */
    ctxvar__callback_invoke_owned(&copy, call_finalizer, &a);
}

#define INTERPOSE_FINALIZE(name, frees)                                                   \
    CTXVAR__EXPORT int name(unsigned flags, struct event *ev, event_finalize_callback_fn cb) \
    {                                                                                     \
        __typeof__(&name) next = EV_NEXT(name);                                           \
        if (!next) return -1;                                                             \
        struct event_record *r = cb && EV_CARRY_CB(cb) ? record_of(ev) : NULL;            \
        if (!r || r->k.key != ev || r->finalizer) return next(flags, ev, cb);             \
        if (frees) ctxvar__keyed_take(ev, EV_KIND_EVENT);                                 \
        r->finalizer = cb;                                                                \
        r->frees_event = frees;                                                           \
        int result = next(flags, ev, finalize_trampoline);                                \
        if (result != 0) {                                                                \
            r->finalizer = NULL;                                                          \
            if (frees) ctxvar__keyed_put(&r->k);                                          \
        }                                                                                 \
        return result;                                                                    \
    }
INTERPOSE_FINALIZE(event_finalize, 0)
INTERPOSE_FINALIZE(event_free_finalize, 1)


/* ---- What the program reads back ------------------------------------------------------ */

CTXVAR__EXPORT event_callback_fn event_get_callback(const struct event *ev)
{
    __typeof__(&event_get_callback) next = EV_NEXT(event_get_callback);
    void *(*get_arg)(const struct event *) = EV_NEXT(event_get_callback_arg);
    if (!next || !get_arg) return NULL;
    event_callback_fn cb = next(ev);
    if (EV_LOOK()) {
        void *arg = get_arg(ev);
        program_view(&cb, &arg);
    }
    return cb;
}

CTXVAR__EXPORT void *event_get_callback_arg(const struct event *ev)
{
    __typeof__(&event_get_callback_arg) next = EV_NEXT(event_get_callback_arg);
    event_callback_fn (*get_callback)(const struct event *) = EV_NEXT(event_get_callback);
    if (!next || !get_callback) return NULL;
    void *arg = next(ev);
    if (EV_LOOK()) {
        event_callback_fn cb = get_callback(ev);
        program_view(&cb, &arg);
    }
    return arg;
}

CTXVAR__EXPORT void event_get_assignment(const struct event *ev, struct event_base **base_out,
                                         evutil_socket_t *fd_out, short *events_out,
                                         event_callback_fn *callback_out, void **arg_out)
{
    __typeof__(&event_get_assignment) next = EV_NEXT(event_get_assignment);
    if (!next) return;
    event_callback_fn cb = NULL;
    void *arg = NULL;
    next(ev, base_out, fd_out, events_out, &cb, &arg);
    if (EV_LOOK()) program_view(&cb, &arg);
    if (callback_out) *callback_out = cb;
    if (arg_out) *arg_out = arg;
}
#else
/* No event2/event.h at build time: no libevent interposers. */
typedef int ctxvar__no_libevent;
#endif
