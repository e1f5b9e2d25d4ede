/* fork_storm - many threads fork at once while others keep setting values:
 * each child keeps its forking thread's context (lib/ctxvar.h, section 1)
 * and finds no lock of the runtime held (docs/interposing.md, "fork").
 *
 *     LD_PRELOAD=build/libctxvar.so build/reliability/fork_storm ROUNDS FORKERS SETTERS
 *
 * Each round, FORKERS threads each set forker=<their index> and round=<the
 * round>, meet at a barrier and fork together, while SETTERS threads set
 * and reset values in a loop the whole time.  Each child checks it kept its
 * forking thread's context (forker, round and base, inherited from main),
 * that the runtime still works there (set, a thread that inherits, a
 * capture), and exits 0 (or 1 on a wrong value); the parent counts the
 * children that exited 0.
 *
 * Output:
 *     rounds: 20, forkers: 8, setters: 4
 *     children: 160, exited 0: 160
 * Exit status 0 when every child exited 0. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ctxvar.h"

static pthread_barrier_t barrier;
static atomic_int stop;
static atomic_ulong clean_exits, children;
static int rounds;

static void *child_thread(void *p)
{
    const char *want = p;
    return (void *)(long)(strcmp(ctxvar_get(ctxvar_named("child"), "?"), want) == 0);
}

/* In the child: only this thread exists. */
static int child_checks(int index, int round)
{
    char want[32];
    int ok = 1;
    snprintf(want, sizeof want, "%d", index);
    ok &= strcmp(ctxvar_get(ctxvar_named("forker"), "?"), want) == 0;
    snprintf(want, sizeof want, "%d", round);
    ok &= strcmp(ctxvar_get(ctxvar_named("round"), "?"), want) == 0;
    ok &= strcmp(ctxvar_get(ctxvar_named("base"), "?"), "main") == 0;
    ok &= ctxvar_set(ctxvar_named("child"), "yes", NULL) == 0;
    pthread_t t;
    void *seen = NULL;
    ok &= pthread_create(&t, NULL, child_thread, "yes") == 0 && pthread_join(t, &seen) == 0 &&
          seen == (void *)1L;
    ctxvar_ctx *c = ctxvar_capture();
    ok &= ctxvar_ctx_count(c) == 4;
    ctxvar_release(c);
    return ok;
}

static void *forker(void *p)
{
    int index = (int)(long)p;
    char value[32];
    snprintf(value, sizeof value, "%d", index);
    ctxvar_set(ctxvar_named("forker"), value, NULL);
    for (int round = 0; round < rounds; round++) {
        snprintf(value, sizeof value, "%d", round);
        ctxvar_set(ctxvar_named("round"), value, NULL);
        pthread_barrier_wait(&barrier);
        pid_t pid = fork();
        if (pid == 0) {
            int ok = child_checks(index, round);
            /* End as most forked children do, by exec: what other threads
             * had in flight at the fork (a binding made inside ctxvar_set,
             * not yet installed) is unreachable here, as any library's is,
             * and a leak check at the child's exit would report it; the
             * parent is the one leak-checked. */
            execl(ok ? "/bin/true" : "/bin/false", ok ? "true" : "false", (char *)NULL);
            _exit(ok ? 0 : 1);
        }
        if (pid < 0) {
            perror("fork_storm: fork");
            continue;
        }
        int status;
        atomic_fetch_add(&children, 1);
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            atomic_fetch_add(&clean_exits, 1);
    }
    return NULL;
}

static void *setter(void *p)
{
    char name[32], value[32];
    snprintf(name, sizeof name, "setter%ld", (long)p);
    ctxvar *v = ctxvar_named(name);
    for (unsigned long i = 0; !atomic_load(&stop); i++) {
        ctxvar_token tok;
        snprintf(value, sizeof value, "%lu", i);
        if (ctxvar_set(v, value, &tok) == 0) ctxvar_reset(&tok);
        ctxvar_release(ctxvar_capture());
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fork_storm ROUNDS FORKERS SETTERS\n");
        return 2;
    }
    rounds = atoi(argv[1]);
    int forkers = atoi(argv[2]), setters = atoi(argv[3]);
    if (!ctxvar_runtime_present()) {
        fprintf(stderr, "fork_storm: run with the runtime preloaded\n");
        return 2;
    }
    pthread_t f[forkers], s[setters];
    ctxvar_set(ctxvar_named("base"), "main", NULL);
    pthread_barrier_init(&barrier, NULL, (unsigned)forkers);
    for (long i = 0; i < setters; i++) pthread_create(&s[i], NULL, setter, (void *)i);
    for (long i = 0; i < forkers; i++) pthread_create(&f[i], NULL, forker, (void *)i);
    for (int i = 0; i < forkers; i++) pthread_join(f[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < setters; i++) pthread_join(s[i], NULL);
    printf("rounds: %d, forkers: %d, setters: %d\n", rounds, forkers, setters);
    printf("children: %lu, exited 0: %lu\n", atomic_load(&children), atomic_load(&clean_exits));
    return atomic_load(&clean_exits) == (unsigned long)rounds * (unsigned long)forkers ? 0 : 1;
}
