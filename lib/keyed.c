/* keyed.c - callback records kept by the address of a library's object,
 * pool jobs run as tasks, and functions of libraries loaded on demand: what
 * the event-loop interposers (shim/libuv*.c, shim/libevent*.c) share.  See
 * lib/keyed.h for the contract.
 *
 * The table: SHARDS shards chosen by the top bits of a multiplicative hash
 * of (key, kind), each a chained hash table that doubles when it holds more
 * records than buckets, under its own mutex.  A shard starts with a small
 * bucket array inside it, so the first records need no allocation besides
 * their own; when doubling cannot allocate, the shard keeps its buckets and
 * chains grow (slower, still correct).  The mutexes are held only to link,
 * unlink or find, never across a callback, and are taken around fork so a
 * child never finds one held by a thread it does not have.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "keyed.h"
#include "thread.h"

/* Under ThreadSanitizer fewer: the fork handler holds every shard's lock,
 * and TSan tracks at most 64 held at once (lib/runtime.h,
 * CTXVAR__INDEX_BUCKETS). */
#if defined(__SANITIZE_THREAD__)
#define SHARD_BITS 3
#else
#define SHARD_BITS 5
#endif
#define SHARDS (1u << SHARD_BITS)
#define INITIAL_BUCKETS 8

struct shard {
    pthread_mutex_t lock;
    struct ctxvar__keyed **buckets;
    size_t mask;  /* buckets - 1 */
    size_t count;
    struct ctxvar__keyed *initial[INITIAL_BUCKETS];
};

/* Initialised statically, so that a lookup takes no once-check; a shard
 * gets its first buckets (its own inline ones) on first use. */
static struct shard shards[SHARDS] = {[0 ... SHARDS - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};
static atomic_int atfork_registered;
static atomic_size_t records;

static void lock_all(void)
{
    for (unsigned i = 0; i < SHARDS; i++) pthread_mutex_lock(&shards[i].lock);
}

static void unlock_all(void)
{
    for (unsigned i = SHARDS; i-- > 0;) pthread_mutex_unlock(&shards[i].lock);
}

/* Before the first record goes in: a forked child must not find a shard
 * locked by a thread it does not have. */
static void register_atfork(void)
{
    if (atomic_load_explicit(&atfork_registered, memory_order_acquire)) return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&atfork_registered, &expected, 1))
        pthread_atfork(lock_all, unlock_all, unlock_all);
}

static uint64_t hash(const void *key, int kind)
{
    uint64_t h = ((uint64_t)(uintptr_t)key ^ ((uint64_t)(unsigned)kind << 3)) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static struct shard *shard_of(uint64_t h) { return &shards[h >> (64 - SHARD_BITS)]; }

/* With the shard's lock held: the link that points at (key, kind)'s record,
 * or at the NULL ending its chain. */
static struct ctxvar__keyed **link_of(struct shard *s, uint64_t h, const void *key, int kind)
{
    if (!s->buckets) {
        s->buckets = s->initial;
        s->mask = INITIAL_BUCKETS - 1;
    }
    struct ctxvar__keyed **link = &s->buckets[h & s->mask];
    while (*link && ((*link)->key != key || (*link)->kind != kind)) link = &(*link)->next;
    return link;
}

/* With the lock held: twice the buckets, or the same when out of memory. */
static void grow(struct shard *s)
{
    size_t n = (s->mask + 1) * 2;
    struct ctxvar__keyed **buckets = ctxvar__alloc(n * sizeof *buckets);
    if (!buckets) return;
    for (size_t i = 0; i < n; i++) buckets[i] = NULL;
    for (size_t i = 0; i <= s->mask; i++) {
        for (struct ctxvar__keyed *r = s->buckets[i], *next; r; r = next) {
            next = r->next;
            struct ctxvar__keyed **head = &buckets[hash(r->key, r->kind) & (n - 1)];
            r->next = *head;
            *head = r;
        }
    }
    if (s->buckets != s->initial) free(s->buckets);
    s->buckets = buckets;
    s->mask = n - 1;
}

void *ctxvar__keyed_new(size_t size, const void *key, int kind, void (*fn)(void), void *arg,
                        const char *what)
{
    struct ctxvar__keyed *rec = ctxvar__callback_new(size, fn, arg, what);
    if (!rec) return NULL;
    rec->key = key;
    rec->kind = kind;
    rec->next = NULL;
    return rec;
}

void ctxvar__keyed_put(struct ctxvar__keyed *rec)
{
    int saved_errno = errno;
    register_atfork();
    uint64_t h = hash(rec->key, rec->kind);
    struct shard *s = shard_of(h);
    pthread_mutex_lock(&s->lock);
    struct ctxvar__keyed **link = link_of(s, h, rec->key, rec->kind), *old = *link;
    if (old) {
        rec->next = old->next;
        *link = rec;
    } else {
        rec->next = NULL;
        *link = rec;
        atomic_fetch_add_explicit(&records, 1, memory_order_relaxed);
        if (++s->count > s->mask + 1) grow(s);
    }
    pthread_mutex_unlock(&s->lock);
    if (old) ctxvar__callback_free(&old->cb);
    errno = saved_errno;
}

struct ctxvar__keyed *ctxvar__keyed_find(const void *key, int kind)
{
    uint64_t h = hash(key, kind);
    struct shard *s = shard_of(h);
    pthread_mutex_lock(&s->lock);
    struct ctxvar__keyed *rec = *link_of(s, h, key, kind);
    pthread_mutex_unlock(&s->lock);
    return rec;
}

struct ctxvar__keyed *ctxvar__keyed_take(const void *key, int kind)
{
    uint64_t h = hash(key, kind);
    struct shard *s = shard_of(h);
    pthread_mutex_lock(&s->lock);
    struct ctxvar__keyed **link = link_of(s, h, key, kind), *rec = *link;
    if (rec) {
        *link = rec->next;
        s->count--;
        atomic_fetch_sub_explicit(&records, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    return rec;
}

void ctxvar__keyed_drop(const void *key, int kind)
{
    struct ctxvar__keyed *rec = ctxvar__keyed_take(key, kind);
    if (rec) ctxvar__callback_free(&rec->cb);
}

size_t ctxvar__keyed_count(void) { return atomic_load_explicit(&records, memory_order_relaxed); }

void ctxvar__callback_recapture(struct ctxvar__callback *cb)
{
    ctxvar_ctx *old = __atomic_load_n(&cb->context, __ATOMIC_ACQUIRE),
               *now = ctxvar__current_borrowed();
    if (old == now) return; /* the same context: the reference held will do */
    /* From the thread's reference cache (ctxvar_capture keeps errno): a
     * one-shot event re-added from its own callback, which took the
     * record's context, takes one at every add.  Exchanged, not stored: a
     * trampoline or an event_del on another thread may take the record's
     * reference at the same time, and each reference goes back once. */
    old = __atomic_exchange_n(&cb->context, ctxvar_capture(), __ATOMIC_ACQ_REL);
    if (old) {
        int saved_errno = errno;
        ctxvar__context_release(old); /* marked busy: a signal handler may interrupt it */
        errno = saved_errno;
    }
}

#ifndef CTXVAR_STATIC_WRAP /* libctxvar.a carries no library interposers */
/* The runtime's own code: the object this file is linked into, whatever
 * its name. */
static struct ctxvar__code_ranges runtime_code;

/* base (a file name without its directory) names the library `name`: its
 * name, one of its `variants` (NULL for none), then a version
 * ("libevent-2.1.so.7") or ".so" ("libuv.so.1").  A prefix alone would
 * take a program's "libeventhandlers.so" for libevent, and its calls for
 * libevent's own. */
static int names_library(const char *base, const char *name, const char *const *variants)
{
    static const char *const plain[] = {"", NULL};
    size_t n = strlen(name);
    if (strncmp(base, name, n) != 0) return 0;
    base += n;
    for (const char *const *v = variants ? variants : plain; *v; v++) {
        size_t m = strlen(*v);
        if (strncmp(base, *v, m) != 0) continue;
        const char *rest = base + m;
        if ((rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9') || strncmp(rest, ".so", 3) == 0)
            return 1;
    }
    return 0;
}

static const char *file_base(const char *name)
{
    const char *base = strrchr(name, '/');
    return base ? base + 1 : name;
}

static int collect_ranges(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct ctxvar__code_ranges *r = p;
    if (r->name) {
        if (!names_library(file_base(info->dlpi_name ? info->dlpi_name : ""), r->name,
                           r->variants))
            return 0;
    }
    int max = (int)(sizeof r->range / sizeof r->range[0]), first = r->count, ours = 0;
    unsigned long here = (unsigned long)(uintptr_t)collect_ranges;
    for (int i = 0; i < info->dlpi_phnum && r->count < max; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        r->range[r->count].start = info->dlpi_addr + ph->p_vaddr;
        r->range[r->count].end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        ours |= here >= r->range[r->count].start && here < r->range[r->count].end;
        r->count++;
    }
    if (!r->name && !ours) r->count = first;
    return 0;
}

/* Every library's ranges once found, for ctxvar__code_ranges_unloaded. */
static struct ctxvar__code_ranges *_Atomic listed_ranges;

/* r once its code is known.  While another thread is finding it, the
 * caller finds it too, into `scratch`, and is answered from that: passing
 * its call through unexamined would lose a request whenever threads start
 * using a library at once. */
static const struct ctxvar__code_ranges *ranges_known(struct ctxvar__code_ranges *r,
                                                      struct ctxvar__code_ranges *scratch)
{
    if (atomic_load_explicit(&r->state, memory_order_acquire) == 2) return r;
    int expected = 0, saved_errno = errno;
    if (!atomic_compare_exchange_strong(&r->state, &expected, 1)) {
        scratch->name = r->name;
        scratch->variants = r->variants;
        scratch->count = 0;
        dl_iterate_phdr(collect_ranges, scratch);
        errno = saved_errno;
        return scratch;
    }
    r->count = 0;
    dl_iterate_phdr(collect_ranges, r);
    errno = saved_errno;
    expected = 0;
    if (r->name && atomic_compare_exchange_strong(&r->listed, &expected, 1)) {
        struct ctxvar__code_ranges *head = atomic_load(&listed_ranges);
        do r->next = head;
        while (!atomic_compare_exchange_weak(&listed_ranges, &head, r));
    }
    atomic_store_explicit(&r->state, 2, memory_order_release);
    return r;
}

static void answers_unloaded(void);

void ctxvar__code_ranges_unloaded(void)
{
    answers_unloaded();
    Dl_info info;
    for (struct ctxvar__code_ranges *r = atomic_load(&listed_ranges); r; r = r->next) {
        if (atomic_load_explicit(&r->state, memory_order_acquire) != 2) continue;
        /* Any of its objects gone ("libevent" names several). */
        int gone = 0;
        for (int i = 0; i < r->count && !gone; i++)
            gone = !dladdr((void *)(uintptr_t)r->range[i].start, &info);
        if (!gone) continue;
        /* Its library is gone: the cache first, so that no call takes a
         * remembered address for the program's once the code is found
         * again, then unknown: the next call looks for it. */
        atomic_store_explicit(&r->last_foreign, 0, memory_order_relaxed);
        int found = 2;
        atomic_compare_exchange_strong(&r->state, &found, 0);
    }
}

static int ranges_hold(const struct ctxvar__code_ranges *r, unsigned long a)
{
    for (int i = 0; i < r->count; i++)
        if (a >= r->range[i].start && a < r->range[i].end) return 1;
    return 0;
}

int ctxvar__code_foreign(struct ctxvar__code_ranges *r, void (*fn)(void))
{
    struct ctxvar__code_ranges scratch, runtime_scratch;
    const struct ctxvar__code_ranges *known = ranges_known(r, &scratch),
                                     *runtime = ranges_known(&runtime_code, &runtime_scratch);
    if (known->count == 0) return 0;
    unsigned long a = (unsigned long)(uintptr_t)fn;
    if (ranges_hold(known, a) || ranges_hold(runtime, a)) return 0;
    if (known == r) atomic_store_explicit(&r->last_foreign, a, memory_order_relaxed);
    return 1;
}

int ctxvar__code_present(struct ctxvar__code_ranges *r)
{
    struct ctxvar__code_ranges scratch;
    return ranges_known(r, &scratch)->count > 0;
}

int ctxvar__code_inside(struct ctxvar__code_ranges *r, const void *address)
{
    struct ctxvar__code_ranges scratch;
    const struct ctxvar__code_ranges *known = ranges_known(r, &scratch);
    return known->count == 0 || ranges_hold(known, (unsigned long)address);
}

int ctxvar__code_holds(struct ctxvar__code_ranges *r, void (*fn)(void))
{
    struct ctxvar__code_ranges scratch;
    return ranges_hold(ranges_known(r, &scratch), (unsigned long)(uintptr_t)fn);
}

int ctxvar__code_holds_known(struct ctxvar__code_ranges *r, void (*fn)(void))
{
    return atomic_load_explicit(&r->state, memory_order_acquire) == 2 &&
           ranges_hold(r, (unsigned long)(uintptr_t)fn);
}

/* ---- Code a library keeps to itself ---------------------------------------------
 *
 * Asked at every thread start (shim/glib_pool.c), so never with dladdr:
 * it takes the loader's lock, which dlopen holds while a library's
 * constructor runs (a constructor waiting for a thread that starts another
 * would wait for ever), and it looks for the nearest symbol by walking
 * every symbol of the object (3 us in libglib, 7.5 us in libstdc++).
 * Nor with dl_iterate_phdr, whose lock a program may hold while it waits
 * for a thread.  glibc 2.35 and later answer with _dl_find_object, without
 * a lock or a search; it is found with dlsym at initialisation (so that
 * the runtime still loads with an older glibc), and until then, or without
 * it, every address reads as not known: the caller does what it did
 * before it asked. */

#ifdef DLFO_STRUCT_HAS_EH_DBASE /* glibc's headers declare _dl_find_object */
typedef int (*find_object_fn)(void *, struct dl_find_object *);
/* _dl_find_object's address once initialisation looked, else 0. */
static _Atomic uintptr_t find_object_address;

/* [start, end) of the object's mapping holds [p, p + size). */
static int mapped(uintptr_t start, uintptr_t end, const void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    return a >= start && a < end && size <= end - a;
}

/* 1 when no symbol the object exports is at `address`, and the object
 * exports no IFUNC (whose value is its resolver, not the function a
 * program gets, so that its functions cannot be told by address).  base
 * is the object's load address, dyn its dynamic section, [start, end) its
 * mapping: every table is read only inside it, and whatever does not fit
 * is taken for exported.  The loader may have relocated the section's
 * addresses in place or not: one outside the mapping is not relocated. */
static int unexported(uintptr_t base, const ElfW(Dyn) * dyn, uintptr_t start, uintptr_t end,
                      uintptr_t address)
{
    const ElfW(Sym) *symbols = NULL;
    const uint32_t *gnu_hash = NULL;
    const ElfW(Word) *sysv_hash = NULL;
    for (; mapped(start, end, dyn, sizeof *dyn) && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = (uintptr_t)dyn->d_un.d_ptr;
        if (p < start || p >= end) p += base;
        if (dyn->d_tag == DT_SYMTAB) symbols = (const ElfW(Sym) *)p;
        else if (dyn->d_tag == DT_GNU_HASH) gnu_hash = (const uint32_t *)p;
        else if (dyn->d_tag == DT_HASH) sysv_hash = (const ElfW(Word) *)p;
    }
    size_t first, count;
    if (symbols && gnu_hash && mapped(start, end, gnu_hash, 4 * sizeof *gnu_hash)) {
        /* The symbols a GNU hash table covers are those it can find: from
         * symoffset to the end of the chain of the highest bucket. */
        uint32_t buckets_n = gnu_hash[0], symoffset = gnu_hash[1], bloom_n = gnu_hash[2];
        const uint32_t *buckets =
            (const uint32_t *)((const ElfW(Addr) *)(const void *)(gnu_hash + 4) + bloom_n);
        if (bloom_n > (end - start) / sizeof(ElfW(Addr)) ||
            buckets_n > (end - start) / sizeof *buckets ||
            !mapped(start, end, buckets, (size_t)buckets_n * sizeof *buckets))
            return 0;
        const uint32_t *chains = buckets + buckets_n;
        uint32_t last = 0;
        for (uint32_t i = 0; i < buckets_n; i++)
            if (buckets[i] > last) last = buckets[i];
        if (last < symoffset) return 1; /* it exports nothing */
        for (;; last++) {
            const uint32_t *link = chains + (last - symoffset);
            if (!mapped(start, end, link, sizeof *link)) return 0;
            if (*link & 1) break;
        }
        first = symoffset;
        count = (size_t)last + 1;
    } else if (symbols && sysv_hash && mapped(start, end, sysv_hash, 2 * sizeof *sysv_hash)) {
        first = 1;
        count = sysv_hash[1]; /* nchain: the number of symbols */
    } else {
        return 0;
    }
    if (count > (end - start) / sizeof *symbols ||
        !mapped(start, end, symbols, count * sizeof *symbols))
        return 0;
    for (size_t i = first; i < count; i++) {
        const ElfW(Sym) *sym = &symbols[i];
        if (sym->st_shndx == SHN_UNDEF) continue;
        if (ELF32_ST_TYPE(sym->st_info) == STT_GNU_IFUNC) return 0; /* the same in both classes */
        if (base + (uintptr_t)sym->st_value == address) return 0;
    }
    return 1;
}

/* Answers kept, with the mapping they were found in: GLib starts its own
 * threads with a few functions, asked at every such start (a scan of
 * libglib's 2,000 symbols is some 30,000 instructions), and a program its
 * own with a few exported ones.  Each slot is written once; when all are
 * taken, the answer is found again each time.  Any dlclose makes every
 * kept answer stale (ctxvar__code_ranges_unloaded): another library may
 * then be loaded where one was, with other exports at the same addresses. */
enum { ANSWERS_KEPT = 8 };
static struct {
    _Atomic uintptr_t address, start;
    atomic_uint generation;
    atomic_int unexported;
} answers[ANSWERS_KEPT];
static atomic_uint answers_used, answers_generation;

/* 1 and *unexported when (address, start) was answered since the last
 * dlclose. */
static int answer_known(uintptr_t address, uintptr_t start, unsigned generation, int *unexported)
{
    unsigned n = atomic_load_explicit(&answers_used, memory_order_acquire);
    for (unsigned i = 0; i < n && i < ANSWERS_KEPT; i++)
        if (atomic_load_explicit(&answers[i].address, memory_order_acquire) == address &&
            atomic_load_explicit(&answers[i].start, memory_order_relaxed) == start &&
            atomic_load_explicit(&answers[i].generation, memory_order_relaxed) == generation) {
            *unexported = atomic_load_explicit(&answers[i].unexported, memory_order_relaxed);
            return 1;
        }
    return 0;
}

/* generation: as read before the answer was found, so that an answer
 * found across a dlclose is never taken for a fresh one. */
static void answer_keep(uintptr_t address, uintptr_t start, unsigned generation, int unexported)
{
    unsigned i = atomic_load_explicit(&answers_used, memory_order_relaxed);
    do
        if (i >= ANSWERS_KEPT) return;
    while (!atomic_compare_exchange_weak_explicit(&answers_used, &i, i + 1, memory_order_relaxed,
                                                  memory_order_relaxed));
    atomic_store_explicit(&answers[i].start, start, memory_order_relaxed);
    atomic_store_explicit(&answers[i].generation, generation, memory_order_relaxed);
    atomic_store_explicit(&answers[i].unexported, unexported, memory_order_relaxed);
    atomic_store_explicit(&answers[i].address, address, memory_order_release);
}
#endif

static void answers_unloaded(void)
{
#ifdef DLFO_STRUCT_HAS_EH_DBASE
    atomic_fetch_add_explicit(&answers_generation, 1, memory_order_acq_rel);
#endif
}

void ctxvar__code_files_init(void)
{
#ifdef DLFO_STRUCT_HAS_EH_DBASE
    void *sym = dlsym(RTLD_DEFAULT, "_dl_find_object");
    atomic_store_explicit(&find_object_address, (uintptr_t)sym, memory_order_release);
#endif
}

static int names_any(const char *file, const char *const *names)
{
    for (; *names; names++)
        if (names_library(file_base(file), *names, NULL)) return 1;
    return 0;
}

int ctxvar__code_unexported_in(const void *address, const char *const *names)
{
#ifdef DLFO_STRUCT_HAS_EH_DBASE
    uintptr_t a = atomic_load_explicit(&find_object_address, memory_order_acquire);
    if (!a || !address) return 0;
    int saved_errno = errno;
    unsigned generation = atomic_load_explicit(&answers_generation, memory_order_acquire);
    find_object_fn find;
    memcpy(&find, &a, sizeof find);
    struct dl_find_object o;
    int result = 0;
    if (find((void *)(uintptr_t)address, &o) == 0 && o.dlfo_link_map &&
        o.dlfo_link_map->l_name && names_any(o.dlfo_link_map->l_name, names)) {
        uintptr_t start = (uintptr_t)o.dlfo_map_start, end = (uintptr_t)o.dlfo_map_end;
        if (!answer_known((uintptr_t)address, start, generation, &result)) {
            result = unexported(o.dlfo_link_map->l_addr, o.dlfo_link_map->l_ld, start, end,
                                (uintptr_t)address);
            answer_keep((uintptr_t)address, start, generation, result);
        }
    }
    errno = saved_errno;
    return result;
#else
    (void)address, (void)names;
    return 0;
#endif
}
#endif
