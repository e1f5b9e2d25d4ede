/* glib.c - what the runtime adds to a GLib pool job and to a GLib idle
 * callback, against the same run without it.
 *
 *     glib pool JOBS SAMPLES
 *         SAMPLES samples of JOBS empty jobs pushed to an exclusive
 *         one-thread GThreadPool, from a thread with a 10-variable
 *         context, in batches of 100 each waited for (a queue a server
 *         keeps short), timed from the first push to the last job's end;
 *         prints nanoseconds per job.
 *     glib idle CALLBACKS SAMPLES
 *         SAMPLES samples of CALLBACKS g_idle_add of an empty callback, in
 *         batches of 100 each followed by main-context iterations until
 *         the batch has run (as a loop sees them: a few pending at a time,
 *         not a hundred thousand); nanoseconds per callback.
 *
 * Metrics end in ".runtime" or ".plain" as in exec.c: bench/run.py runs the
 * same binary both ways, alternately.
 */
#include <glib.h>

#include "bench.h"

static const char *suffix(void) { return ctxvar_runtime_present() ? "runtime" : "plain"; }

static gint done;

static void job(gpointer data, gpointer user_data)
{
    (void)data, (void)user_data;
    g_atomic_int_inc(&done);
}

static gboolean idle(gpointer data)
{
    (void)data;
    done++;
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    if (argc < 2) bench_die("usage: glib pool|idle COUNT SAMPLES");
    long count = bench_arg(argc, argv, 2, 100000), samples = bench_arg(argc, argv, 3, 5);
    char metric[64];
    bench_set_vars(10);
    int pool = g_str_equal(argv[1], "pool");
    snprintf(metric, sizeof metric, "%s.%s", pool ? "glibpool" : "idle", suffix());
    GThreadPool *p = pool ? g_thread_pool_new(job, NULL, 1, TRUE, NULL) : NULL;
    for (long s = -1; s < samples; s++) { /* sample -1 warms up */
        g_atomic_int_set(&done, 0);
        uint64_t t0 = bench_now_ns();
        if (pool) {
            for (long i = 0; i < count; i += 100) {
                for (long j = 0; j < 100; j++) g_thread_pool_push(p, GINT_TO_POINTER(1), NULL);
                while (g_atomic_int_get(&done) < i + 100) g_thread_yield();
            }
        } else {
            for (long i = 0; i < count; i += 100) {
                for (long j = 0; j < 100; j++) g_idle_add(idle, NULL);
                while (done < i + 100) g_main_context_iteration(NULL, FALSE);
            }
        }
        uint64_t t1 = bench_now_ns();
        if (s >= 0) bench_sample(metric, (int)s, (double)(t1 - t0) / (double)count);
    }
    if (p) g_thread_pool_free(p, FALSE, TRUE);
    return 0;
}
