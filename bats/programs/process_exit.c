/* process_exit - what runs after main while the process ends: atexit
 * handlers and the program's destructors run on the thread that called
 * exit (or returned from main), after glibc's thread_local destructors.
 * They see that thread's context, may change it, and start children with
 * it, as they would without the runtime (bats/exit_paths.bats).
 *
 *   process_exit return   main sets request_id=main and returns 0
 *   process_exit exit     main sets request_id=main and calls exit(3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

static void at_exit(void)
{
    show("atexit handler");
    int err = ctxvar_set(ctxvar_named("request_id"), "shutdown", NULL);
    printf("set in the atexit handler: %s\n", err ? ctxvar_strerror(err) : "ok");
    fflush(stdout);
    if (system("echo \"child of the atexit handler: BAGGAGE=$BAGGAGE\"") != 0) printf("system failed\n");
}

__attribute__((destructor)) static void program_destructor(void)
{
    show("program destructor");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    atexit(at_exit);
    set_or_say("request_id", "main");
    if (argc == 2 && strcmp(argv[1], "exit") == 0) exit(3);
    return 0;
}
