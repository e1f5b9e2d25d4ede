/* arm_at_load - preloaded after the fault-injection runtime, arms the
 * failure of allocation $CTXVAR_TEST_FAIL_AT before the runtime's own
 * constructor seeds the main thread from BAGGAGE, so that the seeding path
 * can be walked like the others (tests/fault/driver.c "seed-report").
 *
 * The loader runs the constructors of preloaded objects that do not depend
 * on each other last-listed first, so this one must come after the runtime:
 *     LD_PRELOAD=build/fault/libctxvar.so:build/reliability/libarm_at_load.so
 * The driver checks it worked: with CTXVAR_TEST_FAIL_AT=1 and a BAGGAGE, the
 * first allocation made is seeding's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

__attribute__((constructor)) static void arm_at_load(void)
{
    const char *at = getenv("CTXVAR_TEST_FAIL_AT");
    void (*fail)(unsigned long) =
        (void (*)(unsigned long))dlsym(RTLD_DEFAULT, "ctxvar_test_fail_allocation");
    if (at && fail) fail(strtoul(at, NULL, 10));
}
