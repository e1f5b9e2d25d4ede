/* notify_late - a SIGEV_THREAD timer's notification thread starting after
 * its timer was deleted and the runtime freed the timer's record (2 s):
 * under a debugger, in a frozen cgroup, on a loaded machine.  The parent
 * process holds the notification thread with ptrace, the way a debugger
 * would, for 5 s (bats/notify.bats).
 *
 * The child arms a timer (request_id=old-request, value "old-value"),
 * deletes it once it has fired, waits 3 s, then creates another timer in
 * another request and leaves it unarmed.  The held notification then runs.
 * Without the runtime glibc runs the deleted timer's function with its
 * value; with it, the same (the record is gone: without the snapshot), and
 * never another timer's, never freed memory.
 *
 * Output:
 *   deleted the first timer, created a second (never armed)
 *   first timer's function: value=old-value
 *   end
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void first_fn(union sigval v)
{
    printf("first timer's function: value=%s\n", (const char *)v.sival_ptr);
    fflush(stdout);
}

static void second_fn(union sigval v)
{
    printf("second timer's function: value=%s\n", (const char *)v.sival_ptr);
    fflush(stdout);
}

static int child(int ready, int go)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = first_fn;
    sev.sigev_value.sival_ptr = "old-value";
    timer_t first, second;
    if (timer_create(CLOCK_MONOTONIC, &sev, &first) != 0) return 1;
    char byte = 0;
    if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 1) return 1; /* held from now on */
    struct itimerspec soon = {{0, 0}, {0, 10000000}};
    timer_settime(first, 0, &soon, NULL);
    usleep(300000); /* fired: its notification thread is held */
    timer_delete(first);
    sleep(3);
    sev.sigev_notify_function = second_fn;
    sev.sigev_value.sival_ptr = "new-value";
    timer_create(CLOCK_MONOTONIC, &sev, &second); /* frees the first's record */
    printf("deleted the first timer, created a second (never armed)\n");
    fflush(stdout);
    sleep(4); /* the held thread is let go meanwhile */
    printf("end\n");
    return 0;
}

/* The child's thread other than its main one: glibc's timer helper. */
static pid_t helper_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    pid_t helper = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && tid != pid) helper = tid;
    }
    if (d) closedir(d);
    return helper;
}

int main(void)
{
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t pid = fork();
    if (pid == 0) _exit(child(ready[1], go[0]));
    char byte;
    if (read(ready[0], &byte, 1) != 1) return 1;
    pid_t helper = helper_of(pid);
    if (!helper || ptrace(PTRACE_SEIZE, helper, 0, PTRACE_O_TRACECLONE) != 0) {
        perror("notify_late: ptrace");
        kill(pid, SIGKILL);
        return 2;
    }
    if (write(go[1], &byte, 1) != 1) return 1;
    pid_t held = 0;
    time_t since = 0;
    int status = 0, reaped = 0;
    /* Until the child ends: the helper's stops are let go at once, the
     * thread it starts is held 5 s, the traced threads' ends collected. */
    while (!reaped) {
        pid_t w = waitpid(-1, &status, __WALL | WNOHANG);
        if (w == 0) {
            usleep(10000);
            if (held > 0 && time(NULL) - since >= 5) {
                ptrace(PTRACE_DETACH, held, 0, 0);
                held = -1;
            }
            continue;
        }
        if (w < 0) break;
        if (w == pid) reaped = 1;
        else if (!WIFSTOPPED(status)) continue;
        else if (w == helper) ptrace(PTRACE_CONT, helper, 0, WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status));
        else if (!held) {
            held = w; /* the notification thread, stopped at its start */
            since = time(NULL);
        } else {
            ptrace(PTRACE_CONT, w, 0, 0);
        }
    }
    if (!reaped) waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
