/* omp_edge - OpenMP tasks that libgomp treats specially, which ctxvar leaves
 * to libgomp as they are (shim/openmp.c, wrap_tasks).  Regressions from a
 * review: wrapping them crashed a detach task and kept cancelled tasks alive.
 *
 *   omp_edge detach   a task with detach(ev) fulfils its event:
 *                       "detach: x=1"
 *   omp_edge cancel   with OMP_CANCELLATION=true, 50 slow tasks queued in a
 *                     taskgroup that a later task cancels: libgomp discards
 *                     those still queued, so "cancel: fewer of 50 tasks ran"
 *                     (how many ran first depends on timing)
 */
#define _DEFAULT_SOURCE
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctxvar.h"

static int detach_task(void)
{
    int x = 0;
    omp_event_handle_t ev;
#pragma omp parallel num_threads(2)
#pragma omp single
    {
#pragma omp task detach(ev) shared(x)
        x = 1;
        omp_fulfill_event(ev);
#pragma omp taskwait
    }
    printf("detach: x=%d\n", x);
    return 0;
}

static int cancelled_tasks(void)
{
    int ran = 0;
#pragma omp parallel num_threads(2) shared(ran)
#pragma omp single
    {
#pragma omp taskgroup
        {
            for (int i = 0; i < 50; i++) {
#pragma omp task shared(ran)
                {
                    usleep(1000);
#pragma omp atomic
                    ran++;
                }
            }
#pragma omp task
            {
#pragma omp cancel taskgroup
            }
        }
    }
    printf("cancel: %s of 50 tasks ran\n", ran < 50 ? "fewer" : "all");
    return 0;
}

int main(int argc, char **argv)
{
    ctxvar_set(ctxvar_named("request_id"), "R", NULL);
    if (argc == 2 && strcmp(argv[1], "detach") == 0) return detach_task();
    if (argc == 2 && strcmp(argv[1], "cancel") == 0) return cancelled_tasks();
    fprintf(stderr, "usage: omp_edge detach|cancel\n");
    return 2;
}
