/* omp_reload - a plugin host that loads an OpenMP plugin, runs its region
 * in a request, unloads it (libgomp goes with it) and loads it again
 * elsewhere, three times: the runtime must not keep libgomp's addresses
 * from a copy that is gone.  Run with OMP_NUM_THREADS=1 (libgomp cannot be
 * unloaded with a pool of threads alive).
 *
 * Output:
 *   round 0: threads 1, region: request_id=r0
 *   ...
 *   done
 *
 * With a second argument "cases": libomp_cases.so is loaded RTLD_LOCAL (its
 * constructor runs a region) and its plugin_nested() is called.
 *
 * With a second argument "local": the plugin is loaded once, RTLD_LOCAL
 * (as Python loads an extension), run once, and not unloaded; its libgomp
 * is in no global scope, and its region must still run on every thread
 * OMP_NUM_THREADS asks for.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/mman.h>

#include <string.h>

#include "ctxvar.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (argc > 2 && strcmp(argv[2], "cases") == 0) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        int (*nested)(void) = lib ? (int (*)(void))dlsym(lib, "plugin_nested") : NULL;
        if (!nested) return 1;
        nested();
        return 0;
    }
    int local = argc > 2 && strcmp(argv[2], "local") == 0;
    for (int round = 0; round < (local ? 1 : 3); round++) {
        void *lib = dlopen(argv[1], RTLD_NOW | (local ? RTLD_LOCAL : RTLD_GLOBAL));
        if (!lib) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        int (*run)(char *, int) = (int (*)(char *, int))dlsym(lib, "plugin_run");
        char id[16], seen[64] = "";
        snprintf(id, sizeof id, "r%d", round);
        ctxvar_token tok;
        ctxvar_set(ctxvar_named("request_id"), id, &tok);
        int threads = run(seen, sizeof seen);
        ctxvar_reset(&tok);
        printf("round %d: threads %d, region: %s\n", round, threads, seen);
        fflush(stdout);
        if (local) break;
        dlclose(lib);
        for (int i = 0; i < 64; i++)
            mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    puts("done");
    return 0;
}
