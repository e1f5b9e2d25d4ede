/* wrapped.c - in libctxvar.a only (CTXVAR_STATIC_WRAP): the function we
 * stand in front of is the linker's __real_NAME, found by name in a table
 * made from shim/wrapped.h; the shared runtime asks the dynamic loader
 * instead (lib/startup.c). */
#ifdef CTXVAR_STATIC_WRAP
#include <mqueue.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "wrapped.h"

#define DECLARE_REAL(name) extern __typeof__(name) __real_##name;
CTXVAR__WRAPPED(DECLARE_REAL)

static const struct {
    const char *name;
    void *real;
} wrapped[] = {
#define ROW(name) {#name, (void *)&__real_##name},
    CTXVAR__WRAPPED(ROW)
#undef ROW
};

void *ctxvar__next_symbol(_Atomic(void *) *cache, const char *name, const void *ours)
{
    (void)ours;
    void *next = NULL;
    for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0] && !next; i++)
        if (strcmp(wrapped[i].name, name) == 0) next = wrapped[i].real;
    atomic_store_explicit(cache, next, memory_order_release);
    return next;
}
#else
/* The shared runtime: nothing here (ISO C wants a declaration). */
typedef int ctxvar__no_wrapping;
#endif
