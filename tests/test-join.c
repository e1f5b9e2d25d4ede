/* test-join.c - release at join (lib/runtime.h): a joinable thread's
 * contexts outlive its start routine and its destructors, and go exactly
 * when it is joined, by any of the five ways to join; detaching, before or
 * after the start routine ended, still releases them; a forked child
 * releases what ended and running threads held.
 *
 * Under TSan the runtime releases every thread from its key instead (no
 * %fs-relative TLS there): the assertions about *when* are skipped, the
 * ones about *that* stay. */
#include "test.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/* Every build, ThreadSanitizer's included, releases at join. */
#define RELEASED_AT_JOIN 1

/* Posted by a key destructor: the thread's start routine has ended and its
 * own destructors are running, so it has handed its contexts over. */
static sem_t ended;
static pthread_key_t ended_key;

static void post_ended(void *p)
{
    (void)p;
    sem_post(&ended);
}

static void setup_ended(void)
{
    CHECK_PT(sem_init(&ended, 0, 0));
    CHECK_PT(pthread_key_create(&ended_key, post_ended));
}

/* Three contexts of the thread's own ({own=1}, {own=2}, {own=2, own2=x}),
 * alive until the thread is released; then the key that says it ended. */
static void *own_contexts_then_end(void *arg)
{
    ASSERT_STR("r1", ctxvar_get(test_var("req"), NULL)); /* inherited */
    test_set("own", "1");
    test_set("own", "2");
    test_set("own2", "x");
    pthread_setspecific(ended_key, (void *)1);
    return arg;
}

static int own_contexts_then_end_c11(void *arg)
{
    own_contexts_then_end(arg);
    return 7;
}

/* Waits for the thread to end; its three contexts are still alive, held
 * for the joiner. */
static void expect_held_until_joined(unsigned long long base)
{
    sem_wait(&ended);
    if (RELEASED_AT_JOIN) ASSERT_ULL(base + 3, test_live());
}

enum join_kind { JOIN, TRYJOIN, TIMEDJOIN, CLOCKJOIN };

static void join_releases(enum join_kind kind)
{
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t t;
    void *result = NULL;
    CHECK_PT(pthread_create(&t, NULL, own_contexts_then_end, (void *)5));
    expect_held_until_joined(base);
    struct timespec deadline;
    switch (kind) {
    case JOIN:
        CHECK_PT(pthread_join(t, &result));
        break;
    case TRYJOIN: {
        int r;
        while ((r = pthread_tryjoin_np(t, &result)) == EBUSY) sched_yield();
        CHECK_PT(r);
        break;
    }
    case TIMEDJOIN:
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 30;
        CHECK_PT(pthread_timedjoin_np(t, &result, &deadline));
        break;
    case CLOCKJOIN:
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 30;
        CHECK_PT(pthread_clockjoin_np(t, &result, CLOCK_MONOTONIC, &deadline));
        break;
    }
    ASSERT_PTR((void *)5, result);
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(pthread_join_releases_what_the_thread_held) { join_releases(JOIN); }
TEST_IMPL(pthread_tryjoin_np_releases_what_the_thread_held) { join_releases(TRYJOIN); }
TEST_IMPL(pthread_timedjoin_np_releases_what_the_thread_held) { join_releases(TIMEDJOIN); }
TEST_IMPL(pthread_clockjoin_np_releases_what_the_thread_held)
{
    SKIP_UNDER_TSAN("GCC 12's TSan does not intercept pthread_clockjoin_np and reports the "
                    "thread it joins as leaked, with or without ctxvar");
    join_releases(CLOCKJOIN);
}

TEST_IMPL(thrd_join_releases_what_the_thread_held)
{
    SKIP_UNDER_TSAN(TSAN_NO_C11_THREADS);
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    thrd_t t;
    int result = 0;
    ASSERT_INT(thrd_success, thrd_create(&t, own_contexts_then_end_c11, NULL));
    expect_held_until_joined(base);
    ASSERT_INT(thrd_success, thrd_join(t, &result));
    ASSERT_INT(7, result);
    ASSERT_ULL(base, test_live());
}

/* A join that fails releases nothing: the thread is still there, with its
 * own two contexts, still sees them after, and when it ends they are held
 * for the join that succeeds. */
static sem_t go, made;

static void *own_contexts_then_wait_for_go(void *arg)
{
    test_set("own", "1");
    test_set("own", "2");
    sem_post(&made);
    sem_wait(&go);
    ASSERT_STR("2", ctxvar_get(test_var("own"), NULL));
    ASSERT_STR("r1", ctxvar_get(test_var("req"), NULL));
    pthread_setspecific(ended_key, (void *)1);
    return arg;
}

TEST_IMPL(failed_tryjoin_and_timedjoin_release_nothing)
{
    CHECK_PT(sem_init(&go, 0, 0));
    CHECK_PT(sem_init(&made, 0, 0));
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, own_contexts_then_wait_for_go, NULL));
    sem_wait(&made);
    ASSERT_INT(EBUSY, pthread_tryjoin_np(t, NULL));
    struct timespec past = {1, 0};
    ASSERT_INT(ETIMEDOUT, pthread_timedjoin_np(t, NULL, &past));
    ASSERT_ULL(base + 2, test_live());
    sem_post(&go);
    sem_wait(&ended);
    if (RELEASED_AT_JOIN) ASSERT_ULL(base + 2, test_live());
    CHECK_PT(pthread_join(t, NULL));
    ASSERT_ULL(base, test_live());
}

/* Destructors that run after the start routine may still set: what they
 * make is released at the join too. */
static ctxvar *in_dtor;
static char seen_in_dtor[16]; /* a copy: the value goes with the join */

static void set_in_destructor(void *p)
{
    (void)p;
    ASSERT_INT(0, ctxvar_set(in_dtor, "dtor", NULL));
    snprintf(seen_in_dtor, sizeof seen_in_dtor, "%s", ctxvar_get(in_dtor, "(unset)"));
    ASSERT_STR("2", ctxvar_get(test_var("own"), NULL));
}

static void *set_own_then_key(void *arg)
{
    test_set("own", "1");
    test_set("own", "2");
    pthread_setspecific(*(pthread_key_t *)arg, (void *)1);
    return NULL;
}

TEST_IMPL(key_destructor_sets_after_the_start_routine_and_join_releases_it)
{
    pthread_key_t key;
    CHECK_PT(pthread_key_create(&key, set_in_destructor));
    in_dtor = test_var("in_dtor");
    test_set("req", "r1");
    unsigned long long base = test_live();
    test_in_thread(set_own_then_key, &key);
    ASSERT_STR("dtor", seen_in_dtor);
    ASSERT_ULL(base, test_live());
}

/* Detaching a thread whose start routine has ended: what it handed over is
 * released once the kernel has finished the thread (no one waits for it
 * in the detach), at the latest at the next ctxvar_stats. */
TEST_IMPL(detach_after_the_start_routine_ended_releases_context)
{
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, own_contexts_then_end, NULL));
    expect_held_until_joined(base);
    ASSERT_INT(0, pthread_detach(t));
    ASSERT_ULL(base, test_wait_live(base));
}

TEST_IMPL(thrd_detach_after_the_start_routine_ended_releases_context)
{
    SKIP_UNDER_TSAN(TSAN_NO_C11_THREADS);
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    thrd_t t;
    ASSERT_INT(thrd_success, thrd_create(&t, own_contexts_then_end_c11, NULL));
    expect_held_until_joined(base);
    ASSERT_INT(thrd_success, thrd_detach(t));
    ASSERT_ULL(base, test_wait_live(base));
}

/* Detached by another thread while its start routine runs: the thread
 * releases its own contexts at its exit. */
static sem_t detached;

static void *wait_detached_then_own_contexts(void *arg)
{
    sem_wait(&detached);
    return own_contexts_then_end(arg);
}

TEST_IMPL(detach_while_running_releases_context_at_exit)
{
    setup_ended();
    CHECK_PT(sem_init(&detached, 0, 0));
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, wait_detached_then_own_contexts, NULL));
    CHECK_PT(pthread_detach(t));
    sem_post(&detached);
    sem_wait(&ended);
    ASSERT_ULL(base, test_wait_live(base));
}

/* A thread detaching itself from its own key destructor, after its start
 * routine ended and handed its contexts over, takes them back and releases
 * them itself. */
static void detach_self_then_say_ended(void *p)
{
    (void)p;
    ASSERT_INT(0, pthread_detach(pthread_self()));
    ASSERT_STR("x", ctxvar_get(test_var("own2"), NULL));
    sem_post(&ended);
}

static void *own_contexts_then_detach_self_at_exit(void *arg)
{
    test_set("own", "1");
    test_set("own", "2");
    test_set("own2", "x");
    pthread_setspecific(*(pthread_key_t *)arg, (void *)1);
    return NULL;
}

TEST_IMPL(thread_detaching_itself_in_its_key_destructor_releases_context)
{
    static pthread_key_t key;
    CHECK_PT(sem_init(&ended, 0, 0));
    CHECK_PT(pthread_key_create(&key, detach_self_then_say_ended));
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, own_contexts_then_detach_self_at_exit, &key));
    sem_wait(&ended);
    ASSERT_ULL(base, test_wait_live(base));
}

/* fork with one thread ended but not joined and one still running: the
 * child releases what both held (their TLS and records are copied, the
 * threads are not), so clearing its own context leaves nothing alive. */
static sem_t running, finish;

static void *own_contexts_then_block(void *arg)
{
    test_set("blocked", "1");
    test_set("blocked", "2");
    sem_post(&running);
    sem_wait(&finish);
    return arg;
}

TEST_IMPL(fork_child_releases_what_ended_and_running_threads_held)
{
    SKIP_UNDER_TSAN("the runtime keeps no thread registry under TSan (lib/registry.c)");
    setup_ended();
    CHECK_PT(sem_init(&running, 0, 0));
    CHECK_PT(sem_init(&finish, 0, 0));
    test_set("req", "r1");
    pthread_t ended_thread, blocked_thread;
    CHECK_PT(pthread_create(&ended_thread, NULL, own_contexts_then_end, NULL));
    CHECK_PT(pthread_create(&blocked_thread, NULL, own_contexts_then_block, NULL));
    sem_wait(&ended);
    sem_wait(&running);
    pid_t pid = fork();
    if (pid == 0) {
        ctxvar_clear();
        struct ctxvar_stats s;
        if (ctxvar_stats(&s) != 0) _exit(100);
        _exit(s.live_contexts > 99 ? 99 : (int)s.live_contexts);
    }
    ASSERT(pid > 0);
    int status;
    ASSERT_INT(pid, waitpid(pid, &status, 0));
    ASSERT(WIFEXITED(status));
    ASSERT_INT(0, WEXITSTATUS(status));
    sem_post(&finish);
    CHECK_PT(pthread_join(ended_thread, NULL));
    CHECK_PT(pthread_join(blocked_thread, NULL));
    ctxvar_clear();
    ASSERT_ULL(0, test_live());
}

/* A creator remembers the last thread it created, so that its own join of
 * that thread finds the record at once.  Here another thread joins that
 * thread first and then creates threads until one gets the same pthread_t
 * (glibc hands a joined thread's cached stack, and so its id, to the next
 * thread created with the same size).  When the creator joins that id, it
 * must release the new thread's record, not the one it remembers: the
 * new thread's two contexts and its record go, and nothing else. */
static pthread_t remembered;
static sem_t remembered_ready, reused_ready;
static pthread_t reused;
static int reuse_tries;

static void *join_remembered_then_reuse_its_id(void *arg)
{
    sem_wait(&remembered_ready);
    CHECK_PT(pthread_join(remembered, NULL));
    for (reuse_tries = 1; reuse_tries <= 100; reuse_tries++) {
        CHECK_PT(pthread_create(&reused, NULL, own_contexts_then_block, NULL));
        if (pthread_equal(reused, remembered)) break;
        sem_post(&finish);
        CHECK_PT(pthread_join(reused, NULL));
        sem_wait(&running);
    }
    sem_post(&reused_ready);
    return arg;
}

TEST_IMPL(creator_joining_a_reused_thread_id_releases_the_new_threads_record)
{
    SKIP_UNDER_TSAN("ThreadSanitizer keeps joined threads' stacks: no id is reused");
    CHECK_PT(sem_init(&running, 0, 0));
    CHECK_PT(sem_init(&finish, 0, 0));
    CHECK_PT(sem_init(&remembered_ready, 0, 0));
    CHECK_PT(sem_init(&reused_ready, 0, 0));
    setup_ended();
    test_set("req", "r1");
    pthread_t joiner;
    CHECK_PT(pthread_create(&joiner, NULL, join_remembered_then_reuse_its_id, NULL));
    unsigned long long base = test_live();
    CHECK_PT(pthread_create(&remembered, NULL, own_contexts_then_end, NULL)); /* the last created */
    sem_post(&remembered_ready);
    sem_wait(&reused_ready);
    ASSERT(reuse_tries <= 100); /* the id came back */
    sem_wait(&running);         /* the reused thread owns its two contexts */
    ASSERT_ULL(base + 2, test_live());
    sem_post(&finish);
    CHECK_PT(pthread_join(reused, NULL)); /* by the id this thread remembers */
    ASSERT_ULL(base, test_live());
    CHECK_PT(pthread_join(joiner, NULL));
}

/* A join by a thread other than the creator finds the record through the
 * thread's slot (or, in the portable build, the table), as does a join by
 * the creator once it has created another thread since: both release what
 * the thread held, under ThreadSanitizer too. */
static pthread_t to_join;

static void *join_it(void *arg)
{
    CHECK_PT(pthread_join(to_join, NULL));
    return arg;
}

TEST_IMPL(a_thread_joined_by_another_than_its_creator_releases_what_it_held)
{
    setup_ended();
    test_set("req", "r1");
    unsigned long long base = test_live();
    CHECK_PT(pthread_create(&to_join, NULL, own_contexts_then_end, NULL));
    expect_held_until_joined(base);
    pthread_t joiner;
    CHECK_PT(pthread_create(&joiner, NULL, join_it, NULL));
    CHECK_PT(pthread_join(joiner, NULL));
    ASSERT_ULL(base, test_live());
}

TEST_IMPL(a_creator_joining_an_earlier_thread_releases_what_it_held)
{
    setup_ended();
    CHECK_PT(sem_init(&running, 0, 0));
    CHECK_PT(sem_init(&finish, 0, 0));
    test_set("req", "r1");
    unsigned long long base = test_live();
    pthread_t earlier, later;
    CHECK_PT(pthread_create(&earlier, NULL, own_contexts_then_end, NULL));
    CHECK_PT(pthread_create(&later, NULL, own_contexts_then_block, NULL));
    sem_wait(&running);
    expect_held_until_joined(base + 2); /* later's two, then earlier's three */
    CHECK_PT(pthread_join(earlier, NULL));
    ASSERT_ULL(base + 2, test_live());
    sem_post(&finish);
    CHECK_PT(pthread_join(later, NULL));
    ASSERT_ULL(base, test_live());
}
