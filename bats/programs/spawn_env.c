/* spawn_env [-i] [-b] METHOD ENV COMMAND [SETTING]... - runs `sh -c COMMAND`
 * one way, after applying each SETTING in order, and prints what the
 * runtime must leave alone (bats/processes.bats, bats/exec_hostile.bats).
 *
 * SETTING:
 *   BAGGAGE=v, TRACEPARENT=v, TRACESTATE=v   setenv() in the program itself
 *   -BAGGAGE, -TRACEPARENT, -TRACESTATE      unsetenv()
 *   clearenv                                 clearenv(): environ is NULL
 *   traceparent=v                            ctxvar_set_traceparent
 *   name=v                                   ctxvar_set of name
 *
 * COMMAND "@N:TEXT" is TEXT, then " #" and as many 'a' as make it N bytes
 * long: a command longer than this program's own arguments may be.
 *
 * ENV, for the methods that take an environment: "environ", or "copy", an
 * explicit envp holding a copy (strdup) of every entry of environ, or
 * "null", an explicit NULL envp (the program runs with no environment).
 *
 * METHOD:
 *   posix_spawn posix_spawnp                  sh -c COMMAND, then waitpid
 *   fork_execve fork_execv fork_execvp fork_execvpe fork_execl fork_execlp
 *   fork_execle fork_fexecve vfork_execve     fork (vfork) and exec it
 *   system         system(COMMAND)
 *   system_null    system(NULL), printed as "system(NULL): N"
 *   fail:CALL      in this process, 1,000 times, an exec that fails: CALL
 *                  is execve, execv, execvp, execvpe, execl, execlp, execle
 *                  (of COMMAND as a path) or fexecve (of descriptor -1);
 *                  prints "CALL: <result>, errno: <message>" for the last,
 *                  with errno set to 0 before, and "address space: steady"
 *                  when it grew by less than 1 MiB over the 1,000
 *   popen:MODE     popen(COMMAND, MODE): "r" prints each line read; "w"
 *                  writes "line from the parent" to it; first a line
 *                  "stream: <fifo|not a fifo>, cloexec=<0|1>" about its
 *                  fileno; the status from pclose
 *   fclose:MODE    the same, closed with fclose instead of pclose
 *   popen_two      popen("cat >/dev/null", "w") stays open while
 *                  popen(COMMAND, "r") runs, is read and pclosed; then the
 *                  first is pclosed ("first: <status>").  COMMAND finds
 *                  the first stream's pipe as "pipe:[INODE]" in
 *                  $FIRST_PIPE.
 *
 * Then "status: <exit status>" ("status: signal N", "status: -1"); when
 * the call failed, with ", errno: <message>".  -i: the parent ignores
 * SIGINT before; -b: it blocks SIGUSR1 before; -l: just before the call,
 * its address space is limited to what it uses now and 4 KiB more.  After system, one line
 * "parent after: SIGINT <default|ignored|handled>, SIGQUIT <...>, SIGCHLD
 * <blocked|unblocked>, SIGUSR1 <blocked|unblocked>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

extern char **environ;

static void print_status(int status, int err)
{
    if (status == -1) printf("status: -1");
    else if (WIFEXITED(status)) printf("status: %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) printf("status: signal %d", WTERMSIG(status));
    else printf("status: 0x%x", (unsigned)status);
    if (err) printf(", errno: %s", strerror(err));
    printf("\n");
}

static const char *disposition(int sig)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignored" : "handled";
}

static const char *blocked(int sig)
{
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    return sigismember(&mask, sig) ? "blocked" : "unblocked";
}

static void limit_address_space(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kib = atol(line + 7);
    if (f) fclose(f);
    struct rlimit limit = {(rlim_t)(kib + 4) * 1024, (rlim_t)(kib + 4) * 1024};
    if (kib < 0 || setrlimit(RLIMIT_AS, &limit) != 0) printf("could not limit the address space\n");
}

static void apply(char *setting)
{
    if (strcmp(setting, "clearenv") == 0) {
        clearenv();
        return;
    }
    if (setting[0] == '-') {
        unsetenv(setting + 1);
        return;
    }
    char *eq = strchr(setting, '=');
    if (!eq) return;
    *eq = '\0';
    const char *name = setting, *value = eq + 1;
    int err = 0;
    if (strcmp(name, "BAGGAGE") == 0 || strcmp(name, "TRACEPARENT") == 0 ||
        strcmp(name, "TRACESTATE") == 0)
        setenv(name, value, 1);
    else if (strcmp(name, "traceparent") == 0)
        err = ctxvar_set_traceparent(value, NULL);
    else
        err = ctxvar_set(ctxvar_named(name), value, NULL);
    if (err) printf("set %s refused: %s\n", name, ctxvar_strerror(err));
}

/* Kept where leak checkers see it until exit (volatile: the store stays). */
static char **volatile environ_copy;

static char **copy_of_environ(void)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++) copy[i] = strdup(environ[i]);
    environ_copy = copy;
    return copy;
}

static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return status;
}

/* fork (or vfork) and exec COMMAND with METHOD; the child exits 127 when
 * the exec fails. */
static int fork_exec(const char *method, char **envp, const char *command)
{
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    fflush(stdout);
    if (strcmp(method, "vfork_execve") == 0) {
        pid = vfork();
        if (pid == 0) {
            execve("/bin/sh", argv, envp);
            _exit(127);
        }
    } else {
        pid = fork();
        if (pid == 0) {
            if (strcmp(method, "fork_execve") == 0) execve("/bin/sh", argv, envp);
            else if (strcmp(method, "fork_execv") == 0) execv("/bin/sh", argv);
            else if (strcmp(method, "fork_execvp") == 0) execvp("sh", argv);
            else if (strcmp(method, "fork_execvpe") == 0) execvpe("sh", argv, envp);
            else if (strcmp(method, "fork_execl") == 0) execl("/bin/sh", "sh", "-c", command, (char *)NULL);
            else if (strcmp(method, "fork_execlp") == 0) execlp("sh", "sh", "-c", command, (char *)NULL);
            else if (strcmp(method, "fork_execle") == 0)
                execle("/bin/sh", "sh", "-c", command, (char *)NULL, envp);
            else if (strcmp(method, "fork_fexecve") == 0) {
                int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
                if (fd >= 0) fexecve(fd, argv, envp);
            }
            _exit(127);
        }
    }
    if (pid < 0) return -1;
    return wait_child(pid);
}

static long vm_size_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kib = atol(line + 7);
    if (f) fclose(f);
    return kib;
}

/* One exec of `path` by `call` that is to fail; its result. */
static int failing_exec(const char *call, const char *path, char **envp)
{
    char *argv[] = {"x", NULL};
    if (strcmp(call, "execve") == 0) return execve(path, argv, envp);
    if (strcmp(call, "execv") == 0) return execv(path, argv);
    if (strcmp(call, "execvp") == 0) return execvp(path, argv);
    if (strcmp(call, "execvpe") == 0) return execvpe(path, argv, envp);
    if (strcmp(call, "execl") == 0) return execl(path, "x", (char *)NULL);
    if (strcmp(call, "execlp") == 0) return execlp(path, "x", (char *)NULL);
    if (strcmp(call, "execle") == 0) return execle(path, "x", (char *)NULL, envp);
    if (strcmp(call, "fexecve") == 0) return fexecve(-1, argv, envp);
    return -2;
}

static void describe_stream(FILE *f)
{
    struct stat st;
    int fd = fileno(f);
    int fifo = fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
    int flags = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
    printf("stream: %s, cloexec=%d\n", fifo ? "fifo" : "not a fifo",
           flags >= 0 && (flags & FD_CLOEXEC) ? 1 : 0);
}

static void run_popen(const char *mode, int with_fclose, const char *command)
{
    errno = 0;
    FILE *f = popen(command, mode);
    if (!f) {
        int err = errno;
        printf("popen failed, errno: %s\n", strerror(err));
        return;
    }
    describe_stream(f);
    fflush(stdout);
    if (strchr(mode, 'r')) {
        char line[16384];
        while (fgets(line, sizeof line, f)) fputs(line, stdout);
    } else {
        fputs("line from the parent\n", f);
    }
    fflush(stdout);
    /* (Through a pointer: GCC rightly warns of fclose on a popen stream,
     * which glibc allows and the test means.) */
    int (*close_stream)(FILE *) = with_fclose ? fclose : pclose;
    int status = close_stream(f);
    print_status(status, 0);
}

int main(int argc, char **argv)
{
    /* From the defaults, whatever ran the suite: a shell without job
     * control starts its background jobs with SIGINT and SIGQUIT ignored,
     * and "parent after" compares against the dispositions set here. */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    int a = 1, limit = 0;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] && !argv[a][2]; a++) {
        if (argv[a][1] == 'i') {
            signal(SIGINT, SIG_IGN);
        } else if (argv[a][1] == 'b') {
            sigset_t usr1;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            sigprocmask(SIG_BLOCK, &usr1, NULL);
        } else if (argv[a][1] == 'l') {
            limit = 1;
        }
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: spawn_env [-i] [-b] METHOD ENV COMMAND [SETTING]...\n");
        return 2;
    }
    const char *method = argv[a], *env = argv[a + 1], *command = argv[a + 2];
    if (command[0] == '@') {
        char *text = strchr(command, ':');
        size_t len = strtoul(command + 1, NULL, 10), used = text ? strlen(text + 1) : 0;
        static char padded[1 << 18];
        if (!text || len >= sizeof padded || len < used + 2) return 2;
        memcpy(padded, text + 1, used);
        memcpy(padded + used, " #", 2);
        memset(padded + used + 2, 'a', len - used - 2);
        padded[len] = '\0';
        command = padded;
    }
    static char out_buffer[BUFSIZ]; /* nothing to allocate once the address space is limited */
    setvbuf(stdout, out_buffer, _IOLBF, sizeof out_buffer);
    for (int i = a + 3; i < argc; i++) apply(argv[i]);
    char **envp = strcmp(env, "copy") == 0 ? copy_of_environ() : strcmp(env, "null") == 0 ? NULL : environ;
    fflush(stdout);
    if (limit) limit_address_space();

    int status = -1, err = 0;
    if (strcmp(method, "posix_spawn") == 0 || strcmp(method, "posix_spawnp") == 0) {
        char *args[] = {"sh", "-c", (char *)command, NULL};
        pid_t pid;
        err = method[11] == 'p' ? posix_spawnp(&pid, "sh", NULL, NULL, args, envp)
                                : posix_spawn(&pid, "/bin/sh", NULL, NULL, args, envp);
        if (!err) status = wait_child(pid);
    } else if (strncmp(method, "fork_", 5) == 0 || strcmp(method, "vfork_execve") == 0) {
        status = fork_exec(method, envp, command);
    } else if (strcmp(method, "system") == 0) {
        errno = 0;
        status = system(command);
        err = status == 127 << 8 ? errno : 0;
        fflush(stdout);
        print_status(status, err);
        printf("parent after: SIGINT %s, SIGQUIT %s, SIGCHLD %s, SIGUSR1 %s\n", disposition(SIGINT),
               disposition(SIGQUIT), blocked(SIGCHLD), blocked(SIGUSR1));
        return 0;
    } else if (strncmp(method, "fail:", 5) == 0) {
        long before = vm_size_kib();
        int result = 0, saved = 0;
        for (int i = 0; i < 1000; i++) {
            errno = 0;
            result = failing_exec(method + 5, command, envp);
            saved = errno;
        }
        long grew = vm_size_kib() - before;
        printf("%s: %d, errno: %s\n", method + 5, result, strerror(saved));
        if (grew < 1024) printf("address space: steady\n");
        else printf("address space: grew by %ld KiB\n", grew);
        return 0;
    } else if (strcmp(method, "system_null") == 0) {
        printf("system(NULL): %d\n", system(NULL));
        return 0;
    } else if (strncmp(method, "popen:", 6) == 0 || strncmp(method, "fclose:", 7) == 0) {
        int with_fclose = method[0] == 'f';
        run_popen(method + (with_fclose ? 7 : 6), with_fclose, command);
        return 0;
    } else if (strcmp(method, "popen_two") == 0) {
        FILE *first = popen("cat >/dev/null", "w");
        struct stat st;
        char pipe_name[64];
        if (!first || fstat(fileno(first), &st) != 0) {
            printf("first popen failed\n");
            return 1;
        }
        snprintf(pipe_name, sizeof pipe_name, "pipe:[%lu]", (unsigned long)st.st_ino);
        setenv("FIRST_PIPE", pipe_name, 1);
        run_popen("r", 0, command);
        int first_status = pclose(first);
        printf("first: ");
        print_status(first_status, 0);
        return 0;
    } else {
        fprintf(stderr, "spawn_env: unknown method %s\n", method);
        return 2;
    }
    fflush(stdout);
    print_status(status, err);
    return 0;
}
