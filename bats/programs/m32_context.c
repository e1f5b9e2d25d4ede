/* m32_context - the program bats/multilib.bats builds with -m32: a user's
 * 32-bit program, compiled against the header alone with -pthread.
 *
 *   m32_context            what the main thread starts with, what a thread
 *                          it creates inherits, and whether a runtime is in:
 *                              main: <context>
 *                              thread: <context>
 *                              runtime: yes|no
 *                              pointer bits: 32
 *   m32_context args A...  reads no context: "pointer bits: 32, args: A ..."
 *
 * "pointer bits" shows which kind of program produced the lines: the same
 * source built without -m32 says 64.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include "show.h"

static void *thread_main(void *arg)
{
    (void)arg;
    show("thread");
    return NULL;
}

int main(int argc, char **argv)
{
    int bits = (int)(sizeof(void *) * 8);

    if (argc > 1 && strcmp(argv[1], "args") == 0) {
        printf("pointer bits: %d, args:", bits);
        for (int i = 2; i < argc; i++)
            printf(" %s", argv[i]);
        printf("\n");
        return 0;
    }
    show("main");
    pthread_t thread;
    int err = pthread_create(&thread, NULL, thread_main, NULL);
    if (err != 0) {
        printf("pthread_create: %s\n", strerror(err));
        return 1;
    }
    pthread_join(thread, NULL);
    printf("runtime: %s\npointer bits: %d\n", ctxvar_runtime_present() ? "yes" : "no", bits);
    return 0;
}
