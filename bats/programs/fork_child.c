/* fork_child [busy] - a process forked by a thread keeps that thread's
 * context, and the runtime stays usable in the child: no lock of the runtime
 * is left held by a thread the child does not have (docs/interposing.md,
 * "fork").
 *
 * A worker thread (not main) sets its own value and forks.  The child process
 * shows its context, starts a thread, sets a value; the parent shows its own.
 *
 * Output:
 *   child process: request_id=worker
 *   child process thread: request_id=worker
 *   child process after set: request_id=child
 *   worker: child exited with 0
 *   worker: request_id=worker
 *   main: request_id=main
 *
 * With "busy", two more threads keep the runtime busy (interning names,
 * setting, capturing, formatting) while the worker forks 50 times; each child
 * interns a new name, sets, reads and starts a thread, silently, and exits 0
 * only if everything held.  Output:
 *   worker: 50 of 50 children used the runtime
 *   worker: request_id=worker
 *   main: request_id=main
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "show.h"

#define BUSY_FORKS 50

static int stop_hammering; /* set once by main, read with __atomic */

static void *child_process_thread(void *arg)
{
    (void)arg;
    show("child process thread");
    return NULL;
}

static void *quiet_child_thread(void *arg)
{
    const char *value = ctxvar_get(ctxvar_named("request_id"), "");
    *(int *)arg = strcmp(value, "worker") == 0;
    return NULL;
}

/* The whole life of a "busy" child: no output, only an exit status. */
static int quiet_child(void)
{
    pthread_t thread;
    int thread_ok = 0;
    ctxvar *fresh = ctxvar_named("name_first_seen_in_child");

    if (strcmp(ctxvar_get(ctxvar_named("request_id"), ""), "worker") != 0) return 1;
    if (!fresh || ctxvar_set(fresh, "x", NULL) != 0) return 2;
    if (strcmp(ctxvar_get(fresh, ""), "x") != 0) return 3;
    if (pthread_create(&thread, NULL, quiet_child_thread, &thread_ok) != 0) return 4;
    pthread_join(thread, NULL);
    return thread_ok ? 0 : 5;
}

static void *hammer(void *arg)
{
    char name[32], text[256];
    unsigned i = 0;
    (void)arg;
    while (!__atomic_load_n(&stop_hammering, __ATOMIC_RELAXED)) {
        ctxvar_ctx *snapshot;
        snprintf(name, sizeof name, "hammer_%u", i++ % 500);
        ctxvar_set(ctxvar_named(name), name, NULL);
        snapshot = ctxvar_capture();
        ctxvar_format(text, sizeof text);
        ctxvar_release(ctxvar_swap(snapshot));
        if (i % 64 == 0)
            ctxvar_release(ctxvar_swap(NULL));
    }
    return NULL;
}

static void *worker(void *arg)
{
    int busy = *(int *)arg;
    int status, ok = 0;
    pid_t pid;

    set_or_say("request_id", "worker");
    if (!busy) {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            pthread_t thread;
            show("child process");
            if (pthread_create(&thread, NULL, child_process_thread, NULL) == 0)
                pthread_join(thread, NULL);
            set_or_say("request_id", "child");
            show("child process after set");
            fflush(stdout);
            _exit(0);
        }
        waitpid(pid, &status, 0);
        printf("worker: child exited with %d\n",
               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    } else {
        for (int i = 0; i < BUSY_FORKS; i++) {
            fflush(stdout);
            pid = fork();
            if (pid == 0)
                _exit(quiet_child());
            if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                WEXITSTATUS(status) == 0)
                ok++;
        }
        printf("worker: %d of %d children used the runtime\n", ok, BUSY_FORKS);
    }
    show("worker");
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t hammers[2], thread;
    int busy = argc > 1 && strcmp(argv[1], "busy") == 0;

    set_or_say("request_id", "main");
    if (busy)
        for (int i = 0; i < 2; i++)
            pthread_create(&hammers[i], NULL, hammer, NULL);
    pthread_create(&thread, NULL, worker, &busy);
    pthread_join(thread, NULL);
    if (busy) {
        __atomic_store_n(&stop_hammering, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < 2; i++)
            pthread_join(hammers[i], NULL);
    }
    show("main");
    return 0;
}
