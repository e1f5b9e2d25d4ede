/* loops_plugin_main.c - loads the plugin (argv[1]) RTLD_LOCAL, so libuv is
 * in the process but not in the global scope, and runs it. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*run)(void) = (int (*)(void))dlsym(plugin, "plugin_run");
    printf("libuv global: %s\n", dlsym(RTLD_DEFAULT, "uv_run") ? "yes" : "no");
    return run ? run() : 1;
}
