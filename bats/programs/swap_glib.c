/* swap_glib LIBRARY... - for each LIBRARY in turn: dlopen it, call its
 * start_a_thread, dlclose it (bats/programs/fake_glib_swap.c).
 *
 * Output: "LIBRARY: thread joined" for each, then "done". */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        void *library = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        int (*start_a_thread)(void) = NULL;
        if (library) *(void **)&start_a_thread = dlsym(library, "start_a_thread");
        if (!start_a_thread) {
            printf("%s: %s\n", argv[i], dlerror());
            return 1;
        }
        printf("%s: %s\n", argv[i], start_a_thread() == 0 ? "thread joined" : "failed");
        dlclose(library);
    }
    printf("done\n");
    return 0;
}
