/* childenv.c - the environment a child process gets: the calling thread's
 * context as BAGGAGE, TRACEPARENT and TRACESTATE, built for the exec, spawn,
 * system and popen interposers in shim/.
 *
 * THE RULE.  Each of the three variables, in the environment the child
 * would get (environ for the calls that use it implicitly, or the envp the
 * program passes), is treated on its own:
 *
 *   - An entry whose value differs from the one the process was started
 *     with (ctxvar__environment_at_load; an entry when there was none also
 *     differs) was put there by the program itself: setenv() before exec,
 *     `env BAGGAGE=... cmd`, an envp it built.  It is passed on unchanged,
 *     and the thread's context does not replace it.
 *   - An entry equal to the start-up value is the context the process
 *     inherited; it is replaced by the calling thread's, or removed when
 *     the thread has none (or nothing exportable).
 *   - An absent variable gets the thread's value when the call uses
 *     environ; an explicit envp gets nothing added (the program decided
 *     what it holds).
 *
 * From a thread whose context is still the one the process was seeded with
 * at start-up (ctxvar__is_environment_context: the same object, never
 * changed) the environment is passed on untouched, so the three variables
 * go through byte for byte: a pass-through program (timeout, nice, xargs,
 * make) gives its child exactly what it was given, even members or a
 * traceparent our decoder would not have kept.  CTXVAR_EXPORT=0 turns all
 * of this off.  (LD_PRELOAD is the one other variable touched, whatever
 * the context and the setting: see "The runtime's own LD_PRELOAD entry".)
 *
 * MEMORY.  The exec functions may run in the child of vfork, on the
 * parent's memory while the parent's other threads go on, or in the child
 * of fork, where a lock another thread held stays held; and a program may
 * call them from a thread or a signal handler with a small stack.  So from
 * the interposer to the real call nothing here allocates, locks, or puts
 * more than a few hundred bytes on the stack, whatever the size of the
 * environment or the context (under 1 KiB in all, measured with
 * -fstack-usage): the new environment (its pointer array, its three
 * strings, and the encoder's scratch) is built in one anonymous private
 * mapping, a system call that takes no lock in the process, sized to what
 * it holds (the baggage at its 8,192-byte most), and unmapped when the
 * real call returns.  If the mapping cannot be made, the environment is
 * passed on unchanged, with a CTXVAR_DEBUG line.
 * A successful exec in a vfork child leaves that mapping in the parent's
 * memory; "After vfork" below says how the parent gets it back.
 *
 * COST.  Only what can be exported is sorted: the encoder carries at most
 * CTXVAR_BAGGAGE_MAX_MEMBERS members, the first eligible names in name
 * order, so one pass keeps the smallest of them in a bounded heap (O(n log
 * 64) for n variables) and only those are sorted.  The same text as
 * ctxvar_baggage_encode comes out (bats/exec_hostile.bats compares them).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "baggage.h"
#include "childenv.h"
#include "runtime.h"

extern char **environ;

/* ---- The three variables ---------------------------------------------------- */

enum { VAR_BAGGAGE, VAR_TRACEPARENT, VAR_TRACESTATE, VAR_COUNT };
static const char *const var_names[VAR_COUNT] = {"BAGGAGE", "TRACEPARENT", "TRACESTATE"};
static const size_t var_name_lens[VAR_COUNT] = {7, 11, 10};

/* Which of the three an environment entry ("NAME=value") sets, or -1. */
static int var_of(const char *entry)
{
    if (entry[0] != 'B' && entry[0] != 'T') return -1; /* most entries: one comparison */
    for (int v = 0; v < VAR_COUNT; v++)
        if (strncmp(entry, var_names[v], var_name_lens[v]) == 0 && entry[var_name_lens[v]] == '=')
            return v;
    return -1;
}

/* ---- Choosing and encoding the baggage members ------------------------------ */

/* The members ctxvar__baggage_encode would carry, chosen without sorting
 * the whole context: it carries the first eligible names in name order
 * while they fit (at most CTXVAR_BAGGAGE_MAX_MEMBERS members, at most
 * CTXVAR_BAGGAGE_MAX_BYTES bytes, a member that does not fit dropped whole
 * and a later one that fits still taken).  One pass keeps the first 64
 * eligible names in a max-heap; only when some of those were too long to
 * fit does a second pass look further, in a heap of the rest.
 *
 * The passes use the store's unordered visit: its ordered one sorts every
 * binding first, which is what made a large context cost O(n log n), or
 * O(n^2) without room to sort. */

#define MAX_MEMBERS CTXVAR_BAGGAGE_MAX_MEMBERS
#define MAX_BYTES CTXVAR_BAGGAGE_MAX_BYTES

/* The encoder's rule: private names and the two trace headers never go
 * into BAGGAGE. */
static int exportable(const ctxvar__binding *b)
{
    const struct ctxvar *v = b->var;
    if (v->name[0] == '_') return 0;
    return !((v->name_len == 11 && memcmp(v->name, "traceparent", 11) == 0) ||
             (v->name_len == 10 && memcmp(v->name, "tracestate", 10) == 0));
}

static int name_before(const ctxvar__binding *x, const ctxvar__binding *y)
{
    return strcmp(x->var->name, y->var->name) < 0;
}

/* A binary heap of bindings by name: the largest on top, or the smallest. */
struct heap {
    const ctxvar__binding **a;
    size_t n, cap;
    int largest_on_top;
};

static int goes_above(const struct heap *h, size_t i, size_t j)
{
    return h->largest_on_top ? name_before(h->a[j], h->a[i]) : name_before(h->a[i], h->a[j]);
}

static void heap_swap(struct heap *h, size_t i, size_t j)
{
    const ctxvar__binding *t = h->a[i];
    h->a[i] = h->a[j];
    h->a[j] = t;
}

static void sift_up(struct heap *h, size_t i)
{
    for (; i > 0 && goes_above(h, i, (i - 1) / 2); i = (i - 1) / 2) heap_swap(h, i, (i - 1) / 2);
}

static void sift_down(struct heap *h, size_t i)
{
    for (size_t child; (child = 2 * i + 1) < h->n; i = child) {
        if (child + 1 < h->n && goes_above(h, child + 1, child)) child++;
        if (!goes_above(h, child, i)) return;
        heap_swap(h, i, child);
    }
}

/* Pass one: the first MAX_MEMBERS exportable names, and how many there are. */
struct first_names {
    struct heap heap; /* largest on top: the one to evict */
    size_t exportable;
};

static void keep_if_among_first(const ctxvar__binding *b, void *p)
{
    struct first_names *f = p;
    if (!exportable(b)) return;
    f->exportable++;
    if (f->heap.n < f->heap.cap) {
        f->heap.a[f->heap.n++] = b;
        sift_up(&f->heap, f->heap.n - 1);
    } else if (name_before(b, f->heap.a[0])) {
        f->heap.a[0] = b;
        sift_down(&f->heap, 0);
    }
}

/* Pass two: every exportable name after `after`. */
struct later_names {
    struct heap heap; /* smallest on top: the next in order */
    const char *after;
};

static void keep_if_later(const ctxvar__binding *b, void *p)
{
    struct later_names *l = p;
    if (exportable(b) && l->heap.n < l->heap.cap && strcmp(b->var->name, l->after) > 0)
        l->heap.a[l->heap.n++] = b;
}

/* A baggage-octet (w3c.h) but '%', which is one too but is escaped. */
static int passes_unescaped(unsigned char c) { return ctxvar__w3c_is_baggage_octet(c) && c != '%'; }

/* The baggage text being written, in name order. */
struct baggage {
    char *buf; /* room for MAX_BYTES + 1 */
    size_t len;
    unsigned members;
};

/* 1 when no member can be added any more: the member limit, or too few
 * bytes left for the shortest member ("k=", and its comma after the first). */
static int baggage_full(const struct baggage *g)
{
    return g->members == MAX_MEMBERS || MAX_BYTES - g->len < (g->members ? 3u : 2u);
}

/* Adds b, the next exportable binding in name order, if it fits; a member
 * that does not fit is left out whole, never cut, and so is one that would
 * arrive longer than a value can be (w3c.h, "UTF-8").  Returns
 * baggage_full. */
static int baggage_add(struct baggage *g, const ctxvar__binding *b)
{
    static const char hex[] = "0123456789ABCDEF";
    const struct ctxvar *var = b->var;
    size_t member = var->name_len + 1;
    for (size_t i = 0; i < b->len; i++) member += passes_unescaped((unsigned char)b->value[i]) ? 1 : 3;
    if (g->len + member + (g->members ? 1 : 0) > MAX_BYTES ||
        ctxvar__w3c_arrives_too_long(b->value, b->len))
        return baggage_full(g);
    char *out = g->buf + g->len;
    if (g->members++) *out++ = ',';
    memcpy(out, var->name, var->name_len);
    out += var->name_len;
    *out++ = '=';
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->value[i];
        if (passes_unescaped(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    g->len = (size_t)(out - g->buf);
    return baggage_full(g);
}

/* The rare second pass: some of the first names were too long to fit, so
 * later ones may still be taken.  Its heap, of every later exportable name,
 * gets a mapping of its own. */
static void baggage_add_later(struct baggage *g, const ctxvar_ctx *c, const char *after,
                              size_t count)
{
    size_t size = count * sizeof(const ctxvar__binding *);
    void *room = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (room == MAP_FAILED) {
        ctxvar__debug("exec: no memory to look past the first %u baggage members; "
                      "the child gets those only", (unsigned)MAX_MEMBERS);
        return;
    }
    struct later_names l = {{room, 0, count, 0}, after};
    ctxvar__ctx_visit(c, keep_if_later, &l);
    for (size_t i = l.heap.n / 2; i-- > 0;) sift_down(&l.heap, i);
    while (l.heap.n > 0) {
        const ctxvar__binding *next = l.heap.a[0];
        l.heap.a[0] = l.heap.a[--l.heap.n];
        sift_down(&l.heap, 0);
        if (baggage_add(g, next)) break;
    }
    munmap(room, size);
}

/* Writes c's baggage into buf (room for MAX_BYTES + 1) and returns its
 * length: the text ctxvar__baggage_encode gives.  scratch: room for
 * MAX_MEMBERS pointers. */
static size_t encode_baggage(const ctxvar_ctx *c, char *buf, const ctxvar__binding **scratch)
{
    struct baggage g = {buf, 0, 0};
    if (c) {
        struct first_names f = {{scratch, 0, MAX_MEMBERS, 1}, 0};
        ctxvar__ctx_visit(c, keep_if_among_first, &f);
        /* Heapsort what the heap holds: ascending, in place. */
        size_t kept = f.heap.n;
        while (f.heap.n > 1) {
            heap_swap(&f.heap, 0, --f.heap.n);
            sift_down(&f.heap, 0);
        }
        int full = 0;
        for (size_t i = 0; i < kept && !full; i++) full = baggage_add(&g, scratch[i]);
        if (!full && f.exportable > kept)
            baggage_add_later(&g, c, scratch[kept - 1]->var->name, f.exportable - kept);
    }
    buf[g.len] = '\0';
    return g.len;
}

/* ---- After vfork -------------------------------------------------------- */

/* An exec that succeeds in the child of vfork leaves the child's mapping in
 * the parent: they shared one address space until the exec.  The child
 * cannot free it (it has become another program), and the parent's thread
 * that called vfork was suspended until then, so it is the one that can:
 * before an exec, the mapping is recorded with the calling thread (in a
 * vfork child, pthread_self() is the parent thread's, whose memory it
 * runs on) and the process that made it.  Whenever a thread next starts a
 * process, it unmaps the mappings recorded by it from another process, one
 * of its vfork children, which has certainly exec'd or exited.  A record
 * made by this very process may be in use by a frame this thread's signal
 * handler interrupted; one made by our parent may be in use by the
 * suspended parent thread of this vfork child: both are left alone.  So at
 * most one stray mapping stays per thread that used vfork, until it next
 * starts a process or ends (it is in no vfork then), or while the records
 * are all taken (a diagnostic says so): 256 threads that used vfork and
 * live on.  In a normal process or a fork child, a successful exec discards
 * the record with everything else. */

enum { AREA_FREE, AREA_CLAIMED, AREA_HELD };
#define AREA_RECORDS 256

static struct area_record {
    atomic_int state;
    pthread_t owner;
    pid_t pid;
    void *area;
    size_t size;
} area_records[AREA_RECORDS];
static atomic_int areas_held;

static int area_record(void *area, size_t size)
{
    if (!area) return -1;
    for (int i = 0; i < AREA_RECORDS; i++) {
        struct area_record *r = &area_records[i];
        int expected = AREA_FREE;
        if (!atomic_compare_exchange_strong(&r->state, &expected, AREA_CLAIMED)) continue;
        r->owner = pthread_self();
        r->pid = getpid();
        r->area = area;
        r->size = size;
        atomic_fetch_add(&areas_held, 1);
        atomic_store_explicit(&r->state, AREA_HELD, memory_order_release);
        return i;
    }
    ctxvar__debug("exec: no record left for the child's environment; after vfork it stays "
                  "mapped in the parent");
    return -1;
}

static void area_forget(int i)
{
    if (i < 0) return;
    atomic_fetch_sub(&areas_held, 1);
    atomic_store_explicit(&area_records[i].state, AREA_FREE, memory_order_release);
}

static void areas_reclaim(void)
{
    if (atomic_load_explicit(&areas_held, memory_order_acquire) == 0) return;
    pthread_t self = pthread_self();
    pid_t pid = getpid(), parent = 0;
    for (int i = 0; i < AREA_RECORDS; i++) {
        struct area_record *r = &area_records[i];
        if (atomic_load_explicit(&r->state, memory_order_acquire) != AREA_HELD ||
            !pthread_equal(r->owner, self) || r->pid == pid)
            continue;
        if (!parent) parent = getppid();
        if (r->pid == parent) continue;
        munmap(r->area, r->size);
        area_forget(i);
    }
}

void ctxvar__child_env_thread_ends(void) { areas_reclaim(); }

/* ---- The runtime's own LD_PRELOAD entry ------------------------------------
 *
 * A child that cannot open the runtime (after a chroot, after the program
 * dropped its privileges, or once the file is gone) would print the
 * loader's line on its stderr for the entry ctxrun or the user gave ("cannot
 * be preloaded ... ignored"), then run without it.  When the file this
 * process loaded the runtime from cannot be opened now, the LD_PRELOAD
 * entries that name that file are left out of the child's: it starts
 * without the runtime, as it would have, and without the line.  An entry
 * names it when it is the same text, or the same with the loader's $LIB
 * (or ${LIB}) standing for a part of it, as ctxrun writes it.  Other
 * entries stay as they were, another libctxvar.so too: whether that one
 * can be opened is the loader's to find out.  The file is checked as the
 * loader will open it, with open(2): no lock, no allocation, nothing on
 * the stack, with the ids and the directories the exec keeps.  The child's
 * own children inherit the environment without the entry. */

/* 1 when p[0, len) is `file`, or `file` with $LIB or ${LIB} standing for
 * a non-empty part of it. */
static int entry_names_file(const char *p, size_t len, const char *file)
{
    size_t file_len = strlen(file);
    if (len == file_len && memcmp(p, file, len) == 0) return 1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '$') continue;
        size_t token = len - i >= 6 && memcmp(p + i, "${LIB}", 6) == 0 ? 6
                       : len - i >= 4 && memcmp(p + i, "$LIB", 4) == 0 ? 4
                                                                      : 0;
        if (!token) return 0;
        size_t before = i, after = len - i - token;
        return file_len > before + after && memcmp(file, p, before) == 0 &&
               memcmp(file + file_len - after, p + i + token, after) == 0 &&
               memchr(p + i + token, '$', after) == NULL;
    }
    return 0;
}

/* The loader splits LD_PRELOAD at colons and spaces. */
static size_t entry_length(const char *p) { return strcspn(p, ": "); }

static int is_preload(const char *entry)
{
    return entry[0] == 'L' && strncmp(entry, "LD_PRELOAD=", 11) == 0;
}

/* The bytes of envp's LD_PRELOAD entries (each with its NUL) when one of
 * them names the runtime's file and that cannot be opened now; else 0. */
static size_t preload_to_rewrite(char *const *envp, const char *file)
{
    if (!file || !envp) return 0;
    size_t bytes = 0;
    int names = 0;
    for (size_t i = 0; envp[i]; i++) {
        if (!is_preload(envp[i])) continue;
        bytes += strlen(envp[i]) + 1;
        for (const char *p = envp[i] + 11; *p && !names; p += *p ? 1 : 0) {
            size_t len = entry_length(p);
            names = len && entry_names_file(p, len, file);
            p += len;
        }
    }
    if (!names) return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bytes;
    close(fd);
    return 0;
}

/* `entry` without what names the runtime's file, in out (room for the
 * entry); NULL when nothing is left, and the variable goes. */
static char *preload_without_runtime(char *out, const char *entry, const char *file)
{
    memcpy(out, "LD_PRELOAD=", 11);
    size_t n = 11;
    for (const char *p = entry + 11; *p; p += *p ? 1 : 0) {
        size_t len = entry_length(p);
        if (len && !entry_names_file(p, len, file)) {
            if (n > 11) out[n++] = ':';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    out[n] = '\0';
    return n > 11 ? out : NULL;
}

/* ---- The child's environment --------------------------------------------- */

static const ctxvar__binding *binding_named(const ctxvar_ctx *c, const char *name, size_t len)
{
    /* Looked up, not interned: interning may allocate, and a name never
     * interned is set nowhere. */
    const struct ctxvar *var = ctxvar__lookup(name, len);
    return var ? ctxvar__ctx_find(c, var) : NULL;
}


/* The entries of envp, and for each of the three variables whether the
 * program put in a value of its own and how many entries stand for the
 * inherited context (see THE RULE). */
struct env_scan {
    size_t entries;
    int own[VAR_COUNT];
    size_t inherited[VAR_COUNT];
};

static void scan_environment(char *const *envp, const char *const at_load[VAR_COUNT],
                             struct env_scan *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; envp && envp[i]; i++, s->entries++) {
        int v = var_of(envp[i]);
        if (v < 0) continue;
        if (at_load[v] && strcmp(envp[i] + var_name_lens[v] + 1, at_load[v]) == 0)
            s->inherited[v]++;
        else
            s->own[v] = 1;
    }
}

/* Copies "NAME=" and value[0, len) to out; returns the entry. */
static char *put_entry(char *out, int v, const char *value, size_t len)
{
    memcpy(out, var_names[v], var_name_lens[v]);
    out[var_name_lens[v]] = '=';
    memcpy(out + var_name_lens[v] + 1, value, len);
    out[var_name_lens[v] + 1 + len] = '\0';
    return out;
}

/* Gives e the environment the child should get in place of envp (the
 * process environment when `implicit`), following THE RULE.  Never fails:
 * when export is off, nothing changes or no memory can be had, e->envp is
 * envp itself.  Allocates nothing, takes no lock; errno may change. */
void ctxvar__child_env_build(struct ctxvar__child_env *e, char *const *envp, int implicit)
{
    e->envp = envp;
    e->area = NULL;
    e->area_size = 0;
    areas_reclaim();
    const char *runtime_file = ctxvar__runtime_file();
    size_t preload = preload_to_rewrite(envp, runtime_file);
    const ctxvar_ctx *ctx = ctxvar__export_enabled() ? ctxvar__current_borrowed() : NULL;
    int context = ctxvar__export_enabled() && !ctxvar__is_environment_context(ctx);
    if (!context && !preload) return;

    /* With no context to give (export off, or the one the process was
     * started with), no entry is the inherited context: at_load is empty. */
    const char *at_load[VAR_COUNT] = {NULL, NULL, NULL};
    for (int v = 0; context && v < VAR_COUNT; v++)
        at_load[v] = ctxvar__environment_at_load(var_names[v]);
    struct env_scan s;
    scan_environment(envp, at_load, &s);

    /* The thread's values, for each variable the program left to us. */
    int wanted[VAR_COUNT], changes = 0;
    for (int v = 0; v < VAR_COUNT; v++) {
        wanted[v] = context && !s.own[v] && (implicit || s.inherited[v]);
        changes |= !s.own[v] && s.inherited[v] != 0;
    }
    const ctxvar__binding *tp = NULL, *ts = NULL;
    if (wanted[VAR_TRACEPARENT] || wanted[VAR_TRACESTATE]) {
        tp = binding_named(ctx, "traceparent", 11);
        if (tp && !ctxvar__traceparent_valid(tp->value)) tp = NULL;
        ts = tp ? binding_named(ctx, "tracestate", 10) : NULL;
        if (ts && !ctxvar__tracestate_valid(ts->value)) ts = NULL;
    }
    if (!wanted[VAR_TRACEPARENT]) tp = NULL;
    if (!wanted[VAR_TRACESTATE]) ts = NULL;
    int baggage = wanted[VAR_BAGGAGE] && ctxvar__ctx_count(ctx) > 0;
    if (!changes && !baggage && !tp && !ts && !preload) return;

    /* One mapping: the pointer array, the encoder's scratch, the strings. */
    size_t pointers = (s.entries + VAR_COUNT + 1) * sizeof(char *);
    size_t scratch = baggage ? MAX_MEMBERS * sizeof(const ctxvar__binding *) : 0;
    size_t text = preload + (baggage ? 8 + MAX_BYTES + 1 : 0) +
                  (tp ? 12 + tp->len + 1 : 0) + (ts ? 11 + ts->len + 1 : 0);
    size_t size = pointers + scratch + text;
    void *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        ctxvar__debug("exec: no memory for the child's environment (%zu entries); "
                      "passed on unchanged", s.entries);
        return;
    }
    char **out = area;
    const ctxvar__binding **sort_room = (const ctxvar__binding **)((char *)area + pointers);
    char *strings = (char *)area + pointers + scratch;

    size_t n = 0;
    for (size_t i = 0; i < s.entries; i++) {
        if (preload && is_preload(envp[i])) {
            char *kept = preload_without_runtime(strings, envp[i], runtime_file);
            strings += strlen(envp[i]) + 1;
            if (kept) out[n++] = kept;
            continue;
        }
        int v = var_of(envp[i]);
        if (v >= 0 && !s.own[v] && at_load[v] &&
            strcmp(envp[i] + var_name_lens[v] + 1, at_load[v]) == 0)
            continue; /* the inherited context: replaced below, or gone */
        out[n++] = envp[i];
    }
    if (baggage) {
        size_t len = encode_baggage(ctx, strings + 8, sort_room);
        if (len) {
            memcpy(strings, "BAGGAGE=", 8);
            out[n++] = strings;
            strings += 8 + len + 1;
        }
    }
    if (tp) {
        out[n++] = put_entry(strings, VAR_TRACEPARENT, tp->value, tp->len);
        strings += 12 + tp->len + 1;
    }
    if (ts) out[n++] = put_entry(strings, VAR_TRACESTATE, ts->value, ts->len);
    out[n] = NULL;
    e->envp = out;
    e->area = area;
    e->area_size = size;
}

void ctxvar__child_env_release(struct ctxvar__child_env *e)
{
    if (e->area) munmap(e->area, e->area_size);
    e->area = NULL;
}

/* ---- For exec ------------------------------------------------------------- */

/* Before a real exec: the child's environment in *env, recorded for the
 * case of a vfork child (see "After vfork"); errno as the caller left it. */
int ctxvar__child_env_exec_begin(struct ctxvar__child_env *env, char *const envp[], int implicit)
{
    int saved_errno = errno;
    ctxvar__child_env_build(env, envp, implicit);
    int record = area_record(env->area, env->area_size);
    errno = saved_errno;
    return record;
}

/* After a real exec that returned, so failed: errno as it left it. */
void ctxvar__child_env_exec_end(struct ctxvar__child_env *env, int record)
{
    int saved_errno = errno;
    area_forget(record);
    ctxvar__child_env_release(env);
    errno = saved_errno;
}
