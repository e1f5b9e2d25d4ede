/* glib_dlopen PLUGIN - loads PLUGIN with RTLD_LOCAL and runs its
 * plugin_run (bats/loops_glib.bats); then says whether GLib is in the
 * global scope (it must not be: the plugin brought it in locally). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) return 2;
    void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    void (*run)(void) = (void (*)(void))dlsym(plugin, "plugin_run");
    run();
    printf("GLib in the global scope: %s\n", dlsym(RTLD_DEFAULT, "g_main_loop_new") ? "yes" : "no");
    return 0;
}
