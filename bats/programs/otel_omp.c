/* otel_omp.c - an OpenMP region's team threads, stopped inside the region,
 * for readers outside the process (bats/otel.bats).  Built with gcc
 * -fopenmp and the header alone.
 *
 * A first region makes libgomp start its three workers while request_id=A
 * is current (they inherit A when created); then main sets request_id=B
 * and opens a second region on the same, reused workers.  Inside it every
 * team thread prints "team <n> <tid>" and blocks; main prints "ready".  A
 * reader must find B on all four: the region's context, not what the
 * workers inherited.
 */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ctxvar.h"

int main(void)
{
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    ctxvar_set(ctxvar_named("request_id"), "A", NULL);
#pragma omp parallel num_threads(4)
    {
        (void)omp_get_thread_num();
    }
    ctxvar_set(ctxvar_named("request_id"), "B", NULL);
#pragma omp parallel num_threads(4)
    {
        printf("team %d %d\n", omp_get_thread_num(), (int)gettid());
#pragma omp barrier
#pragma omp master
        puts("ready");
        for (;;) pause();
    }
    return 0;
}
