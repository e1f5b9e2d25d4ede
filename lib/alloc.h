/* alloc.h - every allocation the runtime makes goes through ctxvar__alloc,
 * so that a test build (make fault, -DCTXVAR_FAULT_INJECTION) can fail the
 * Nth one and check that each caller returns its documented error, leaks
 * nothing and leaves everything as it was.  The shipped build calls malloc. */
#ifndef CTXVAR_ALLOC_H
#define CTXVAR_ALLOC_H

#include <stdlib.h>

#ifdef CTXVAR_FAULT_INJECTION
void *ctxvar__alloc(size_t size) __attribute__((visibility("hidden")));
#else
#define ctxvar__alloc malloc
#endif

/* Memory for a record that another thread will most likely free (a
 * callback record, a pool job): taken back, once freed, by the threads of
 * the shard that made it rather than crossing malloc's arenas
 * (lib/refcache.c, "Records that go home").  get sets *home, which put must
 * be given with the same size; NULL when out of memory.  A home of 0 is
 * plain malloc memory. */
void *ctxvar__record_memory_get(size_t size, unsigned *home) __attribute__((visibility("hidden")));
void ctxvar__record_memory_put(void *p, size_t size, unsigned home)
    __attribute__((visibility("hidden")));

#endif
