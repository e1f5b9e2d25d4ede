/* startup.c - the runtime's settings, its initialisation, and the main
 * thread's first context, read from the environment.
 *
 * Initialisation is lazy and idempotent: other libraries' constructors,
 * OpenMP and sanitizer runtimes create threads and call the API before our
 * constructor runs, so every entry point that needs the settings calls
 * ctxvar__ensure_init, and a pthread_once does the work once.
 *
 * The main thread is seeded from BAGGAGE, TRACEPARENT and TRACESTATE when it
 * first reads its context, or at load, whichever comes first; the flag
 * ctxvar__main_seeded says it is done (or that this process's main thread
 * must not be seeded: a forked child keeps the forking thread's context),
 * and lets ctxvar__current skip the call on every other read.  Seeding
 * registers the main thread for release at exit, which does not seed again:
 * ctxvar__ensure_registered initialises the settings only, and the seed
 * runs after that, from ensure_init alone.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annotate.h"
#include "baggage.h"
#include "keyed.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"

/* ---- Settings, fixed at initialisation ------------------------------------ */

extern char **environ;

static pthread_once_t init_once = PTHREAD_ONCE_INIT, environment_once = PTHREAD_ONCE_INIT;
static atomic_int initialised, environment_read;
static int debug_enabled;
static int inherit_enabled = 1;
static int export_enabled = 1;      /* CTXVAR_EXPORT != 0: children get context */
static int loops_enabled = 1;       /* CTXVAR_LOOPS != 0: event loops and library pools */
static int syslog_enabled;          /* CTXVAR_SYSLOG == 1: syslog lines carry the context */
static int http_enabled;            /* CTXVAR_HTTP == 1: outgoing HTTP carries the context */
static int otel_enabled;            /* CTXVAR_OTEL == 1: OpenTelemetry process/thread context */
static int is_primary = 1;          /* 0: another copy of the runtime came first */
atomic_int ctxvar__main_seeded;     /* declared in lib/thread.h */
static int environment_had_context; /* the seed was not empty */
atomic_int ctxvar__start_mode;

int ctxvar__debug_on(void) { return debug_enabled; }

void ctxvar__debug(const char *fmt, ...)
{
    char line[512];
    int saved_errno = errno;
    if (!debug_enabled) return;
    memcpy(line, "ctxvar: ", 8);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 8, sizeof line - 9, fmt, ap);
    va_end(ap);
    size_t len = 8 + (n < 0 ? 0 : (size_t)n < sizeof line - 9 ? (size_t)n : sizeof line - 10);
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved_errno;
}

static int env_is(const char *name, const char *value)
{
    const char *v = secure_getenv(name);
    return v && strcmp(v, value) == 0;
}

/* ---- The environment the process was started with ----------------------- */

static const char *const environment_names[3] = {"BAGGAGE", "TRACEPARENT", "TRACESTATE"};
static char *environment_copies[3];
static int environment_private; /* BAGGAGE at load names a private ('_') key */

/* 1 when a member of the baggage value v has a key starting with '_',
 * well-formed or not. */
static int baggage_names_private(const char *v)
{
    for (const char *p = v; p; p = strchr(p, ',')) {
        if (*p == ',') p++;
        while (ctxvar__w3c_is_ows(*p)) p++;
        if (*p == '_') return 1;
    }
    return 0;
}

static void copy_environment(void)
{
    for (int i = 0; i < 3; i++) {
        const char *v = secure_getenv(environment_names[i]);
        environment_copies[i] = v ? strdup(v) : NULL;
    }
    const char *baggage = secure_getenv("BAGGAGE");
    environment_private = baggage && baggage_names_private(baggage);
}

const char *ctxvar__environment_at_load(const char *name)
{
    ctxvar__ensure_init();
    for (int i = 0; i < 3; i++)
        if (strcmp(name, environment_names[i]) == 0) return environment_copies[i];
    return NULL;
}

/* The environment variables a process gets its context from, bound on top
 * of `base` (borrowed) into *out: BAGGAGE's members, and TRACEPARENT when
 * valid with TRACESTATE when that is valid too.  0 or ENOMEM. */
static int context_from_environment(const ctxvar_ctx *base, ctxvar_ctx **out)
{
    const char *baggage = secure_getenv("BAGGAGE");
    const char *traceparent = secure_getenv("TRACEPARENT");
    const char *tracestate = secure_getenv("TRACESTATE");
    ctxvar_ctx *c = ctxvar__ctx_retain(base), *next;
    size_t skipped;
    if (baggage && *baggage) {
        if (ctxvar__baggage_decode(baggage, c, &next, &skipped) != 0) goto out_of_memory;
        ctxvar__ctx_release(c);
        c = next;
    }
    if (traceparent && (!ctxvar__traceparent_valid(traceparent) ||
                        strnlen(traceparent, CTXVAR_VALUE_MAX + 1) > CTXVAR_VALUE_MAX)) {
        ctxvar__debug("TRACEPARENT is not a valid traceparent (or longer than 4096 "
                      "bytes): ignored, with TRACESTATE");
        traceparent = NULL;
    }
    if (traceparent && tracestate && !ctxvar__tracestate_valid(tracestate)) {
        ctxvar__debug("TRACESTATE is not a valid tracestate: ignored, TRACEPARENT kept");
        tracestate = NULL;
    }
    const char *names[2] = {"traceparent", "tracestate"};
    const char *values[2] = {traceparent, traceparent ? tracestate : NULL};
    for (int i = 0; i < 2; i++) {
        size_t len = values[i] ? strnlen(values[i], CTXVAR_VALUE_MAX + 1) : 0;
        if (!values[i] || len > CTXVAR_VALUE_MAX) continue;
        struct ctxvar *var = ctxvar__intern(names[i], strlen(names[i]));
        ctxvar__binding *b = var ? ctxvar__binding_new(var, values[i], len) : NULL;
        if (!b || ctxvar__ctx_with(c, b, &next) != 0) goto out_of_memory;
        ctxvar__ctx_release(c);
        c = next;
    }
    *out = c;
    return 0;
out_of_memory:
    ctxvar__ctx_release(c);
    return ENOMEM;
}

static void seed_main_thread_marked(struct ctxvar__thread *t);

/* Marked busy (lib/sigsafe.h): a signal handler interrupting the seeding
 * must not change the state it is building. */
static void seed_main_thread(struct ctxvar__thread *t)
{
    ctxvar__busy_push(t);
    seed_main_thread_marked(t);
    ctxvar__busy_pop(t);
}

static void seed_main_thread_marked(struct ctxvar__thread *t)
{
    int expected = 0;
    if (t->not_main) return;
    if (!ctxvar__on_main_thread()) {
        t->not_main = 1;
        return;
    }
    if (!atomic_compare_exchange_strong(&ctxvar__main_seeded, &expected, 1)) return;
    ctxvar_ctx *seeded;
    if (context_from_environment(t->current, &seeded) != 0) {
        ctxvar__debug("out of memory reading the environment; the main thread starts empty");
        return;
    }
    if (seeded == t->current) {
        ctxvar__ctx_release(seeded);
        return;
    }
    if (seeded && ctxvar__ensure_registered(t) != 0) {
        ctxvar__ctx_release(seeded);
        return;
    }
    /* Ours alone until installed: marking it is still safe. */
    if (seeded) seeded->flags |= CTXVAR__CTX_FROM_ENVIRONMENT;
    environment_had_context = seeded != NULL;
    ctxvar__ctx_release(ctxvar__install(t, seeded));
}

/* The file the loader loaded the runtime from, as it names it (the
 * LD_PRELOAD entry with $LIB expanded, relative when that was); empty in a
 * static program.  Read by the exec interposers, which may run where
 * dladdr's lock is held (a fork child), so found here. */
static char runtime_file[PATH_MAX];

const char *ctxvar__runtime_file(void)
{
    return atomic_load_explicit(&initialised, memory_order_acquire) && runtime_file[0]
               ? runtime_file
               : NULL;
}

/* The process-wide part: once, whenever the runtime is first used. */
static void initialise(void)
{
    ctxvar__platform_init(&ctxvar__self);
    ctxvar__registry_init();
    /* Loaded twice from two paths, both copies see the first one's table. */
#ifdef CTXVAR_STATIC_WRAP
    is_primary = 1; /* linked into a static program: the only copy */
#else
    const void *first = dlsym(RTLD_DEFAULT, CTXVAR__RUNTIME_SYMBOL);
    is_primary = !first || first == ctxvar__runtime_table();
    ctxvar__code_files_init();
    Dl_info self;
    if (dladdr((const void *)ctxvar__runtime_table, &self) && self.dli_fname &&
        strlen(self.dli_fname) < sizeof runtime_file)
        strcpy(runtime_file, self.dli_fname);
#endif
    atomic_store_explicit(&ctxvar__start_mode,
                          is_primary ? CTXVAR__START_INHERIT | CTXVAR__START_RELEASE_AT_JOIN : 0,
                          memory_order_release);
    atomic_store_explicit(&initialised, 1, memory_order_release);
}

/* The settings from the environment: once libc has set environ.  A thread
 * started from a program's .preinit_array (or another object's early
 * constructor) uses the runtime before that, when every variable reads as
 * unset; until environ is there, the defaults hold, and the first call after
 * reads the real settings.  The main thread is seeded only after that. */
static void read_environment(void)
{
    debug_enabled = env_is("CTXVAR_DEBUG", "1");
    inherit_enabled = !env_is("CTXVAR_INHERIT", "0");
    export_enabled = !env_is("CTXVAR_EXPORT", "0");
    loops_enabled = !env_is("CTXVAR_LOOPS", "0");
    syslog_enabled = env_is("CTXVAR_SYSLOG", "1");
    http_enabled = env_is("CTXVAR_HTTP", "1");
    otel_enabled = env_is("CTXVAR_OTEL", "1");
    copy_environment();
    if (!is_primary) ctxvar__debug("another copy of the runtime is loaded; this one defers to it");
    int mode = inherit_enabled && is_primary
                   ? CTXVAR__START_SETTLED | CTXVAR__START_INHERIT | CTXVAR__START_RELEASE_AT_JOIN
                   : CTXVAR__START_SETTLED;
    atomic_store_explicit(&ctxvar__start_mode, mode, memory_order_release);
    atomic_store_explicit(&environment_read, 1, memory_order_release);
}

/* Set while this thread runs initialise or read_environment.  They call
 * the program's malloc (strdup, dlsym), which may start a thread (an
 * allocator's background thread) or call anything else we interpose, and
 * every such call settles here first: on the same thread, pthread_once
 * would wait for itself.  Such a call goes on with the defaults instead,
 * as a call before environ is set does.  (After otel.c in the link, so
 * otel_thread_ctx_v1 keeps offset 0 of the TLS block.) */
static _Thread_local unsigned char settling;

CTXVAR__BEFORE_THREAD_START void ctxvar__ensure_settings(void)
{
    if (__builtin_expect(atomic_load_explicit(&environment_read, memory_order_acquire), 1)) return;
    if (settling) return;
    settling = 1;
    if (!atomic_load_explicit(&initialised, memory_order_acquire)) pthread_once(&init_once, initialise);
    if (environ) pthread_once(&environment_once, read_environment);
    settling = 0;
}

CTXVAR__BEFORE_THREAD_START void ctxvar__ensure_init(void)
{
    ctxvar__ensure_settings();
    if (!atomic_load_explicit(&ctxvar__main_seeded, memory_order_relaxed) && is_primary &&
        atomic_load_explicit(&environment_read, memory_order_acquire))
        seed_main_thread(ctxvar__me());
}

__attribute__((constructor)) static void on_load(void) { ctxvar__ensure_init(); }

void ctxvar__startup_forked(void)
{
    /* The forking thread is this process's main thread now (tid == pid):
     * it must not be seeded from the environment over its own context. */
    atomic_store(&ctxvar__main_seeded, 1);
}

/* ctxvar__current's slow path (lib/thread.h), taken only when it found no
 * context on what may be the main thread before its seed. */
ctxvar_ctx *ctxvar__current_seeded(struct ctxvar__thread *t)
{
    ctxvar__ensure_init();
    return t->current;
}

/* ---- What the interposers ask ------------------------------------------------- */

int ctxvar__thread_start_mode_settle(void)
{
    ctxvar__ensure_settings();
    return atomic_load_explicit(&ctxvar__start_mode, memory_order_relaxed);
}

atomic_int ctxvar__features; /* declared in lib/runtime.h */

int ctxvar__features_settle(void)
{
    ctxvar__ensure_init();
    int f = 0;
    if (is_primary) {
        f = CTXVAR__FEATURE_PROPAGATION;
        if (export_enabled) f |= CTXVAR__FEATURE_EXPORT;
        if (loops_enabled) f |= CTXVAR__FEATURE_LOOPS;
        if (syslog_enabled) f |= CTXVAR__FEATURE_SYSLOG;
        if (http_enabled) f |= CTXVAR__FEATURE_HTTP;
        if (otel_enabled) f |= CTXVAR__FEATURE_OTEL;
    }
    /* Settled when nothing is left for ctxvar__ensure_init to do: the
     * settings are read and the main thread is seeded (or never will be). */
    if (atomic_load_explicit(&environment_read, memory_order_acquire) &&
        (!is_primary || atomic_load_explicit(&ctxvar__main_seeded, memory_order_acquire))) {
        f |= CTXVAR__FEATURE_SETTLED;
        atomic_store_explicit(&ctxvar__features, f, memory_order_release);
    }
    return f;
}

ctxvar_ctx *ctxvar__current_borrowed(void) { return ctxvar__current(ctxvar__me()); }

ctxvar_ctx *ctxvar__current_for_reader(void) { return ctxvar__current_sigsafe(ctxvar__me()); }

/* Never when BAGGAGE named a private variable: passed on byte for byte, it
 * would reach the child, which no private variable may. */
int ctxvar__is_environment_context(const ctxvar_ctx *c)
{
    if (environment_private) return 0;
    return c ? (c->flags & CTXVAR__CTX_FROM_ENVIRONMENT) != 0 : !environment_had_context;
}

#ifndef CTXVAR_STATIC_WRAP /* libctxvar.a has its own: shim/wrapped.c */
/* `name` in the first library already loaded under one of `soname`'s
 * names ("a.so.1:b.so.2"), never loading one (RTLD_NOLOAD); not `ours`. */
static void *find_in_loaded(const char *soname, const char *name, const void *ours)
{
    void *found = NULL;
    for (const char *s = soname; *s && !found;) {
        char one[64];
        size_t len = strcspn(s, ":");
        if (len < sizeof one) {
            memcpy(one, s, len);
            one[len] = '\0';
            void *lib = dlopen(one, RTLD_LAZY | RTLD_NOLOAD);
            found = lib ? dlsym(lib, name) : NULL;
            if (lib) ctxvar__real_dlclose(lib);
            if (ours && found == ours) found = NULL;
        }
        s += len + (s[len] == ':');
    }
    return found;
}

/* The function after us named `name`, else the one in the library loaded
 * under soname (see ctxvar__next_symbol_in), else NULL. */
static void *next_after_us(const char *name, const void *ours, const char *soname)
{
    int saved_errno = errno;
    void *next = dlsym(RTLD_NEXT, name);
    /* Found nothing after us (a library dlopen()ed RTLD_LOCAL by a plugin,
     * whose callers still reach us), or ourselves (the runtime loaded in an
     * unusual order): ask the library already loaded under soname. */
    if (!next || (ours && next == ours)) next = find_in_loaded(soname, name, ours);
    errno = saved_errno;
    return next;
}

/* Every kept library symbol, for ctxvar__libraries_unloaded: pushed once
 * each, never removed (they are static). */
static struct ctxvar__library_symbol *_Atomic library_symbols;

/* Keeps `address` in `kept` (NULL is not kept: the library may be loaded
 * later) and lists `kept` the first time. */
void *ctxvar__library_symbol_keep(struct ctxvar__library_symbol *kept, void *address)
{
    if (!address) return NULL;
    /* Read by every call through it, with acquire loads helgrind and DRD
     * do not model: atomics only, to them. */
    CTXVAR__ATOMIC_WORDS(&kept->address, sizeof kept->address);
    atomic_store_explicit(&kept->address, address, memory_order_release);
    int expected = 0;
    if (atomic_compare_exchange_strong(&kept->listed, &expected, 1)) {
        struct ctxvar__library_symbol *head = atomic_load(&library_symbols);
        do kept->next = head;
        while (!atomic_compare_exchange_weak(&library_symbols, &head, kept));
    }
    return address;
}

void *ctxvar__next_symbol_in(struct ctxvar__library_symbol *kept, const char *name,
                             const void *ours, const char *soname)
{
    void *next = atomic_load_explicit(&kept->address, memory_order_acquire);
    return next ? next : ctxvar__library_symbol_keep(kept, next_after_us(name, ours, soname));
}

void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name, const void *ours)
{
    /* The C library is never unloaded: a plain cache. */
    void *next = atomic_load_explicit(cache, memory_order_acquire);
    if (next) return next;
    next = next_after_us(name, ours, "libc.so.6");
    if (next) {
        CTXVAR__ATOMIC_WORDS(cache, sizeof *cache); /* as in ctxvar__library_symbol_keep */
        atomic_store_explicit(cache, next, memory_order_release);
    }
    return next;
}

void *ctxvar__library_variable(struct ctxvar__library_symbol *kept, const char *name,
                               const char *soname)
{
    void *v = atomic_load_explicit(&kept->address, memory_order_acquire);
    if (v) return v;
    int saved_errno = errno;
    v = dlsym(RTLD_DEFAULT, name);
    if (!v) v = find_in_loaded(soname, name, NULL);
    errno = saved_errno;
    return ctxvar__library_symbol_keep(kept, v);
}

void ctxvar__libraries_unloaded(void)
{
    int saved_errno = errno;
    Dl_info info;
    for (struct ctxvar__library_symbol *s = atomic_load(&library_symbols); s; s = s->next) {
        void *address = atomic_load_explicit(&s->address, memory_order_acquire);
        if (address && !dladdr(address, &info))
            atomic_compare_exchange_strong(&s->address, &address, NULL);
    }
    ctxvar__code_ranges_unloaded();
    errno = saved_errno;
}
#endif
