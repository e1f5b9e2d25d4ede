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
 * Work a library's thread pool runs goes through
 * ctxvar__callback_invoke_task_owned instead, so that the stale-context
 * rule applies to that pool's workers as to any other (a libuv job, whose
 * record outlives it, through ctxvar__callback_run_task_lent).  A record
 * taken out of its place before the call (a one-shot request's) hands its
 * context reference to the frame, ctxvar__callback_invoke_owned, instead
 * of a take and a release around the call; a callback of one pointer
 * argument (a libuv handle's) is called straight from the frame,
 * ctxvar__callback_run.
 * All of them live with the frames they enter, in lib/frames.c.
 *
 * Records an interposer must find again later by an address (the pool a
 * job was pushed to, the program's data that a remove-by-data call names, a
 * request) are linked into an index, the second half of this file.
 * A record may be larger than struct ctxvar__callback, which it starts
 * with: an interposer keeps its own fields after it.  Thread creation uses
 * its own start records (lib/handover.c), which also carry the thread's
 * release at exit.
 */
#include <errno.h>
#include <stdint.h>
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
    unsigned home;
    struct ctxvar__callback *cb = ctxvar__record_memory_get(size, &home);
    errno = saved_errno;
    if (!cb) {
        ctxvar__debug("%s: out of memory; the callback runs without context", what);
        return NULL;
    }
    ctxvar__callback_capture(cb, fn, arg);
    cb->home = home;
    cb->size = (unsigned)size;
    return cb;
}

void *ctxvar__callback_new_empty(size_t size, void (*fn)(void), void *arg)
{
    int saved_errno = errno;
    struct ctxvar__callback *cb = malloc(size);
    errno = saved_errno;
    if (!cb) return NULL;
    cb->fn = fn;
    cb->arg = arg;
    cb->context = NULL;
    cb->home = 0; /* plain malloc memory */
    return cb;
}

void ctxvar__callback_release(struct ctxvar__callback *cb)
{
    ctxvar__context_release(cb->context);
    cb->context = NULL;
}

void ctxvar__callback_free(struct ctxvar__callback *cb)
{
    if (!cb) return;
    int saved_errno = errno;
    ctxvar__callback_release(cb);
    ctxvar__record_memory_put(cb, cb->size, cb->home);
    errno = saved_errno;
}

/* ---- Indexes -----------------------------------------------------------------
 *
 * A bucket's mutex is held only to link, unlink or walk that bucket, never
 * across a call into a library or the program (a visit function is ours).
 * A fork while another thread holds one would leave the child's bucket
 * locked for good: every table registers itself, on its first use, with a
 * pthread_atfork handler that takes all buckets of all tables before the
 * fork and releases them after, on both sides. */

#define MAX_TABLES 16

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctxvar__index *tables[MAX_TABLES];
static int table_count;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_all(void)
{
    pthread_mutex_lock(&tables_lock);
    for (int i = 0; i < table_count; i++)
        for (int b = 0; b < CTXVAR__INDEX_BUCKETS; b++) pthread_mutex_lock(&tables[i]->lock[b]);
}

static void unlock_all(void)
{
    for (int i = table_count; i-- > 0;)
        for (int b = CTXVAR__INDEX_BUCKETS; b-- > 0;) pthread_mutex_unlock(&tables[i]->lock[b]);
    pthread_mutex_unlock(&tables_lock);
}

static void register_atfork(void) { pthread_atfork(lock_all, unlock_all, unlock_all); }

/* A table is all zeros until its first use, which is glibc's
 * PTHREAD_MUTEX_INITIALIZER for each bucket; only the fork handler needs to
 * know it. */
static void table_ready(struct ctxvar__index *t)
{
    if (__builtin_expect(atomic_load_explicit(&t->ready, memory_order_acquire), 1)) return;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&tables_lock);
    if (!atomic_load_explicit(&t->ready, memory_order_relaxed)) {
        if (table_count < MAX_TABLES) tables[table_count++] = t;
        else ctxvar__debug("more than %d indexes: a fork may find one locked", MAX_TABLES);
        atomic_store_explicit(&t->ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&tables_lock);
}

static unsigned bucket_of(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    return (unsigned)(h >> 58) % CTXVAR__INDEX_BUCKETS;
}

void ctxvar__index_add(struct ctxvar__index *t, struct ctxvar__indexed *e, const void *key)
{
    table_ready(t);
    unsigned b = bucket_of(key);
    e->key = key;
    pthread_mutex_lock(&t->lock[b]);
    e->next = t->head[b];
    if (e->next) e->next->pprev = &e->next;
    e->pprev = &t->head[b];
    t->head[b] = e;
    pthread_mutex_unlock(&t->lock[b]);
}

void ctxvar__index_unlink_locked(struct ctxvar__indexed *e)
{
    if (!e->pprev) return;
    *e->pprev = e->next;
    if (e->next) e->next->pprev = e->pprev;
    e->next = NULL;
    e->pprev = NULL;
}

int ctxvar__index_remove(struct ctxvar__index *t, struct ctxvar__indexed *e)
{
    table_ready(t);
    unsigned b = bucket_of(e->key);
    pthread_mutex_lock(&t->lock[b]);
    int linked = e->pprev != NULL;
    ctxvar__index_unlink_locked(e);
    pthread_mutex_unlock(&t->lock[b]);
    return linked;
}

int ctxvar__index_visit(struct ctxvar__index *t, const void *key,
                        int (*visit)(struct ctxvar__indexed *e, void *arg), void *arg)
{
    table_ready(t);
    unsigned b = bucket_of(key);
    int r = 0;
    pthread_mutex_lock(&t->lock[b]);
    for (struct ctxvar__indexed *e = t->head[b], *next; e && !r; e = next) {
        next = e->next;
        if (e->key == key) r = visit(e, arg);
    }
    pthread_mutex_unlock(&t->lock[b]);
    return r;
}

int ctxvar__index_visit_all(struct ctxvar__index *t,
                            int (*visit)(struct ctxvar__indexed *e, void *arg), void *arg)
{
    table_ready(t);
    int r = 0;
    for (unsigned b = 0; b < CTXVAR__INDEX_BUCKETS && !r; b++) {
        pthread_mutex_lock(&t->lock[b]);
        for (struct ctxvar__indexed *e = t->head[b], *next; e && !r; e = next) {
            next = e->next;
            r = visit(e, arg);
        }
        pthread_mutex_unlock(&t->lock[b]);
    }
    return r;
}
