/* exec.c - a child process gets the calling thread's context, not the
 * process's: the exec family and posix_spawn(p), interposed.
 *
 * A threaded server starts children from request threads; the environment
 * is per process, so without us every child would see whatever BAGGAGE the
 * server itself was started with.  Each interposer here gives the child the
 * environment lib/childenv.c builds (its opening comment has the rule, and
 * why nothing on this path allocates or locks: exec may follow vfork), and
 * passes everything else on as it was.  system() and popen() are in
 * shim/shell.c.
 *
 * Not covered: execveat, and vfork-then-exec through raw system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childenv.h"
#include "runtime.h"

extern char **environ;

/* ---- The real functions, found at load ------------------------------------ */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

static _Atomic(void *) next_execve, next_execvpe, next_fexecve, next_posix_spawn,
    next_posix_spawnp;

static execve_fn real_execve(void)
{
    return (execve_fn)ctxvar__next_symbol(&next_execve, "execve", (const void *)execve);
}

static execve_fn real_execvpe(void)
{
    return (execve_fn)ctxvar__next_symbol(&next_execvpe, "execvpe", (const void *)execvpe);
}

static fexecve_fn real_fexecve(void)
{
    return (fexecve_fn)ctxvar__next_symbol(&next_fexecve, "fexecve", (const void *)fexecve);
}

static spawn_fn real_posix_spawn(void)
{
    return (spawn_fn)ctxvar__next_symbol(&next_posix_spawn, "posix_spawn",
                                         (const void *)posix_spawn);
}

static spawn_fn real_posix_spawnp(void)
{
    return (spawn_fn)ctxvar__next_symbol(&next_posix_spawnp, "posix_spawnp",
                                         (const void *)posix_spawnp);
}

/* At load, so that no exec after vfork has to call dlsym (which locks):
 * each accessor above then only reads its cache. */
__attribute__((constructor)) static void find_real_functions(void)
{
    real_execve();
    real_execvpe();
    real_fexecve();
    real_posix_spawn();
    real_posix_spawnp();
}

/* ---- exec ---------------------------------------------------------------- */

/* envp is the process's environment when the program passes environ
 * itself; a NULL one is an explicit empty environment (Linux runs the
 * program with none), also when environ is NULL too (after clearenv). */
static int implicit_environment(char *const envp[]) { return envp != NULL && envp == environ; }

static int exec_with(execve_fn real, const char *file, char *const argv[], char *const envp[],
                     int implicit)
{
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    struct ctxvar__child_env env;
    int record = ctxvar__child_env_exec_begin(&env, envp, implicit);
    int r = real(file, argv, env.envp);
    ctxvar__child_env_exec_end(&env, record);
    return r;
}

CTXVAR__EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_with(real_execve(), path, argv, envp, implicit_environment(envp));
}

CTXVAR__EXPORT int execv(const char *path, char *const argv[])
{
    return exec_with(real_execve(), path, argv, environ, 1);
}

CTXVAR__EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_with(real_execvpe(), file, argv, envp, implicit_environment(envp));
}

CTXVAR__EXPORT int execvp(const char *file, char *const argv[])
{
    return exec_with(real_execvpe(), file, argv, environ, 1);
}

CTXVAR__EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn real = real_fexecve();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    struct ctxvar__child_env env;
    int record = ctxvar__child_env_exec_begin(&env, envp, implicit_environment(envp));
    int r = real(fd, argv, env.envp);
    ctxvar__child_env_exec_end(&env, record);
    return r;
}

/* The execl family gathers its arguments into an array on the caller's
 * stack, as glibc does: it may run after vfork, and the array is the
 * program's own argument list, as large as the program made it.  Each
 * caller brackets the two helpers below with its own va_start and va_end. */

/* The number of arguments after the first, up to the NULL that ends them. */
static size_t count_more_args(va_list ap)
{
    size_t n = 0;
    while (va_arg(ap, const char *)) n++;
    return n;
}

/* argv[0] = first, then `more` further arguments and the NULL after them. */
static void gather_args(char **argv, const char *first, size_t more, va_list ap)
{
    argv[0] = (char *)first;
    for (size_t i = 1; i <= more + 1; i++) argv[i] = va_arg(ap, char *);
}

CTXVAR__EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    va_end(ap);
    return exec_with(real_execve(), path, argv, environ, 1);
}

CTXVAR__EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    va_end(ap);
    return exec_with(real_execvpe(), file, argv, environ, 1);
}

CTXVAR__EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    char *const *envp = va_arg(ap, char *const *); /* after the NULL */
    va_end(ap);
    return exec_with(real_execve(), path, argv, envp, implicit_environment(envp));
}

/* ---- posix_spawn ----------------------------------------------------------- */

/* The child has exec'd (or failed to) when the real call returns: glibc's
 * posix_spawn waits for that, so the mapping can go at once. */
static int spawn_with(spawn_fn real, pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                      char *const argv[], char *const envp[], int implicit)
{
    if (!real) return ENOSYS;
    int saved_errno = errno;
    struct ctxvar__child_env env;
    ctxvar__child_env_build(&env, envp, implicit);
    errno = saved_errno;
    int r = real(pid, path, actions, attr, argv, env.envp);
    saved_errno = errno;
    ctxvar__child_env_release(&env);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
                               const posix_spawn_file_actions_t *restrict actions,
                               const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                               char *const envp[restrict])
{
    return spawn_with(real_posix_spawn(), pid, path, actions, attr, argv, envp,
                      implicit_environment(envp));
}

CTXVAR__EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
                                const posix_spawn_file_actions_t *restrict actions,
                                const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                                char *const envp[restrict])
{
    return spawn_with(real_posix_spawnp(), pid, file, actions, attr, argv, envp,
                      implicit_environment(envp));
}

