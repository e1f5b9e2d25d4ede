/* model - threads hammer set/reset/swap/run/capture/wrap with a seeded
 * random sequence and check every read against a model.
 *
 *     LD_PRELOAD=build/libctxvar.so build/reliability/model SEED THREADS OPS
 *
 * Each thread draws its operations from its own generator, seeded from SEED
 * and its index, and keeps a model of what its context must hold: the value
 * of each of its variables, its frame, its outstanding tokens (and what each
 * must restore), its snapshots and wrapped tasks with the contexts they
 * captured.  After every operation it reads every variable and compares;
 * every 8th operation it also compares ctxvar_format with the text the model
 * predicts.  Wrapped tasks are posted to a board that any thread may run
 * them from; a task checks the context it runs in against the model it was
 * wrapped with.  The sequence of operations, and so every figure printed,
 * depends on SEED alone, whatever the scheduling.
 *
 * Output:
 *     seed 1: 4 threads x 20000 operations, 123456 reads checked, 0 wrong
 *     live_contexts back to baseline: yes
 * Exit status 0 when nothing was wrong. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctxvar.h"

#define VARS 6
#define TOKENS 12
#define SNAPS 4
#define BOARD 64
#define VALUE 24

struct model {
    int set[VARS];
    char value[VARS][VALUE];
};

struct token {
    int used; /* slot in use */
    ctxvar_token tok;
    int var, frame, prev_set;
    char prev[VALUE];
};

struct snap {
    ctxvar_ctx *c;
    struct model m;
};

struct task {
    struct model m;
    int thread;
};

struct thread {
    int index;
    uint64_t rng;
    ctxvar *vars[VARS];
    struct model m;
    int frame, next_frame;
    struct token tokens[TOKENS];
    struct snap snaps[SNAPS];
    unsigned long ops;
};

static atomic_ulong reads, wrong;
static unsigned long seed;

/* The board of posted tasks. */
static pthread_mutex_t board_lock = PTHREAD_MUTEX_INITIALIZER;
static ctxvar_task *board[BOARD];
static int board_count;

static uint64_t next_random(struct thread *t)
{
    uint64_t x = t->rng;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    t->rng = x;
    return x * 2685821657736338717ULL;
}

static unsigned pick(struct thread *t, unsigned n) { return (unsigned)(next_random(t) % n); }

static void fail(struct thread *t, const char *what, int var, const char *expected, const char *got)
{
    if (atomic_fetch_add(&wrong, 1) < 10)
        fprintf(stderr, "model: seed %lu thread %d op %lu: %s m%d: expected %s, got %s\n", seed,
                t ? t->index : -1, t ? t->ops : 0, what, var, expected ? expected : "(unset)",
                got ? got : "(unset)");
}

static void check_vars(struct thread *t, ctxvar *const *vars, const struct model *m,
                       const char *what)
{
    for (int i = 0; i < VARS; i++) {
        const char *got = ctxvar_get(vars[i], NULL);
        const char *want = m->set[i] ? m->value[i] : NULL;
        atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
            fail(t, what, i, want, got);
    }
}

static void check_snapshot(struct thread *t, const struct snap *s)
{
    for (int i = 0; i < VARS; i++) {
        const char *got = ctxvar_ctx_get(s->c, t->vars[i], NULL);
        const char *want = s->m.set[i] ? s->m.value[i] : NULL;
        atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
        if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
            fail(t, "snapshot", i, want, got);
    }
}

/* The variables are named t<thread>_<i>, so the format is their order. */
static void check_format(struct thread *t)
{
    char want[VARS * (VALUE + 16)] = "", got[sizeof want + 64];
    for (int i = 0; i < VARS; i++)
        if (t->m.set[i])
            snprintf(want + strlen(want), sizeof want - strlen(want), "%st%d_%d=%s",
                     want[0] ? " " : "", t->index, i, t->m.value[i]);
    ctxvar_format(got, sizeof got);
    atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed);
    if (strcmp(got, want) != 0) fail(t, "format", -1, want, got);
}

struct task_arg {
    struct model m;
    ctxvar *vars[VARS];
};

static void task_body(void *p)
{
    struct task_arg *a = p;
    check_vars(NULL, a->vars, &a->m, "task");
    free(a);
}

static void post_or_run(ctxvar_task *task)
{
    pthread_mutex_lock(&board_lock);
    if (board_count < BOARD) {
        board[board_count++] = task;
        task = NULL;
    }
    pthread_mutex_unlock(&board_lock);
    if (task) ctxvar_task_run(task);
}

static ctxvar_task *take(void)
{
    ctxvar_task *task = NULL;
    pthread_mutex_lock(&board_lock);
    if (board_count > 0) task = board[--board_count];
    pthread_mutex_unlock(&board_lock);
    return task;
}

static void drop_tokens(struct thread *t, int frame)
{
    for (int i = 0; i < TOKENS; i++)
        if (t->tokens[i].used && t->tokens[i].frame == frame) {
            ctxvar_token_drop(&t->tokens[i].tok);
            t->tokens[i].used = 0;
        }
}

static void operations(struct thread *t, unsigned long count, int depth);

struct run_arg {
    struct thread *t;
    unsigned long count;
    int depth;
};

static void *in_run(void *p)
{
    struct run_arg *a = p;
    check_vars(a->t, a->t->vars, &a->t->m, "entering run");
    operations(a->t, a->count, a->depth);
    return a;
}

static void one_operation(struct thread *t, int depth)
{
    unsigned op = pick(t, 100);
    int v = (int)pick(t, VARS);
    char value[VALUE];
    snprintf(value, sizeof value, "%d.%lu", t->index, (unsigned long)pick(t, 1000000));
    t->ops++;

    if (op < 35) { /* set or unset, half of them with a token */
        int unset = pick(t, 5) == 0, slot = -1;
        if (pick(t, 2))
            for (int i = 0; i < TOKENS; i++)
                if (!t->tokens[i].used) { slot = i; break; }
        struct token *tk = slot >= 0 ? &t->tokens[slot] : NULL;
        if (tk) {
            memset(tk, 0, sizeof *tk);
            tk->var = v;
            tk->frame = t->frame;
            tk->prev_set = t->m.set[v];
            memcpy(tk->prev, t->m.value[v], VALUE);
        }
        int r = ctxvar_set(t->vars[v], unset ? NULL : value, tk ? &tk->tok : NULL);
        if (r != 0) { fail(t, "set returned an error", v, "0", strerror(r)); return; }
        if (tk) tk->used = 1;
        t->m.set[v] = !unset;
        if (!unset) memcpy(t->m.value[v], value, VALUE);
    } else if (op < 55) { /* reset an outstanding token */
        int slot = (int)pick(t, TOKENS);
        struct token *tk = &t->tokens[slot];
        if (!tk->used) return;
        int r = ctxvar_reset(&tk->tok);
        if (tk->frame != t->frame) {
            if (r != EINVAL) fail(t, "reset from another frame", tk->var, "EINVAL", strerror(r));
            return; /* not used up */
        }
        if (r != 0) { fail(t, "reset", tk->var, "0", strerror(r)); return; }
        t->m.set[tk->var] = tk->prev_set;
        memcpy(t->m.value[tk->var], tk->prev, VALUE);
        tk->used = 0;
        if (pick(t, 4) == 0 && (r = ctxvar_reset(&tk->tok)) != EALREADY)
            fail(t, "second reset", tk->var, "EALREADY", strerror(r));
    } else if (op < 65) { /* capture */
        struct snap *s = &t->snaps[pick(t, SNAPS)];
        ctxvar_release(s->c);
        s->c = ctxvar_capture();
        s->m = t->m;
        check_snapshot(t, s);
    } else if (op < 73) { /* swap: a new frame for good; old tokens refuse */
        struct snap *s = &t->snaps[pick(t, SNAPS)];
        check_snapshot(t, s);
        ctxvar_ctx *previous = ctxvar_swap(ctxvar_retain(s->c));
        struct snap old = {previous, t->m};
        check_snapshot(t, &old);
        t->m = s->m;
        for (int i = 0; i < TOKENS; i++)
            if (t->tokens[i].used && t->tokens[i].frame == t->frame) {
                int r = ctxvar_reset(&t->tokens[i].tok);
                if (r != EINVAL) fail(t, "reset after swap", t->tokens[i].var, "EINVAL", strerror(r));
            }
        drop_tokens(t, t->frame);
        t->frame = ++t->next_frame;
        ctxvar_release(s->c);
        *s = old; /* keep the previous context as a snapshot */
    } else if (op < 81) { /* run a few operations in a snapshot */
        if (depth >= 2) return;
        struct snap *s = &t->snaps[pick(t, SNAPS)];
        struct model outer = t->m;
        int outer_frame = t->frame;
        t->m = s->m;
        t->frame = ++t->next_frame;
        struct run_arg a = {t, 1 + pick(t, 8), depth + 1};
        if (ctxvar_run(s->c, in_run, &a) != &a) fail(t, "run result", -1, "arg", "other");
        drop_tokens(t, t->frame);
        t->m = outer;
        t->frame = outer_frame;
    } else if (op < 93) { /* wrap, post to the board (or run here when full) */
        struct task_arg *a = malloc(sizeof *a);
        a->m = t->m;
        memcpy(a->vars, t->vars, sizeof a->vars);
        ctxvar_task *task = ctxvar_wrap(task_body, a);
        if (!task) { fail(t, "wrap", -1, "a task", "NULL"); free(a); return; }
        post_or_run(task);
    } else { /* run a task from the board, maybe another thread's */
        ctxvar_task *task = take();
        if (task) ctxvar_task_run(task);
    }
}

static void operations(struct thread *t, unsigned long count, int depth)
{
    for (unsigned long i = 0; i < count; i++) {
        one_operation(t, depth);
        check_vars(t, t->vars, &t->m, "after an operation");
        if (t->ops % 8 == 0) check_format(t);
    }
}

static void *thread_main(void *p)
{
    struct thread *t = p;
    /* Every thread inherits main's base=main; then works on its own. */
    if (strcmp(ctxvar_get(ctxvar_named("base"), "?"), "main") != 0)
        fail(t, "inherited", -1, "main", ctxvar_get(ctxvar_named("base"), NULL));
    ctxvar_clear();
    unsigned long count = t->ops; /* then the operation counter */
    t->ops = 0;
    operations(t, count, 0);
    drop_tokens(t, t->frame);
    for (int i = 0; i < TOKENS; i++)
        if (t->tokens[i].used) { ctxvar_token_drop(&t->tokens[i].tok); t->tokens[i].used = 0; }
    for (int i = 0; i < SNAPS; i++) ctxvar_release(t->snaps[i].c);
    return NULL;
}

static unsigned long long live(void)
{
    struct ctxvar_stats s;
    return ctxvar_stats(&s) == 0 ? s.live_contexts : ~0ULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: model SEED THREADS OPERATIONS\n");
        return 2;
    }
    if (!ctxvar_runtime_present()) {
        fprintf(stderr, "model: run with the runtime preloaded\n");
        return 2;
    }
    seed = strtoul(argv[1], NULL, 10);
    int n = atoi(argv[2]);
    unsigned long ops = strtoul(argv[3], NULL, 10);
    if (n < 1 || n > 256) return 2;
    unsigned long long baseline = live();
    struct thread *threads = calloc((size_t)n, sizeof *threads);
    pthread_t *ids = calloc((size_t)n, sizeof *ids);
    ctxvar_set(ctxvar_named("base"), "main", NULL);
    for (int i = 0; i < n; i++) {
        struct thread *t = &threads[i];
        t->index = i;
        t->rng = (seed + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ULL;
        if (!t->rng) t->rng = 1;
        t->ops = ops; /* the count to run */
        for (int v = 0; v < VARS; v++) {
            char name[32];
            snprintf(name, sizeof name, "t%d_%d", i, v);
            t->vars[v] = ctxvar_named(name);
        }
    }
    for (int i = 0; i < n; i++)
        if (pthread_create(&ids[i], NULL, thread_main, &threads[i]) != 0) return 1;
    for (int i = 0; i < n; i++) pthread_join(ids[i], NULL);
    ctxvar_task *task;
    while ((task = take())) ctxvar_task_run(task);
    ctxvar_release(ctxvar_swap(NULL));
    unsigned long long now = live();
    printf("seed %lu: %d threads x %lu operations, %lu reads checked, %lu wrong\n", seed, n, ops,
           atomic_load(&reads), atomic_load(&wrong));
    printf("live_contexts back to baseline: %s\n", now == baseline ? "yes" : "no");
    free(threads);
    free(ids);
    return atomic_load(&wrong) == 0 && now == baseline ? 0 : 1;
}
