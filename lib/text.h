/* text.h - text written snprintf's way: into a buffer of `size` bytes, of
 * which what fits is written, while `len` counts the whole text, so that a
 * NULL buffer of size 0 measures it.  For ctxvar_format and the baggage
 * encoder. */
#ifndef CTXVAR_TEXT_H
#define CTXVAR_TEXT_H

#include <stddef.h>
#include <string.h>

struct ctxvar__text {
    char *buf;
    size_t size, len;
};

static inline struct ctxvar__text ctxvar__text_start(char *buf, size_t size)
{
    struct ctxvar__text t = {buf, buf ? size : 0, 0};
    return t;
}

static inline void ctxvar__text_put(struct ctxvar__text *t, const char *s, size_t n)
{
    if (t->len < t->size) {
        size_t room = t->size - t->len;
        memcpy(t->buf + t->len, s, n < room ? n : room);
    }
    t->len += n;
}

/* NUL-terminates what was written (when there is room for anything) and
 * returns the whole length. */
static inline size_t ctxvar__text_finish(struct ctxvar__text *t)
{
    if (t->size) t->buf[t->len < t->size ? t->len : t->size - 1] = '\0';
    return t->len;
}

#endif
