/* test-priority.c - no thread ever waits on another for its context.
 *
 * A real-time thread created with a higher priority than its creator, on
 * its creator's CPU, runs at once and keeps the CPU: its creator does not
 * run again until it blocks.  If the new thread waited for anything its
 * creator does after the real pthread_create returns, the two would never
 * move again.  These tests need CAP_SYS_NICE (root) and skip without it. */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define CHILDREN 20

struct rt_run {
    ctxvar *var;
    int creator_policy;
    int saw_request;   /* children that saw the creator's request id */
    int created;       /* children created and joined */
    int error;         /* first error of a pthread call, 0 if none */
};

static void *rt_child(void *p)
{
    struct rt_run *run = p;
    if (strcmp(ctxvar_get(run->var, "-"), "rt-request") == 0) run->saw_request++;
    return NULL;
}

/* Runs on one CPU with the creator's policy; creates CHILDREN SCHED_FIFO
 * threads of a higher priority, one at a time, each joined before the
 * next (so the counters need no lock). */
static void *rt_creator(void *p)
{
    struct rt_run *run = p;
    ctxvar_set(run->var, "rt-request", NULL);
    pthread_attr_t attr;
    struct sched_param high = {.sched_priority = 20};
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &high);
    for (int i = 0; i < CHILDREN && !run->error; i++) {
        pthread_t child;
        int r = pthread_create(&child, &attr, rt_child, run);
        if (r == 0) r = pthread_join(child, NULL);
        if (r != 0) run->error = r;
        else run->created++;
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

static void rt_children_inherit(int creator_policy)
{
    struct rt_run run = {ctxvar_named("request_id"), creator_policy, 0, 0, 0};
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one_cpu);
    pthread_attr_t attr;
    struct sched_param low = {.sched_priority = creator_policy == SCHED_FIFO ? 10 : 0};
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one_cpu, &one_cpu);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, creator_policy);
    pthread_attr_setschedparam(&attr, &low);
    pthread_t creator;
    int r = pthread_create(&creator, &attr, rt_creator, &run);
    pthread_attr_destroy(&attr);
    if (r == EPERM) test_skip("needs CAP_SYS_NICE for SCHED_FIFO threads");
    ASSERT_INT(0, r);
    /* A hang, not a slowness, is what this looks for: 20 s is 1,000 times
     * what the whole run takes. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    r = pthread_timedjoin_np(creator, NULL, &deadline);
    if (r == ETIMEDOUT) {
        fprintf(stderr, "the creator and its real-time children never finished\n");
        _exit(1);
    }
    ASSERT_INT(0, r);
    if (run.error == EPERM) test_skip("needs CAP_SYS_NICE for SCHED_FIFO threads");
    ASSERT_INT(0, run.error);
    ASSERT_INT(CHILDREN, run.created);
    ASSERT_INT(CHILDREN, run.saw_request);
}

TEST_IMPL(higher_priority_fifo_child_of_fifo_creator_on_one_cpu_inherits_without_hanging)
{
    SKIP_UNDER_TSAN("TSan's own thread start waits for its creator");
    rt_children_inherit(SCHED_FIFO);
}

TEST_IMPL(fifo_child_of_other_creator_on_one_cpu_inherits_without_waiting)
{
    SKIP_UNDER_TSAN("TSan's own thread start waits for its creator");
    rt_children_inherit(SCHED_OTHER);
}
