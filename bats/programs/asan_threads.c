/* asan_threads.c - built with gcc -fsanitize=address, which loads
 * libasan.so as a dependency (bats/ctxrun_asan.bats): prints what a thread
 * it starts sees of request_id and the ASAN_OPTIONS it was given; with
 * "overflow", that thread also writes past a heap block, which ASan must
 * still catch behind the runtime. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"

static int overflow;

static void *thread_main(void *arg)
{
    (void)arg;
    printf("thread: request_id=%s\n", ctxvar_get(ctxvar_named("request_id"), "(none)"));
    fflush(stdout);
    if (overflow) {
        char *block = malloc(8);
        volatile char *p = block;
        p[8] = 1; /* one byte past the block */
        free(block);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    overflow = argc > 1 && strcmp(argv[1], "overflow") == 0;
    const char *options = getenv("ASAN_OPTIONS");
    printf("ASAN_OPTIONS=%s\n", options ? options : "(unset)");
    pthread_t thread;
    if (pthread_create(&thread, NULL, thread_main, NULL) != 0) return 3;
    pthread_join(thread, NULL);
    return 0;
}
