/* escape.h - what ctxrun and the ctxvar command share for their messages. */
#ifndef CTXVAR_LAUNCHER_ESCAPE_H
#define CTXVAR_LAUNCHER_ESCAPE_H

#include <stdio.h>

/* Writes s[0..len) to stderr with every byte that is not printable ASCII as
 * \xHH, so that whatever the user typed, each message stays one line. */
static inline void put_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02X", c);
    }
}

#endif
