/* context_ctxvar.c - the request's ids as context variables.
 *
 * Set once at the request's entry, they follow the work into every thread
 * started from there on (helpers, and their helpers) when the runtime is in
 * the process: run the server under `ctxrun` or with LD_PRELOAD.  Without
 * the runtime ctxvar_set returns ENOSYS and ctxvar_format writes "": the log
 * lines carry no ids, but never wrong ones.
 */
#include "ctxvar.h"
#include "server.h"

void request_begin(const char *request_id, const char *user_id)
{
    /* Each set replaces this thread's context only: the other requests,
     * running at the same moment, keep theirs. */
    ctxvar_set(ctxvar_named("request_id"), request_id, NULL);
    ctxvar_set(ctxvar_named("user_id"), user_id, NULL);
}

void request_ids(char *buf, size_t size)
{
    ctxvar_format(buf, size); /* "request_id=r1 user_id=alice" */
}
