/* malloc_thread - a program whose own malloc starts a thread, as an
 * allocator with a background thread does, at its Nth call (argv[1]).  The
 * runtime's start-up allocates (copies of BAGGAGE and TRACEPARENT, the
 * seed), so that thread is created from inside it: the start-up must not
 * wait for itself.
 *
 * Output: "started: 1" and the main thread's context. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static int started, calls, start_at = 1;
static pthread_t background;

static void *idle(void *arg) { return arg; }

static void start_once(void)
{
    if (started || ++calls < start_at) return;
    started = 1;
    pthread_create(&background, NULL, idle, NULL);
}

void *malloc(size_t n)
{
    start_once();
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    start_once();
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    start_once();
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

/* Before any other constructor, the runtime's included: the count starts
 * from the process's first allocation. */
__attribute__((constructor(101))) static void read_start_at(void)
{
    const char *at = getenv("MALLOC_THREAD_AT");
    if (at) start_at = atoi(at);
}

int main(void)
{
    char *s = strdup("x");
    if (started) pthread_join(background, NULL);
    printf("started: %d\n", started);
    show("main");
    free(s);
    return 0;
}
