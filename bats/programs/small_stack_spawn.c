/* small_stack_spawn N - posix_spawn from a thread with a 64 KiB stack and an
 * environment of N extra variables.  Regression from a review: the child's
 * environment was built on the caller's stack whatever its size, and
 * overflowed it (SIGSEGV).  Now it is built in a mapping of its own, off
 * the stack, whatever its size.
 *
 * Prints the child's BAGGAGE (sh -c 'echo "${BAGGAGE-unset}"') and
 * "status: 0".
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ctxvar.h"

extern char **environ;

static void *spawn_child(void *unused)
{
    (void)unused;
    char *argv[] = {"sh", "-c", "echo \"${BAGGAGE-unset}\"", NULL};
    pid_t pid;
    int status = -1;
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0) waitpid(pid, &status, 0);
    fflush(stdout);
    printf("status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return NULL;
}

int main(int argc, char **argv)
{
    long extra = argc == 2 ? atol(argv[1]) : 0;
    char name[32], value[32];
    for (long i = 0; i < extra; i++) {
        snprintf(name, sizeof name, "FILLER_%ld", i);
        snprintf(value, sizeof value, "%ld", i);
        setenv(name, value, 1);
    }
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&thread, &attr, spawn_child, NULL) != 0) return 1;
    pthread_join(thread, NULL);
    return 0;
}
