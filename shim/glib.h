/* glib.h - the few GLib types and constants the GLib interposers need,
 * written out so that the runtime builds without GLib's headers and never
 * links GLib: every function is looked up when first called
 * (CTXVAR__NEXT_IN), in a process that already has libglib. The layouts
 * are GLib 2's public ABI, unchanged since 2.0: GThreadPool's three public
 * members, GSource's first three. */
#ifndef CTXVAR_SHIM_GLIB_H
#define CTXVAR_SHIM_GLIB_H

#include "runtime.h"

#define GLIB_SONAME "libglib-2.0.so.0"

typedef int gboolean;
typedef int gint;
typedef unsigned int guint;
typedef void *gpointer;
typedef const void *gconstpointer;
typedef struct GError GError;
typedef struct GMainContext GMainContext;
typedef struct GSourceFuncs GSourceFuncs;

typedef void (*GFunc)(gpointer data, gpointer user_data);
typedef void (*GDestroyNotify)(gpointer data);
typedef gint (*GCompareDataFunc)(gconstpointer a, gconstpointer b, gpointer user_data);
typedef gboolean (*GSourceFunc)(gpointer data);
typedef void (*GSourceOnceFunc)(gpointer data);

typedef struct {
    GFunc func;          /* our trampoline in a pool created through us */
    gpointer user_data;  /* the program's, unchanged */
    gboolean exclusive;
} GThreadPool;

typedef struct {
    gpointer callback_data;
    void *callback_funcs;
    const GSourceFuncs *source_funcs;
} GSource; /* only its head: GLib allocates it */

#define G_PRIORITY_DEFAULT 0
#define G_PRIORITY_DEFAULT_IDLE 200

/* The items GLib puts in a pool's queue besides the program's: a pool being
 * freed wakes its threads with GUINT_TO_POINTER (1), and may hand one to
 * the comparator and the item-free function.  Never a record's address. */
#define GLIB_NOT_A_RECORD(p) ((uintptr_t)(p) < 4096)

/* shim/glib_task.c: 1 and a reference on the context of the g_task_new
 * call that created `task`, when the task was created through us (and not
 * finalized yet); else 0. */
int ctxvar__glib_task_context(const void *task, ctxvar_ctx **context) CTXVAR__HIDDEN;

/* 1 when fn is libgio's own code: the callback of the idle source libgio
 * attaches to complete a task. */
int ctxvar__glib_gio_callback(void (*fn)(void)) CTXVAR__HIDDEN;

#endif
