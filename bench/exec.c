/* exec.c - what the runtime adds to starting a process and to a
 * SIGEV_THREAD timer's life, against the same run without it.
 *
 *     exec spawn NVARS SAMPLES CALLS
 *         Sets NVARS variables in the main thread, then SAMPLES samples of
 *         CALLS posix_spawn("/bin/true") + waitpid each, with environ;
 *         prints the mean microseconds per call.
 *     exec timers COUNT SAMPLES
 *         SAMPLES samples of COUNT timer_create(SIGEV_THREAD) +
 *         timer_delete pairs (a timeout armed and cancelled per request),
 *         with a 10-variable context; prints the mean microseconds per
 *         pair.
 *
 * Metrics end in ".runtime" when the runtime is present, ".plain" when
 * not: bench/run.py runs the same binary both ways, alternately.  LD_PRELOAD
 * is removed from the environment first, so the child is the same plain
 * /bin/true both ways and what differs is the parent's call (and the
 * BAGGAGE the child gets, at most 64 members).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench.h"

extern char **environ;

static const char *suffix(void) { return ctxvar_runtime_present() ? "runtime" : "plain"; }

static void spawn_calls(long calls)
{
    static char *argv[] = {"true", NULL};
    for (long i = 0; i < calls; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
            bench_die("posix_spawn failed");
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bench_die("/bin/true failed");
    }
}

static void on_expiry(union sigval value) { (void)value; }

static void timer_pairs(long count)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = on_expiry;
    for (long i = 0; i < count; i++) {
        timer_t timer;
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) bench_die("timer_create failed");
        if (timer_delete(timer) != 0) bench_die("timer_delete failed");
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) bench_die("usage: exec spawn NVARS SAMPLES CALLS | exec timers COUNT SAMPLES");
    unsetenv("LD_PRELOAD");
    char metric[64];
    if (strcmp(argv[1], "spawn") == 0) {
        int nvars = (int)bench_arg(argc, argv, 2, 500);
        int samples = (int)bench_arg(argc, argv, 3, 5);
        long calls = bench_arg(argc, argv, 4, 200);
        if (ctxvar_runtime_present() && bench_set_vars(nvars) != nvars)
            bench_die("could not set the variables");
        snprintf(metric, sizeof metric, "spawn%d.%s", nvars, suffix());
        spawn_calls(calls / 4 + 1); /* warm-up */
        for (int s = 0; s < samples; s++) {
            uint64_t t0 = bench_now_ns();
            spawn_calls(calls);
            bench_sample(metric, s, (double)(bench_now_ns() - t0) / 1e3 / (double)calls);
        }
        return 0;
    }
    if (strcmp(argv[1], "timers") == 0) {
        long count = bench_arg(argc, argv, 2, 40000);
        int samples = (int)bench_arg(argc, argv, 3, 3);
        if (ctxvar_runtime_present() && bench_set_vars(10) != 10)
            bench_die("could not set the variables");
        snprintf(metric, sizeof metric, "timers.%s", suffix());
        timer_pairs(count / 10 + 1); /* warm-up */
        for (int s = 0; s < samples; s++) {
            uint64_t t0 = bench_now_ns();
            timer_pairs(count);
            bench_sample(metric, s, (double)(bench_now_ns() - t0) / 1e3 / (double)count);
        }
        return 0;
    }
    bench_die("unknown mode");
}
