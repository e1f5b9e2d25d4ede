/* otel.h - what the rest of the runtime sees of the OpenTelemetry outlet
 * (lib/otel.c, lib/otel_process.c): the per-thread pointer a profiler reads,
 * the record it points at, and the one inline step every change of a
 * thread's current context takes.  With CTXVAR_OTEL unset that step is a
 * load of a global flag and a branch predicted not taken; nothing else of
 * the outlet runs.  Internal to lib/.
 */
#ifndef CTXVAR_OTEL_H
#define CTXVAR_OTEL_H

#include <stdatomic.h>
#include <stdint.h>

#include "platform.h"
#include "store.h"

/* A thread context record, as out-of-process readers expect it: native
 * byte order, 2-byte aligned, no padding (28 bytes, then the attributes).
 * attrs_data holds attrs_data_size bytes of entries
 * {uint8 key_index; uint8 length; uint8 value[length]}, key_index naming an
 * entry of the process context's key map.  Immutable once a thread points
 * at it: it belongs to one context, which is immutable too. */
struct ctxvar__otel_record {
    uint8_t trace_id[16];       /* all zero: no trace */
    uint8_t span_id[8];         /* all zero: no span */
    uint8_t valid;              /* always 1 once published */
    uint8_t trace_flags;
    uint16_t attrs_data_size;   /* at most CTXVAR__OTEL_ATTRS_MAX */
    uint8_t attrs_data[];
};
_Static_assert(sizeof(struct ctxvar__otel_record) == 28, "record header must be 28 bytes");

/* What a context's otel_record field points at: the record, and what the
 * writer keeps about it out of readers' sight. */
struct ctxvar__otel_held {
    uint32_t size;              /* bytes of the whole block */
    uint8_t exact;              /* every exported variable shown whole */
    uint8_t unused[3];
    struct ctxvar__otel_record record;
};

/* Room for attributes: readers are told to expect at most 640 bytes a
 * record, 612 of them attributes. */
#define CTXVAR__OTEL_ATTRS_MAX 612
/* Keys the key map may hold: an entry names its key in one byte. */
#define CTXVAR__OTEL_KEYS_MAX 256

/* The symbol profilers look for in every object's dynamic symbols: this
 * thread's record, or NULL (an empty context, or the outlet off). */
extern __thread struct ctxvar__otel_record *otel_thread_ctx_v1
    __attribute__((visibility("default")));

/* 1 once the outlet is on (CTXVAR_OTEL=1 and the process context
 * published); never goes back to 0. */
extern atomic_int ctxvar__otel_on CTXVAR__HIDDEN;

/* What a context's otel_record field holds once built for a context that
 * has nothing to show (only private variables): the thread points at
 * NULL. */
extern char ctxvar__otel_nothing CTXVAR__HIDDEN;

/* Points the calling thread at c's record (c borrowed, the thread's new
 * current context), building the record on first use, from the record of
 * `before` (the context c replaces, or NULL) when c is before with one
 * variable changed.  Never fails the caller: out of memory, the pointer is
 * NULL and CTXVAR_DEBUG=1 says so.  Keeps errno. */
void ctxvar__otel_point(const ctxvar_ctx *c, const ctxvar_ctx *before) CTXVAR__HIDDEN;

/* Called after every change of the calling thread's current context from
 * `before` to c, before the change returns and before `before` is
 * released. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__otel_follow(const ctxvar_ctx *c,
                                                                   const ctxvar_ctx *before)
{
    if (__builtin_expect(atomic_load_explicit(&ctxvar__otel_on, memory_order_relaxed), 0))
        ctxvar__otel_point(c, before);
}

/* The record already built for c, or NULL: for a new thread before its
 * start routine, which may not allocate (lib/platform.h).  Its creator
 * built the record when the context became its own current one, or in
 * ctxvar__otel_prepare_child. */
CTXVAR__BEFORE_THREAD_START_INLINE static inline void ctxvar__otel_follow_new_thread(const ctxvar_ctx *c)
{
    if (__builtin_expect(atomic_load_explicit(&ctxvar__otel_on, memory_order_relaxed), 0)) {
        void *r = c ? atomic_load_explicit(&((ctxvar_ctx *)c)->otel_record, memory_order_acquire)
                    : NULL;
        otel_thread_ctx_v1 =
            r && r != &ctxvar__otel_nothing ? &((struct ctxvar__otel_held *)r)->record : NULL;
    }
}

/* In the creator, for a context a new thread will start with: builds its
 * record if it has none yet. */
void ctxvar__otel_build(const ctxvar_ctx *c) CTXVAR__HIDDEN;
static inline void ctxvar__otel_prepare_child(const ctxvar_ctx *c)
{
    if (__builtin_expect(atomic_load_explicit(&ctxvar__otel_on, memory_order_relaxed), 0) && c &&
        !atomic_load_explicit(&((ctxvar_ctx *)c)->otel_record, memory_order_acquire))
        ctxvar__otel_build(c);
}

/* ---- lib/otel_process.c: the process context ---------------------------- */

/* Publishes the process context mapping (first time, or in a forked
 * child: a new one, with a new instance id): 0, or -1 when it could not. */
int ctxvar__otel_process_publish(int forked) CTXVAR__HIDDEN;

/* In a forked child that publishes nothing: forgets the parent's mapping,
 * which the child does not have (MADV_DONTFORK). */
void ctxvar__otel_process_forget(void) CTXVAR__HIDDEN;

/* Publishes again with the key map's current keys (a key was added): 0,
 * or -1 when out of memory (the old map stays).  Called with the key map's
 * lock held. */
int ctxvar__otel_process_update(void) CTXVAR__HIDDEN;

/* The key map, read by the process context encoder: the number of keys and
 * the name of key i (NUL-terminated, lives for the process). */
unsigned ctxvar__otel_key_count(void) CTXVAR__HIDDEN;
const char *ctxvar__otel_key_name(unsigned i) CTXVAR__HIDDEN;

#endif
