/* preinit_thread.c - a program whose .preinit_array starts (and joins) a
 * thread: the runtime is first used before libc has set environ, and must
 * still read BAGGAGE and its CTXVAR_* settings once they can be read. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctxvar.h"

static void *nothing(void *arg) { return arg; }

static void start_early_thread(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0) pthread_join(t, NULL);
}

__attribute__((section(".preinit_array"), used)) static void (*const early)(int, char **, char **) =
    start_early_thread;

static ctxvar *request_id;

static void *show(void *arg)
{
    (void)arg;
    printf("thread: request_id=%s\n", ctxvar_get(request_id, "-"));
    return NULL;
}

int main(void)
{
    request_id = ctxvar_named("request_id");
    printf("main: request_id=%s\n", ctxvar_get(request_id, "-"));
    ctxvar_set(request_id, "set-in-main", NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, show, NULL) == 0) pthread_join(t, NULL);
    fflush(stdout);
    return system("echo \"child: BAGGAGE=${BAGGAGE-unset}\"") == 0 ? 0 : 1;
}
