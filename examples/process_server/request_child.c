/* request_child.c - the per-request child of server.c: prints the context it
 * started with, "[<request>] child: <ctxvar_format>".  It sets nothing: the
 * runtime (LD_PRELOAD is inherited) seeds it from BAGGAGE and TRACEPARENT. */
#include <stdio.h>

#include "ctxvar.h"

int main(int argc, char **argv)
{
    char context[1024];
    ctxvar_format(context, sizeof context);
    printf("[%s] child: %s\n", argc > 1 ? argv[1] : "?", context);
    return 0;
}
