/* otel_threads.c - threads that hold different contexts, then stop, for
 * readers outside the process (bats/otel.bats): gdb, and
 * tests/otel_reader.py.
 *
 * Each thread gets its context one way, prints "<label> <tid>" and blocks
 * in pause() for good; once all have, main prints "ready" (the test then
 * reads, and kills the program).  The ways:
 *
 *   main      its context from the environment (BAGGAGE, TRACEPARENT), plus
 *             a private variable set here
 *   set       inherits main's, then sets request_id and its own traceparent
 *   empty     ctxvar_clear(): nothing to show
 *   run       inside ctxvar_run() of a snapshot with tenant="acme\xff"
 *             (not UTF-8: the record shows U+FFFD for the last byte)
 *   task      inside a wrapped pool task submitted from a context with
 *             job=j7
 *   long      three values of 300 bytes and one after: the 612-byte cut
 *   gone      set request_id=temp with a token and reset it: back to
 *             main's
 *
 * With the argument "fork", main forks once set up; the child prints
 * "child <pid>" and the parent "parent <pid>", and both pause.  With
 * "rawfork", the fork is the system call made directly, which runs no fork
 * handler, and the child then sets a variable no one set before,
 * child_key=new, before it prints.  With "getpid", a seccomp filter that
 * answers getpid with EPERM is installed, a new name is set, and the
 * program prints how many OTEL_CTX mappings it has: "mappings: 1", then
 * "ready".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctxvar.h"

#define THREADS 6
static pthread_barrier_t ready;

static void announce(const char *label)
{
    printf("%s %d\n", label, (int)gettid());
    fflush(stdout);
}

static void set(const char *name, const char *value)
{
    int err = ctxvar_set(ctxvar_named(name), value, NULL);
    if (err) printf("set %s failed: %s\n", name, ctxvar_strerror(err));
}

static void stop_here(const char *label)
{
    announce(label);
    pthread_barrier_wait(&ready);
    for (;;) pause();
}

static void *stop_in_run(void *label)
{
    stop_here(label);
    return NULL;
}

static void task_body(void *label) { stop_here(label); }

static void *thread_main(void *arg)
{
    const char *label = arg;
    if (strcmp(label, "set") == 0) {
        set("request_id", "r1");
        set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    } else if (strcmp(label, "empty") == 0) {
        ctxvar_clear();
    } else if (strcmp(label, "run") == 0) {
        ctxvar_token tok;
        ctxvar_set(ctxvar_named("tenant"), "acme\xff", &tok);
        ctxvar_ctx *snapshot = ctxvar_capture();
        ctxvar_reset(&tok);
        ctxvar_run(snapshot, stop_in_run, arg);
    } else if (strcmp(label, "task") == 0) {
        /* As a pool would: wrapped where submitted, run by a worker. */
        ctxvar_token tok;
        ctxvar_set(ctxvar_named("job"), "j7", &tok);
        ctxvar_task *task = ctxvar_wrap(task_body, arg);
        ctxvar_reset(&tok);
        ctxvar_task_run(task);
    } else if (strcmp(label, "long") == 0) {
        char big[301];
        memset(big, 'x', 300);
        big[300] = '\0';
        set("a_big", big);          /* cut to 255 bytes */
        set("b_big", big);          /* cut to 255 bytes */
        set("c_big", big);          /* cut to the 96 bytes left of 612 */
        set("d_after", "dropped");  /* no room left, nor for main's */
    } else if (strcmp(label, "gone") == 0) {
        ctxvar_token tok;
        ctxvar_set(ctxvar_named("request_id"), "temp", &tok);
        ctxvar_reset(&tok);
    }
    stop_here(label);
    return NULL;
}

int main(int argc, char **argv)
{
    /* Let a reader that is not our parent read our memory where Yama
     * restricts it to ancestors. */
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    set("_secret", "hidden");
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        printf("%s %d\n", pid == 0 ? "child" : "parent", (int)getpid());
        for (;;) pause();
    }
    if (argc > 1 && strcmp(argv[1], "rawfork") == 0) {
#ifdef SYS_fork
        long pid = syscall(SYS_fork);
#else
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
        if (pid < 0) return 1;
        if (pid == 0) set("child_key", "new");
        printf("%s %d\n", pid == 0 ? "child" : "parent", (int)getpid());
        for (;;) pause();
    }
    if (argc > 1 && strcmp(argv[1], "getpid") == 0) {
        struct sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        };
        struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
            return 1;
        set("after_filter", "1");
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[512];
        int mappings = 0;
        while (maps && fgets(line, sizeof line, maps)) mappings += strstr(line, "OTEL_CTX") != NULL;
        if (maps) fclose(maps);
        printf("mappings: %d\n", mappings);
        announce("main");
        puts("ready");
        for (;;) pause();
    }
    static const char *labels[THREADS] = {"set", "empty", "run", "task", "long", "gone"};
    pthread_t threads[THREADS];
    pthread_barrier_init(&ready, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, thread_main, (void *)labels[i]) != 0) return 1;
    announce("main");
    pthread_barrier_wait(&ready);
    puts("ready");
    for (;;) pause();
}
