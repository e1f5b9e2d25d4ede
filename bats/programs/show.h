/* show.h - what every test program prints: "<who>: <logfmt of the context>".
 *
 * One printf per line, so lines from different threads never interleave; the
 * bats tests compare these lines exactly. */
#ifndef BATS_SHOW_H
#define BATS_SHOW_H

#include <stdio.h>
#include "ctxvar.h"

static inline void show(const char *who)
{
    char text[1024];
    ctxvar_format(text, sizeof text);
    printf("%s: %s\n", who, text);
}

/* Sets name=value in the calling thread; a failure is printed, not hidden. */
static inline void set_or_say(const char *name, const char *value)
{
    int err = ctxvar_set(ctxvar_named(name), value, NULL);
    if (err)
        printf("set %s failed: %s\n", name, ctxvar_strerror(err));
}

#endif
