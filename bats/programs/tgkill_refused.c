/* tgkill_refused - detached threads in a process whose seccomp filter
 * answers tgkill with EPERM (a sandbox that lets a program signal nothing).
 * The runtime learns that a detached thread is gone, and may release what
 * it held, by a tgkill of signal 0; refused, it must find out otherwise, or
 * every such thread's context stays alive for good.
 *
 * Output: "tgkill refused: EPERM", then after 2,000 detached threads, each
 * in a context of its own creator's, "live_contexts back to baseline: yes"
 * (it waits up to 10 s for the threads to be gone).  Without a runtime the
 * second line says "no runtime".
 *
 * With the argument "ids" the filter refuses gettid too, so that the
 * runtime knows no thread's id from the kernel's call ("pid": getpid, so
 * that it knows not the process's); the
 * program also sets request_id=main on the main thread and prints what an
 * atexit handler sees: "atexit: request_id=main", the main thread's
 * context, kept for the handlers that run after main returns.
 *
 * With "noproc" the filter also refuses readlink and readlinkat, so that
 * /proc/thread-self and /proc/self, the runtime's other source of the ids,
 * tell nothing either (a sandbox without /proc); the program first prints
 * "main: " and what the main thread sees (its BAGGAGE).  "noproc-exec"
 * installs that filter and runs itself again with "noproc": the ids are
 * then unknown from the runtime's load on.  In both, the threads are
 * joinable and joined: nothing can then tell when a detached one is gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctxvar.h"

enum { THREADS = 2000 };

static void *quick(void *arg) { return arg; }

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : 0;
}

static void at_exit(void)
{
    char seen[64];
    ctxvar_format(seen, sizeof seen);
    printf("atexit: %s\n", seen);
}

int main(int argc, char **argv)
{
    int ids = argc > 1 && strcmp(argv[1], "ids") == 0;
    int pid = argc > 1 && strcmp(argv[1], "pid") == 0;
    int noproc = argc > 1 && strncmp(argv[1], "noproc", 6) == 0;
    ids |= noproc;
    long refused_link = noproc ? SYS_readlink : SYS_tgkill;
    long refused_linkat = noproc ? SYS_readlinkat : SYS_tgkill;
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ids ? SYS_gettid : pid ? SYS_getpid : SYS_tgkill, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, refused_link, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, refused_linkat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("seccomp");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "noproc-exec") == 0) {
        execl(argv[0], argv[0], "noproc", (char *)NULL);
        perror("exec");
        return 1;
    }
    printf("tgkill refused: %s\n",
           syscall(SYS_tgkill, getpid(), gettid(), 0) == 0 ? "no" : errno == EPERM ? "EPERM" : "other");
    if (ids) printf("gettid refused: %s\n", gettid() == -1 ? "yes" : "no");
    if (pid) printf("getpid refused: %s\n", getpid() == -1 ? "yes" : "no");
    char link[64];
    if (noproc)
        printf("readlink refused: %s\n",
               readlink("/proc/self", link, sizeof link) == -1 && errno == EPERM ? "yes" : "no");
    ctxvar *request_id = ctxvar_named("request_id");
    if (noproc) {
        char seen[64];
        ctxvar_format(seen, sizeof seen);
        printf("main: %s\n", seen);
    }
    struct ctxvar_stats probe;
    if (ctxvar_stats(&probe) != 0) {
        puts("no runtime");
        return 0;
    }
    unsigned long long before = live();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Without tgkill, ids or /proc nothing tells when a detached thread is
     * gone, and its context waits: "noproc" joins its threads. */
    pthread_attr_setdetachstate(&attr, noproc ? PTHREAD_CREATE_JOINABLE : PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < THREADS; i++) {
        char value[16];
        snprintf(value, sizeof value, "r%d", i);
        ctxvar_token token;
        ctxvar_set(request_id, value, &token);
        pthread_t t;
        int r;
        while ((r = pthread_create(&t, &attr, quick, NULL)) == EAGAIN) usleep(100);
        ctxvar_reset(&token);
        if (r != 0) {
            printf("pthread_create: %s\n", strerror(r));
            return 1;
        }
        if (noproc) pthread_join(t, NULL);
    }
    int back = 0;
    for (int waited = 0; waited < 1000 && !(back = live() == before); waited++) usleep(10000);
    printf("live_contexts back to baseline: %s\n", back ? "yes" : "no");
    if (ids || pid) {
        ctxvar_set(request_id, "main", NULL);
        atexit(at_exit);
    }
    return 0;
}
