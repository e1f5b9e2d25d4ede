/* headers.c - the context as HTTP headers, both ways: the traceparent,
 * tracestate and baggage a request from this thread carries (for
 * shim/curl.c), and ctxvar_accept_headers, which makes an incoming
 * request's headers the thread's context.  The rules are those of the
 * environment a child process gets (lib/childenv.c) and of reading it at
 * load (lib/startup.c): one traceparent rule (w3c.h), one baggage codec
 * (lib/baggage.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "baggage.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"

/* Looked up, not interned: a name never interned is set nowhere. */
static const ctxvar__binding *binding_named(const ctxvar_ctx *c, const char *name, size_t len)
{
    const struct ctxvar *var = ctxvar__lookup(name, len);
    return var && c ? ctxvar__ctx_find(c, var) : NULL;
}

int ctxvar__trace_headers_current(struct ctxvar__trace_headers *h)
{
    const ctxvar_ctx *c = ctxvar__current_borrowed();
    memset(h, 0, offsetof(struct ctxvar__trace_headers, room));
    if (!c) return 0;
    const ctxvar__binding *tp = binding_named(c, "traceparent", 11);
    if (tp && ctxvar__traceparent_valid(tp->value)) {
        h->traceparent = tp->value;
        h->traceparent_len = tp->len;
        const ctxvar__binding *ts = binding_named(c, "tracestate", 10);
        if (ts && !ctxvar__tracestate_valid(ts->value)) {
            ctxvar__debug("http: the tracestate is not a valid one; not sent");
            ts = NULL;
        }
        if (ts) {
            h->tracestate = ts->value;
            h->tracestate_len = ts->len;
        }
    }
    size_t len = ctxvar__baggage_encode(c, h->room, sizeof h->room, NULL);
    if (len >= sizeof h->room) {
        h->baggage_block = malloc(len + 1);
        if (!h->baggage_block) return ENOMEM;
        ctxvar__baggage_encode(c, h->baggage_block, len + 1, NULL);
    }
    if (len) {
        h->baggage = h->baggage_block ? h->baggage_block : h->room;
        h->baggage_len = len;
    }
    return 0;
}

void ctxvar__trace_headers_free(struct ctxvar__trace_headers *h)
{
    free(h->baggage_block);
    h->baggage_block = NULL;
}

/* ---- The last headers of each thread ----------------------------------------
 *
 * A thread that makes several requests in one context (a handler calling
 * two services, a client in a loop) would encode the same headers each
 * time: the baggage's members sorted by name and percent-encoded, the
 * traceparent checked, about 18,000 instructions a request with 10
 * variables.  So each thread that asks keeps the last headers it got, with
 * the thread's version when it got them.  A version is drawn afresh at
 * every change of the thread's context and comes back only with the
 * context it named (leaving a frame restores both), so an unchanged
 * version means the same context, still alive: the borrowed traceparent
 * and tracestate are still valid, and nothing is held that would keep a
 * context alive.  The cache hangs on the thread's state, freed by a
 * thread_local destructor that only threads which made a request register:
 * the runtime takes no pthread key, which the program may need them all. */

struct headers_cache {
    unsigned long long version;
    struct ctxvar__trace_headers headers;
};

static void cache_free(void *p)
{
    struct headers_cache *cache = p;
    struct ctxvar__thread *t = ctxvar__me();
    if (t->headers_cache == cache) t->headers_cache = NULL;
    ctxvar__trace_headers_free(&cache->headers);
    free(cache);
}

const struct ctxvar__trace_headers *ctxvar__trace_headers_cached(void)
{
    int saved_errno = errno;
    (void)ctxvar__current_borrowed(); /* seeds the main thread: a version of its own */
    struct ctxvar__thread *t = ctxvar__me();
    struct headers_cache *cache = t->headers_cache;
    if (cache && cache->version == t->version) return &cache->headers;
    if (!cache) {
        cache = malloc(sizeof *cache);
        if (!cache || !CTXVAR__THREAD_ATEXIT_PRESENT() ||
            __cxa_thread_atexit_impl(cache_free, cache, &__dso_handle) != 0) {
            free(cache);
            errno = saved_errno;
            return NULL;
        }
        t->headers_cache = cache;
    } else {
        ctxvar__trace_headers_free(&cache->headers);
    }
    cache->version = (unsigned long long)-1; /* unfilled */
    if (ctxvar__trace_headers_current(&cache->headers) != 0) {
        errno = saved_errno;
        return NULL;
    }
    cache->version = t->version;
    errno = saved_errno;
    return &cache->headers;
}

/* c (borrowed) with var bound to value[0..len), in *out (owned), or without
 * var when value is NULL.  0 or ENOMEM. */
static int with_value(const ctxvar_ctx *c, const char *name, size_t name_len, const char *value,
                      ctxvar_ctx **out)
{
    struct ctxvar *var = value ? ctxvar__intern(name, name_len) : ctxvar__lookup(name, name_len);
    if (!var) {
        if (value) return ENOMEM;
        *out = ctxvar__ctx_retain(c); /* never interned: not bound */
        return 0;
    }
    if (!value) return ctxvar__ctx_without(c, var, out);
    ctxvar__binding *b = ctxvar__binding_new(var, value, strlen(value));
    return b ? ctxvar__ctx_with(c, b, out) : ENOMEM;
}

CTXVAR__EXPORT int ctxvar_accept_headers(const char *traceparent, const char *tracestate,
                                         const char *baggage, ctxvar_token *tok)
{
    int saved_errno = errno;
    struct ctxvar__thread *t = ctxvar__me();
    if (traceparent && (strnlen(traceparent, CTXVAR_VALUE_MAX + 1) > CTXVAR_VALUE_MAX ||
                        !ctxvar__traceparent_valid(traceparent))) {
        ctxvar__debug("ctxvar_accept_headers: not a valid traceparent");
        return EINVAL;
    }
    if (!traceparent) tracestate = NULL; /* W3C: no tracestate without its traceparent */
    if (tracestate && strnlen(tracestate, CTXVAR_VALUE_MAX + 1) > CTXVAR_VALUE_MAX) {
        ctxvar__debug("ctxvar_accept_headers: tracestate longer than %d bytes", CTXVAR_VALUE_MAX);
        return E2BIG;
    }
    if (tracestate && !ctxvar__tracestate_valid(tracestate)) {
        /* W3C: a tracestate that cannot be parsed is dropped; the
         * traceparent stands. */
        ctxvar__debug("ctxvar_accept_headers: not a valid tracestate; dropped");
        tracestate = NULL;
    }
    if (t->exited) return ESRCH;
    if (!ctxvar__busy_enter(t)) return EBUSY; /* a signal handler interrupted a change */

    /* The request's trace replaces the thread's; its members go on top of
     * what the thread holds. */
    ctxvar_ctx *base = ctxvar__current(t), *a = NULL, *b = NULL, *c = NULL, *next = NULL;
    size_t skipped = 0;
    int err = with_value(base, "traceparent", 11, traceparent, &a);
    if (!err) err = with_value(a, "tracestate", 10, tracestate, &b);
    if (!err) {
        if (baggage) err = ctxvar__baggage_decode(baggage, b, &c, &skipped);
        else c = ctxvar__ctx_retain(b);
    }
    if (!err) {
        next = c;
        c = NULL;
        err = ctxvar__install_with_token(t, next, tok, NULL);
    }
    ctxvar__ctx_release(a);
    ctxvar__ctx_release(b);
    ctxvar__ctx_release(c);
    if (err) ctxvar__debug("ctxvar_accept_headers: out of memory; the context is unchanged");
    else if (skipped) ctxvar__debug("ctxvar_accept_headers: %zu baggage members skipped", skipped);
    ctxvar__busy_leave(t);
    errno = saved_errno;
    return err;
}
