/* server.c - a request server whose request threads each start a child
 * process, and each child gets its own request's ids.
 *
 * Two requests run at once (a barrier makes sure).  Each request thread sets
 * its ids and a W3C traceparent, then starts two children:
 *
 *   popen("echo \"$BAGGAGE\"")   a shell, reading the BAGGAGE it was given
 *   posix_spawnp(request_child)  a C program printing its context
 *
 * Under the runtime, a child's BAGGAGE, TRACEPARENT and TRACESTATE are those
 * of the thread that started it, not the server's.  Run it:
 *
 *     $ build/ctxrun -- build/examples/process_server | sort
 *     [r1] child: request_id=r1 traceparent=00-...0001-01 user_id=alice
 *     [r1] shell: request_id=r1,user_id=alice
 *     [r2] child: request_id=r2 traceparent=00-...0002-01 user_id=bob
 *     [r2] shell: request_id=r2,user_id=bob
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "ctxvar.h"

extern char **environ;

struct request {
    const char *id, *user, *traceparent;
};

static pthread_barrier_t all_started;
static char child_path[4096];

static void *serve(void *arg)
{
    const struct request *r = arg;
    ctxvar_set(ctxvar_named("request_id"), r->id, NULL);
    ctxvar_set(ctxvar_named("user_id"), r->user, NULL);
    ctxvar_set_traceparent(r->traceparent, NULL);
    pthread_barrier_wait(&all_started); /* both requests are in flight */

    /* A shell: popen (or system) gives it this thread's BAGGAGE. */
    char line[1024];
    FILE *shell = popen("echo \"$BAGGAGE\"", "r");
    if (shell) {
        while (fgets(line, sizeof line, shell)) printf("[%s] shell: %s", r->id, line);
        pclose(shell);
    }

    /* A program of our own: it prints the context its runtime was seeded
     * with from the environment this thread gave it. */
    char *argv[] = {child_path, (char *)r->id, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, child_path, NULL, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct request requests[] = {
        {"r1", "alice", "00-0af7651916cd43dd8448eb211c800001-b7ad6b7169200001-01"},
        {"r2", "bob", "00-0af7651916cd43dd8448eb211c800002-b7ad6b7169200002-01"},
    };
    enum { N = sizeof requests / sizeof requests[0] };
    pthread_t threads[N];

    /* request_child lives next to this program. */
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    snprintf(child_path, sizeof child_path, "%.*s%srequest_child",
             slash ? (int)(slash - argv[0]) : 0, slash ? argv[0] : "", slash ? "/" : "");

    setvbuf(stdout, NULL, _IOLBF, 0); /* whole lines: threads share stdout */
    pthread_barrier_init(&all_started, NULL, N);
    for (int i = 0; i < N; i++) pthread_create(&threads[i], NULL, serve, (void *)&requests[i]);
    for (int i = 0; i < N; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&all_started);
    return 0;
}
