/* fuzz.h - what the libFuzzer targets share: the runtime's internal API
 * (the targets compile the runtime's lib/ sources in, with
 * -DCTXVAR_BUILDING_RUNTIME, so the hidden functions are reachable), a check
 * macro that aborts so libFuzzer records the input, and context comparisons.
 * Every context a target makes is released: LeakSanitizer runs after each
 * input (-detect_leaks=1).  Variables are interned and never freed by
 * design; they stay reachable from the intern table, so they are no leak. */
#ifndef CTXVAR_FUZZ_H
#define CTXVAR_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baggage.h"
#include "runtime.h"
#include "store.h"

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* The input as a C string: a copy cut at its first NUL (a header or an
 * environment variable cannot hold one).  Free it. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static inline int fuzz_is_private(const struct ctxvar *var) { return var->name[0] == '_'; }

/* 1 when the binding b's variable has the same value in c. */
static inline int fuzz_same_in(const ctxvar_ctx *c, const ctxvar__binding *b)
{
    const ctxvar__binding *other = ctxvar__ctx_find(c, b->var);
    return other && other->len == b->len && memcmp(other->value, b->value, b->len) == 0;
}

struct fuzz_subset {
    const ctxvar_ctx *of;
    int skip_private;
    size_t checked;
};

static inline int fuzz_check_in(const ctxvar__binding *b, void *p)
{
    struct fuzz_subset *s = p;
    if (s->skip_private && fuzz_is_private(b->var)) return 0;
    FUZZ_CHECK(fuzz_same_in(s->of, b));
    s->checked++;
    return 0;
}

/* Every binding of sub (but the private ones, when skip_private) is in of
 * with the same value.  Returns how many were checked. */
static inline size_t fuzz_subset(const ctxvar_ctx *sub, const ctxvar_ctx *of, int skip_private)
{
    struct fuzz_subset s = {of, skip_private, 0};
    ctxvar__ctx_visit_sorted(sub, fuzz_check_in, &s);
    return s.checked;
}

/* a and b hold exactly the same bindings. */
static inline void fuzz_check_equal(const ctxvar_ctx *a, const ctxvar_ctx *b)
{
    FUZZ_CHECK(ctxvar__ctx_count(a) == ctxvar__ctx_count(b));
    FUZZ_CHECK(fuzz_subset(a, b, 0) == ctxvar__ctx_count(a));
}

#endif
