/* exec_small_stack MODE ENTRIES [VARIABLES] - start a child from a small
 * stack, with ENTRIES extra environment variables (FILLER_0=0 ...) and a
 * context of request_id=r1 plus VARIABLES more (v00000=x ...), and print
 * what the child gets as BAGGAGE (sh -c 'echo "${BAGGAGE-unset}"', cut to
 * its first 40 bytes so that a large context stays readable).
 *
 *   spawn16k   posix_spawn from a thread whose stack is 16 KiB
 *              (PTHREAD_STACK_MIN), then "status: <exit status>"
 *   altstack   execve from a SIGUSR1 handler running on an alternate
 *              signal stack of 8 KiB (the classic SIGSTKSZ); the child
 *              replaces this process
 *
 * The child's environment must not be built on these stacks: a program may
 * give a thread or a signal handler no more stack than it needs itself.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

extern char **environ;

static char *child_argv[] = {"sh", "-c", "printf '%.40s\\n' \"${BAGGAGE-unset}\"", NULL};

static void *spawn_from_thread(void *unused)
{
    (void)unused;
    pid_t pid;
    int status = -1;
    int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, child_argv, environ);
    if (err == 0) waitpid(pid, &status, 0);
    else printf("posix_spawn: %s\n", strerror(err));
    fflush(stdout);
    printf("status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return NULL;
}

static void exec_from_handler(int sig)
{
    (void)sig;
    execve("/bin/sh", child_argv, environ);
    static const char failed[] = "execve failed\n";
    ssize_t ignored = write(STDOUT_FILENO, failed, sizeof failed - 1);
    (void)ignored;
    _exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: exec_small_stack spawn16k|altstack ENTRIES [VARIABLES]\n");
        return 2;
    }
    long entries = atol(argv[2]), variables = argc > 3 ? atol(argv[3]) : 0;
    char name[32], value[32];
    for (long i = 0; i < entries; i++) {
        snprintf(name, sizeof name, "FILLER_%ld", i);
        snprintf(value, sizeof value, "%ld", i);
        setenv(name, value, 1);
    }
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    for (long i = 0; i < variables; i++) {
        snprintf(name, sizeof name, "v%05ld", i);
        ctxvar_set(ctxvar_named(name), "x", NULL);
    }
    setvbuf(stdout, NULL, _IONBF, 0);

    if (strcmp(argv[1], "spawn16k") == 0) {
        pthread_attr_t attr;
        pthread_t thread;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 16 * 1024);
        if (pthread_create(&thread, &attr, spawn_from_thread, NULL) != 0) return 1;
        pthread_join(thread, NULL);
        return 0;
    }
    if (strcmp(argv[1], "altstack") == 0) {
        static char alt[8192];
        stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = exec_from_handler;
        sa.sa_flags = SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0) return 1;
        raise(SIGUSR1);
        return 1; /* not reached: the handler execs or exits */
    }
    fprintf(stderr, "exec_small_stack: unknown mode %s\n", argv[1]);
    return 2;
}
