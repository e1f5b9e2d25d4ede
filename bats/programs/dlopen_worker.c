/* dlopen_worker RUNTIME - the runtime loaded with dlopen() from a worker
 * thread, not preloaded: its constructor runs there, not on the main thread.
 * Regression from a review: the main thread then lost the BAGGAGE seed, was
 * put twice in the runtime's thread registry, and a later fork() hung.
 *
 * Prints:
 *   main: tenant=acme        (seeded from BAGGAGE on the main thread's first read)
 *   main after set: tenant=acme user=u1
 *   fork: child exited 0     (within 10 s)
 */
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

static void *load(void *path)
{
    return dlopen(path, RTLD_NOW | RTLD_GLOBAL);
}

static void show(const char *label)
{
    char text[256];
    ctxvar_format(text, sizeof text);
    printf("%s: %s\n", label, text);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    pthread_t worker;
    void *handle;
    if (argc != 2) return 2;
    pthread_create(&worker, NULL, load, argv[1]);
    pthread_join(worker, &handle);
    if (!handle) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    show("main");
    ctxvar_set(ctxvar_named("user"), "u1", NULL);
    show("main after set");
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = -1;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(100 * 1000);
    printf("fork: child %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "exited 0" : "hung");
    return 0;
}
