/* m32_exec PROGRAM [ARG]... - shows its own context, sets hop=<its pointer
 * bits> in the main thread, and replaces itself with PROGRAM: a process of
 * one word size starting one of the other, whose runtime must come from the
 * LD_PRELOAD it inherits.  Built twice by bats/bats.mk: as a 64-bit program
 * (m32_exec) and with -m32 (m32_exec32).
 *
 *   exec: <context>
 *   exec runtime: yes|no, pointer bits: 64|32
 *
 * then PROGRAM's own output; on a failed exec, "execv: <reason>" and status
 * 127.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "show.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: m32_exec PROGRAM [ARG]...\n");
        return 2;
    }
    int bits = (int)(sizeof(void *) * 8);
    char hop[4];
    snprintf(hop, sizeof hop, "%d", bits);

    show("exec");
    printf("exec runtime: %s, pointer bits: %d\n",
           ctxvar_runtime_present() ? "yes" : "no", bits);
    set_or_say("hop", hop);
    /* stdout is a pipe under the tests: what is buffered would be lost with
     * this process image. */
    fflush(stdout);
    execv(argv[1], &argv[1]);
    printf("execv: %s\n", strerror(errno));
    return 127;
}
