/* glib_pool.c - GLib's GThreadPool runs each job in the context of the code
 * that pushed it, and so does GTask's g_task_run_in_thread(_sync), whose
 * pool libgio creates and pushes to through the same functions.
 *
 * GLib gives a pool one function for all its jobs and keeps its threads,
 * shared between pools, for as long as it likes: a worker shows whichever
 * request made the pool grow, for good.  A pool created through us is
 * created with a trampoline of ours as its function and a free function of
 * ours for the items it drops; each pushed item becomes a job record
 * {the pool's function, the program's data, the pusher's context}.  The
 * trampoline runs the job as a pool task: in the pusher's context, with the
 * stale-context rule on the worker, then the worker's own context again.
 *
 * What the program can see stays the program's:
 *   - pool->user_data is the program's, and reaches its function unchanged;
 *     pool->func, a public read-only member, shows our trampoline, which
 *     the program may call with its own data: its function runs (that of
 *     the first pool found with the same user data, when several share
 *     one: the trampoline is given nothing else to tell pools apart);
 *   - a sort function gets the program's data (compare_jobs unwraps both);
 *   - g_thread_pool_move_to_front(pool, data), which GTask calls when a
 *     queued task is cancelled, finds the job by the program's data;
 *   - the program's item-free function (g_thread_pool_new_full) is called
 *     with its data, once, for each item the pool drops unprocessed
 *     (g_thread_pool_free with immediate), and the record is freed with it.
 *
 * Lifetimes.  A pool's record {function, item-free function, comparators}
 * is found by the pool's address (an index, lib/callback.c) from push, and freed in
 * g_thread_pool_free, after which the program may not push or sort; the
 * jobs already queued carry what they need.  A queued job is linked into
 * `pending` (for move_to_front) until it runs or GLib drops it.  Out of memory for a job's record, the job still runs, with no
 * context (a record from malloc itself): every item of such a pool must be
 * a record.  Not covered: a pool created before the runtime was loaded or
 * by libglib itself (it has the program's function; we pass its jobs on
 * unchanged), and a job GLib pops from the queue of a pool freed with
 * immediate=TRUE in the same instant (GLib drops it without the item-free
 * function: its record is lost with it).
 */
#ifndef CTXVAR_STATIC_WRAP /* a static program links GLib itself */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "glib.h"
#include "keyed.h"

struct sort {
    GCompareDataFunc func;
    gpointer data;
};

struct pool {
    struct ctxvar__indexed by_pool; /* key: the GThreadPool */
    GFunc func;
    gpointer user_data;
    GDestroyNotify item_free;
    /* Serialises our g_thread_pool_set_sort_function calls on the pool, so
     * that each knows which comparator record GLib held before it.  Taken
     * just outside GLib's own lock of the pool's queue, which GLib holds
     * while it sorts with the program's comparator: it orders against the
     * program's locks as GLib's does, and never against another pool's. */
    pthread_mutex_t sort_lock;
    struct sort *sort; /* the comparator GLib holds, under sort_lock */
};

struct job {
    struct ctxvar__callback cb;   /* fn: the pool's function; arg: the data */
    struct ctxvar__indexed pending; /* key: the job itself, while queued */
    const GThreadPool *pool;
    GDestroyNotify item_free;
};

/* Jobs are keyed by their own address, not their pool's: the pusher links
 * and the worker unlinks, and one bucket per pool would have both threads
 * fight over its lock for every job. */
static struct ctxvar__index pools, pending;

/* Each thread remembers the last pool it found, valid while no pool of
 * ours has been freed since (a new pool may then have the old address). */
static _Atomic unsigned long pools_freed;
static __thread const GThreadPool *last_pool;
static __thread struct pool *last_record;
static __thread unsigned long last_freed;

GThreadPool *g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads, gboolean exclusive,
                               GError **error);
GThreadPool *g_thread_pool_new_full(GFunc func, gpointer user_data, GDestroyNotify item_free,
                                    gint max_threads, gboolean exclusive, GError **error);
gboolean g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error);
void g_thread_pool_set_sort_function(GThreadPool *pool, GCompareDataFunc func, gpointer user_data);
gboolean g_thread_pool_move_to_front(GThreadPool *pool, gpointer data);
void g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait_);

/* ---- Jobs ------------------------------------------------------------------ */

static void call_job(const struct ctxvar__callback *cb, void *user_data)
{
    ((GFunc)cb->fn)(cb->arg, user_data);
}

static int take_pending(struct ctxvar__indexed *e, void *unused)
{
    (void)unused;
    ctxvar__index_unlink_locked(e);
    return 1;
}

static int pool_of_user_data(struct ctxvar__indexed *e, void *arg)
{
    void **io = arg; /* in: the user data; out: the program's function */
    const struct pool *p = (const struct pool *)((char *)e - offsetof(struct pool, by_pool));
    if (p->user_data != io[0]) return 0;
    io[1] = *(void **)(void *)&p->func;
    return 1;
}

/* The pool's function, in a GLib worker; or called by the program itself
 * through pool->func, which shows it, with data of its own.  A job of ours
 * is found in `pending` by its address, which reads nothing of the item:
 * anything else is the program's, and goes to the function of its pool,
 * found by the user data GLib passes (the first such pool: one function
 * per user data is what such a program has), in the caller's context. */
static void run_job(gpointer item, gpointer user_data)
{
    if (!ctxvar__index_visit(&pending, item, take_pending, NULL)) {
        void *io[2] = {user_data, NULL};
        ctxvar__index_visit_all(&pools, pool_of_user_data, io);
        GFunc func = NULL;
        memcpy(&func, &io[1], sizeof func);
        if (func) func(item, user_data);
        else ctxvar__debug("g_thread_pool: its function called with no job of ours; the call is lost");
        return;
    }
    struct job *job = item;
    ctxvar__callback_invoke_task_owned(&job->cb, call_job, user_data);
    ctxvar__callback_free(&job->cb);
}

/* The pool's item-free function: an item the pool dropped unprocessed. */
static void drop_job(gpointer item)
{
    if (GLIB_NOT_A_RECORD(item)) return;
    struct job *job = item;
    GDestroyNotify item_free = job->item_free;
    gpointer data = job->cb.arg;
    ctxvar__index_remove(&pending, &job->pending);
    /* Freed first: the program may take its item-free call as the sign
     * that the pool is done with everything. */
    ctxvar__callback_free(&job->cb);
    if (item_free) item_free(data);
}

static gconstpointer program_data(gconstpointer item)
{
    return GLIB_NOT_A_RECORD(item) ? item : ((const struct job *)item)->cb.arg;
}

static gint compare_jobs(gconstpointer a, gconstpointer b, gpointer sort)
{
    const struct sort *s = sort;
    return s->func(program_data(a), program_data(b), s->data);
}

/* A job's record; one with no context when that cannot be had.  GLib ends
 * the process when an allocation of its own fails, as the real push would
 * a moment later: only then do we ask GLib's allocator, which does the same. */
static struct job *job_new(const struct pool *p, gpointer data)
{
    struct job *job = ctxvar__callback_new(sizeof *job, (void (*)(void))p->func, data,
                                           "g_thread_pool_push");
    if (!job) job = ctxvar__callback_new_empty(sizeof *job, (void (*)(void))p->func, data);
    if (!job) {
        static struct ctxvar__library_symbol g_malloc_cache;
        gpointer (*g_malloc_)(size_t) =
            (gpointer(*)(size_t))ctxvar__next_symbol_in(&g_malloc_cache, "g_malloc", NULL, GLIB_SONAME);
        job = g_malloc_ ? g_malloc_(sizeof *job) : NULL;
        if (!job) return NULL;
        job->cb = (struct ctxvar__callback){.fn = (void (*)(void))p->func, .arg = data}; /* home 0: malloc memory */
    }
    job->item_free = p->item_free;
    job->pool = NULL;
    return job;
}

/* ---- Pools ----------------------------------------------------------------- */

static int found_pool(struct ctxvar__indexed *e, void *out)
{
    *(struct pool **)out = (struct pool *)((char *)e - offsetof(struct pool, by_pool));
    return 1;
}

/* The record of a pool created through us, or NULL.  The program keeps the
 * pool alive while it pushes to it. */
static struct pool *find_pool(const GThreadPool *pool)
{
    unsigned long freed = atomic_load_explicit(&pools_freed, memory_order_acquire);
    if (pool && pool == last_pool && freed == last_freed) return last_record;
    struct pool *p = NULL;
    if (pool && ctxvar__loops_enabled()) ctxvar__index_visit(&pools, pool, found_pool, &p);
    if (p) {
        last_pool = pool;
        last_record = p;
        last_freed = freed;
    }
    return p;
}

static GThreadPool *create(GFunc func, gpointer user_data, GDestroyNotify item_free,
                           gint max_threads, gboolean exclusive, GError **error, int full)
{
    __typeof__(&g_thread_pool_new_full) real_full = CTXVAR__NEXT_IN(g_thread_pool_new_full, GLIB_SONAME);
    struct pool *p = NULL;
    if (func && real_full && ctxvar__loops_enabled()) {
        p = ctxvar__alloc(sizeof *p);
        if (!p) ctxvar__debug("g_thread_pool_new: out of memory; its jobs run without context");
    }
    if (!p) {
        if (full) return real_full ? real_full(func, user_data, item_free, max_threads, exclusive, error) : NULL;
        __typeof__(&g_thread_pool_new) real = CTXVAR__NEXT_IN(g_thread_pool_new, GLIB_SONAME);
        return real ? real(func, user_data, max_threads, exclusive, error) : NULL;
    }
    p->func = func;
    p->user_data = user_data;
    p->item_free = item_free;
    pthread_mutex_init(&p->sort_lock, NULL);
    p->sort = NULL;
    GThreadPool *pool = real_full(run_job, user_data, drop_job, max_threads, exclusive, error);
    if (pool) {
        ctxvar__index_add(&pools, &p->by_pool, pool);
    } else {
        pthread_mutex_destroy(&p->sort_lock);
        free(p);
    }
    return pool;
}

CTXVAR__EXPORT GThreadPool *g_thread_pool_new(GFunc func, gpointer user_data, gint max_threads,
                                              gboolean exclusive, GError **error)
{
    return create(func, user_data, NULL, max_threads, exclusive, error, 0);
}

CTXVAR__EXPORT GThreadPool *g_thread_pool_new_full(GFunc func, gpointer user_data,
                                                   GDestroyNotify item_free, gint max_threads,
                                                   gboolean exclusive, GError **error)
{
    return create(func, user_data, item_free, max_threads, exclusive, error, 1);
}

CTXVAR__EXPORT gboolean g_thread_pool_push(GThreadPool *pool, gpointer data, GError **error)
{
    __typeof__(&g_thread_pool_push) real = CTXVAR__NEXT_IN(g_thread_pool_push, GLIB_SONAME);
    if (!real) return 0;
    /* NULL data: GLib refuses it with a warning and queues nothing. */
    struct pool *p = data ? find_pool(pool) : NULL;
    if (!p) return real(pool, data, error);
    struct job *job = job_new(p, data);
    if (!job) return real(pool, data, error); /* unreachable: GLib has ended the process */
    job->pool = pool;
    ctxvar__index_add(&pending, &job->pending, job);
    return real(pool, job, error);
}

CTXVAR__EXPORT void g_thread_pool_set_sort_function(GThreadPool *pool, GCompareDataFunc func,
                                                    gpointer user_data)
{
    __typeof__(&g_thread_pool_set_sort_function) real =
        CTXVAR__NEXT_IN(g_thread_pool_set_sort_function, GLIB_SONAME);
    if (!real) return;
    struct pool *p = find_pool(pool);
    if (!p) {
        real(pool, func, user_data);
        return;
    }
    /* A new record each time: a push on another thread may be comparing
     * with the previous one right now, under GLib's queue lock.  GLib takes
     * that lock to install the new one, so once it has returned no thread
     * compares with the previous one, which goes then. */
    struct sort *s = NULL;
    if (func) {
        s = ctxvar__alloc(sizeof *s);
        if (!s) s = malloc(sizeof *s);
        if (!s) {
            ctxvar__debug("g_thread_pool_set_sort_function: out of memory; the pool stays unsorted");
            return;
        }
        s->func = func;
        s->data = user_data;
    }
    pthread_mutex_lock(&p->sort_lock);
    if (s) real(pool, compare_jobs, s);
    else real(pool, NULL, user_data);
    struct sort *previous = p->sort;
    p->sort = s;
    pthread_mutex_unlock(&p->sort_lock);
    free(previous);
}

struct match {
    const GThreadPool *pool;
    gconstpointer data;
    gpointer jobs[16];
    int count;
};

static int match_job(struct ctxvar__indexed *e, void *arg)
{
    struct match *m = arg;
    struct job *job = (struct job *)((char *)e - offsetof(struct job, pending));
    if (job->pool == m->pool && job->cb.arg == m->data) m->jobs[m->count++] = job;
    return m->count == (int)(sizeof m->jobs / sizeof m->jobs[0]);
}

CTXVAR__EXPORT gboolean g_thread_pool_move_to_front(GThreadPool *pool, gpointer data)
{
    __typeof__(&g_thread_pool_move_to_front) real = CTXVAR__NEXT_IN(g_thread_pool_move_to_front, GLIB_SONAME);
    if (!real) return 0;
    if (!find_pool(pool)) return real(pool, data);
    /* GLib looks the item up by address and never reads it: a job that
     * started running since we saw it is simply not found. */
    struct match m = {pool, data, {0}, 0};
    ctxvar__index_visit_all(&pending, match_job, &m);
    for (int i = 0; i < m.count; i++)
        if (real(pool, m.jobs[i])) return 1;
    return 0;
}

static int take_pool(struct ctxvar__indexed *e, void *out)
{
    ctxvar__index_unlink_locked(e);
    return found_pool(e, out);
}

CTXVAR__EXPORT void g_thread_pool_free(GThreadPool *pool, gboolean immediate, gboolean wait_)
{
    __typeof__(&g_thread_pool_free) real = CTXVAR__NEXT_IN(g_thread_pool_free, GLIB_SONAME);
    struct pool *p = NULL;
    if (pool && ctxvar__loops_enabled()) ctxvar__index_visit(&pools, pool, take_pool, &p);
    if (p) atomic_fetch_add_explicit(&pools_freed, 1, memory_order_release);
    if (real) real(pool, immediate, wait_);
    if (!p) return;
    free(p->sort);
    pthread_mutex_destroy(&p->sort_lock);
    free(p);
}

/* ---- GLib's own threads ------------------------------------------------------------
 *
 * GLib starts threads of its own inside whichever call first needs them:
 * its worker ("gmain", which watches unix signals for every main context
 * and runs GIO's file monitors), GDBus's ("gdbus", where a connection's
 * filter functions run), the pool spawner and the pool threads.  Created
 * in a request, each would keep that request's context for good, and show
 * it in everything it runs.
 *
 * Every GLib thread, the program's too, starts in a proxy of GLib's that
 * libglib does not export, with the thread's GThread as argument, whose
 * first member (public) is the function the thread runs, set before the
 * thread is created (GLib 2.56 and 2.58 set it after: there GLib's own
 * threads inherit, as before).  A start routine in libglib that libglib
 * does not export is that proxy: a program names exported functions
 * (pthread_create(g_usleep, 1000) passes no GThread).  The thread is
 * GLib's own when its function is GLib's or GIO's and not exported:
 * GLib's workers are static functions, while a program's
 * g_thread_new(name, g_main_loop_run, loop) names an exported one and
 * inherits like any thread of the program's.  The loader is asked at each
 * thread start, without a lock (lib/keyed.c); where it cannot answer so
 * (glibc before 2.35), every thread inherits, as before.  CTXVAR_LOOPS=0
 * keeps the plain behaviour too. */
int ctxvar__glib_own_thread(void (*start)(void), void *arg)
{
    static const char *const glib[] = {"libglib", NULL}, *const glib_gio[] = {"libglib", "libgio",
                                                                               NULL};
    if (!arg || !ctxvar__loops_enabled() ||
        !ctxvar__code_unexported_in((const void *)(uintptr_t)start, glib))
        return 0;
    void (*func)(void);
    memcpy(&func, arg, sizeof func); /* GThread's func */
    return ctxvar__code_unexported_in((const void *)(uintptr_t)func, glib_gio);
}
#endif
