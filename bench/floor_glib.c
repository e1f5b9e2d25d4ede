/* floor_glib.c - the least a context carrier for GLib's pools and idle
 * callbacks can do, preloaded instead of the runtime by bench/run.py in
 * the GLib rows, as bench/floor.c is in the libuv ones.
 *
 * A context here is a pointer in initial-exec TLS, which nothing
 * reference-counts (bench/floor.h).  GLib
 * hands a pool job and an idle callback one pointer of the program's and
 * keeps nothing of ours, so each push or g_idle_add fills a record
 * {program's data, context} that GLib carries instead; the trampoline
 * makes the context current around the program's function.
 *
 * The records come from a ring of the pushing thread's, the next one each
 * time, never freed: no allocator at all.  (malloc on the pushing thread
 * and free on the pool's costs about 500 ns a job on the machine of
 * 2026-12-07, far more than the runtime, whose records go back to the
 * thread that made them.  Records of 16 bytes share cache lines; one
 * record to a line measured slower there, each job then moving a line of
 * its own.)  A carrier cannot allocate for less, and this one is correct
 * only while fewer than RING records of a thread are in use, as in
 * bench/glib.c, which waits for every batch of 100.  Nothing else either:
 * no check of who calls, no sort function, lookup by data, pool free or
 * switch to turn it off; only pools created after this library was
 * loaded. */
#include <stdlib.h>
#include <glib.h>

#include "floor.h"

enum { RING = 1024 };

/* ---- Pools: the pool's function and data, and one record per job ---- */

struct pool_function {
    GFunc func;
    gpointer user_data;
};

struct job_record {
    gpointer data;
    struct floor_context *context;
};

static FLOOR_TLS struct job_record job_ring[RING];
static FLOOR_TLS unsigned job_next;

static void job_trampoline(gpointer data, gpointer user_data)
{
    struct job_record *job = data;
    const struct pool_function *pf = user_data;
    struct floor_context *saved = current;
    current = job->context;
    pf->func(job->data, pf->user_data);
    current = saved;
}

GThreadPool *g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads,
                               gboolean exclusive, GError **error)
{
    NEXT(g_thread_pool_new);
    struct pool_function *pf = malloc(sizeof *pf); /* lives as long as the process */
    if (!pf) return next_g_thread_pool_new(func, user_data, max_threads, exclusive, error);
    pf->func = func;
    pf->user_data = user_data;
    return next_g_thread_pool_new(job_trampoline, pf, max_threads, exclusive, error);
}

gboolean g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error)
{
    NEXT(g_thread_pool_push);
    struct job_record *job = &job_ring[job_next++ % RING];
    job->data = data;
    job->context = floor_capture();
    return next_g_thread_pool_push(pool, job, error);
}

/* ---- Idle callbacks ---- */

struct idle_record {
    GSourceFunc function;
    gpointer data;
    struct floor_context *context;
};

static FLOOR_TLS struct idle_record idle_ring[RING];
static FLOOR_TLS unsigned idle_next;

static gboolean idle_trampoline(gpointer data)
{
    const struct idle_record *idle = data;
    struct floor_context *saved = current;
    current = idle->context;
    gboolean again = idle->function(idle->data);
    current = saved;
    return again;
}

/* Where a carrier gives its record back: GLib calls it when the source
 * is destroyed, which is also what a real one would need. */
static void idle_destroyed(gpointer data)
{
    struct idle_record *idle = data;
    idle->context = NULL;
}

guint g_idle_add(GSourceFunc function, gpointer data)
{
    NEXT(g_idle_add_full);
    struct idle_record *idle = &idle_ring[idle_next++ % RING];
    idle->function = function;
    idle->data = data;
    idle->context = floor_capture();
    return next_g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, idle_trampoline, idle, idle_destroyed);
}
