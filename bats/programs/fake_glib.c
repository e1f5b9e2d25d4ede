/* libglib-9.so, a stand-in for GLib: its file name is libglib's, its threads
 * start in a proxy it does not export, given a GThread-like struct whose
 * first member is the function the thread runs, as GLib's do.  Built three
 * ways (bats/bats.mk): plain; with an exported IFUNC (-DWITH_IFUNC), whose
 * symbol holds its resolver's address, not its function's; and linked
 * above the address it is loaded at (-Wl,-Ttext-segment, beyond user
 * space), so that its load bias wraps around.  The runtime must never take
 * a function a program can name for the proxy, nor read outside the
 * library while it looks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "ctxvar.h"

typedef void *(*thread_fn)(void *);

struct fake_thread {
    thread_fn func;
    void *data;
};

static void *proxy(void *p)
{
    struct fake_thread *t = p;
    void *result = t->func(t->data);
    free(t);
    return result;
}

/* A worker of the library's own, as GLib's gmain. */
static void *own_worker(void *unused)
{
    (void)unused;
    char text[256];
    ctxvar_format(text, sizeof text);
    printf("own worker: %s\n", text[0] ? text : "none");
    return NULL;
}

/* Exported, like g_thread_new; func NULL starts the library's own worker. */
pthread_t fake_thread_new(thread_fn func, void *data)
{
    struct fake_thread *t = malloc(sizeof *t);
    pthread_t thread = 0;
    if (!t) return thread;
    t->func = func ? func : own_worker;
    t->data = data;
    if (pthread_create(&thread, NULL, proxy, t) != 0) free(t);
    return thread;
}

/* Exported, like g_usleep: a program may start a thread at it. */
void *exported_start(void *arg) { return arg; }

#ifdef WITH_IFUNC
static void *ifunc_implementation(void *arg) { return arg; }
static thread_fn resolve_ifunc_start(void) { return ifunc_implementation; }
void *ifunc_start(void *arg) __attribute__((ifunc("resolve_ifunc_start")));
#else
void *ifunc_start(void *arg) { return arg; }
#endif
