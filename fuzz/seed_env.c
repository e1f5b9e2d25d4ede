/* seed_env.c - libFuzzer target for the seeding path: what the runtime does
 * at load with BAGGAGE, TRACEPARENT and TRACESTATE.
 *
 * context_from_environment() is static in lib/startup.c, so this target
 * includes startup.c itself (and is built with the rest of lib/): the real
 * function runs, unchanged, and nothing is added to lib/.
 * The environment is swapped per input by pointing environ at an array
 * built from the input (setenv would keep every old value alive).
 *
 * Input: a first byte whose low 3 bits say which of BAGGAGE, TRACEPARENT,
 * TRACESTATE are set, then their values separated by NUL bytes.  Checked:
 * the result equals ctxvar__baggage_decode of BAGGAGE on the base, plus
 * traceparent when ctxvar__traceparent_valid says so (and it fits in 4096
 * bytes), plus tracestate when TRACEPARENT was valid and it is too (same
 * length limit);
 * the base stays; everything is released.  (A valid later-version
 * TRACEPARENT longer than 4096 bytes is not bound, and then neither is
 * TRACESTATE: a seed in the corpus found that it once was.)
 */
#include "../lib/startup.c"

#include "fuzz.h"

extern char **environ;

static ctxvar_ctx *base_context(void)
{
    static ctxvar_ctx *base;
    if (!base) {
        struct ctxvar *var = ctxvar__intern("service", 7);
        ctxvar__binding *b = ctxvar__binding_new(var, "fuzz", 4);
        FUZZ_CHECK(var && b && ctxvar__ctx_with(NULL, b, &base) == 0);
    }
    return base;
}

/* 1 when c binds name to exactly value. */
static int holds(const ctxvar_ctx *c, const char *name, const char *value)
{
    struct ctxvar *var = ctxvar__lookup(name, strlen(name));
    const ctxvar__binding *b = var ? ctxvar__ctx_find(c, var) : NULL;
    return b && strcmp(b->value, value) == 0;
}

static int binds(const ctxvar_ctx *c, const char *name)
{
    struct ctxvar *var = ctxvar__lookup(name, strlen(name));
    return var && ctxvar__ctx_find(c, var) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    static const char *names[3] = {"BAGGAGE=", "TRACEPARENT=", "TRACESTATE="};
    const char *value[3] = {NULL, NULL, NULL};
    char *entry[3] = {NULL, NULL, NULL};
    char *env[4] = {NULL, NULL, NULL, NULL};
    size_t n_env = 0;
    const uint8_t *p = data + 1, *end = data + size;
    for (int i = 0; i < 3; i++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        const uint8_t *stop = nul ? nul : end;
        if (data[0] & (1 << i)) {
            size_t len = strlen(names[i]), vlen = (size_t)(stop - p);
            entry[i] = malloc(len + vlen + 1);
            FUZZ_CHECK(entry[i] != NULL);
            memcpy(entry[i], names[i], len);
            memcpy(entry[i] + len, p, vlen);
            entry[i][len + vlen] = '\0';
            value[i] = entry[i] + len;
            env[n_env++] = entry[i];
        }
        p = nul ? nul + 1 : end;
    }

    ctxvar_ctx *base = base_context(), *seeded = NULL, *expected = NULL;
    char **saved = environ;
    environ = env;
    int err = context_from_environment(base, &seeded);
    environ = saved;
    if (err != 0) goto out; /* ENOMEM only */

    /* The model: BAGGAGE decoded on the base... */
    size_t skipped;
    if (value[0] && *value[0]) {
        FUZZ_CHECK(ctxvar__baggage_decode(value[0], base, &expected, &skipped) == 0);
    } else {
        expected = ctxvar__ctx_retain(base);
    }
    FUZZ_CHECK(fuzz_subset(expected, seeded, 0) == ctxvar__ctx_count(expected));
    /* ...then traceparent when valid, tracestate with it. */
    int valid = value[1] && ctxvar__traceparent_valid(value[1]);
    int seeded_traceparent = valid && strlen(value[1]) <= CTXVAR_VALUE_MAX;
    size_t extra = 0;
    if (seeded_traceparent) {
        FUZZ_CHECK(holds(seeded, "traceparent", value[1]));
        extra++;
    } else {
        FUZZ_CHECK(!binds(seeded, "traceparent"));
    }
    if (seeded_traceparent && value[2] && strlen(value[2]) <= CTXVAR_VALUE_MAX &&
        ctxvar__tracestate_valid(value[2])) {
        FUZZ_CHECK(holds(seeded, "tracestate", value[2]));
        extra++;
    } else {
        FUZZ_CHECK(!binds(seeded, "tracestate"));
    }
    FUZZ_CHECK(ctxvar__ctx_count(seeded) == ctxvar__ctx_count(expected) + extra);
    FUZZ_CHECK(holds(seeded, "service", "fuzz") || binds(expected, "service"));

out:
    ctxvar__ctx_release(expected);
    ctxvar__ctx_release(seeded);
    for (int i = 0; i < 3; i++) free(entry[i]);
    return 0;
}
