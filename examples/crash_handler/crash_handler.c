/* crash_handler.c - a crash handler that says which request crashed.
 *
 * Three request threads each set their own request_id; the one named on
 * the command line dereferences a bad pointer.  The SIGSEGV handler, on an
 * alternate stack (the crash may be a stack overflow), writes one line to
 * stderr with the crashing thread's request id and its whole context, then
 * lets the signal kill the process as it would have without the handler,
 * so the exit status and any core dump are unchanged:
 *
 *     $ ctxrun --set tenant=acme -- ./crash_handler r2
 *     crash_handler: SIGSEGV in request r2 (request_id=r2 tenant=acme)
 *     Segmentation fault
 *
 * ctxvar_get and ctxvar_format are async-signal-safe: they allocate
 * nothing and take no lock, so they may run in a handler whatever the
 * thread was doing, even inside a ctxvar call.  Everything else the
 * handler uses is too: write(2), sigaction, raise.
 *
 * Build: cc -Ilib -pthread crash_handler.c (the header alone; the runtime
 * comes from ctxrun or LD_PRELOAD).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctxvar.h"

static ctxvar *request_id;
static const char *crashing_request;

/* Appends s to line[*len], within size. */
static void append(char *line, size_t size, size_t *len, const char *s)
{
    while (*s && *len < size - 1) line[(*len)++] = *s++;
}

static void on_crash(int sig)
{
    char context[512], line[768];
    size_t len = 0;
    ctxvar_format(context, sizeof context);
    append(line, sizeof line, &len, "crash_handler: ");
    append(line, sizeof line, &len, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS");
    append(line, sizeof line, &len, " in request ");
    append(line, sizeof line, &len, ctxvar_get(request_id, "(none)"));
    append(line, sizeof line, &len, " (");
    append(line, sizeof line, &len, context);
    append(line, sizeof line, &len, ")\n");
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    /* The default action, as without this handler: the signal is blocked
     * until the handler returns, then kills the process. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

/* Each thread needs its own alternate stack: a crash handler must run
 * even when the crash is a stack overflow. */
static void alternate_stack(void)
{
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_size = 64 * 1024;
    ss.ss_sp = malloc(ss.ss_size);
    if (!ss.ss_sp || sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        exit(1);
    }
}

static int *volatile bad_pointer; /* NULL, unknown to the compiler */
static pthread_barrier_t all_set;

static void *handle_request(void *name)
{
    alternate_stack();
    ctxvar_set(request_id, name, NULL);
    pthread_barrier_wait(&all_set); /* every request has its id: crash now */
    if (strcmp(name, crashing_request) == 0) *bad_pointer = 1;
    for (;;) pause(); /* the others wait to be killed with the process */
    return NULL;
}

int main(int argc, char **argv)
{
    static char *requests[] = {"r1", "r2", "r3"};
    if (argc != 2) {
        fprintf(stderr, "usage: %s r1|r2|r3\n", argv[0]);
        return 2;
    }
    crashing_request = argv[1];
    /* Bind the header to the runtime before any handler can run: its first
     * call looks the runtime up with dlsym, which a handler must not. */
    request_id = ctxvar_named("request_id");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    pthread_barrier_init(&all_set, NULL, 3);
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) pthread_create(&threads[i], NULL, handle_request, requests[i]);
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    return 0;
}
