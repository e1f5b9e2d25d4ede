/* shell.c - system() and popen() run the shell with the calling thread's
 * context in its environment, and only there.
 *
 * system() and popen() take no environment: glibc's run /bin/sh with the
 * process's own, and putting the context into the command would show it to
 * every local user in the shell's argv (and lengthen the command past what
 * the kernel takes).  So they are done here, as POSIX specifies them and as
 * glibc does them, on posix_spawn with the child's environment; see their
 * section.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childenv.h"
#include "runtime.h"

extern char **environ;

/* ---- The real functions, found at load ------------------------------------ */

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);

static _Atomic(void *) next_posix_spawn, next_system, next_popen;

static spawn_fn real_posix_spawn(void)
{
    return (spawn_fn)ctxvar__next_symbol(&next_posix_spawn, "posix_spawn",
                                         (const void *)posix_spawn);
}

static system_fn real_system(void)
{
    return (system_fn)ctxvar__next_symbol(&next_system, "system", (const void *)system);
}

static popen_fn real_popen(void)
{
    return (popen_fn)ctxvar__next_symbol(&next_popen, "popen", (const void *)popen);
}

static void lock_process_starts(void);
static void unlock_process_starts(void);
static void reset_process_starts(void);

/* At load: a lookup takes the loader's lock, and popen's bookkeeping is
 * held across fork so that no child finds it locked. */
__attribute__((constructor)) static void find_real_functions(void)
{
    real_posix_spawn();
    real_system();
    real_popen();
    pthread_atfork(lock_process_starts, unlock_process_starts, reset_process_starts);
}

/* ---- system and popen -------------------------------------------------------- */

/* What glibc's system() and popen() do, on posix_spawn of /bin/sh with the
 * child's environment instead of the process's: the shell gets
 * `sh -c COMMAND` exactly as the program wrote it, and the context is in
 * its environment only.  They run in the parent, so they may allocate and
 * lock.  With export off they are glibc's own, untouched; with it on they
 * are always ours, never a mix, so that the bookkeeping both keep across
 * calls (SIGINT and SIGQUIT for system, the open streams for popen) is one
 * set. */

#define SHELL_PATH "/bin/sh"

/* Recursive: popen_lock is held across the start of a shell, and a
 * program may fork from a signal handler that interrupted that (or
 * system's short bookkeeping), on the thread holding the lock; the fork
 * handler below then takes it once more instead of waiting for itself, as
 * glibc's own popen lock allows. */
static pthread_mutex_t system_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t popen_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* A forked child must not find either lock held by a thread it does not
 * have. */
static void lock_process_starts(void)
{
    pthread_mutex_lock(&system_lock);
    pthread_mutex_lock(&popen_lock);
}

static void unlock_process_starts(void)
{
    pthread_mutex_unlock(&popen_lock);
    pthread_mutex_unlock(&system_lock);
}

/* In the child, the only thread is a copy of the forking one, under
 * another id, so the recursive locks' owner is a thread it does not have:
 * made anew, unlocked (what a fork from a handler interrupted, if the
 * handler returns, finds them so and its unlock fails harmlessly). */
static void reset_process_starts(void)
{
    pthread_mutexattr_t recursive;
    pthread_mutexattr_init(&recursive);
    pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&system_lock, &recursive);
    pthread_mutex_init(&popen_lock, &recursive);
    pthread_mutexattr_destroy(&recursive);
}

/* system.  POSIX: the caller ignores SIGINT and SIGQUIT and blocks SIGCHLD
 * while it waits; the shell starts with SIGINT and SIGQUIT at their
 * default (unless the caller had them ignored) and the caller's own mask.
 * Threads may call system at once: the first to start ignores the two
 * signals and the last to finish restores them, as in glibc.  Each caller
 * restores its own mask, which is per thread (glibc restores it only in
 * the last caller, leaving SIGCHLD blocked in the others).  A cancelled
 * caller kills and reaps its shell. */
static int system_callers;
static struct sigaction system_saved_intr, system_saved_quit;

static void system_ignore_signals(void)
{
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    pthread_mutex_lock(&system_lock);
    if (system_callers++ == 0) {
        sigaction(SIGINT, &ignore, &system_saved_intr);
        sigaction(SIGQUIT, &ignore, &system_saved_quit);
    }
    pthread_mutex_unlock(&system_lock);
}

static void system_restore_signals(void)
{
    pthread_mutex_lock(&system_lock);
    if (--system_callers == 0) {
        sigaction(SIGINT, &system_saved_intr, NULL);
        sigaction(SIGQUIT, &system_saved_quit, NULL);
    }
    pthread_mutex_unlock(&system_lock);
}

static void system_cancelled(void *arg)
{
    pid_t pid = *(const pid_t *)arg;
    int state;
    kill(pid, SIGKILL);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) continue;
    pthread_setcancelstate(state, NULL);
    system_restore_signals();
}

static int system_with(spawn_fn spawn, const char *command)
{
    system_ignore_signals();
    sigset_t chld, mask, reset;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &mask);
    sigemptyset(&reset);
    if (system_saved_intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
    if (system_saved_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &mask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int status = -1, saved_errno = errno;
    struct ctxvar__child_env env;
    ctxvar__child_env_build(&env, environ, 1);
    errno = saved_errno;
    int err = spawn(&pid, SHELL_PATH, NULL, &attr, argv, env.envp);
    saved_errno = errno;
    ctxvar__child_env_release(&env);
    errno = saved_errno;
    posix_spawnattr_destroy(&attr);

    if (err == 0) {
        pthread_cleanup_push(system_cancelled, &pid);
        pid_t waited;
        do waited = waitpid(pid, &status, 0);
        while (waited < 0 && errno == EINTR);
        if (waited != pid) status = -1;
        pthread_cleanup_pop(0);
    } else {
        status = 127 << 8; /* as if the shell had run and called _exit(127) */
    }
    saved_errno = errno;
    system_restore_signals();
    sigprocmask(SIG_SETMASK, &mask, NULL);
    errno = err ? err : saved_errno;
    return status;
}

CTXVAR__EXPORT int system(const char *command)
{
    spawn_fn spawn = real_posix_spawn();
    if (!ctxvar__export_enabled() || !spawn) {
        system_fn real = real_system();
        if (real) return real(command);
        errno = ENOSYS;
        return -1;
    }
    /* Is there a shell?  The way glibc asks. */
    if (!command) return system_with(spawn, "exit 0") == 0;
    return system_with(spawn, command);
}

/* popen.  glibc's pclose is fclose: it flushes the stream and calls the
 * stream's own close function, which for a glibc popen stream closes the
 * pipe and waits for the shell, and fclose returns that status.  A stream
 * from fopencookie does the same with a close function of ours, so both
 * pclose and fclose of our stream behave as they do on glibc's, and
 * neither needs interposing.  The cookie stream gets the pipe's descriptor
 * as its fileno (a cookie stream otherwise has none, and programs poll or
 * fstat a popen stream's descriptor); stdio never uses it for anything
 * else on a cookie stream.  Its buffer is sized as glibc sizes a popen
 * stream's, the pipe's st_blksize when that is below BUFSIZ (stdio would
 * give a cookie stream BUFSIZ), so that a program's writes reach the
 * shell at the same points: it is the stream record's own tail, freed
 * with it.
 *
 * POSIX: a popen child must not inherit the streams of earlier popen calls
 * still open in the parent; every open stream is on a list, and each new
 * child closes their descriptors.  The list's lock is held from reading it
 * to adding the new stream, so two threads' children see each other's
 * pipes either on the list or still close-on-exec. */
struct popen_stream {
    int fd;
    pid_t pid; /* 0 until the shell is started */
    struct popen_stream *next;
    char buffer[BUFSIZ]; /* the stream's */
};
static struct popen_stream *popen_streams;

static ssize_t popen_read(void *cookie, char *buf, size_t size)
{
    const struct popen_stream *p = cookie;
    return read(p->fd, buf, size);
}

/* All of it, or as much as went before an error (errno says which), the
 * way stdio writes to a descriptor. */
static ssize_t popen_write(void *cookie, const char *buf, size_t size)
{
    const struct popen_stream *p = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(p->fd, buf + done, size - done);
        if (n < 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int popen_seek(void *cookie, off64_t *offset, int whence)
{
    (void)cookie;
    (void)offset;
    (void)whence;
    errno = ESPIPE; /* what lseek says of a pipe */
    return -1;
}

/* What glibc's popen stream does on its close: off the list, close the
 * pipe (-1 without waiting when that fails), then wait for the shell,
 * through EINTR, and return its status.  Not a cancellation point, as
 * glibc's is not: cancelled in close or waitpid, it would leak the pipe and
 * leave the shell unreaped. */
static int popen_close(void *cookie)
{
    struct popen_stream *p = cookie;
    int state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
    pthread_mutex_lock(&popen_lock);
    for (struct popen_stream **at = &popen_streams; *at; at = &(*at)->next) {
        if (*at == p) {
            *at = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&popen_lock);
    int status = 0;
    if (close(p->fd) < 0) {
        status = -1;
    } else if (p->pid > 0) {
        int wstatus;
        pid_t waited;
        do waited = waitpid(p->pid, &wstatus, 0);
        while (waited < 0 && errno == EINTR);
        status = waited < 0 ? -1 : wstatus;
    }
    free(p);
    pthread_setcancelstate(state, NULL);
    return status;
}

/* Starts the shell for p under popen_lock; 0 or an error number. */
static int popen_spawn(spawn_fn spawn, struct popen_stream *p, posix_spawn_file_actions_t *actions,
                       int child_fd, const char *command)
{
    for (const struct popen_stream *q = popen_streams; q; q = q->next) {
        /* One on child_fd is replaced by the dup2 already. */
        if (q->fd != child_fd && posix_spawn_file_actions_addclose(actions, q->fd) != 0)
            return ENOMEM;
    }
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    struct ctxvar__child_env env;
    ctxvar__child_env_build(&env, environ, 1);
    int err = spawn(&p->pid, SHELL_PATH, actions, NULL, argv, env.envp);
    ctxvar__child_env_release(&env);
    return err;
}

static FILE *popen_with(spawn_fn spawn, const char *command, const char *mode)
{
    int reading = 0, writing = 0, cloexec = 0;
    for (const char *m = mode; *m; m++) {
        if (*m == 'r') reading = 1;
        else if (*m == 'w') writing = 1;
        else if (*m == 'e') cloexec = 1;
        else reading = writing = 1; /* not a mode */
    }
    if (reading == writing) {
        errno = EINVAL;
        return NULL;
    }
    struct popen_stream *p = malloc(sizeof *p);
    if (!p) return NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        free(p);
        return NULL;
    }
    int parent_end = reading ? 0 : 1, child_end = 1 - parent_end;
    int child_fd = reading ? STDOUT_FILENO : STDIN_FILENO;
    /* The child's end must not already be the descriptor it is to become:
     * dup2 onto itself would leave it close-on-exec. */
    if (fds[child_end] == child_fd) {
        int moved = fcntl(fds[child_end], F_DUPFD_CLOEXEC, 0);
        if (moved < 0) {
            int saved_errno = errno;
            close(fds[0]);
            close(fds[1]);
            free(p);
            errno = saved_errno;
            return NULL;
        }
        close(fds[child_end]);
        fds[child_end] = moved;
    }
    p->fd = fds[parent_end];
    p->pid = 0;
    cookie_io_functions_t io = {popen_read, popen_write, popen_seek, popen_close};
    if (reading) io.write = NULL;
    else io.read = NULL;
    FILE *stream = fopencookie(p, reading ? "r" : "w", io);
    if (!stream) {
        int saved_errno = errno;
        close(fds[0]);
        close(fds[1]);
        free(p);
        errno = saved_errno;
        return NULL;
    }
    stream->_fileno = p->fd;
    struct stat st;
    size_t size = BUFSIZ;
    if (fstat(p->fd, &st) == 0 && st.st_blksize > 0 && (size_t)st.st_blksize < size)
        size = (size_t)st.st_blksize;
    setvbuf(stream, p->buffer, _IOFBF, size);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int saved_errno = errno;
    int err = posix_spawn_file_actions_adddup2(&actions, fds[child_end], child_fd);
    if (!err) {
        pthread_mutex_lock(&popen_lock);
        err = popen_spawn(spawn, p, &actions, child_fd, command);
        if (!err) {
            close(fds[child_end]);
            if (!cloexec) fcntl(p->fd, F_SETFD, 0);
            p->next = popen_streams;
            popen_streams = p;
        }
        pthread_mutex_unlock(&popen_lock);
    }
    posix_spawn_file_actions_destroy(&actions);
    if (err) {
        close(fds[child_end]);
        fclose(stream); /* closes the parent's end and frees p: no shell to wait for */
        errno = ENOMEM; /* what glibc's popen says for any failure to start the shell */
        return NULL;
    }
    errno = saved_errno;
    return stream;
}

CTXVAR__EXPORT FILE *popen(const char *command, const char *mode)
{
    spawn_fn spawn = real_posix_spawn();
    if (!ctxvar__export_enabled() || !spawn) {
        popen_fn real = real_popen();
        if (real) return real(command, mode);
        errno = ENOSYS;
        return NULL;
    }
    /* Not a cancellation point, as glibc's popen is not: cancelled in the
     * close under popen_lock, it would leave the lock held, and every later
     * popen, pclose and fork (whose handlers take it) would wait for good. */
    int state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
    FILE *stream = popen_with(spawn, command, mode);
    pthread_setcancelstate(state, NULL);
    return stream;
}

