/* exec.c - a child process gets the calling thread's context, not the
 * process's.
 *
 * A threaded server starts children from request threads; the environment
 * is per process, so without us every child would see whatever BAGGAGE the
 * server itself was started with.  Each interposer here gives the child an
 * environment of its own in which BAGGAGE, TRACEPARENT and TRACESTATE carry
 * the calling thread's current context (lib/ctxvar.h, section 6).  The
 * parent's environ is never written, and nothing the program passes is made
 * longer: the context travels in the child's environment only.
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
 * of this off.
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
 *
 * system() and popen() take no environment: glibc's run /bin/sh with the
 * process's own, and putting the context into the command would show it to
 * every local user in the shell's argv (and lengthen the command past what
 * the kernel takes).  So they are done here, as POSIX specifies them and as
 * glibc does them, on posix_spawn with the child's environment; see their
 * section.
 *
 * Not covered: execveat, and vfork-then-exec through raw system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baggage.h"
#include "runtime.h"

extern char **environ;

/* ---- The real functions, found at load ------------------------------------ */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);

static _Atomic(void *) next_execve, next_execvpe, next_fexecve, next_posix_spawn,
    next_posix_spawnp, next_system, next_popen;

static execve_fn real_execve(void)
{
    return (execve_fn)ctxvar__next_symbol(&next_execve, "execve", (const void *)execve);
}

static execve_fn real_execvpe(void)
{
    return (execve_fn)ctxvar__next_symbol(&next_execvpe, "execvpe", (const void *)execvpe);
}

static fexecve_fn real_fexecve(void)
{
    return (fexecve_fn)ctxvar__next_symbol(&next_fexecve, "fexecve", (const void *)fexecve);
}

static spawn_fn real_posix_spawn(void)
{
    return (spawn_fn)ctxvar__next_symbol(&next_posix_spawn, "posix_spawn",
                                         (const void *)posix_spawn);
}

static spawn_fn real_posix_spawnp(void)
{
    return (spawn_fn)ctxvar__next_symbol(&next_posix_spawnp, "posix_spawnp",
                                         (const void *)posix_spawnp);
}

static system_fn real_system(void)
{
    return (system_fn)ctxvar__next_symbol(&next_system, "system", (const void *)system);
}

static popen_fn real_popen(void)
{
    return (popen_fn)ctxvar__next_symbol(&next_popen, "popen", (const void *)popen);
}

static void lock_process_starts(void);
static void unlock_process_starts(void);

/* At load, so that no exec after vfork has to call dlsym (which locks):
 * each accessor above then only reads its cache. */
__attribute__((constructor)) static void find_real_functions(void)
{
    real_execve();
    real_execvpe();
    real_fexecve();
    real_posix_spawn();
    real_posix_spawnp();
    real_system();
    real_popen();
    pthread_atfork(lock_process_starts, unlock_process_starts, unlock_process_starts);
}

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

/* baggage-octet, as lib/baggage.c defines it: printable US-ASCII but
 * space, '"', ',', ';' and '\'.  '%' is one too, but is escaped. */
static int is_baggage_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static int passes_unescaped(unsigned char c) { return is_baggage_octet(c) && c != '%'; }

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
 * that does not fit is left out whole, never cut.  Returns baggage_full. */
static int baggage_add(struct baggage *g, const ctxvar__binding *b)
{
    static const char hex[] = "0123456789ABCDEF";
    const struct ctxvar *var = b->var;
    size_t member = var->name_len + 1;
    for (size_t i = 0; i < b->len; i++) member += passes_unescaped((unsigned char)b->value[i]) ? 1 : 3;
    if (g->len + member + (g->members ? 1 : 0) > MAX_BYTES) return baggage_full(g);
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
 * starts a process (or while the records are all taken; a diagnostic says
 * so).  In a normal process or a fork child, a successful exec discards the
 * record with everything else. */

enum { AREA_FREE, AREA_CLAIMED, AREA_HELD };
#define AREA_RECORDS 64

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

/* ---- The child's environment --------------------------------------------- */

static const ctxvar__binding *binding_named(const ctxvar_ctx *c, const char *name, size_t len)
{
    /* Looked up, not interned: interning may allocate, and a name never
     * interned is set nowhere. */
    const struct ctxvar *var = ctxvar__lookup(name, len);
    return var ? ctxvar__ctx_find(c, var) : NULL;
}

/* What the call passes on: the caller's environment, or one built in
 * `area` (our mapping, NULL when none was made). */
struct child_env {
    char *const *envp;
    void *area;
    size_t area_size;
};

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
static void child_env_build(struct child_env *e, char *const *envp, int implicit)
{
    e->envp = envp;
    e->area = NULL;
    e->area_size = 0;
    areas_reclaim();
    if (!ctxvar__export_enabled()) return;
    const ctxvar_ctx *ctx = ctxvar__current_borrowed();
    if (ctxvar__is_environment_context(ctx)) return;

    const char *at_load[VAR_COUNT];
    for (int v = 0; v < VAR_COUNT; v++) at_load[v] = ctxvar__environment_at_load(var_names[v]);
    struct env_scan s;
    scan_environment(envp, at_load, &s);

    /* The thread's values, for each variable the program left to us. */
    int wanted[VAR_COUNT], changes = 0;
    for (int v = 0; v < VAR_COUNT; v++) {
        wanted[v] = !s.own[v] && (implicit || s.inherited[v]);
        changes |= !s.own[v] && s.inherited[v] != 0;
    }
    const ctxvar__binding *tp = NULL, *ts = NULL;
    if (wanted[VAR_TRACEPARENT] || wanted[VAR_TRACESTATE]) {
        tp = binding_named(ctx, "traceparent", 11);
        if (tp && !ctxvar__traceparent_valid(tp->value)) tp = NULL;
        ts = tp ? binding_named(ctx, "tracestate", 10) : NULL;
    }
    if (!wanted[VAR_TRACEPARENT]) tp = NULL;
    if (!wanted[VAR_TRACESTATE]) ts = NULL;
    int baggage = wanted[VAR_BAGGAGE] && ctxvar__ctx_count(ctx) > 0;
    if (!changes && !baggage && !tp && !ts) return;

    /* One mapping: the pointer array, the encoder's scratch, the strings. */
    size_t pointers = (s.entries + VAR_COUNT + 1) * sizeof(char *);
    size_t scratch = baggage ? MAX_MEMBERS * sizeof(const ctxvar__binding *) : 0;
    size_t text = (baggage ? 8 + MAX_BYTES + 1 : 0) + (tp ? 12 + tp->len + 1 : 0) +
                  (ts ? 11 + ts->len + 1 : 0);
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

static void child_env_release(struct child_env *e)
{
    if (e->area) munmap(e->area, e->area_size);
    e->area = NULL;
}

/* ---- exec ---------------------------------------------------------------- */

/* Before a real exec: the child's environment in *env, recorded for the
 * case of a vfork child (see "After vfork"); errno as the caller left it. */
static int exec_begin(struct child_env *env, char *const envp[], int implicit)
{
    int saved_errno = errno;
    child_env_build(env, envp, implicit);
    int record = area_record(env->area, env->area_size);
    errno = saved_errno;
    return record;
}

/* After a real exec that returned, so failed: errno as it left it. */
static void exec_end(struct child_env *env, int record)
{
    int saved_errno = errno;
    area_forget(record);
    child_env_release(env);
    errno = saved_errno;
}

static int exec_with(execve_fn real, const char *file, char *const argv[], char *const envp[],
                     int implicit)
{
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    struct child_env env;
    int record = exec_begin(&env, envp, implicit);
    int r = real(file, argv, env.envp);
    exec_end(&env, record);
    return r;
}

CTXVAR__EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_with(real_execve(), path, argv, envp, envp == environ);
}

CTXVAR__EXPORT int execv(const char *path, char *const argv[])
{
    return exec_with(real_execve(), path, argv, environ, 1);
}

CTXVAR__EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_with(real_execvpe(), file, argv, envp, envp == environ);
}

CTXVAR__EXPORT int execvp(const char *file, char *const argv[])
{
    return exec_with(real_execvpe(), file, argv, environ, 1);
}

CTXVAR__EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn real = real_fexecve();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    struct child_env env;
    int record = exec_begin(&env, envp, envp == environ);
    int r = real(fd, argv, env.envp);
    exec_end(&env, record);
    return r;
}

/* The execl family gathers its arguments into an array on the caller's
 * stack, as glibc does: it may run after vfork, and the array is the
 * program's own argument list, as large as the program made it.  Each
 * caller brackets the two helpers below with its own va_start and va_end. */

/* The number of arguments after the first, up to the NULL that ends them. */
static size_t count_more_args(va_list ap)
{
    size_t n = 0;
    while (va_arg(ap, const char *)) n++;
    return n;
}

/* argv[0] = first, then `more` further arguments and the NULL after them. */
static void gather_args(char **argv, const char *first, size_t more, va_list ap)
{
    argv[0] = (char *)first;
    for (size_t i = 1; i <= more + 1; i++) argv[i] = va_arg(ap, char *);
}

CTXVAR__EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    va_end(ap);
    return exec_with(real_execve(), path, argv, environ, 1);
}

CTXVAR__EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    va_end(ap);
    return exec_with(real_execvpe(), file, argv, environ, 1);
}

CTXVAR__EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    size_t more = count_more_args(ap);
    va_end(ap);
    if (more >= INT_MAX) {
        errno = E2BIG;
        return -1;
    }
    char *argv[more + 2];
    va_start(ap, arg);
    gather_args(argv, arg, more, ap);
    char *const *envp = va_arg(ap, char *const *); /* after the NULL */
    va_end(ap);
    return exec_with(real_execve(), path, argv, envp, envp == environ);
}

/* ---- posix_spawn ----------------------------------------------------------- */

/* The child has exec'd (or failed to) when the real call returns: glibc's
 * posix_spawn waits for that, so the mapping can go at once. */
static int spawn_with(spawn_fn real, pid_t *pid, const char *path,
                      const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
                      char *const argv[], char *const envp[], int implicit)
{
    if (!real) return ENOSYS;
    int saved_errno = errno;
    struct child_env env;
    child_env_build(&env, envp, implicit);
    errno = saved_errno;
    int r = real(pid, path, actions, attr, argv, env.envp);
    saved_errno = errno;
    child_env_release(&env);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int posix_spawn(pid_t *restrict pid, const char *restrict path,
                               const posix_spawn_file_actions_t *restrict actions,
                               const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                               char *const envp[restrict])
{
    return spawn_with(real_posix_spawn(), pid, path, actions, attr, argv, envp,
                      envp == environ);
}

CTXVAR__EXPORT int posix_spawnp(pid_t *restrict pid, const char *restrict file,
                                const posix_spawn_file_actions_t *restrict actions,
                                const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                                char *const envp[restrict])
{
    return spawn_with(real_posix_spawnp(), pid, file, actions, attr, argv, envp,
                      envp == environ);
}

/* ---- system and popen -------------------------------------------------------- */

/* What glibc's system() and popen() do, on posix_spawn of /bin/sh with the
 * child's environment instead of the process's: the shell gets
 * `sh -c COMMAND` exactly as the program wrote it, and the context is in
 * its environment only.  They run in the parent, so they may allocate and
 * lock.  With export off they are glibc's own, untouched; with it on they
 * are always ours, never a mix, so that the bookkeeping both keep across
 * calls (SIGINT and SIGQUIT for system, the open streams for popen) is one
 * set. */

#define SHELL_PATH "/bin/sh"

static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;

/* A forked child must not find either lock held by a thread it does not
 * have. */
static void lock_process_starts(void)
{
    pthread_mutex_lock(&system_lock);
    pthread_mutex_lock(&popen_lock);
}

static void unlock_process_starts(void)
{
    pthread_mutex_unlock(&popen_lock);
    pthread_mutex_unlock(&system_lock);
}

/* system.  POSIX: the caller ignores SIGINT and SIGQUIT and blocks SIGCHLD
 * while it waits; the shell starts with SIGINT and SIGQUIT at their
 * default (unless the caller had them ignored) and the caller's own mask.
 * Threads may call system at once: the first to start ignores the two
 * signals and the last to finish restores them, as in glibc.  Each caller
 * restores its own mask, which is per thread (glibc restores it only in
 * the last caller, leaving SIGCHLD blocked in the others).  A cancelled
 * caller kills and reaps its shell. */
static int system_callers;
static struct sigaction system_saved_intr, system_saved_quit;

static void system_ignore_signals(void)
{
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    pthread_mutex_lock(&system_lock);
    if (system_callers++ == 0) {
        sigaction(SIGINT, &ignore, &system_saved_intr);
        sigaction(SIGQUIT, &ignore, &system_saved_quit);
    }
    pthread_mutex_unlock(&system_lock);
}

static void system_restore_signals(void)
{
    pthread_mutex_lock(&system_lock);
    if (--system_callers == 0) {
        sigaction(SIGINT, &system_saved_intr, NULL);
        sigaction(SIGQUIT, &system_saved_quit, NULL);
    }
    pthread_mutex_unlock(&system_lock);
}

static void system_cancelled(void *arg)
{
    pid_t pid = *(const pid_t *)arg;
    int state;
    kill(pid, SIGKILL);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) continue;
    pthread_setcancelstate(state, NULL);
    system_restore_signals();
}

static int system_with(spawn_fn spawn, const char *command)
{
    system_ignore_signals();
    sigset_t chld, mask, reset;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &mask);
    sigemptyset(&reset);
    if (system_saved_intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
    if (system_saved_quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &mask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int status = -1, saved_errno = errno;
    struct child_env env;
    child_env_build(&env, environ, 1);
    errno = saved_errno;
    int err = spawn(&pid, SHELL_PATH, NULL, &attr, argv, env.envp);
    saved_errno = errno;
    child_env_release(&env);
    errno = saved_errno;
    posix_spawnattr_destroy(&attr);

    if (err == 0) {
        pthread_cleanup_push(system_cancelled, &pid);
        pid_t waited;
        do waited = waitpid(pid, &status, 0);
        while (waited < 0 && errno == EINTR);
        if (waited != pid) status = -1;
        pthread_cleanup_pop(0);
    } else {
        status = 127 << 8; /* as if the shell had run and called _exit(127) */
    }
    saved_errno = errno;
    system_restore_signals();
    sigprocmask(SIG_SETMASK, &mask, NULL);
    errno = err ? err : saved_errno;
    return status;
}

CTXVAR__EXPORT int system(const char *command)
{
    spawn_fn spawn = real_posix_spawn();
    if (!ctxvar__export_enabled() || !spawn) {
        system_fn real = real_system();
        if (real) return real(command);
        errno = ENOSYS;
        return -1;
    }
    /* Is there a shell?  The way glibc asks. */
    if (!command) return system_with(spawn, "exit 0") == 0;
    return system_with(spawn, command);
}

/* popen.  glibc's pclose is fclose: it flushes the stream and calls the
 * stream's own close function, which for a glibc popen stream closes the
 * pipe and waits for the shell, and fclose returns that status.  A stream
 * from fopencookie does the same with a close function of ours, so both
 * pclose and fclose of our stream behave as they do on glibc's, and
 * neither needs interposing.  The cookie stream gets the pipe's descriptor
 * as its fileno (a cookie stream otherwise has none, and programs poll or
 * fstat a popen stream's descriptor); stdio never uses it for anything
 * else on a cookie stream.  Its buffer is BUFSIZ bytes where glibc's is the
 * pipe's st_blksize: the bytes that pass are the same.
 *
 * POSIX: a popen child must not inherit the streams of earlier popen calls
 * still open in the parent; every open stream is on a list, and each new
 * child closes their descriptors.  The list's lock is held from reading it
 * to adding the new stream, so two threads' children see each other's
 * pipes either on the list or still close-on-exec. */
struct popen_stream {
    int fd;
    pid_t pid; /* 0 until the shell is started */
    struct popen_stream *next;
};
static struct popen_stream *popen_streams;

static ssize_t popen_read(void *cookie, char *buf, size_t size)
{
    const struct popen_stream *p = cookie;
    return read(p->fd, buf, size);
}

/* All of it, or as much as went before an error (errno says which), the
 * way stdio writes to a descriptor. */
static ssize_t popen_write(void *cookie, const char *buf, size_t size)
{
    const struct popen_stream *p = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(p->fd, buf + done, size - done);
        if (n < 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int popen_seek(void *cookie, off64_t *offset, int whence)
{
    (void)cookie;
    (void)offset;
    (void)whence;
    errno = ESPIPE; /* what lseek says of a pipe */
    return -1;
}

/* What glibc's popen stream does on its close: off the list, close the
 * pipe (-1 without waiting when that fails), then wait for the shell,
 * through EINTR, and return its status. */
static int popen_close(void *cookie)
{
    struct popen_stream *p = cookie;
    pthread_mutex_lock(&popen_lock);
    for (struct popen_stream **at = &popen_streams; *at; at = &(*at)->next) {
        if (*at == p) {
            *at = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&popen_lock);
    int status = 0;
    if (close(p->fd) < 0) {
        status = -1;
    } else if (p->pid > 0) {
        int state, wstatus;
        pid_t waited;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
        do waited = waitpid(p->pid, &wstatus, 0);
        while (waited < 0 && errno == EINTR);
        pthread_setcancelstate(state, NULL);
        status = waited < 0 ? -1 : wstatus;
    }
    free(p);
    return status;
}

/* Starts the shell for p under popen_lock; 0 or an error number. */
static int popen_spawn(spawn_fn spawn, struct popen_stream *p, posix_spawn_file_actions_t *actions,
                       int child_fd, const char *command)
{
    for (const struct popen_stream *q = popen_streams; q; q = q->next) {
        /* One on child_fd is replaced by the dup2 already. */
        if (q->fd != child_fd && posix_spawn_file_actions_addclose(actions, q->fd) != 0)
            return ENOMEM;
    }
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    struct child_env env;
    child_env_build(&env, environ, 1);
    int err = spawn(&p->pid, SHELL_PATH, actions, NULL, argv, env.envp);
    child_env_release(&env);
    return err;
}

static FILE *popen_with(spawn_fn spawn, const char *command, const char *mode)
{
    int reading = 0, writing = 0, cloexec = 0;
    for (const char *m = mode; *m; m++) {
        if (*m == 'r') reading = 1;
        else if (*m == 'w') writing = 1;
        else if (*m == 'e') cloexec = 1;
        else reading = writing = 1; /* not a mode */
    }
    if (reading == writing) {
        errno = EINVAL;
        return NULL;
    }
    struct popen_stream *p = malloc(sizeof *p);
    if (!p) return NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        free(p);
        return NULL;
    }
    int parent_end = reading ? 0 : 1, child_end = 1 - parent_end;
    int child_fd = reading ? STDOUT_FILENO : STDIN_FILENO;
    /* The child's end must not already be the descriptor it is to become:
     * dup2 onto itself would leave it close-on-exec. */
    if (fds[child_end] == child_fd) {
        int moved = fcntl(fds[child_end], F_DUPFD_CLOEXEC, 0);
        if (moved < 0) {
            int saved_errno = errno;
            close(fds[0]);
            close(fds[1]);
            free(p);
            errno = saved_errno;
            return NULL;
        }
        close(fds[child_end]);
        fds[child_end] = moved;
    }
    p->fd = fds[parent_end];
    p->pid = 0;
    cookie_io_functions_t io = {popen_read, popen_write, popen_seek, popen_close};
    if (reading) io.write = NULL;
    else io.read = NULL;
    FILE *stream = fopencookie(p, reading ? "r" : "w", io);
    if (!stream) {
        int saved_errno = errno;
        close(fds[0]);
        close(fds[1]);
        free(p);
        errno = saved_errno;
        return NULL;
    }
    stream->_fileno = p->fd;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int saved_errno = errno;
    int err = posix_spawn_file_actions_adddup2(&actions, fds[child_end], child_fd);
    if (!err) {
        pthread_mutex_lock(&popen_lock);
        err = popen_spawn(spawn, p, &actions, child_fd, command);
        if (!err) {
            close(fds[child_end]);
            if (!cloexec) fcntl(p->fd, F_SETFD, 0);
            p->next = popen_streams;
            popen_streams = p;
        }
        pthread_mutex_unlock(&popen_lock);
    }
    posix_spawn_file_actions_destroy(&actions);
    if (err) {
        close(fds[child_end]);
        fclose(stream); /* closes the parent's end and frees p: no shell to wait for */
        errno = ENOMEM; /* what glibc's popen says for any failure to start the shell */
        return NULL;
    }
    errno = saved_errno;
    return stream;
}

CTXVAR__EXPORT FILE *popen(const char *command, const char *mode)
{
    spawn_fn spawn = real_posix_spawn();
    if (!ctxvar__export_enabled() || !spawn) {
        popen_fn real = real_popen();
        if (real) return real(command, mode);
        errno = ENOSYS;
        return NULL;
    }
    return popen_with(spawn, command, mode);
}
