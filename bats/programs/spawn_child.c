/* spawn_child LABEL - a child process showing what it was started with:
 *
 *   LABEL env: BAGGAGE=<value> TRACEPARENT=<value> TRACESTATE=<value>
 *   LABEL context: <ctxvar_format of its main thread>
 *
 * "(unset)" for an absent variable.  The context line is the runtime's view
 * (LD_PRELOAD is inherited, so the runtime seeds this process from those
 * variables); it is empty when the child has no runtime.  Each line is one
 * printf, so lines of concurrent children do not mix.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctxvar.h"

static const char *or_unset(const char *value) { return value ? value : "(unset)"; }

int main(int argc, char **argv)
{
    const char *label = argc > 1 ? argv[1] : "child";
    char context[8192];
    ctxvar_format(context, sizeof context);
    printf("%s env: BAGGAGE=%s TRACEPARENT=%s TRACESTATE=%s\n%s context: %s\n", label,
           or_unset(getenv("BAGGAGE")), or_unset(getenv("TRACEPARENT")),
           or_unset(getenv("TRACESTATE")), label, context);
    return 0;
}
