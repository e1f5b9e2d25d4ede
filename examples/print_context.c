/* print_context.c - prints the context a program starts with, and the one a
 * thread it starts inherits.  Used by the tests and the README.
 *
 * Output, exactly three lines (a context is ctxvar_format's logfmt, "" when
 * empty, so an empty one leaves "main: " with its trailing space):
 *
 *     main: <context of the main thread>
 *     thread: <context of a thread started with pthread_create>
 *     runtime: yes|no
 *
 *     $ build/ctxrun --set request_id=42 -- build/examples/print_context
 *     main: request_id=42
 *     thread: request_id=42
 *     runtime: yes
 *
 * Exit status 0, or 1 when the thread or a buffer cannot be had.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"

/* Prints "<who>: <context>" as one line, however long the context is. */
static int print_context(const char *who)
{
    int len = ctxvar_format(NULL, 0); /* sizes the text, like snprintf */
    char *text = malloc((size_t)len + 1);

    if (!text)
        return -1;
    ctxvar_format(text, (size_t)len + 1);
    printf("%s: %s\n", who, text);
    free(text);
    return 0;
}

static void *thread_main(void *arg)
{
    (void)arg;
    return print_context("thread") == 0 ? NULL : (void *)"out of memory";
}

int main(void)
{
    pthread_t thread;
    void *failed;
    int err;

    if (print_context("main") != 0)
        return 1;
    err = pthread_create(&thread, NULL, thread_main, NULL);
    if (err != 0) {
        fprintf(stderr, "print_context: pthread_create: %s\n", strerror(err));
        return 1;
    }
    pthread_join(thread, &failed);
    if (failed)
        return 1;
    printf("runtime: %s\n", ctxvar_runtime_present() ? "yes" : "no");
    return 0;
}
