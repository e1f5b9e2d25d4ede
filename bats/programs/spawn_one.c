/* spawn_one METHOD COMMAND [NAME=VALUE]... - the main thread sets each
 * NAME=VALUE (traceparent through ctxvar_set_traceparent, !NAME=VALUE with
 * a plain ctxvar_set of NAME, so !traceparent=... is not checked), then runs
 * COMMAND with METHOD and prints what the runtime must leave alone:
 *
 *   system       the command's own output, then "status: <exit status>"
 *   popen        "read: <line>" for each line read, then "status: <status>"
 *                from pclose
 *   posix_spawn  sh -c COMMAND with environ; its output, then "status: ..."
 *
 * Before running, one line "dropped: N": the members ctxvar_baggage_current
 * leaves out (the 64-member and 8192-byte limits).  A refused set prints
 * "set NAME refused: <message>" and goes on.
 */
#define _POSIX_C_SOURCE 200809L
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ctxvar.h"

extern char **environ;

static void print_status(int status)
{
    if (status == -1) printf("status: -1\n");
    else if (WIFEXITED(status)) printf("status: %d\n", WEXITSTATUS(status));
    else printf("status: signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn_one METHOD COMMAND [NAME=VALUE]...\n");
        return 2;
    }
    const char *method = argv[1], *command = argv[2];
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) continue;
        *eq = '\0';
        const char *name = argv[i] + (argv[i][0] == '!');
        int err = strcmp(argv[i], "traceparent") == 0
                      ? ctxvar_set_traceparent(eq + 1, NULL)
                      : ctxvar_set(ctxvar_named(name), eq + 1, NULL);
        if (err) printf("set %s refused: %s\n", argv[i], ctxvar_strerror(err));
    }
    size_t dropped = 0;
    ctxvar_baggage_current(NULL, 0, &dropped);
    printf("dropped: %zu\n", dropped);
    fflush(stdout);

    if (strcmp(method, "system") == 0) {
        int status = system(command);
        fflush(stdout);
        print_status(status);
    } else if (strcmp(method, "popen") == 0) {
        FILE *f = popen(command, "r");
        if (!f) {
            printf("popen failed\n");
            return 1;
        }
        char line[16384];
        while (fgets(line, sizeof line, f)) printf("read: %s", line);
        print_status(pclose(f));
    } else if (strcmp(method, "posix_spawn") == 0) {
        pid_t pid;
        char *args[] = {"sh", "-c", (char *)command, NULL};
        int err = posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ);
        int status = -1;
        if (err) printf("posix_spawn: %s\n", strerror(err));
        else waitpid(pid, &status, 0);
        print_status(status);
    } else {
        fprintf(stderr, "spawn_one: unknown method %s\n", method);
        return 2;
    }
    return 0;
}
