/* libomp_tracer.so and libomp_barrier_tool.so - OpenMP tools preloaded
 * after the runtime.  The tracer (TRACE_REGIONS) wraps GOMP_parallel and
 * counts regions: the runtime must keep it in the chain.  The barrier tool
 * wraps only GOMP_barrier: a GOMP_barrier that is not libgomp's must not
 * mislead the runtime's search for libgomp.  Each forwards to the next
 * definition. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#ifdef TRACE_REGIONS
static int regions;

void GOMP_parallel(void (*fn)(void *), void *data, unsigned threads, unsigned flags)
{
    regions++;
    void (*next)(void (*)(void *), void *, unsigned, unsigned) =
        (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(RTLD_NEXT, "GOMP_parallel");
    if (next) next(fn, data, threads, flags);
}

__attribute__((destructor)) static void report(void)
{
    printf("tool: %d regions seen\n", regions);
}
#else
void GOMP_barrier(void)
{
    void (*next)(void) = (void (*)(void))dlsym(RTLD_NEXT, "GOMP_barrier");
    if (next) next();
}
#endif
