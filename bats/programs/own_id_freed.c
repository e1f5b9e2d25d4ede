/* own_id_freed - threads that own the memory pthread_create stores their id
 * in: a job struct holding the thread's own pthread_t, which the thread
 * detaches from and unmaps as soon as it runs.  glibc stores the id before
 * the thread can run and never reads it again, so the program is right;
 * a runtime that read the id back after the call would read unmapped
 * memory.  The worker is made to run first: a SCHED_FIFO thread on the
 * creator's CPU preempts the (SCHED_OTHER) creator at once.
 *
 * Output: "100 threads ran", or "no SCHED_FIFO here" when the process may
 * not create real-time threads (exit 2: the case cannot be staged).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

enum { THREADS = 100 };

struct job {
    int number;
    pthread_t id; /* where pthread_create stores the worker's id */
};

static atomic_int ran;

static void *worker(void *job)
{
    pthread_detach(pthread_self());
    munmap(job, 4096); /* done with the job, which held our pthread_t */
    atomic_fetch_add(&ran, 1);
    return NULL;
}

int main(void)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) perror("sched_setaffinity");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    struct sched_param priority = {.sched_priority = 1};
    pthread_attr_setschedparam(&attr, &priority);
    for (int i = 0; i < THREADS; i++) {
        struct job *job = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (job == MAP_FAILED) return 1;
        job->number = i;
        int r = pthread_create(&job->id, &attr, worker, job);
        if (r == EPERM) {
            puts("no SCHED_FIFO here");
            return 2;
        }
        if (r != 0) {
            printf("pthread_create: %d\n", r);
            return 1;
        }
    }
    while (atomic_load(&ran) < THREADS) usleep(1000);
    printf("%d threads ran\n", THREADS);
    return 0;
}
