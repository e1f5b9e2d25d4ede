/* log.c - the application's logger: every line starts with the ids of the
 * request the calling thread works for, as the context module reports them.
 */
#include <stdarg.h>
#include <stdio.h>

#include "server.h"

void log_info(const char *fmt, ...)
{
    char ids[256], msg[512]; /* a short buffer only cuts the line short */
    va_list ap;

    request_ids(ids, sizeof ids);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One call per line: stdio holds stdout's lock for the whole call, so
     * lines from concurrent threads never interleave. */
    printf("[%s] %s\n", ids, msg);
}
