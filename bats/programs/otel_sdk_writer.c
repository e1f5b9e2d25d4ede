/* otel_sdk_writer - a program that carries its own OpenTelemetry thread
 * context writer, as one with an SDK that implements the format does: its
 * executable exports otel_thread_ctx_v1 (or, built with SDK_IN_LIBRARY, a
 * library it links does) and points it at its own record.
 * Under `ctxrun --otel` the runtime must leave that pointer alone and
 * publish no process context of its own (OpenTelemetry allows one per
 * process).
 *
 * Output:
 *   pointer after ctxvar_set: the program's
 *   pointer in a new thread after ctxvar_set: the program's
 *   OTEL_CTX mappings: 0
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ctxvar.h"

#ifdef SDK_IN_LIBRARY
extern __thread void *otel_thread_ctx_v1; /* bats/programs/otel_sdk_lib.c */
#else
__attribute__((visibility("default"))) __thread void *otel_thread_ctx_v1;
#endif

static char record[40]; /* what the SDK would lay out; its bytes do not matter here */

static const char *whose(void) { return otel_thread_ctx_v1 == record ? "the program's" : "another"; }

static void *thread_main(void *arg)
{
    otel_thread_ctx_v1 = record;
    ctxvar_set(ctxvar_named("job"), "j1", NULL);
    printf("pointer in a new thread after ctxvar_set: %s\n", whose());
    return arg;
}

static int mappings_named(const char *name)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (maps && fgets(line, sizeof line, maps)) n += strstr(line, name) != NULL;
    if (maps) fclose(maps);
    return n;
}

int main(void)
{
    otel_thread_ctx_v1 = record;
    ctxvar_set(ctxvar_named("request_id"), "42", NULL);
    printf("pointer after ctxvar_set: %s\n", whose());
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
    printf("OTEL_CTX mappings: %d\n", mappings_named("OTEL_CTX"));
    return 0;
}
