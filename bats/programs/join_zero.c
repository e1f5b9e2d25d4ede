/* join_zero - joining or detaching a thread handle that was never set
 * (zero: a zeroed struct, the cleanup path of a failed create).  glibc
 * answers with an error; the runtime, which looks at a joined thread's
 * TLS, must answer the same and not touch address 0 plus an offset.
 * (pthread_tryjoin_np is left out: glibc 2.36's own crashes on 0.)
 *
 * Output, with and without the runtime:
 *   pthread_join: ESRCH
 *   pthread_timedjoin_np: ESRCH
 *   pthread_clockjoin_np: ESRCH
 *   pthread_detach: ESRCH
 *   thrd_join: thrd_error
 *   thrd_detach: thrd_error
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <threads.h>
#include <time.h>

static const char *name(int err)
{
    return err == ESRCH ? "ESRCH" : err == EINVAL ? "EINVAL" : err == 0 ? "0" : "other";
}

int main(void)
{
    pthread_t none = 0;
    struct timespec soon;
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_sec += 1;
    printf("pthread_join: %s\n", name(pthread_join(none, NULL)));
    printf("pthread_timedjoin_np: %s\n", name(pthread_timedjoin_np(none, NULL, &soon)));
    printf("pthread_clockjoin_np: %s\n",
           name(pthread_clockjoin_np(none, NULL, CLOCK_REALTIME, &soon)));
    printf("pthread_detach: %s\n", name(pthread_detach(none)));
    thrd_t c11 = 0;
    printf("thrd_join: %s\n", thrd_join(c11, NULL) == thrd_error ? "thrd_error" : "other");
    printf("thrd_detach: %s\n", thrd_detach(c11) == thrd_error ? "thrd_error" : "other");
    return 0;
}
