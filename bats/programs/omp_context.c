/* omp_context - OpenMP regions and tasks run in the context of the thread
 * that opened or created them (ctxvar.h section 4), although libgomp reuses
 * its worker threads from one region to the next.  Built with gcc -fopenmp
 * and the header alone.  Run as `omp_context SCENARIO`; each scenario prints
 * lines in a fixed order (team threads record what they saw, the main
 * thread prints it sorted by thread number).  Every region asks for
 * num_threads(4) or (2); OMP_DYNAMIC is false by default, so it gets them.
 *
 * regions:  region 1 in request_id=A, then the main thread sets B, region 2.
 *   region 1 thread 0: request_id=A     ... thread 3
 *   region 2 thread 0: request_id=B     ... thread 3
 *   main: request_id=B
 * loops:    parallel for, schedule static, dynamic, guided, runtime and the
 *           monotonic dynamic, guided and runtime, each after the main thread
 *           changed request_id; every iteration checks.
 *   schedule(static): 0 mismatches in 1000 iterations
 *   ...      (7 lines)
 * sections: parallel sections, 4 sections.
 *   section 1: request_id=S       ... section 4
 * tasks:    8 tasks created by one thread, each with its own request_id
 *           current at its creation (and a firstprivate label to check that
 *           the task's data arrives intact).
 *   task 0 (label task-0): request_id=task-0     ... task 7
 *   after tasks: request_id=T
 * taskloop: taskloop over 1000 iterations (long and unsigned long long).
 *   taskloop: 0 mismatches, 1000 iterations, sum 499500
 *   taskloop ull: 0 mismatches, 1000 iterations, sum 499500
 * nested:   two rounds of 2 outer x 2 inner threads; each outer thread sets
 *           request_id=outer<round>-<thread> before opening its region.
 *   round 1 outer 0 inner 0: request_id=outer1-0   ... (8 lines a round)
 *   main: request_id=N
 * master:   the main thread changes request_id inside a region (it runs its
 *           share in its own context, as without ctxvar); the workers' own
 *           changes do not outlive the region.
 *   region 1 thread 0: mine=0 request_id=M   ... thread 3: mine=3 request_id=A
 *   main after region 1: request_id=M
 *   region 2 thread 0: request_id=M   ... thread 3
 * teams:    host teams (2), after the teams were started in request_id=first.
 *   team 0: request_id=R
 *   team 1: request_id=R
 * reduction: parallel reduction(task, +: total) whose 4 tasks add 1 each
 *           when they see request_id=R.
 *   reduction region thread 0: request_id=R   ... thread 3
 *   tasks that saw request_id=R: 4
 *
 * Without the runtime every context is empty, after one "set ... failed"
 * line per set.
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "show.h"

#define TEAM 4
#define TEXT 256

/* What a team thread or task saw: its context as logfmt. */
static char seen[64][TEXT];

static void record(int slot)
{
    ctxvar_format(seen[slot], TEXT);
}

static void print_seen(const char *what, int n)
{
    for (int i = 0; i < n; i++) printf("%s %d: %s\n", what, i, seen[i]);
}

static int regions(void)
{
    set_or_say("request_id", "A");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    print_seen("region 1 thread", TEAM);
    set_or_say("request_id", "B");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    print_seen("region 2 thread", TEAM);
    show("main");
    return 0;
}

/* 1 when the current request_id is not want. */
static int mismatch(const char *want)
{
    return strcmp(ctxvar_get(ctxvar_named("request_id"), "(unset)"), want) != 0;
}

#define N_ITERATIONS 1000

static void print_loop(const char *kind, int bad)
{
    printf("schedule(%s): %d mismatches in %d iterations\n", kind, bad, N_ITERATIONS);
}

/* No reduction clause: with one, gcc opens a plain GOMP_parallel and runs the
 * loop inside it; without, it calls the combined GOMP_parallel_loop_<kind>. */
static atomic_int loop_mismatches;

static int loops(void)
{
    /* Start the team in a context no loop expects. */
    set_or_say("request_id", "start");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());

    loop_mismatches = 0;
    set_or_say("request_id", "static");
#pragma omp parallel for num_threads(TEAM) schedule(static)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("static");
    print_loop("static", atomic_load(&loop_mismatches));

    loop_mismatches = 0;
    set_or_say("request_id", "dynamic");
#pragma omp parallel for num_threads(TEAM) schedule(dynamic)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("dynamic");
    print_loop("dynamic", atomic_load(&loop_mismatches));

    loop_mismatches = 0;
    set_or_say("request_id", "guided");
#pragma omp parallel for num_threads(TEAM) schedule(guided)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("guided");
    print_loop("guided", atomic_load(&loop_mismatches));

    loop_mismatches = 0;
    set_or_say("request_id", "runtime");
#pragma omp parallel for num_threads(TEAM) schedule(runtime)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("runtime");
    print_loop("runtime", atomic_load(&loop_mismatches));

    /* The monotonic forms reach libgomp through other entry points. */
    loop_mismatches = 0;
    set_or_say("request_id", "monotonic-dynamic");
#pragma omp parallel for num_threads(TEAM) schedule(monotonic: dynamic)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("monotonic-dynamic");
    print_loop("monotonic: dynamic", atomic_load(&loop_mismatches));

    loop_mismatches = 0;
    set_or_say("request_id", "monotonic-guided");
#pragma omp parallel for num_threads(TEAM) schedule(monotonic: guided)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("monotonic-guided");
    print_loop("monotonic: guided", atomic_load(&loop_mismatches));

    loop_mismatches = 0;
    set_or_say("request_id", "monotonic-runtime");
#pragma omp parallel for num_threads(TEAM) schedule(monotonic: runtime)
    for (int i = 0; i < N_ITERATIONS; i++) loop_mismatches += mismatch("monotonic-runtime");
    print_loop("monotonic: runtime", atomic_load(&loop_mismatches));
    return 0;
}

static int sections(void)
{
    set_or_say("request_id", "first");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    set_or_say("request_id", "S");
#pragma omp parallel sections num_threads(TEAM)
    {
#pragma omp section
        record(0);
#pragma omp section
        record(1);
#pragma omp section
        record(2);
#pragma omp section
        record(3);
    }
    for (int i = 0; i < 4; i++) printf("section %d: %s\n", i + 1, seen[i]);
    return 0;
}

#define N_TASKS 8
static char labels[N_TASKS][32];

static int tasks(void)
{
    set_or_say("request_id", "T");
#pragma omp parallel num_threads(TEAM)
#pragma omp single
    {
        for (int i = 0; i < N_TASKS; i++) {
            char value[32], label[32];
            snprintf(value, sizeof value, "task-%d", i);
            snprintf(label, sizeof label, "task-%d", i);
            ctxvar_token token;
            int err = ctxvar_set(ctxvar_named("request_id"), value, &token);
            if (err) printf("set request_id failed: %s\n", ctxvar_strerror(err));
#pragma omp task firstprivate(i, label)
            {
                record(i);
                memcpy(labels[i], label, sizeof label);
            }
            if (!err) ctxvar_reset(&token);
        }
#pragma omp taskwait
    }
    for (int i = 0; i < N_TASKS; i++) printf("task %d (label %s): %s\n", i, labels[i], seen[i]);
    show("after tasks");
    return 0;
}

static int taskloops(void)
{
    atomic_int mismatches = 0, count = 0;
    atomic_long sum = 0;
    unsigned long long end = N_ITERATIONS; /* not a constant: gcc then calls GOMP_taskloop_ull */
    set_or_say("request_id", "first");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    set_or_say("request_id", "L");
#pragma omp parallel num_threads(TEAM)
#pragma omp single
#pragma omp taskloop grainsize(10)
    for (long i = 0; i < N_ITERATIONS; i++) {
        mismatches += mismatch("L");
        count += 1;
        sum += i;
    }
    printf("taskloop: %d mismatches, %d iterations, sum %ld\n", (int)mismatches, (int)count,
           (long)sum);
    mismatches = 0;
    count = 0;
    sum = 0;
    set_or_say("request_id", "U");
#pragma omp parallel num_threads(TEAM)
#pragma omp single
#pragma omp taskloop grainsize(10)
    for (unsigned long long i = 0; i < end; i++) {
        mismatches += mismatch("U");
        count += 1;
        sum += (long)i;
    }
    printf("taskloop ull: %d mismatches, %d iterations, sum %ld\n", (int)mismatches, (int)count,
           (long)sum);
    return 0;
}

static int nested(void)
{
    omp_set_max_active_levels(2);
    set_or_say("request_id", "N");
    for (int round = 1; round <= 2; round++) {
#pragma omp parallel num_threads(2)
        {
            int outer = omp_get_thread_num();
            char value[32];
            ctxvar_token token;
            snprintf(value, sizeof value, "outer%d-%d", round, outer);
            int err = ctxvar_set(ctxvar_named("request_id"), value, &token);
            if (err) printf("set request_id failed: %s\n", ctxvar_strerror(err));
#pragma omp parallel num_threads(2)
            record(outer * 2 + omp_get_thread_num());
            if (!err) ctxvar_reset(&token);
        }
        for (int i = 0; i < 4; i++)
            printf("round %d outer %d inner %d: %s\n", round, i / 2, i % 2, seen[i]);
    }
    show("main");
    return 0;
}

static int master(void)
{
    set_or_say("request_id", "A");
#pragma omp parallel num_threads(TEAM)
    {
        int me = omp_get_thread_num();
        char mine[8];
        if (me == 0) set_or_say("request_id", "M");
        snprintf(mine, sizeof mine, "%d", me);
        set_or_say("mine", mine);
        record(me);
    }
    print_seen("region 1 thread", TEAM);
    set_or_say("mine", NULL);
    show("main after region 1");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    print_seen("region 2 thread", TEAM);
    return 0;
}

/* Host teams (GOMP_teams_reg), after the initial threads were started in
 * another context. */
static int teams(void)
{
    set_or_say("request_id", "first");
#pragma omp teams num_teams(2)
    record(omp_get_team_num());
    set_or_say("request_id", "R");
#pragma omp teams num_teams(2)
    record(omp_get_team_num());
    for (int i = 0; i < 2; i++) printf("team %d: %s\n", i, seen[i]);
    return 0;
}

/* A region with a task reduction (GOMP_parallel_reductions), whose tasks
 * take part in it. */
static int reduction(void)
{
    int total = 0;
    set_or_say("request_id", "first");
#pragma omp parallel num_threads(TEAM)
    record(omp_get_thread_num());
    set_or_say("request_id", "R");
#pragma omp parallel num_threads(TEAM) reduction(task, +: total)
    {
        record(omp_get_thread_num());
#pragma omp single
        for (int i = 0; i < 4; i++) {
#pragma omp task in_reduction(+: total)
            total += !mismatch("R");
        }
    }
    print_seen("reduction region thread", TEAM);
    printf("tasks that saw request_id=R: %d\n", total);
    return 0;
}

int main(int argc, char **argv)
{
    const char *scenario = argc > 1 ? argv[1] : "regions";
    if (!strcmp(scenario, "regions")) return regions();
    if (!strcmp(scenario, "loops")) return loops();
    if (!strcmp(scenario, "sections")) return sections();
    if (!strcmp(scenario, "tasks")) return tasks();
    if (!strcmp(scenario, "taskloop")) return taskloops();
    if (!strcmp(scenario, "nested")) return nested();
    if (!strcmp(scenario, "master")) return master();
    if (!strcmp(scenario, "teams")) return teams();
    if (!strcmp(scenario, "reduction")) return reduction();
    fprintf(stderr, "omp_context: unknown scenario %s\n", scenario);
    return 2;
}
