/* floor.h - what the two bare carriers (bench/floor.c for libuv,
 * bench/floor_glib.c for GLib) share: the context, a pointer read and
 * written through initial-exec TLS (one %fs-relative access, as the
 * preloaded runtime's), which nothing reference-counts, and the lookup of
 * the library's own function.  bench/floor.c says why a floor may count
 * nothing. */
#ifndef CTXVAR_BENCH_FLOOR_H
#define CTXVAR_BENCH_FLOOR_H

#include <dlfcn.h>

#define FLOOR_TLS _Thread_local __attribute__((tls_model("initial-exec")))

struct floor_context {
    int unused;
};

static struct floor_context process_context;
static FLOOR_TLS struct floor_context *current;

static struct floor_context *floor_capture(void) { return current ? current : &process_context; }

/* Declares next_NAME, the library's NAME, found on first use. */
#define NEXT(name)                                                                   \
    static __typeof__(&name) next_##name;                                            \
    if (!next_##name) {                                                              \
        void *found = dlsym(RTLD_NEXT, #name);                                       \
        __builtin_memcpy(&next_##name, &found, sizeof found);                        \
    }

#endif
