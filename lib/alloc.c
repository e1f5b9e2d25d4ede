/* alloc.c - the fault-injection build's allocator (see alloc.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "alloc.h"
#include "runtime.h"

#ifdef CTXVAR_FAULT_INJECTION
/* Test build only (make fault): fail the Nth allocation after arming, the
 * way malloc fails, so tests can walk every allocation of a scenario. */
static atomic_ulong allocations_since_armed, failing_allocation;

void *ctxvar__alloc(size_t size)
{
    unsigned long n = atomic_fetch_add(&allocations_since_armed, 1) + 1;
    if (n == atomic_load(&failing_allocation)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(size);
}

CTXVAR__EXPORT void ctxvar_test_fail_allocation(unsigned long nth)
{
    atomic_store(&allocations_since_armed, 0);
    atomic_store(&failing_allocation, nth);
}

CTXVAR__EXPORT unsigned long ctxvar_test_allocations(void)
{
    return atomic_load(&allocations_since_armed);
}
#endif
