/* api.c - the public API of variables, tokens and logs: ctxvar_get,
 * ctxvar_set, ctxvar_reset, ctxvar_token_drop, ctxvar_format, the baggage
 * and traceparent helpers, and the table the header binds to.  Snapshots
 * and frames are in lib/frames.c, names in lib/names.c, statistics in
 * lib/registry.c.
 *
 * No function here takes a lock: the current context is the calling
 * thread's own (lib/thread.h), contexts are immutable, and references come
 * from the thread's cache (lib/refcache.c).  Every function keeps errno as
 * it found it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "baggage.h"
#include "runtime.h"
#include "sigsafe.h"
#include "text.h"
#include "thread.h"

/* ---- Variables and tokens ------------------------------------------------------ */

static __attribute__((noinline)) const char *get_slow(const ctxvar *v, const char *fallback)
{
    if (!v) return fallback;
    const ctxvar__binding *b = ctxvar__ctx_find(ctxvar__current_sigsafe(ctxvar__me()), v);
    return b ? b->value : fallback;
}

/* Levels below the root, out of line and reached by a tail call, so that
 * ctxvar_get itself keeps nothing across a call and needs no stack frame. */
__attribute__((noinline)) static const char *get_below(const ctxvar_ctx *n, const ctxvar *v,
                                                       const char *fallback)
{
    const ctxvar__binding *b = ctxvar__ctx_find_below(n, v, CTXVAR__HAMT_BITS);
    return b ? b->value : fallback;
}

/* The hot path: one load of the current context and the store's inline
 * probe of its root; an empty context (which may still need the main
 * thread seeded) or a NULL variable goes the slow way. */
CTXVAR__EXPORT const char *ctxvar_get(const ctxvar *v, const char *fallback)
{
    const ctxvar_ctx *c = ctxvar__current_for_read();
    if (__builtin_expect(!c || !v, 0)) return get_slow(v, fallback);
    const ctxvar_ctx *below;
    const ctxvar__binding *b = ctxvar__ctx_probe_root(c, v, &below);
    if (b) return b->value;
    return below ? get_below(below, v, fallback) : fallback;
}

static inline int set_marked(struct ctxvar__thread *t, ctxvar *v, const char *value,
                             ctxvar_token *tok)
{
    int *error = &errno; /* looked up once */
    int saved_errno = *error, err = 0;
    ctxvar_ctx *next;
    if (value) {
        size_t len = strnlen(value, CTXVAR_VALUE_MAX + 1);
        if (len > CTXVAR_VALUE_MAX) {
            ctxvar__debug("ctxvar_set: value for %s is longer than %d bytes", v->name,
                          CTXVAR_VALUE_MAX);
            return E2BIG;
        }
        ctxvar__binding *b = ctxvar__binding_new(v, value, len);
        err = b ? ctxvar__ctx_with(ctxvar__current(t), b, &next) : ENOMEM;
    } else {
        err = ctxvar__ctx_without(ctxvar__current(t), v, &next);
    }
    if (!err) err = ctxvar__install_with_token(t, next, tok, v);
    if (err) {
        ctxvar__debug("ctxvar_set: out of memory setting %s", v->name);
        *error = saved_errno;
        return err;
    }
    *error = saved_errno;
    return 0;
}

CTXVAR__EXPORT int ctxvar_set(ctxvar *v, const char *value, ctxvar_token *tok)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (!v) {
        ctxvar__debug("ctxvar_set: NULL variable");
        return EINVAL;
    }
    if (t->exited) return ESRCH;
    if (!ctxvar__busy_enter(t)) return EBUSY; /* a handler interrupted a change */
    int err = set_marked(t, v, value, tok);
    ctxvar__busy_leave(t);
    return err;
}

static int reset_marked(struct ctxvar__thread *t, ctxvar_token *tok)
{
    int *error = &errno; /* looked up once */
    int saved_errno = *error;
    ctxvar_ctx *next;
    if (tok->ctxvar__state == CTXVAR__TOKEN_USED) {
        ctxvar__debug("ctxvar_reset: token already reset or dropped");
        return EALREADY;
    }
    if (tok->ctxvar__state != CTXVAR__TOKEN_FILLED) {
        ctxvar__debug("ctxvar_reset: token was never filled by ctxvar_set");
        return EINVAL;
    }
    if (tok->ctxvar__thread != t->uid || tok->ctxvar__frame != t->frame || t->exited) {
        ctxvar__debug("ctxvar_reset: token of %s was filled in another %s",
                      tok->ctxvar__var ? tok->ctxvar__var->name : "ctxvar_accept_headers",
                      tok->ctxvar__thread != t->uid ? "thread" : "frame (ctxvar_run or ctxvar_swap)");
        return EINVAL;
    }
    if (!tok->ctxvar__var || tok->ctxvar__version == t->version ||
        ctxvar__ctx_same_but(t->current, tok->ctxvar__previous, tok->ctxvar__var)) {
        /* Nothing changed since the set but tok's variable (a nested set
         * was reset, or changed back): the context before the set is the
         * answer, and no new version is made to keep alive.  A token of
         * ctxvar_accept_headers (no variable) always restores the whole
         * context it replaced. */
        next = tok->ctxvar__previous;
    } else {
        const ctxvar__binding *before = ctxvar__ctx_find(tok->ctxvar__previous, tok->ctxvar__var);
        int err = before ? ctxvar__ctx_with(t->current, ctxvar__binding_retain(before), &next)
                         : ctxvar__ctx_without(t->current, tok->ctxvar__var, &next);
        if (err) {
            ctxvar__debug("ctxvar_reset: out of memory; the token is still usable");
            *error = saved_errno;
            return err;
        }
        /* Crossed resets make a version equal to one the chain still holds:
         * that one is the answer, and the versions between can go. */
        ctxvar_ctx *same = ctxvar__ctx_equal_lender(next);
        if (same) {
            ctxvar__ctx_retain(same);
            ctxvar__ctx_release(next);
            next = same;
        }
        if (tok->ctxvar__previous) ctxvar__ref_give(t, tok->ctxvar__previous, 1);
    }
    tok->ctxvar__state = CTXVAR__TOKEN_USED;
    tok->ctxvar__previous = NULL;
    ctxvar_ctx *replaced = ctxvar__install(t, next);
    if (replaced) ctxvar__ref_give(t, replaced, 1);
    *error = saved_errno;
    return 0;
}

/* Marked (ctxvar__busy_enter) by the caller, which unmarks. */
static __attribute__((noinline)) int reset_slow(struct ctxvar__thread *t, ctxvar_token *tok)
{
    if (!tok) {
        ctxvar__debug("ctxvar_reset: NULL token");
        return EINVAL;
    }
    return reset_marked(t, tok);
}

/* The usual reset, right after its set: the context before it is the
 * answer, and nothing here can change errno (free keeps it).  Marked before
 * the token is checked against the thread's version, which a signal
 * handler's change would make stale. */
CTXVAR__EXPORT int ctxvar_reset(ctxvar_token *tok)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) return EBUSY; /* a handler interrupted a change */
    if (__builtin_expect(tok && tok->ctxvar__state == CTXVAR__TOKEN_FILLED &&
                             tok->ctxvar__thread == t->uid && tok->ctxvar__frame == t->frame &&
                             tok->ctxvar__version == t->version && !t->exited,
                         1)) {
        ctxvar_ctx *next = tok->ctxvar__previous;
        tok->ctxvar__state = CTXVAR__TOKEN_USED;
        tok->ctxvar__previous = NULL;
        ctxvar_ctx *replaced = ctxvar__install(t, next);
        if (replaced) ctxvar__ref_give(t, replaced, 1);
        ctxvar__busy_leave(t);
        return 0;
    }
    int err = reset_slow(t, tok);
    ctxvar__busy_leave(t);
    return err;
}

CTXVAR__EXPORT void ctxvar_token_drop(ctxvar_token *tok)
{
    if (!tok || tok->ctxvar__state != CTXVAR__TOKEN_FILLED) return;
    int saved_errno = errno;
    struct ctxvar__thread *t = ctxvar__me();
    ctxvar_ctx *previous = tok->ctxvar__previous;
    tok->ctxvar__state = CTXVAR__TOKEN_USED;
    tok->ctxvar__previous = NULL;
    if (!ctxvar__busy_enter(t)) {
        ctxvar__reentered_release(previous); /* a handler: no thread state */
    } else {
        if (previous) ctxvar__ref_give(t, previous, 1);
        ctxvar__busy_leave(t);
    }
    errno = saved_errno;
}

/* An int, as the API returns lengths (like snprintf). */
static int clamp_length(size_t len) { return len > 0x7fffffff ? 0x7fffffff : (int)len; }

static int needs_quotes(const char *v, size_t len)
{
    if (len == 0) return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f) return 1;
    }
    return 0;
}

static int put_pair(const ctxvar__binding *b, void *p)
{
    struct ctxvar__text *t = p;
    if (t->len) ctxvar__text_put(t, " ", 1);
    ctxvar__text_put(t, b->var->name, b->var->name_len);
    ctxvar__text_put(t, "=", 1);
    if (!needs_quotes(b->value, b->len)) {
        ctxvar__text_put(t, b->value, b->len);
        return 0;
    }
    ctxvar__text_put(t, "\"", 1);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->value[i];
        switch (c) {
        case '"': ctxvar__text_put(t, "\\\"", 2); break;
        case '\\': ctxvar__text_put(t, "\\\\", 2); break;
        case '\n': ctxvar__text_put(t, "\\n", 2); break;
        case '\r': ctxvar__text_put(t, "\\r", 2); break;
        case '\t': ctxvar__text_put(t, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                /* By hand: snprintf is not async-signal-safe. */
                const char escape[6] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4],
                                        "0123456789abcdef"[c & 15]};
                ctxvar__text_put(t, escape, 6);
            } else {
                ctxvar__text_put(t, (const char *)&c, 1);
            }
        }
    }
    ctxvar__text_put(t, "\"", 1);
    return 0;
}

/* For the outlets that show the context outside the process: only what
 * could leave it in a child's environment, and the trace headers rendered
 * as the names OpenTelemetry gives them in logs. */
static int put_exported_pair(const ctxvar__binding *b, void *p)
{
    const struct ctxvar *v = b->var;
    if (v->name[0] == '_' || ctxvar__is_trace_header(v->name, v->name_len)) return 0;
    return put_pair(b, p);
}

size_t ctxvar__format_exported(const ctxvar_ctx *c, char *buf, size_t size)
{
    struct ctxvar__text t = ctxvar__text_start(buf, size);
    ctxvar__ctx_visit_sorted_sigsafe(c, put_exported_pair, &t); /* no malloc: handlers */
    const struct ctxvar *tp_var = ctxvar__lookup("traceparent", 11); /* never interned: unset */
    const ctxvar__binding *tp = c && tp_var ? ctxvar__ctx_find(c, tp_var) : NULL;
    if (tp && ctxvar__traceparent_valid(tp->value)) {
        /* version-trace_id-span_id-flags: the fields sit at fixed offsets
         * in every version (a later one may only add fields after them). */
        if (t.len) ctxvar__text_put(&t, " ", 1);
        ctxvar__text_put(&t, "trace_id=", 9);
        ctxvar__text_put(&t, tp->value + 3, 32);
        ctxvar__text_put(&t, " span_id=", 9);
        ctxvar__text_put(&t, tp->value + 36, 16);
        ctxvar__text_put(&t, " trace_flags=", 13);
        ctxvar__text_put(&t, tp->value + 53, 2);
    }
    return ctxvar__text_finish(&t);
}

CTXVAR__EXPORT int ctxvar_format(char *buf, size_t size)
{
    int saved_errno = errno;
    struct ctxvar__text t = ctxvar__text_start(buf, size);
    ctxvar__ctx_visit_sorted_sigsafe(ctxvar__current_sigsafe(ctxvar__me()), put_pair, &t);
    errno = saved_errno;
    return clamp_length(ctxvar__text_finish(&t));
}

/* ---- Across processes --------------------------------------------------------- */

CTXVAR__EXPORT int ctxvar_baggage_encode(const ctxvar_ctx *c, char *buf, size_t size,
                                         size_t *dropped)
{
    int saved_errno = errno;
    size_t len = ctxvar__baggage_encode(c, buf, size, dropped);
    errno = saved_errno;
    return clamp_length(len);
}

CTXVAR__EXPORT int ctxvar_baggage_current(char *buf, size_t size, size_t *dropped)
{
    return ctxvar_baggage_encode(ctxvar__current_sigsafe(ctxvar__me()), buf, size, dropped);
}

CTXVAR__EXPORT int ctxvar_baggage_decode(const char *value, const ctxvar_ctx *base,
                                         ctxvar_ctx **out, size_t *skipped)
{
    int saved_errno = errno;
    size_t ignored;
    if (!value || !out) {
        ctxvar__debug("ctxvar_baggage_decode: NULL %s", value ? "out" : "value");
        return EINVAL;
    }
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) return EBUSY; /* a handler interrupted a change */
    int err = ctxvar__baggage_decode(value, base, out, skipped ? skipped : &ignored);
    ctxvar__busy_leave(t);
    errno = saved_errno;
    return err;
}

CTXVAR__EXPORT int ctxvar_set_traceparent(const char *value, ctxvar_token *tok)
{
    if (!value || !ctxvar__traceparent_valid(value) ||
        strnlen(value, CTXVAR_VALUE_MAX + 1) > CTXVAR_VALUE_MAX) {
        ctxvar__debug("ctxvar_set_traceparent: not a valid traceparent (or longer than 4096 "
                      "bytes)");
        return EINVAL;
    }
    return ctxvar_set(ctxvar_named("traceparent"), value, tok);
}

/* ---- Runtime ---------------------------------------------------------------------- */

CTXVAR__EXPORT int ctxvar_runtime_present(void) { return 1; }
CTXVAR__EXPORT const char *ctxvar_version(void) { return CTXVAR_VERSION; }
CTXVAR__EXPORT const char *ctxvar_strerror(int err) { return ctxvar__error_text(err); }

/* The table the header binds to.  The exported name is an alias, so that
 * this copy can tell its own table from another copy's (lib/startup.c). */
#define RUNTIME_INIT(ret, name, params, args, ret_kw) CTXVAR__FIELD_INIT(name, ctxvar_##name)
static const struct ctxvar__runtime runtime_table = {
    .abi = CTXVAR__ABI,
    .size = sizeof(struct ctxvar__runtime),
    CTXVAR__API(RUNTIME_INIT)
};
extern const struct ctxvar__runtime ctxvar__runtime_v1
    __attribute__((alias("runtime_table"), visibility("default")));

const void *ctxvar__runtime_table(void) { return &runtime_table; }

