/* callback.c - one way for every interposer to carry a callback into the
 * context of the code that registered it.
 *
 * A library that calls the program back later, elsewhere (a timer thread, an
 * OpenMP worker, an event loop) loses the context the callback was
 * registered in.  An interposer of the registering call captures that
 * context in a callback record {fn, arg, context}, gives the library a
 * trampoline of its own with the record as the argument, and frees the
 * record on the library's own completion or free path.  The trampoline
 * runs the program's function through ctxvar__callback_invoke, which makes
 * the record's context current in a new frame and restores the thread's own
 * on every way out.
 *
 *   register:  r = ctxvar__callback_new(sizeof *r, fn, arg, "what");
 *              real_register(..., trampoline, r)   or, when r is NULL,
 *              real_register(..., fn, arg)         unchanged
 *   call:      trampoline(r) -> ctxvar__callback_invoke(&r->cb, call_it, io)
 *   done:      ctxvar__callback_free(&r->cb)
 *
 * A record may be larger than struct ctxvar__callback, which it starts
 * with: an interposer keeps its own fields after it.  Thread creation uses
 * its own start records (lib/handover.c), which also carry the thread's
 * release at exit.
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "runtime.h"

int ctxvar__callback_capture(struct ctxvar__callback *cb, void (*fn)(void), void *arg)
{
    if (!ctxvar__propagation_enabled()) return 0;
    cb->fn = fn;
    cb->arg = arg;
    cb->context = ctxvar__capture_for_child();
    return 1;
}

void *ctxvar__callback_new(size_t size, void (*fn)(void), void *arg, const char *what)
{
    if (!ctxvar__propagation_enabled()) return NULL;
    int saved_errno = errno;
    struct ctxvar__callback *cb = ctxvar__alloc(size);
    errno = saved_errno;
    if (!cb) {
        ctxvar__debug("%s: out of memory; the callback runs without context", what);
        return NULL;
    }
    ctxvar__callback_capture(cb, fn, arg);
    return cb;
}

void ctxvar__callback_release(struct ctxvar__callback *cb)
{
    ctxvar__ctx_release(cb->context);
    cb->context = NULL;
}

void ctxvar__callback_free(struct ctxvar__callback *cb)
{
    if (!cb) return;
    int saved_errno = errno;
    ctxvar__callback_release(cb);
    free(cb);
    errno = saved_errno;
}

struct invocation {
    const struct ctxvar__callback *cb;
    void (*call)(const struct ctxvar__callback *, void *);
    void *io;
};

static void invoke(void *p)
{
    const struct invocation *i = p;
    i->call(i->cb, i->io);
}

void ctxvar__callback_invoke(const struct ctxvar__callback *cb,
                             void (*call)(const struct ctxvar__callback *cb, void *io), void *io)
{
    struct invocation i = {cb, call, io};
    ctxvar__run_in(cb->context, invoke, &i);
}
