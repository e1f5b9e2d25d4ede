/* server.c - a request server that runs a hook script for every request,
 * with system(), from the request's own thread; the script logs with the
 * request's ids although nobody hands them to it.
 *
 *     request_hooks HOOK
 *
 * Three requests are in flight at once (a barrier makes sure).  Each request
 * thread sets its ids, then runs the shell command "HOOK <request> <user>"
 * with system() and logs how it ended:
 *
 *     [request_id=r1 user_id=alice] hook exited 0 for request r1 by alice
 *
 * Under the runtime, the shell and the hook get that thread's context in
 * BAGGAGE, so a hook script can log with it, e.g. with the ctxvar command
 * (hook.sh, next to this file):
 *
 *     echo "[$(ctxvar format)] hook rotated the log of request $1 by $2"
 *
 *     $ PATH=$PWD/build:$PATH build/ctxrun -- build/examples/request_hooks \
 *           "sh examples/request_hooks/hook.sh" | sort
 *     [request_id=r1 user_id=alice] hook exited 0 for request r1 by alice
 *     [request_id=r1 user_id=alice] hook rotated the log of request r1 by alice
 *     ...
 *
 * The request and user in each message come from the server's own data,
 * never from the context, so a reader (or examples/bats/request_ids.bats)
 * can check each line's ids against them.  Without the runtime every prefix
 * is "[]": no ids, never wrong ones.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "ctxvar.h"

struct request {
    const char *id, *user;
};

static const struct request requests[] = {
    {"r1", "alice"},
    {"r2", "bob"},
    {"r3", "carol"},
};
enum { N_REQUESTS = sizeof requests / sizeof requests[0] };

static const char *hook;
static pthread_barrier_t all_begun;

static void *serve(void *arg)
{
    const struct request *r = arg;
    ctxvar_set(ctxvar_named("request_id"), r->id, NULL);
    ctxvar_set(ctxvar_named("user_id"), r->user, NULL);
    pthread_barrier_wait(&all_begun); /* every request is in flight */

    char command[4096];
    snprintf(command, sizeof command, "%s %s %s", hook, r->id, r->user);
    int status = system(command);

    char ids[256];
    ctxvar_format(ids, sizeof ids);
    if (status != -1 && WIFEXITED(status))
        printf("[%s] hook exited %d for request %s by %s\n", ids, WEXITSTATUS(status), r->id,
               r->user);
    else
        printf("[%s] hook failed for request %s by %s\n", ids, r->id, r->user);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: request_hooks HOOK\n");
        return 2;
    }
    hook = argv[1];
    pthread_t threads[N_REQUESTS];

    /* Whole lines, each in one write: the hooks share this stdout. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_barrier_init(&all_begun, NULL, N_REQUESTS);
    for (int i = 0; i < N_REQUESTS; i++)
        pthread_create(&threads[i], NULL, serve, (void *)&requests[i]);
    for (int i = 0; i < N_REQUESTS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&all_begun);
    return 0;
}
