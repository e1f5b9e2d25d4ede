/* test-fork.c - the child keeps the forking thread's context, and the
 * runtime stays usable in it whatever other threads were doing. */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Waits for pid up to `seconds`; returns its exit status, 1000 + the signal
 * that killed it, or -1 if it hung (then kills it). */
static int wait_child(pid_t pid, int seconds)
{
    int status;
    for (int i = 0; i < seconds * 100; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* In a child: exit status 0 when it sees `want` and can still use the API. */
static void child_checks(const char *want)
{
    ctxvar *v = ctxvar_named("forked");
    if (!v || strcmp(ctxvar_get(v, "unset"), want) != 0) _exit(10);
    if (ctxvar_set(ctxvar_named("in_child"), "c", NULL) != 0) _exit(11);
    char buf[256], expect[256];
    snprintf(expect, sizeof expect, "forked=%s in_child=c", want);
    if (ctxvar_format(buf, sizeof buf) < 0 || strcmp(buf, expect) != 0) _exit(12);
    _exit(0);
}

static void *fork_from_thread(void *arg)
{
    (void)arg;
    test_set("forked", "thread-value");
    pid_t pid = fork();
    if (pid == 0) child_checks("thread-value");
    ASSERT(pid > 0);
    return (void *)(long)wait_child(pid, 10);
}

TEST_IMPL(fork_child_keeps_forking_threads_context)
{
    test_set("forked", "main-value");
    pid_t pid = fork();
    if (pid == 0) child_checks("main-value");
    ASSERT(pid > 0);
    ASSERT_INT(0, wait_child(pid, 10));
    /* From another thread: the child has that thread's context. */
    ASSERT_INT(0, (long)test_in_thread(fork_from_thread, NULL));
    ASSERT_STR("main-value", ctxvar_get(test_var("forked"), NULL));
}

static atomic_int stop;

static void *hammer(void *arg)
{
    long id = (long)arg;
    char name[32], value[64], buf[512];
    for (unsigned long i = 0; !atomic_load(&stop); i++) {
        snprintf(name, sizeof name, "h%ld_%lu", id, i % 64); /* new names too */
        snprintf(value, sizeof value, "value %lu", i);
        ctxvar *v = ctxvar_named(name);
        ctxvar_token tok;
        if (ctxvar_set(v, value, &tok) == 0) {
            ctxvar_get(v, NULL);
            ctxvar_format(buf, sizeof buf);
            ctxvar_ctx *c = ctxvar_capture();
            ctxvar_release(c);
            if (i % 3) ctxvar_reset(&tok);
            else ctxvar_token_drop(&tok);
        }
    }
    return NULL;
}

TEST_IMPL(fork_while_threads_use_runtime_child_usable)
{
#ifdef __SANITIZE_ADDRESS__
    /* GCC 12's ASan allocator does not lock itself around fork: a child
     * forked while another thread is inside malloc deadlocks in malloc, with
     * or without ctxvar (seen: child stuck in SizeClassAllocator64 lock). */
    test_skip("ASan's allocator is not fork-safe with concurrent malloc");
#endif
    pthread_t t[4];
    test_set("forked", "main");
    for (long i = 0; i < 4; i++) CHECK_PT(pthread_create(&t[i], NULL, hammer, (void *)i));
    for (int round = 0; round < 50; round++) {
        pid_t pid = fork();
        if (pid == 0) child_checks("main");
        ASSERT(pid > 0);
        int rc = wait_child(pid, 10);
        if (rc != 0)
            test_fail(__FILE__, __LINE__, "fork %d: child %s %d", round,
                      rc < 0 ? "hung for 10 s" : rc >= 1000 ? "killed by signal" : "exited",
                      rc >= 1000 ? rc - 1000 : rc);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) CHECK_PT(pthread_join(t[i], NULL));
}
