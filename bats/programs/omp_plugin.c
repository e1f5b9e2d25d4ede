/* libomp_plugin.so - an OpenMP plugin (bats/programs/omp_reload.c loads
 * and unloads it, and libgomp with it): one parallel region whose threads
 * report the context they run in. */
#include <omp.h>
#include <stdio.h>

#include "ctxvar.h"

int plugin_run(char *seen, int size)
{
    int threads = 0;
#pragma omp parallel
    {
#pragma omp atomic
        threads++;
#pragma omp single
        ctxvar_format(seen, (size_t)size);
    }
    return threads;
}
