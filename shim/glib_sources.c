/* glib_sources.c - GLib idle and timeout callbacks, and functions handed to
 * g_main_context_invoke, run in the context of the call that scheduled
 * them, on whatever thread runs the main loop; the loop thread's own
 * context is back after each.
 *
 * Each public way to schedule one is interposed on its own: libglib calls
 * its own functions directly (g_idle_add reaches g_idle_add_full inside
 * libglib without passing us).  We capture the caller's context in a record
 * {function, data, destroy notify, context} and schedule, through GLib's
 * _full variant of the same call, a dispatcher of ours with the record as
 * its data and a destroy notify of ours, which GLib calls once whenever the
 * source goes: after its last run, when it is removed before it ran, when
 * its context is destroyed.  That notify calls the program's own with the
 * program's data, exactly once, and frees the record.  A source that
 * repeats (its function returns TRUE) runs each time in the context of the
 * call that scheduled it.  The _once variants become the _full ones with a
 * dispatcher that calls the program's function once and returns FALSE: the
 * same behaviour, and a destroy notify to free the record by.
 *
 * g_source_set_callback is interposed for idle and timeout sources only
 * (their callbacks take the data and return a gboolean; other source types
 * call theirs with other arguments): libgio completes a GTask in its
 * context's thread through one, so a task's callback sees the request too.
 *
 * The program's data stays findable: the remove-by-data and find-by-data
 * functions first ask GLib for the data itself (a source not scheduled
 * through us), then look up each of our records that carries it (an index
 * by data) by its source's id.  The dispatcher is what GLib shows as a source's callback to
 * code that reads GSource's public members.
 *
 * Out of memory for a record, the call goes to GLib unchanged: the
 * callback runs, without the caller's context.  Not interposed: GLib
 * versions' later variants (g_timeout_add_seconds_once is GLib 2.78), which
 * are not in the GLib this runtime is built for.
 */
#ifndef CTXVAR_STATIC_WRAP /* a static program links GLib itself */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "glib.h"

struct source {
    struct ctxvar__callback cb; /* fn: GSourceFunc or GSourceOnceFunc; arg: data */
    struct ctxvar__indexed by_data; /* key: the program's data */
    GDestroyNotify notify;
    int once;
    _Atomic guint id;  /* the source's, once known (0: not known) */
    GMainContext *context; /* the one that numbered it (GLib numbers each context's own) */
    atomic_int holds;  /* GLib's (until its destroy notify), and the scheduling call's */
};

static struct ctxvar__index by_data;

guint g_idle_add(GSourceFunc function, gpointer data);
guint g_idle_add_full(gint priority, GSourceFunc function, gpointer data, GDestroyNotify notify);
guint g_idle_add_once(GSourceOnceFunc function, gpointer data);
guint g_timeout_add(guint interval, GSourceFunc function, gpointer data);
guint g_timeout_add_full(gint priority, guint interval, GSourceFunc function, gpointer data,
                         GDestroyNotify notify);
guint g_timeout_add_once(guint interval, GSourceOnceFunc function, gpointer data);
guint g_timeout_add_seconds(guint interval, GSourceFunc function, gpointer data);
guint g_timeout_add_seconds_full(gint priority, guint interval, GSourceFunc function, gpointer data,
                                 GDestroyNotify notify);
void g_main_context_invoke(GMainContext *context, GSourceFunc function, gpointer data);
void g_main_context_invoke_full(GMainContext *context, gint priority, GSourceFunc function,
                                gpointer data, GDestroyNotify notify);
void g_source_set_callback(GSource *source, GSourceFunc func, gpointer data, GDestroyNotify notify);
gboolean g_source_remove_by_user_data(gpointer user_data);
gboolean g_source_remove_by_funcs_user_data(GSourceFuncs *funcs, gpointer user_data);
gboolean g_idle_remove_by_data(gpointer data);
GSource *g_main_context_find_source_by_user_data(GMainContext *context, gpointer user_data);
GSource *g_main_context_find_source_by_funcs_user_data(GMainContext *context, GSourceFuncs *funcs,
                                                       gpointer user_data);
gint g_source_get_priority(GSource *source);
guint g_source_get_id(GSource *source);
GMainContext *g_source_get_context(GSource *source);
GSource *g_main_context_find_source_by_id(GMainContext *context, guint source_id);
GMainContext *g_main_context_default(void);
void g_source_destroy(GSource *source);

#define REAL(name) CTXVAR__NEXT_IN(name, GLIB_SONAME)

/* ---- Records --------------------------------------------------------------- */

static void call_repeating(const struct ctxvar__callback *cb, void *again)
{
    *(gboolean *)again = ((GSourceFunc)cb->fn)(cb->arg);
}

static void call_once(const struct ctxvar__callback *cb, void *unused)
{
    (void)unused;
    ((GSourceOnceFunc)cb->fn)(cb->arg);
}

/* GLib keeps a reference on the callback while it runs, so the record
 * outlives a callback that removes its own source. */
static gboolean dispatch(gpointer record)
{
    const struct source *s = record;
    gboolean again = 0;
    ctxvar__callback_invoke(&s->cb, s->once ? call_once : call_repeating, &again);
    return again;
}

static void source_release(struct source *s)
{
    if (atomic_fetch_sub_explicit(&s->holds, 1, memory_order_acq_rel) == 1) ctxvar__callback_free(&s->cb);
}

static void destroy(gpointer record)
{
    struct source *s = record;
    GDestroyNotify notify = s->notify;
    gpointer data = s->cb.arg;
    ctxvar__index_remove(&by_data, &s->by_data);
    /* Released first: the program may take the notify as the sign that
     * GLib is done with everything of this source. */
    source_release(s);
    if (notify) notify(data);
}

/* A record for fn(data), or NULL: loops off, no function (GLib's own
 * check then reports it), out of memory.  `adding`: the caller holds it
 * too, to give it its source's id once GLib has returned it (the source
 * may have run and gone by then), then lets go with source_added. */
static struct source *source_new(void (*fn)(void), gpointer data, GDestroyNotify notify, int once,
                                 int adding, const char *what)
{
    if (!fn || !ctxvar__loops_enabled()) return NULL;
    struct source *s = ctxvar__callback_new(sizeof *s, fn, data, what);
    if (!s) return NULL;
    s->notify = notify;
    s->once = once;
    atomic_init(&s->id, 0);
    s->context = NULL;
    atomic_init(&s->holds, adding ? 2 : 1);
    ctxvar__index_add(&by_data, &s->by_data, data);
    return s;
}

/* The _add functions attach to the default context. */
static guint source_added(struct source *s, guint id)
{
    __typeof__(&g_main_context_default) default_context = REAL(g_main_context_default);
    s->context = default_context ? default_context() : NULL;
    if (s->context) atomic_store_explicit(&s->id, id, memory_order_release);
    source_release(s);
    return id;
}

#define FN(f) ((void (*)(void))(f))

/* ---- Scheduling -------------------------------------------------------------- */

CTXVAR__EXPORT guint g_idle_add_full(gint priority, GSourceFunc function, gpointer data,
                                     GDestroyNotify notify)
{
    __typeof__(&g_idle_add_full) real = REAL(g_idle_add_full);
    if (!real) return 0;
    struct source *s = source_new(FN(function), data, notify, 0, 1, "g_idle_add_full");
    return s ? source_added(s, real(priority, dispatch, s, destroy)) : real(priority, function, data, notify);
}

CTXVAR__EXPORT guint g_idle_add(GSourceFunc function, gpointer data)
{
    __typeof__(&g_idle_add_full) real = REAL(g_idle_add_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 0, 1, "g_idle_add") : NULL;
    if (s) return source_added(s, real(G_PRIORITY_DEFAULT_IDLE, dispatch, s, destroy));
    __typeof__(&g_idle_add) plain = REAL(g_idle_add);
    return plain ? plain(function, data) : 0;
}

CTXVAR__EXPORT guint g_idle_add_once(GSourceOnceFunc function, gpointer data)
{
    __typeof__(&g_idle_add_full) real = REAL(g_idle_add_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 1, 1, "g_idle_add_once") : NULL;
    if (s) return source_added(s, real(G_PRIORITY_DEFAULT_IDLE, dispatch, s, destroy));
    __typeof__(&g_idle_add_once) plain = REAL(g_idle_add_once);
    return plain ? plain(function, data) : 0;
}

CTXVAR__EXPORT guint g_timeout_add_full(gint priority, guint interval, GSourceFunc function,
                                        gpointer data, GDestroyNotify notify)
{
    __typeof__(&g_timeout_add_full) real = REAL(g_timeout_add_full);
    if (!real) return 0;
    struct source *s = source_new(FN(function), data, notify, 0, 1, "g_timeout_add_full");
    return s ? source_added(s, real(priority, interval, dispatch, s, destroy))
             : real(priority, interval, function, data, notify);
}

CTXVAR__EXPORT guint g_timeout_add(guint interval, GSourceFunc function, gpointer data)
{
    __typeof__(&g_timeout_add_full) real = REAL(g_timeout_add_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 0, 1, "g_timeout_add") : NULL;
    if (s) return source_added(s, real(G_PRIORITY_DEFAULT, interval, dispatch, s, destroy));
    __typeof__(&g_timeout_add) plain = REAL(g_timeout_add);
    return plain ? plain(interval, function, data) : 0;
}

CTXVAR__EXPORT guint g_timeout_add_once(guint interval, GSourceOnceFunc function, gpointer data)
{
    __typeof__(&g_timeout_add_full) real = REAL(g_timeout_add_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 1, 1, "g_timeout_add_once") : NULL;
    if (s) return source_added(s, real(G_PRIORITY_DEFAULT, interval, dispatch, s, destroy));
    __typeof__(&g_timeout_add_once) plain = REAL(g_timeout_add_once);
    return plain ? plain(interval, function, data) : 0;
}

CTXVAR__EXPORT guint g_timeout_add_seconds_full(gint priority, guint interval, GSourceFunc function,
                                                gpointer data, GDestroyNotify notify)
{
    __typeof__(&g_timeout_add_seconds_full) real = REAL(g_timeout_add_seconds_full);
    if (!real) return 0;
    struct source *s = source_new(FN(function), data, notify, 0, 1, "g_timeout_add_seconds_full");
    return s ? source_added(s, real(priority, interval, dispatch, s, destroy))
             : real(priority, interval, function, data, notify);
}

CTXVAR__EXPORT guint g_timeout_add_seconds(guint interval, GSourceFunc function, gpointer data)
{
    __typeof__(&g_timeout_add_seconds_full) real = REAL(g_timeout_add_seconds_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 0, 1, "g_timeout_add_seconds") : NULL;
    if (s) return source_added(s, real(G_PRIORITY_DEFAULT, interval, dispatch, s, destroy));
    __typeof__(&g_timeout_add_seconds) plain = REAL(g_timeout_add_seconds);
    return plain ? plain(interval, function, data) : 0;
}

/* GLib may call the function at once, on this thread, when it owns the
 * context: then it runs in the caller's context, which is the captured one,
 * in a frame of its own like any callback. */
CTXVAR__EXPORT void g_main_context_invoke_full(GMainContext *context, gint priority,
                                               GSourceFunc function, gpointer data,
                                               GDestroyNotify notify)
{
    __typeof__(&g_main_context_invoke_full) real = REAL(g_main_context_invoke_full);
    if (!real) return;
    struct source *s = source_new(FN(function), data, notify, 0, 0, "g_main_context_invoke_full");
    if (s) real(context, priority, dispatch, s, destroy);
    else real(context, priority, function, data, notify);
}

CTXVAR__EXPORT void g_main_context_invoke(GMainContext *context, GSourceFunc function, gpointer data)
{
    __typeof__(&g_main_context_invoke_full) real = REAL(g_main_context_invoke_full);
    struct source *s = real ? source_new(FN(function), data, NULL, 0, 0, "g_main_context_invoke") : NULL;
    if (s) {
        real(context, G_PRIORITY_DEFAULT, dispatch, s, destroy);
        return;
    }
    __typeof__(&g_main_context_invoke) plain = REAL(g_main_context_invoke);
    if (plain) plain(context, function, data);
}

/* The address of GLib's exported variable `name` (lib/runtime.h). */
static void *glib_variable(struct ctxvar__library_symbol *kept, const char *name)
{
    return ctxvar__library_variable(kept, name, GLIB_SONAME);
}

/* Idle and timeout sources (the _seconds ones share the timeout's
 * GSourceFuncs). */
static struct ctxvar__library_symbol idle_cache, timeout_cache;

static int idle_or_timeout(const GSource *source)
{
    if (!source || !source->source_funcs) return 0;
    const void *funcs = source->source_funcs;
    return funcs == glib_variable(&idle_cache, "g_idle_funcs") ||
           funcs == glib_variable(&timeout_cache, "g_timeout_funcs");
}

CTXVAR__EXPORT void g_source_set_callback(GSource *source, GSourceFunc func, gpointer data,
                                          GDestroyNotify notify)
{
    __typeof__(&g_source_set_callback) real = REAL(g_source_set_callback);
    if (!real) return;
    struct source *s = ctxvar__loops_enabled() && idle_or_timeout(source)
                           ? source_new(FN(func), data, notify, 0, 0, "g_source_set_callback")
                           : NULL;
    if (!s) {
        real(source, func, data, notify);
        return;
    }
    /* libgio completing a GTask (data) through an idle source of its own:
     * the task's callback runs in the task's context (shim/glib_task.c),
     * not the returning thread's. */
    ctxvar_ctx *task_context;
    if (ctxvar__glib_task_context(data, &task_context)) {
        /* Asked only now: a recorded task means libgio is loaded, and its
         * code known for good (asked earlier, before a late dlopen of
         * libgio, "not loaded" would be what is known). */
        if (ctxvar__glib_gio_callback(FN(func))) {
            ctxvar__context_release(s->cb.context);
            s->cb.context = task_context;
        } else {
            ctxvar__context_release(task_context);
        }
    }
    /* Its id, when it is attached already (GLib numbers a source when it
     * attaches it, and complains when asked the id of one it has not). */
    __typeof__(&g_source_get_context) context_of = REAL(g_source_get_context);
    __typeof__(&g_source_get_id) id_of = REAL(g_source_get_id);
    if (context_of && id_of && (s->context = context_of(source))) atomic_store(&s->id, id_of(source));
    real(source, dispatch, s, destroy);
}

/* ---- Finding a source by the program's data ------------------------------------
 *
 * GLib finds by data the first matching source of the context, walking its
 * sources by priority and, within one, in the order they were attached.
 * The program's data may be a source's own (not scheduled through us) or
 * in any number of our records: each is asked of GLib, and of the sources
 * found the one GLib would come to first wins, by priority, then by id
 * (GLib numbers sources in the order they are attached).  A source whose
 * priority was changed after it was attached goes to the end of its new
 * priority's sources in GLib's walk, which its id does not show: between
 * two such sources with the same data, the one found may differ.  The
 * remove functions are GLib's own composition: find, then destroy. */

struct found_record {
    gpointer record;
    guint id;
    const GMainContext *context;
};

struct records {
    struct found_record *found, space[16];
    size_t count, capacity, carried;
};

/* Under the index's bucket lock, which a fork handler takes too: nothing
 * but stores (no allocation, no call into GLib). */
static int collect(struct ctxvar__indexed *e, void *arg)
{
    struct records *r = arg;
    const struct source *s = (const struct source *)((char *)e - offsetof(struct source, by_data));
    if (r->count < r->capacity)
    {
        guint id = atomic_load_explicit(&s->id, memory_order_acquire); /* then its context */
        r->found[r->count++] = (struct found_record){(gpointer)s, id, id ? s->context : NULL};
    }
    r->carried++;
    return 0;
}

/* Our records that carry data, with their sources' ids where known;
 * records_done frees the list.  Counted first, then room made outside the
 * lock, then collected again. */
static size_t records_of(gpointer data, struct records *r)
{
    r->found = r->space;
    r->capacity = sizeof r->space / sizeof r->space[0];
    r->count = 0;
    if (!ctxvar__loops_enabled()) return 0;
    for (;;) {
        r->count = r->carried = 0;
        ctxvar__index_visit(&by_data, data, collect, r);
        if (r->carried <= r->capacity) return r->count;
        size_t capacity = r->carried + r->carried / 2;
        struct found_record *grown = ctxvar__alloc(capacity * sizeof *grown);
        if (!grown) {
            ctxvar__debug("GLib: out of memory finding sources by data; some not looked at");
            return r->count;
        }
        if (r->found != r->space) free(r->found);
        r->found = grown;
        r->capacity = capacity;
    }
}

static void records_done(struct records *r)
{
    if (r->found != r->space) free(r->found);
}

/* 1 when GLib's walk of a context comes to a before b. */
static int walked_before(GSource *a, GSource *b)
{
    __typeof__(&g_source_get_priority) priority = REAL(g_source_get_priority);
    __typeof__(&g_source_get_id) id = REAL(g_source_get_id);
    if (!priority || !id) return 0;
    gint pa = priority(a), pb = priority(b);
    return pa != pb ? pa < pb : id(a) < id(b);
}

/* The source GLib's find would return for data had the program's sources
 * been scheduled without us: funcs NULL for any kind of source.  A record
 * whose source's id is known is looked up by it (GLib's table of a
 * context's sources, which knows no destroyed one): each of GLib's finds
 * walks the context's sources, and one per record would make removing N
 * sources that share data cost N walks each.  A record still in the index
 * has its source's callback, so its id is its source's. */
static GSource *find_first(GMainContext *context, GSourceFuncs *funcs, gpointer data)
{
    __typeof__(&g_main_context_find_source_by_user_data) find = REAL(g_main_context_find_source_by_user_data);
    __typeof__(&g_main_context_find_source_by_funcs_user_data) find_funcs =
        REAL(g_main_context_find_source_by_funcs_user_data);
    __typeof__(&g_main_context_find_source_by_id) find_id = REAL(g_main_context_find_source_by_id);
    __typeof__(&g_main_context_default) default_context = REAL(g_main_context_default);
    if (!find || !find_funcs || !find_id || !default_context) return NULL;
    GSource *first = funcs ? find_funcs(context, funcs, data) : find(context, data);
    const GMainContext *searched = context ? context : default_context();
    struct records r;
    for (size_t i = 0, n = records_of(data, &r); i < n; i++) {
        GSource *found = NULL;
        if (r.found[i].id) {
            /* Numbered by another context: not in this one. */
            if (r.found[i].context != searched) continue;
            found = find_id(context, r.found[i].id);
            if (found && funcs && found->source_funcs != funcs) found = NULL;
        } else {
            gpointer record = r.found[i].record;
            found = funcs ? find_funcs(context, funcs, record) : find(context, record);
        }
        if (found && (!first || walked_before(found, first))) first = found;
    }
    records_done(&r);
    return first;
}

/* GLib's remove-by-data functions: the first source found goes. */
static gboolean remove_first(GSourceFuncs *funcs, gpointer data)
{
    __typeof__(&g_source_destroy) destroy_source = REAL(g_source_destroy);
    GSource *first = destroy_source ? find_first(NULL, funcs, data) : NULL;
    if (!first) return 0;
    destroy_source(first);
    return 1;
}

CTXVAR__EXPORT GSource *g_main_context_find_source_by_user_data(GMainContext *context, gpointer user_data)
{
    return find_first(context, NULL, user_data);
}

CTXVAR__EXPORT GSource *g_main_context_find_source_by_funcs_user_data(GMainContext *context,
                                                                      GSourceFuncs *funcs,
                                                                      gpointer user_data)
{
    /* GLib's own check of funcs reports a NULL one. */
    if (!funcs) {
        __typeof__(&g_main_context_find_source_by_funcs_user_data) real =
            REAL(g_main_context_find_source_by_funcs_user_data);
        return real ? real(context, funcs, user_data) : NULL;
    }
    return find_first(context, funcs, user_data);
}

CTXVAR__EXPORT gboolean g_source_remove_by_user_data(gpointer user_data)
{
    return remove_first(NULL, user_data);
}

CTXVAR__EXPORT gboolean g_source_remove_by_funcs_user_data(GSourceFuncs *funcs, gpointer user_data)
{
    if (!funcs) {
        __typeof__(&g_source_remove_by_funcs_user_data) real = REAL(g_source_remove_by_funcs_user_data);
        return real ? real(funcs, user_data) : 0;
    }
    return remove_first(funcs, user_data);
}

CTXVAR__EXPORT gboolean g_idle_remove_by_data(gpointer data)
{
    __typeof__(&g_idle_remove_by_data) real = REAL(g_idle_remove_by_data);
    GSourceFuncs *idle = glib_variable(&idle_cache, "g_idle_funcs");
    if (!real) return 0;
    /* GLib's is the idle sources' remove_by_funcs_user_data. */
    return idle ? remove_first(idle, data) : real(data);
}
#endif
