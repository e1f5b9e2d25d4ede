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

#endif
