/* glib_task.c - a GTask's callback runs in the context of the g_task_new
 * call that created it, whichever thread returns the task.
 *
 * GLib calls a task's callback in one of two ways: at once, inside
 * g_task_return_*, when that is called from a source dispatched on the
 * task's main context in a later iteration than the one that created it;
 * otherwise from an idle source it attaches to the task's context, whose
 * callback is libgio's own and whose data is the task (it reaches
 * g_source_set_callback, shim/glib_sources.c).  The returning thread's
 * context is the wrong one for both: a long-lived helper thread, started
 * while some request was current, returns the tasks of many, and a socket
 * or fd source's dispatch runs in the loop thread's own context.
 *
 * So g_task_new records the caller's context against the task, in an index
 * keyed by the task; a weak reference on the task drops the entry when the
 * task is finalized, on whatever thread lets it go.  The program's
 * g_task_return_* calls then run in the task's context, in a frame of
 * their own (so the callback GLib may call from inside them runs there,
 * and the caller's context is back after), and the idle source libgio
 * attaches to complete a recorded task takes the task's context instead
 * of the returning thread's.
 *
 * Not recorded: a task with no callback (nothing to carry), and the tasks
 * libgio creates inside its own asynchronous operations (g_file_read_async
 * and the like), since libgio calls its own functions directly, without
 * passing us; those run their work on GLib's thread pool, whose jobs carry
 * the caller's context (shim/glib_pool.c), and complete from there.  The
 * return functions of later GLib versions (g_task_return_prefixed_error,
 * g_task_return_new_error_literal, GLib 2.80) are not interposed: a task
 * returned with them still completes in its own context when GLib goes
 * through the idle source, not when it calls back at once.
 *
 * Nothing GLib or the program can see changes: the task holds the
 * program's callback and data.  Out of memory, or without GObject's weak
 * references, the task is not recorded and completes as it would without
 * the runtime. */
#ifndef CTXVAR_STATIC_WRAP /* a static program links GLib itself */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include "glib.h"
#include "keyed.h"

#define GIO_SONAME "libgio-2.0.so.0"
#define GOBJECT_SONAME "libgobject-2.0.so.0"

typedef struct GTask GTask;
typedef struct GCancellable GCancellable;
typedef struct GObject GObject;
typedef struct GValue GValue;
typedef unsigned int GQuark;
typedef long gssize;
typedef void (*GAsyncReadyCallback)(GObject *source_object, void *result, gpointer data);
typedef void (*GWeakNotify)(gpointer data, GObject *where_the_object_was);

GTask *g_task_new(gpointer source_object, GCancellable *cancellable, GAsyncReadyCallback callback,
                  gpointer callback_data);
void g_task_return_pointer(GTask *task, gpointer result, GDestroyNotify result_destroy);
void g_task_return_int(GTask *task, gssize result);
void g_task_return_boolean(GTask *task, gboolean result);
void g_task_return_error(GTask *task, GError *error);
void g_task_return_new_error(GTask *task, GQuark domain, gint code, const char *format, ...);
gboolean g_task_return_error_if_cancelled(GTask *task);
void g_task_return_value(GTask *task, GValue *result);
void g_object_weak_ref(GObject *object, GWeakNotify notify, gpointer data);
GError *g_error_new_valist(GQuark domain, gint code, const char *format, va_list args);

#define GIO(name) CTXVAR__NEXT_IN(name, GIO_SONAME)

/* A task's entry: the caller's context at g_task_new, in cb.context. */
struct task {
    struct ctxvar__callback cb; /* fn, arg: the program's callback and data (for debugging) */
    struct ctxvar__indexed by_task; /* key: the GTask */
};

static struct ctxvar__index tasks;

/* GObject's weak reference notify: the task is being finalized. */
static void task_gone(gpointer record, GObject *where_the_object_was)
{
    (void)where_the_object_was;
    struct task *t = record;
    if (ctxvar__index_remove(&tasks, &t->by_task)) ctxvar__callback_free(&t->cb);
}

static void record_task(GTask *task, GAsyncReadyCallback callback, gpointer callback_data)
{
    /* errno as g_task_new left it, whatever recording it takes (a failed
     * allocation sets it). */
    int saved_errno = errno;
    __typeof__(&g_object_weak_ref) weak_ref = CTXVAR__NEXT_IN(g_object_weak_ref, GOBJECT_SONAME);
    struct task *t = weak_ref ? ctxvar__callback_new(sizeof *t, (void (*)(void))callback,
                                                     callback_data, "g_task_new")
                              : NULL;
    if (t) {
        ctxvar__index_add(&tasks, &t->by_task, task);
        weak_ref((GObject *)task, task_gone, t);
    }
    errno = saved_errno;
}

CTXVAR__EXPORT GTask *g_task_new(gpointer source_object, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer callback_data)
{
    __typeof__(&g_task_new) real = GIO(g_task_new);
    if (!real) return NULL;
    GTask *task = real(source_object, cancellable, callback, callback_data);
    if (task && callback && ctxvar__loops_enabled()) record_task(task, callback, callback_data);
    return task;
}

struct found {
    int found;
    ctxvar_ctx *context;
};

static int take_context(struct ctxvar__indexed *e, void *arg)
{
    struct found *f = arg;
    const struct task *t = (const struct task *)((char *)e - offsetof(struct task, by_task));
    f->found = 1;
    f->context = t->cb.context ? ctxvar__ctx_retain(t->cb.context) : NULL;
    return 1;
}

int ctxvar__glib_task_context(const void *task, ctxvar_ctx **context)
{
    struct found f = {0, NULL};
    /* The index is empty until a task is recorded: no lock to take. */
    if (!task || !atomic_load_explicit(&tasks.ready, memory_order_acquire)) return 0;
    ctxvar__index_visit(&tasks, task, take_context, &f);
    *context = f.context;
    return f.found;
}

/* libgio's own code, to tell the idle source that completes a task from
 * one the program attaches with g_task_attach_source. */
static struct ctxvar__code_ranges gio_code = {.name = "libgio"};

int ctxvar__glib_gio_callback(void (*fn)(void))
{
    /* One question: while another thread is finding libgio's code, this
     * one looks for itself; asking first whether the code is present and
     * then whether it holds fn could find it still unknown the second
     * time, and the task's completion would run in the wrong context. */
    return ctxvar__code_holds(&gio_code, fn);
}

/* ---- Returns ------------------------------------------------------------------- */

/* call(arg) in the task's context when the task is recorded, else as it
 * stands. */
static void in_task_context(GTask *task, void (*call)(void *), void *arg)
{
    ctxvar_ctx *context;
    if (!ctxvar__loops_enabled() || !ctxvar__glib_task_context(task, &context)) {
        call(arg);
        return;
    }
    ctxvar__run_in(context, call, arg);
    ctxvar__context_release(context);
}

struct task_return {
    GTask *task;
    union {
        struct {
            gpointer result;
            GDestroyNotify destroy;
        } pointer;
        gssize integer;
        gboolean boolean;
        GError *error;
        GValue *value;
    } u;
    gboolean cancelled; /* g_task_return_error_if_cancelled's result */
};

static void return_pointer(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_pointer) real = GIO(g_task_return_pointer);
    if (real) real(r->task, r->u.pointer.result, r->u.pointer.destroy);
}

CTXVAR__EXPORT void g_task_return_pointer(GTask *task, gpointer result, GDestroyNotify result_destroy)
{
    struct task_return r = {.task = task, .u.pointer = {result, result_destroy}};
    in_task_context(task, return_pointer, &r);
}

static void return_int(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_int) real = GIO(g_task_return_int);
    if (real) real(r->task, r->u.integer);
}

CTXVAR__EXPORT void g_task_return_int(GTask *task, gssize result)
{
    struct task_return r = {.task = task, .u.integer = result};
    in_task_context(task, return_int, &r);
}

static void return_boolean(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_boolean) real = GIO(g_task_return_boolean);
    if (real) real(r->task, r->u.boolean);
}

CTXVAR__EXPORT void g_task_return_boolean(GTask *task, gboolean result)
{
    struct task_return r = {.task = task, .u.boolean = result};
    in_task_context(task, return_boolean, &r);
}

static void return_error(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_error) real = GIO(g_task_return_error);
    if (real) real(r->task, r->u.error);
}

CTXVAR__EXPORT void g_task_return_error(GTask *task, GError *error)
{
    struct task_return r = {.task = task, .u.error = error};
    in_task_context(task, return_error, &r);
}

/* What GLib's own g_task_return_new_error does: the error built from the
 * format, then returned as g_task_return_error returns it.  (A variadic
 * function cannot pass its arguments on to another.) */
CTXVAR__EXPORT void g_task_return_new_error(GTask *task, GQuark domain, gint code,
                                            const char *format, ...)
{
    __typeof__(&g_error_new_valist) new_error = CTXVAR__NEXT_IN(g_error_new_valist, GLIB_SONAME);
    if (!new_error) return;
    va_list args;
    va_start(args, format);
    GError *error = new_error(domain, code, format, args);
    va_end(args);
    struct task_return r = {.task = task, .u.error = error};
    in_task_context(task, return_error, &r);
}

static void return_error_if_cancelled(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_error_if_cancelled) real = GIO(g_task_return_error_if_cancelled);
    r->cancelled = real ? real(r->task) : 0;
}

CTXVAR__EXPORT gboolean g_task_return_error_if_cancelled(GTask *task)
{
    struct task_return r = {.task = task};
    in_task_context(task, return_error_if_cancelled, &r);
    return r.cancelled;
}

static void return_value(void *p)
{
    struct task_return *r = p;
    __typeof__(&g_task_return_value) real = GIO(g_task_return_value);
    if (real) real(r->task, r->u.value);
}

CTXVAR__EXPORT void g_task_return_value(GTask *task, GValue *result)
{
    struct task_return r = {.task = task, .u.value = result};
    in_task_context(task, return_value, &r);
}
#else
/* The static archive has no GLib interposers (ISO C wants a declaration). */
typedef int ctxvar__no_glib_tasks;
#endif
