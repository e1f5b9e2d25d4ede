/* exec.c - a child process gets the calling thread's context, not the
 * process's.
 *
 * A threaded server starts children from request threads; the environment
 * is per process, so without us every child would see whatever BAGGAGE the
 * server itself was started with.  Each interposer here gives the child an
 * environment of its own, in which BAGGAGE, TRACEPARENT and TRACESTATE are
 * the encoding of the calling thread's current context (lib/ctxvar.h,
 * section 6, has the rules).  The parent's environ is never written.
 *
 * The exec functions may run in the child of vfork, on the parent's memory
 * while the parent's other threads go on, or in the child of fork, where a
 * lock held by another thread stays held.  So, from the interposer to the
 * real call, nothing here allocates or locks: the new environment is built
 * on the caller's stack, sized to what it holds, and the encoder sorts in a
 * stack buffer.  The real functions are looked up at load, not on first use.
 *
 * system() and popen() take no environment: their command runs in /bin/sh
 * with the process's.  We prefix the command with the shell's own
 * assignment, "export BAGGAGE='...'; " (or "unset BAGGAGE; "), so the shell
 * and its children get the thread's context while the parent's environment
 * stays as it is; the command's status and output are unchanged.
 *
 * An explicit envp from a thread whose context is still exactly the one the
 * process was started with (seeded from its environment, never changed: the
 * same object) is passed on untouched: the thread has nothing to add, and
 * the program built that environment on purpose.  That keeps a preloaded
 * program that manages these variables itself from being overridden: the
 * shell that system() runs is seeded from the parent's environment, then
 * runs our "export BAGGAGE=...; " and execs with an array of its own.
 *
 * Not covered: execveat, and vfork-then-exec through raw syscalls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baggage.h"
#include "runtime.h"

extern char **environ;

/* ---- The three variables, encoded for one call --------------------------- */

enum { VAR_BAGGAGE, VAR_TRACEPARENT, VAR_TRACESTATE, VAR_COUNT };
static const char *const var_names[VAR_COUNT] = {"BAGGAGE", "TRACEPARENT", "TRACESTATE"};
static const size_t var_name_lens[VAR_COUNT] = {7, 11, 10};

/* Beyond this many bindings the encoder walks instead of sorting on the
 * stack (4 KiB of pointers at most). */
#define SORT_ON_STACK_MAX 512
/* The most stack the new environment may take: the caller may be a thread
 * with a small stack.  A larger one (an environment of some 3,000 entries,
 * or very long trace values) is passed on untouched, with a diagnostic. */
#define ENV_STACK_BUDGET (32 * 1024)

/* The values (without "NAME=") the child should get, pointing into the
 * context (borrowed: valid while the calling thread's context is). */
struct trace_values {
    const char *traceparent, *tracestate;
};

static const char *find_value(const ctxvar_ctx *c, const char *name)
{
    /* Looked up, not interned: interning may allocate, and a name never
     * interned is set nowhere. */
    const struct ctxvar *var = ctxvar__lookup(name, strlen(name));
    const ctxvar__binding *b = var ? ctxvar__ctx_find(c, var) : NULL;
    return b ? b->value : NULL;
}

static struct trace_values trace_values_of(const ctxvar_ctx *c)
{
    struct trace_values t = {find_value(c, "traceparent"), NULL};
    if (t.traceparent && !ctxvar__traceparent_valid(t.traceparent)) t.traceparent = NULL;
    if (t.traceparent) t.tracestate = find_value(c, "tracestate");
    return t;
}

static int is_var(const char *entry, int which)
{
    return strncmp(entry, var_names[which], var_name_lens[which]) == 0 &&
           entry[var_name_lens[which]] == '=';
}

static size_t count_entries(char *const *envp)
{
    size_t n = 0;
    while (envp && envp[n]) n++;
    return n;
}

/* Fills `out` (room for count_entries(envp) + VAR_COUNT + 1) with envp less
 * the three variables, then the given `entries` ("NAME=value", or NULL for
 * absent) where `implicit` (the process environment) or where envp had them. */
static char **child_environment(char *const *envp, int implicit, char **out,
                                char *const entries[VAR_COUNT])
{
    int had[VAR_COUNT] = {0};
    size_t n = 0;
    for (size_t i = 0; envp && envp[i]; i++) {
        int which = -1;
        for (int v = 0; v < VAR_COUNT && which < 0; v++)
            if (is_var(envp[i], v)) which = v;
        if (which >= 0) had[which] = 1;
        else out[n++] = envp[i];
    }
    for (int v = 0; v < VAR_COUNT; v++)
        if (entries[v] && (implicit || had[v])) out[n++] = entries[v];
    out[n] = NULL;
    return out;
}

/* Declares, on the caller's stack, the new environment for envp in `name`
 * (a char **), or leaves it NULL when export is off or the environment is
 * too large to copy.  A macro: the arrays must live in the caller's frame. */
#define WITH_CHILD_ENVIRONMENT(name, envp_in, implicit_in)                                  \
    char *const *name##_envp = (envp_in);                                                    \
    int name##_on = ctxvar__export_enabled();                                                \
    const ctxvar_ctx *name##_ctx = name##_on ? ctxvar__current_borrowed() : NULL;            \
    if (!(implicit_in) && ctxvar__is_environment_context(name##_ctx)) name##_on = 0;         \
    size_t name##_n = name##_on ? count_entries(name##_envp) : 0;                            \
    size_t name##_count = ctxvar__ctx_count(name##_ctx);                                     \
    size_t name##_room = name##_on && name##_count <= SORT_ON_STACK_MAX ? name##_count : 0;  \
    const ctxvar__binding *name##_scratch[name##_room + 1];                                  \
    size_t name##_baglen = name##_on ? ctxvar__baggage_encode_in(                            \
                                           name##_ctx, NULL, 0, NULL, name##_scratch,        \
                                           name##_room) : 0;                                 \
    struct trace_values name##_trace = {NULL, NULL};                                         \
    if (name##_on) name##_trace = trace_values_of(name##_ctx);                               \
    size_t name##_tplen = name##_trace.traceparent ? strlen(name##_trace.traceparent) : 0;   \
    size_t name##_tslen = name##_trace.tracestate ? strlen(name##_trace.tracestate) : 0;     \
    if (name##_on && (name##_n + VAR_COUNT + 1) * sizeof(char *) + name##_baglen +           \
                         name##_tplen + name##_tslen + 64 > ENV_STACK_BUDGET) {              \
        ctxvar__debug("exec: environment of %zu entries too large to rebuild on the "       \
                      "stack; passed on unchanged", name##_n);                               \
        name##_on = 0;                                                                       \
        name##_baglen = name##_tplen = name##_tslen = 0;                                     \
    }                                                                                        \
    char name##_bag[name##_baglen ? name##_baglen + 9 : 1];                                  \
    char name##_tp[name##_tplen ? name##_tplen + 13 : 1];                                    \
    char name##_ts[name##_tslen ? name##_tslen + 12 : 1];                                    \
    char *name##_slots[name##_on ? name##_n + VAR_COUNT + 1 : 1];                            \
    char **name = NULL;                                                                      \
    if (name##_on) {                                                                         \
        char *name##_entries[VAR_COUNT] = {NULL, NULL, NULL};                                \
        if (name##_baglen) {                                                                 \
            memcpy(name##_bag, "BAGGAGE=", 8);                                               \
            ctxvar__baggage_encode_in(name##_ctx, name##_bag + 8, name##_baglen + 1, NULL,   \
                                      name##_scratch, name##_room);                          \
            name##_entries[VAR_BAGGAGE] = name##_bag;                                        \
        }                                                                                    \
        if (name##_tplen) {                                                                  \
            memcpy(name##_tp, "TRACEPARENT=", 12);                                           \
            memcpy(name##_tp + 12, name##_trace.traceparent, name##_tplen + 1);              \
            name##_entries[VAR_TRACEPARENT] = name##_tp;                                     \
        }                                                                                    \
        if (name##_tslen) {                                                                  \
            memcpy(name##_ts, "TRACESTATE=", 11);                                            \
            memcpy(name##_ts + 11, name##_trace.tracestate, name##_tslen + 1);               \
            name##_entries[VAR_TRACESTATE] = name##_ts;                                      \
        }                                                                                    \
        name = child_environment(name##_envp, (implicit_in), name##_slots, name##_entries);  \
    }

/* ---- The real functions, found at load ------------------------------------ */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);

static _Atomic(void *) next_execve, next_execvpe, next_fexecve, next_posix_spawn,
    next_posix_spawnp, next_system, next_popen;

/* At load, so that no exec after vfork has to call dlsym (which locks). */
__attribute__((constructor)) static void find_real_functions(void)
{
    ctxvar__next_symbol(&next_execve, "execve", NULL);
    ctxvar__next_symbol(&next_execvpe, "execvpe", NULL);
    ctxvar__next_symbol(&next_fexecve, "fexecve", NULL);
    ctxvar__next_symbol(&next_posix_spawn, "posix_spawn", NULL);
    ctxvar__next_symbol(&next_posix_spawnp, "posix_spawnp", NULL);
    ctxvar__next_symbol(&next_system, "system", NULL);
    ctxvar__next_symbol(&next_popen, "popen", NULL);
}

#define REAL(type, cache, name) ((type)ctxvar__next_symbol(&(cache), (name), NULL))

/* ---- exec ---------------------------------------------------------------- */

static int exec_with(int search, const char *file, char *const argv[], char *const envp[],
                     int implicit)
{
    execve_fn real = search ? REAL(execve_fn, next_execvpe, "execvpe")
                            : REAL(execve_fn, next_execve, "execve");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int saved_errno = errno;
    WITH_CHILD_ENVIRONMENT(env, envp, implicit)
    errno = saved_errno;
    return real(file, argv, env ? env : envp);
}

CTXVAR__EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_with(0, path, argv, envp, envp == environ);
}

CTXVAR__EXPORT int execv(const char *path, char *const argv[])
{
    return exec_with(0, path, argv, environ, 1);
}

CTXVAR__EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_with(1, file, argv, envp, envp == environ);
}

CTXVAR__EXPORT int execvp(const char *file, char *const argv[])
{
    return exec_with(1, file, argv, environ, 1);
}

CTXVAR__EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn real = REAL(fexecve_fn, next_fexecve, "fexecve");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    int saved_errno = errno;
    WITH_CHILD_ENVIRONMENT(env, envp, envp == environ)
    errno = saved_errno;
    return real(fd, argv, env ? env : envp);
}

/* The execl family: gather the arguments on the stack, as glibc does. */
#define GATHER_ARGS(argv, first, ap_last)                                                   \
    size_t argc_ = 1;                                                                        \
    va_list count_;                                                                          \
    va_start(count_, ap_last);                                                               \
    while (va_arg(count_, char *)) argc_++;                                                  \
    va_end(count_);                                                                          \
    char *argv[argc_ + 1];                                                                   \
    va_list ap_;                                                                             \
    va_start(ap_, ap_last);                                                                  \
    argv[0] = (char *)(first);                                                               \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap_, char *);

CTXVAR__EXPORT int execl(const char *path, const char *arg, ...)
{
    GATHER_ARGS(argv, arg, arg)
    va_end(ap_);
    return exec_with(0, path, argv, environ, 1);
}

CTXVAR__EXPORT int execlp(const char *file, const char *arg, ...)
{
    GATHER_ARGS(argv, arg, arg)
    va_end(ap_);
    return exec_with(1, file, argv, environ, 1);
}

CTXVAR__EXPORT int execle(const char *path, const char *arg, ...)
{
    GATHER_ARGS(argv, arg, arg)
    char *const *envp = va_arg(ap_, char *const *);
    va_end(ap_);
    return exec_with(0, path, argv, envp, envp == environ);
}

/* ---- posix_spawn ----------------------------------------------------------- */

static int spawn_with(spawn_fn real, pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                      char *const argv[], char *const envp[])
{
    if (!real) return ENOSYS;
    int saved_errno = errno;
    WITH_CHILD_ENVIRONMENT(env, envp, envp == environ)
    errno = saved_errno;
    return real(pid, path, actions, attr, argv, env ? env : envp);
}

CTXVAR__EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
                               const posix_spawn_file_actions_t *restrict actions,
                               const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                               char *const envp[restrict])
{
    return spawn_with(REAL(spawn_fn, next_posix_spawn, "posix_spawn"), pid, path, actions, attr,
                      argv, envp);
}

CTXVAR__EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
                                const posix_spawn_file_actions_t *restrict actions,
                                const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                                char *const envp[restrict])
{
    return spawn_with(REAL(spawn_fn, next_posix_spawnp, "posix_spawnp"), pid, file, actions, attr,
                      argv, envp);
}

/* ---- system and popen ------------------------------------------------------- */

/* Appends s to the shell text in single quotes ('\'' for a quote). */
static char *put_quoted(char *out, const char *s)
{
    *out++ = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(out, "'\\''", 4);
            out += 4;
        } else {
            *out++ = *s;
        }
    }
    *out++ = '\'';
    return out;
}

/* "export A='x' B='y'; unset C; " + command, in a new allocation (system and
 * popen run in the parent, where allocating is fine), or NULL to run the
 * command as it is: export off, or out of memory. */
static char *command_with_context(const char *command)
{
    if (!command || !ctxvar__export_enabled()) return NULL;
    const ctxvar_ctx *c = ctxvar__current_borrowed();
    size_t baglen = ctxvar__baggage_encode(c, NULL, 0, NULL);
    char *bag = malloc(baglen + 1);
    if (!bag) return NULL;
    ctxvar__baggage_encode(c, bag, baglen + 1, NULL);
    struct trace_values t = trace_values_of(c);
    const char *values[VAR_COUNT] = {baglen ? bag : NULL, t.traceparent, t.tracestate};

    size_t room = strlen(command) + 32;
    for (int v = 0; v < VAR_COUNT; v++)
        room += var_name_lens[v] + 4 + (values[v] ? 4 * strlen(values[v]) : 0);
    char *text = malloc(room), *out = text;
    if (!text) {
        free(bag);
        return NULL;
    }
    const char *verbs[2] = {"export", "unset"};
    for (int set = 1; set >= 0; set--) {
        int any = 0;
        for (int v = 0; v < VAR_COUNT; v++) {
            if (!values[v] == !set) {
                out += sprintf(out, "%s %s", any ? "" : verbs[1 - set], var_names[v]);
                if (set) {
                    *out++ = '=';
                    out = put_quoted(out, values[v]);
                }
                any = 1;
            }
        }
        if (any) out += sprintf(out, "; ");
    }
    strcpy(out, command);
    free(bag);
    return text;
}

CTXVAR__EXPORT int system(const char *command)
{
    system_fn real = REAL(system_fn, next_system, "system");
    if (!real) return -1;
    int saved_errno = errno;
    char *ours = command_with_context(command);
    errno = saved_errno;
    int status = real(ours ? ours : command);
    saved_errno = errno;
    free(ours);
    errno = saved_errno;
    return status;
}

CTXVAR__EXPORT FILE *popen(const char *command, const char *mode)
{
    popen_fn real = REAL(popen_fn, next_popen, "popen");
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    int saved_errno = errno;
    char *ours = command_with_context(command);
    errno = saved_errno;
    FILE *f = real(ours ? ours : command, mode);
    saved_errno = errno;
    free(ours);
    errno = saved_errno;
    return f;
}
