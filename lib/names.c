/* names.c - variables: interned by name, once per process, never freed.
 *
 * ctxvar_named must give the same pointer for the same name from any thread
 * or shared object, so names are interned in one table.  It is lock-free:
 * entries are only ever pushed on a bucket's head and never removed, so a
 * reader walks a chain that can only grow, and after a lost race only the
 * entries pushed since need a look.  A variable's hash, which places it in
 * the context store's trie, is a bijective mix of a serial number given at
 * interning, so no two variables share one (lib/store.c says why that
 * matters).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "runtime.h"
#include "w3c.h"

#define INTERN_BUCKETS 4096
static _Atomic(struct ctxvar *) intern_table[INTERN_BUCKETS];
static atomic_uint next_variable_serial;

int ctxvar__valid_name(const char *name, size_t len) { return ctxvar__w3c_name_valid(name, len); }

/* FNV-1a: only for choosing an intern bucket. */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static struct ctxvar *find_in_chain(struct ctxvar *from, const struct ctxvar *until,
                                    const char *name, size_t len)
{
    for (struct ctxvar *v = from; v != until; v = v->next)
        if (v->name_len == len && memcmp(v->name, name, len) == 0) return v;
    return NULL;
}

struct ctxvar *ctxvar__lookup(const char *name, size_t len)
{
    _Atomic(struct ctxvar *) *bucket = &intern_table[name_hash(name, len) % INTERN_BUCKETS];
    return find_in_chain(atomic_load_explicit(bucket, memory_order_acquire), NULL, name, len);
}

struct ctxvar *ctxvar__intern(const char *name, size_t len)
{
    _Atomic(struct ctxvar *) *bucket = &intern_table[name_hash(name, len) % INTERN_BUCKETS];
    struct ctxvar *head = atomic_load_explicit(bucket, memory_order_acquire);
    struct ctxvar *found = find_in_chain(head, NULL, name, len);
    if (found) return found;

    struct ctxvar *fresh = ctxvar__alloc(sizeof *fresh + len + 1);
    if (!fresh) return NULL;
    memcpy(fresh->name, name, len);
    fresh->name[len] = '\0';
    fresh->name_len = (uint32_t)len;
    fresh->hash = ctxvar__hash_serial(
        atomic_fetch_add_explicit(&next_variable_serial, 1, memory_order_relaxed));
    for (;;) {
        fresh->next = head;
        if (atomic_compare_exchange_weak_explicit(bucket, &head, fresh, memory_order_release,
                                                  memory_order_acquire))
            return fresh;
        found = find_in_chain(head, fresh->next, name, len);
        if (found) {
            free(fresh);
            return found;
        }
    }
}

CTXVAR__EXPORT ctxvar *ctxvar_named(const char *name)
{
    int saved_errno = errno;
    if (!name) {
        ctxvar__debug("ctxvar_named: NULL name");
        return NULL;
    }
    size_t len = strnlen(name, CTXVAR_NAME_MAX + 1);
    if (!ctxvar__valid_name(name, len)) {
        ctxvar__debug("ctxvar_named: invalid name (want 1-64 bytes of [A-Za-z0-9_.-], "
                      "starting with a letter or '_')");
        return NULL;
    }
    ctxvar *v = ctxvar__intern(name, len);
    if (!v) ctxvar__debug("ctxvar_named: out of memory");
    errno = saved_errno;
    return v;
}

CTXVAR__EXPORT const char *ctxvar_name(const ctxvar *v) { return v ? v->name : NULL; }
