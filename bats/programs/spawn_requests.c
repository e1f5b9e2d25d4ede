/* spawn_requests [-e] METHOD [ENV [CHILD]] - two request threads, alive at
 * once, each start a child process; each child must get its own thread's
 * context in BAGGAGE, TRACEPARENT and TRACESTATE, and the parent's
 * environment must not change, not even briefly.
 *
 * Thread r1 sets request_id=r1 user_id=alice _secret=s1, a traceparent
 * (through ctxvar_set_traceparent) ending in ...0001-01 and tracestate
 * vendor=r1; r2 the same with r2, bob, s2, ...0002-01, vendor=r2.  With -e,
 * r2 instead clears its context (ctxvar_clear) and sets nothing.  Both wait
 * at a barrier, then start the child with METHOD:
 *
 *   posix_spawn posix_spawnp system popen fork_execv fork_execvp fork_execve
 *   execle vfork_execve
 *
 * ENV (for the methods that take an environment: posix_spawn, posix_spawnp,
 * fork_execve, execle, vfork_execve) is "process" (environ, the default),
 * "with" (an explicit envp holding stale BAGGAGE, TRACEPARENT and
 * TRACESTATE, plus KEEP=1 and the parent's LD_PRELOAD) or "without" (an
 * explicit envp of KEEP=1 and LD_PRELOAD only).
 *
 * CHILD is "sh" (the default): sh -c 'echo "LABEL sh: ..."' showing the
 * three variables ("(unset)" when absent); or the path of a program run as
 * CHILD LABEL (spawn_child).  LABEL is the starting thread's request, r1 or
 * r2.  Children run concurrently: the bats tests sort the output.
 *
 * After both threads are joined the program prints one line on the parent:
 *   parent: environment unchanged, BAGGAGE=<getenv or (unset)>, main: <ctxvar_format>
 * or what changed.  A watcher thread compares the environment with the
 * snapshot for as long as the requests run; a difference it sees is printed.
 * A child that fails or exits non-zero is printed too.  Exit 0, or 1 when
 * anything went wrong.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

extern char **environ;

enum env_kind { ENV_PROCESS, ENV_WITH, ENV_WITHOUT };

static const char *method;
static enum env_kind env_kind = ENV_PROCESS;
static const char *child_path; /* NULL: the sh child */
static int second_empty;
static pthread_barrier_t barrier;
static atomic_int requests_done, failures;

struct request {
    const char *label, *user, *secret, *traceparent, *tracestate;
};

static const struct request requests[2] = {
    {"r1", "alice", "s1", "00-0af7651916cd43dd8448eb211c800001-b7ad6b7169200001-01", "vendor=r1"},
    {"r2", "bob", "s2", "00-0af7651916cd43dd8448eb211c800002-b7ad6b7169200002-01", "vendor=r2"},
};

/* ---- The environment, snapshotted ---------------------------------------- */

static char **snapshot_pointers;
static char **snapshot_strings;
static size_t snapshot_count;

static void take_snapshot(void)
{
    while (environ[snapshot_count]) snapshot_count++;
    snapshot_pointers = malloc((snapshot_count + 1) * sizeof *snapshot_pointers);
    snapshot_strings = malloc((snapshot_count + 1) * sizeof *snapshot_strings);
    for (size_t i = 0; i <= snapshot_count; i++) {
        snapshot_pointers[i] = environ[i];
        snapshot_strings[i] = environ[i] ? strdup(environ[i]) : NULL;
    }
}

/* NULL when environ is as snapshotted (same array, entries and text),
 * else what differs. */
static const char *environment_difference(void)
{
    char **now = environ;
    for (size_t i = 0; i < snapshot_count; i++) {
        if (now[i] != snapshot_pointers[i]) return "an entry was replaced";
        if (strcmp(now[i], snapshot_strings[i]) != 0) return "an entry's text changed";
    }
    if (now[snapshot_count] != NULL) return "an entry was added";
    return NULL;
}

static void *watch_environment(void *arg)
{
    (void)arg;
    while (atomic_load(&requests_done) < 2) {
        const char *diff = environment_difference();
        if (diff) {
            printf("watcher: environment changed while requests ran: %s\n", diff);
            atomic_fetch_add(&failures, 1);
            return NULL;
        }
    }
    return NULL;
}

/* ---- Starting the child ---------------------------------------------------- */

static void fail(const char *label, const char *what)
{
    printf("%s: %s\n", label, what);
    fflush(stdout);
    atomic_fetch_add(&failures, 1);
}

/* The shell text the sh child runs (also the system/popen command). */
static void sh_script(char *out, size_t size, const char *label)
{
    snprintf(out, size,
             "echo \"%s sh: BAGGAGE=${BAGGAGE-(unset)} TRACEPARENT=${TRACEPARENT-(unset)}"
             " TRACESTATE=${TRACESTATE-(unset)} KEEP=${KEEP-(unset)}\"",
             label);
}

static void wait_for(const char *label, pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) fail(label, "waitpid failed");
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail(label, "child failed");
}

static void start_child(const char *label)
{
    char script[512], command[1024];
    sh_script(script, sizeof script, label);
    char *sh_argv[] = {"sh", "-c", script, NULL};
    char *c_argv[] = {(char *)child_path, (char *)label, NULL};
    char **argv = child_path ? c_argv : sh_argv;
    const char *path = child_path ? child_path : "/bin/sh";
    const char *file = child_path ? child_path : "sh";
    if (child_path) snprintf(command, sizeof command, "'%s' %s", child_path, label);
    else snprintf(command, sizeof command, "%s", script);

    char preload[4096];
    const char *lp = getenv("LD_PRELOAD");
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lp ? lp : "");
    char *with[] = {"BAGGAGE=stale=1", "KEEP=1",
                    "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00",
                    "TRACESTATE=stale=1", preload, NULL};
    char *without[] = {"KEEP=1", preload, NULL};
    char **envp = env_kind == ENV_WITH ? with : env_kind == ENV_WITHOUT ? without : environ;

    pid_t pid;
    int err;
    if (strcmp(method, "posix_spawn") == 0) {
        err = posix_spawn(&pid, path, NULL, NULL, argv, envp);
        if (err) fail(label, "posix_spawn failed");
        else wait_for(label, pid);
    } else if (strcmp(method, "posix_spawnp") == 0) {
        err = posix_spawnp(&pid, file, NULL, NULL, argv, envp);
        if (err) fail(label, "posix_spawnp failed");
        else wait_for(label, pid);
    } else if (strcmp(method, "system") == 0) {
        int status = system(command);
        if (status != 0) fail(label, "system: non-zero status");
    } else if (strcmp(method, "popen") == 0) {
        FILE *f = popen(command, "r");
        char line[8192];
        if (!f) {
            fail(label, "popen failed");
            return;
        }
        while (fgets(line, sizeof line, f)) fputs(line, stdout);
        fflush(stdout);
        if (pclose(f) != 0) fail(label, "pclose: non-zero status");
    } else if (strcmp(method, "vfork_execve") == 0) {
        pid = vfork();
        if (pid == 0) {
            execve(path, argv, envp);
            _exit(127);
        }
        if (pid < 0) fail(label, "vfork failed");
        else wait_for(label, pid);
    } else {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            if (strcmp(method, "fork_execv") == 0) execv(path, argv);
            else if (strcmp(method, "fork_execvp") == 0) execvp(file, argv);
            else if (strcmp(method, "fork_execve") == 0) execve(path, argv, envp);
            else if (strcmp(method, "execle") == 0 && child_path)
                execle(path, child_path, label, (char *)NULL, envp);
            else if (strcmp(method, "execle") == 0)
                execle(path, "sh", "-c", script, (char *)NULL, envp);
            _exit(127);
        }
        if (pid < 0) fail(label, "fork failed");
        else wait_for(label, pid);
    }
}

/* ---- The requests ----------------------------------------------------------- */

static void set_or_fail(const char *label, const char *name, const char *value)
{
    if (ctxvar_set(ctxvar_named(name), value, NULL) != 0) fail(label, "ctxvar_set failed");
}

static void *serve(void *arg)
{
    const struct request *r = arg;
    if (r == &requests[1] && second_empty) {
        ctxvar_clear();
    } else {
        set_or_fail(r->label, "request_id", r->label);
        set_or_fail(r->label, "user_id", r->user);
        set_or_fail(r->label, "_secret", r->secret);
        if (ctxvar_set_traceparent(r->traceparent, NULL) != 0)
            fail(r->label, "ctxvar_set_traceparent failed");
        set_or_fail(r->label, "tracestate", r->tracestate);
    }
    pthread_barrier_wait(&barrier); /* both requests are alive from here */
    start_child(r->label);
    atomic_fetch_add(&requests_done, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-e") == 0) {
        second_empty = 1;
        a++;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: spawn_requests [-e] METHOD [process|with|without [CHILD]]\n");
        return 2;
    }
    method = argv[a++];
    if (a < argc) {
        if (strcmp(argv[a], "with") == 0) env_kind = ENV_WITH;
        else if (strcmp(argv[a], "without") == 0) env_kind = ENV_WITHOUT;
        a++;
    }
    if (a < argc && strcmp(argv[a], "sh") != 0) child_path = argv[a];

    setvbuf(stdout, NULL, _IOLBF, 0);
    take_snapshot();
    const char *before = getenv("BAGGAGE");

    pthread_t watcher, threads[2];
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&watcher, NULL, watch_environment, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, serve, (void *)&requests[i]);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    pthread_join(watcher, NULL);

    const char *diff = environment_difference();
    const char *after = getenv("BAGGAGE");
    char main_ctx[1024];
    ctxvar_format(main_ctx, sizeof main_ctx);
    if (diff || before != after) {
        printf("parent: environment CHANGED: %s\n", diff ? diff : "getenv(\"BAGGAGE\") differs");
        failures++;
    } else {
        printf("parent: environment unchanged, BAGGAGE=%s, main: %s\n",
               after ? after : "(unset)", main_ctx);
    }
    return failures ? 1 : 0;
}
