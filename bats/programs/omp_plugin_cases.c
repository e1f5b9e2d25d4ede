/* libomp_cases.so - an OpenMP plugin that links the runtime as well
 * (-lctxvar before libgomp, as gcc orders them), loaded RTLD_LOCAL by
 * bats/programs/omp_reload.c ("cases"): its libgomp is in no global scope,
 * and a lookup in the plugin's own scope finds the runtime's GOMP_parallel
 * first.
 *
 * Its constructor opens a region whose second thread makes a task: the
 * loader's lock is held meanwhile, so a worker that asked the loader for
 * a libgomp function would wait for good.  plugin_nested() opens a region
 * whose threads each open a nested `parallel sections`, which GCC reaches
 * by a tail call: the nested call's return address is the runtime's (the
 * worker runs the body from it), not the plugin's. */
#define _DEFAULT_SOURCE
#include <omp.h>
#include <stdio.h>
#include <unistd.h>

#include "ctxvar.h"

static int task_ran;

__attribute__((constructor)) static void open_a_region(void)
{
#pragma omp parallel num_threads(2)
    {
        if (omp_get_thread_num() == 1) {
#pragma omp task
            __atomic_add_fetch(&task_ran, 1, __ATOMIC_RELAXED);
#pragma omp taskwait
        }
    }
    printf("constructor: %d task ran\n", task_ran);
    fflush(stdout);
}

static int ran[2], wrong_level;

static void section(int i)
{
    __atomic_add_fetch(&ran[i], 1, __ATOMIC_RELAXED);
    if (omp_get_level() != 2) __atomic_add_fetch(&wrong_level, 1, __ATOMIC_RELAXED);
}

int plugin_nested(void)
{
    omp_set_max_active_levels(2);
#pragma omp parallel num_threads(2)
    {
        if (omp_get_thread_num() == 0) usleep(100000); /* a worker asks first */
#pragma omp parallel sections num_threads(2)
        {
#pragma omp section
            section(0);
#pragma omp section
            section(1);
        }
    }
    printf("nested: section 1 ran %d, section 2 ran %d, at the wrong level %d\n", ran[0], ran[1],
           wrong_level);
    return ctxvar_runtime_present();
}
