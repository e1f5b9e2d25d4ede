/* test-threads.c - inheritance at pthread_create and thrd_create. */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <semaphore.h>
#include <threads.h>

/* The child waits until the parent changed its context after the create,
 * then reports what it sees, then changes its own. */
struct handoff {
    sem_t parent_changed, child_read, child_changed;
    char seen[64], seen_after_change[64];
};

static void child_body(struct handoff *h)
{
    ctxvar *v = test_var("inherit_me");
    sem_wait(&h->parent_changed);
    snprintf(h->seen, sizeof h->seen, "%s", ctxvar_get(v, "unset"));
    ASSERT_INT(0, ctxvar_set(v, "child", NULL));
    ASSERT_INT(0, ctxvar_set(test_var("child_only"), "c", NULL));
    sem_post(&h->child_changed);
}

static void *pthread_child(void *arg)
{
    child_body(arg);
    return NULL;
}

static int thrd_child(void *arg)
{
    child_body(arg);
    return 0;
}

static void check_handoff(int use_thrd)
{
    struct handoff h;
    sem_init(&h.parent_changed, 0, 0);
    sem_init(&h.child_changed, 0, 0);
    ctxvar *v = test_var("inherit_me");
    ASSERT_INT(0, ctxvar_set(v, "at-create", NULL));
    pthread_t pt;
    thrd_t tt;
    if (use_thrd)
        ASSERT_INT(thrd_success, thrd_create(&tt, thrd_child, &h));
    else
        CHECK_PT(pthread_create(&pt, NULL, pthread_child, &h));
    ASSERT_INT(0, ctxvar_set(v, "after-create", NULL));
    sem_post(&h.parent_changed);
    sem_wait(&h.child_changed);
    ASSERT_STR("after-create", ctxvar_get(v, NULL)); /* child's set not seen */
    ASSERT_NULL(ctxvar_get(test_var("child_only"), NULL));
    if (use_thrd)
        ASSERT_INT(thrd_success, thrd_join(tt, NULL));
    else
        CHECK_PT(pthread_join(pt, NULL));
    ASSERT_STR("at-create", h.seen);
    ASSERT_STR("after-create", ctxvar_get(v, NULL));
    sem_destroy(&h.parent_changed);
    sem_destroy(&h.child_changed);
}

TEST_IMPL(pthread_child_sees_context_at_create_only)
{
    check_handoff(0);
}

TEST_IMPL(thrd_child_sees_context_at_create_only)
{
    SKIP_UNDER_TSAN(TSAN_NO_C11_THREADS);
    check_handoff(1);
}

static void *report_format(void *arg)
{
    snprintf(arg, 256, "%s", test_format());
    return NULL;
}

TEST_IMPL(child_of_empty_context_starts_empty)
{
    char seen[256] = "not run";
    test_set("x", "1");
    test_set("x", NULL);
    test_in_thread(report_format, seen);
    ASSERT_STR("", seen);
}

static void *child_then_grandchild(void *arg)
{
    test_set("child", "yes");
    test_in_thread(report_format, arg);
    return NULL;
}

TEST_IMPL(grandchild_inherits_through_child)
{
    char seen[256] = "not run";
    test_set("req", "r1");
    test_in_thread(child_then_grandchild, seen);
    ASSERT_STR("child=yes req=r1", seen);
}

static void *check_200(void *arg)
{
    (void)arg;
    char name[32], want[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "var%03d", i);
        snprintf(want, sizeof want, "value-%d", i);
        ASSERT_STR(want, ctxvar_get(test_var(name), NULL));
    }
    ctxvar_ctx *c = ctxvar_capture();
    ASSERT_INT(200, (int)ctxvar_ctx_count(c));
    ctxvar_release(c);
    return NULL;
}

TEST_IMPL(child_inherits_context_of_200_variables)
{
    char name[32], value[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "var%03d", i);
        snprintf(value, sizeof value, "value-%d", i);
        test_set(name, value);
    }
    test_in_thread(check_200, NULL);
}

static void *nothing(void *arg) { return arg; }

TEST_IMPL(threads_inherited_counts_each_thread)
{
    SKIP_UNDER_TSAN("its background thread is created through pthread_create and is counted too");
    test_set("x", "1");
    unsigned long long before = test_inherited();
    test_in_thread(nothing, NULL);
    ASSERT_ULL(before + 1, test_inherited());
    pthread_t t[3];
    for (int i = 0; i < 3; i++) CHECK_PT(pthread_create(&t[i], NULL, nothing, NULL));
    for (int i = 0; i < 3; i++) CHECK_PT(pthread_join(t[i], NULL));
    ASSERT_ULL(before + 4, test_inherited());
    struct ctxvar_stats s;
    ASSERT_INT(0, ctxvar_stats(&s));
    ASSERT_ULL(0, s.inherit_failures);
}

/* Regression: with every slot of the start-args pool busy, pthread_create
 * recursed into the pool instead of allocating, then freed a static slot
 * (seen by make bench with 10,000 threads: free(): invalid pointer). */
#if defined(__SANITIZE_THREAD__)
enum { MANY_THREADS = 1000 }; /* still 4 times the pool; 3,000 take 20 s of the 30 under TSan */
#else
enum { MANY_THREADS = 3000 };
#endif
static pthread_barrier_t all_started;

static void *wait_for_all(void *arg)
{
    (void)arg;
    const char *seen = ctxvar_get(test_var("x"), "unset");
    pthread_barrier_wait(&all_started);
    return strcmp(seen, "many") == 0 ? (void *)1 : NULL;
}

TEST_IMPL(more_threads_alive_than_start_slots_all_inherit)
{
    static pthread_t t[MANY_THREADS];
    pthread_attr_t attr;
    test_set("x", "many");
    unsigned long long base = test_live();
    CHECK_PT(pthread_barrier_init(&all_started, NULL, MANY_THREADS + 1));
    /* On one CPU, under SCHED_FIFO (root), the creator is not preempted by
     * the threads it creates: all of them are created before any starts, so
     * every slot of the pool (256) is taken and the rest must be allocated. */
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one_cpu);
    sched_setaffinity(0, sizeof one_cpu, &one_cpu);
    struct sched_param fifo = {.sched_priority = 1};
    int fifo_ok = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) == 0;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setstacksize(&attr, 256 * 1024));
    for (int i = 0; i < MANY_THREADS; i++) CHECK_PT(pthread_create(&t[i], &attr, wait_for_all, NULL));
    pthread_attr_destroy(&attr);
    if (fifo_ok) {
        struct sched_param normal = {.sched_priority = 0};
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal);
    }
    pthread_barrier_wait(&all_started);
    int inherited = 0;
    for (int i = 0; i < MANY_THREADS; i++) {
        void *ok;
        CHECK_PT(pthread_join(t[i], &ok));
        inherited += ok != NULL;
    }
    ASSERT_INT(MANY_THREADS, inherited);
    ASSERT_ULL(base, test_live());
    pthread_barrier_destroy(&all_started);
}

static int thrd_nothing(void *arg)
{
    (void)arg;
    return 7;
}

TEST_IMPL(thrd_create_counts_and_returns_result)
{
    SKIP_UNDER_TSAN(TSAN_NO_C11_THREADS);
    test_set("x", "1");
    unsigned long long before = test_inherited();
    thrd_t t;
    int res = 0;
    ASSERT_INT(thrd_success, thrd_create(&t, thrd_nothing, NULL));
    ASSERT_INT(thrd_success, thrd_join(t, &res));
    ASSERT_INT(7, res);
    ASSERT_ULL(before + 1, test_inherited());
}

static void *return_token(void *arg) { return arg; }

TEST_IMPL(pthread_create_result_and_attr_untouched)
{
    pthread_attr_t attr;
    size_t stack = 0;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setstacksize(&attr, 1 << 20));
    test_set("x", "1");
    pthread_t t;
    void *res = NULL;
    CHECK_PT(pthread_create(&t, &attr, return_token, (void *)0xbeef));
    CHECK_PT(pthread_join(t, &res));
    ASSERT_PTR((void *)0xbeef, res);
    CHECK_PT(pthread_attr_getstacksize(&attr, &stack));
    ASSERT_ULL(1 << 20, stack);
    pthread_attr_destroy(&attr);
}

/* A create that fails (a stack larger than the address space) returns the
 * real error, starts nothing, and leaks no snapshot. */
TEST_IMPL(failed_pthread_create_returns_error_and_leaks_nothing)
{
    pthread_attr_t attr;
    CHECK_PT(pthread_attr_init(&attr));
    CHECK_PT(pthread_attr_setstacksize(&attr, (size_t)1 << 47));
    test_set("x", "1");
    /* Under TSan the process's first pthread_create also starts TSan's
     * background thread, through ours, and it would be counted below. */
    test_in_thread(nothing, NULL);
    unsigned long long live = test_live(), inherited = test_inherited();
    pthread_t t;
    int rc = pthread_create(&t, &attr, return_token, NULL);
    ASSERT(rc == EAGAIN || rc == ENOMEM || rc == EINVAL);
    ASSERT_ULL(live, test_live());
    ASSERT_ULL(inherited, test_inherited());
    pthread_attr_destroy(&attr);
}

/* CTXVAR_INHERIT=0: threads start empty, the counter stays, and the rest
 * of the API works in them. */
static void *no_inherit_child(void *arg)
{
    (void)arg;
    ASSERT_NULL(ctxvar_capture());
    ASSERT_STR("fb", ctxvar_get(test_var("parent"), "fb"));
    ASSERT_INT(0, ctxvar_set(test_var("own"), "1", NULL));
    ASSERT_STR("own=1", test_format());
    return NULL;
}

static int no_inherit_thrd(void *arg)
{
    no_inherit_child(arg);
    return 0;
}

TEST_IMPL(inherit_off_child_starts_empty)
{
    SKIP_UNDER_TSAN(TSAN_NO_C11_THREADS);
    test_set("parent", "p");
    unsigned long long before = test_inherited();
    test_in_thread(no_inherit_child, NULL);
    thrd_t t;
    ASSERT_INT(thrd_success, thrd_create(&t, no_inherit_thrd, NULL));
    ASSERT_INT(thrd_success, thrd_join(t, NULL));
    ASSERT_ULL(before, test_inherited());
    ASSERT_STR("p", ctxvar_get(test_var("parent"), NULL));
}

/* Many threads creating threads and setting at once: each sees its own. */
static void *stress_child(void *arg)
{
    long id = (long)arg;
    char want[32];
    snprintf(want, sizeof want, "t%ld", id);
    ASSERT_STR(want, ctxvar_get(test_var("who"), NULL));
    return NULL;
}

static void *stress_parent(void *arg)
{
    long id = (long)arg;
    char value[32];
    for (int i = 0; i < 50; i++) {
        long child_id = id * 1000 + i;
        snprintf(value, sizeof value, "t%ld", child_id);
        test_set("who", value);
        pthread_t t;
        CHECK_PT(pthread_create(&t, NULL, stress_child, (void *)child_id));
        test_set("who", "changed");
        CHECK_PT(pthread_join(t, NULL));
    }
    return NULL;
}

TEST_IMPL(concurrent_creators_each_pass_their_own_context)
{
    unsigned long long base = test_live();
    pthread_t t[4];
    for (long i = 0; i < 4; i++) CHECK_PT(pthread_create(&t[i], NULL, stress_parent, (void *)(i + 1)));
    for (int i = 0; i < 4; i++) CHECK_PT(pthread_join(t[i], NULL));
    ASSERT_ULL(base, test_live());
}
