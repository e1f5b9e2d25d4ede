/* frames.c - snapshots, and running code in a context other than the
 * thread's own: ctxvar_capture and its kin, ctxvar_swap, ctxvar_run, the
 * wrapped tasks of thread pools, and for the interposers the library
 * callbacks (ctxvar__callback_invoke and its kin) and OpenMP regions
 * (ctxvar__run_in).
 *
 * A frame is the dynamic extent in which a token may be reset (see
 * lib/thread.h).  ctxvar_run and a task run enter a new frame with the
 * given context and restore exactly the caller's context, frame and version
 * on every way out: return, C++ exception, pthread_exit and cancellation,
 * which unwind ("Leaving a frame on every way out" below).  ctxvar_swap
 * opens a frame too, but returns: the caller swaps back.
 *
 * THE STALE-CONTEXT RULE
 *
 * A pool creates its workers while some request is current, so a worker
 * inherits that request's context; once the thread runs a wrapped task it
 * is a worker, and what it inherited stops being its context for good.  What
 * it set itself stays.  Out of memory, it shows nothing rather than
 * something stale.  OpenMP regions, timer notifications and event-loop
 * callbacks (ctxvar__run_in, ctxvar__callback_invoke) do not count: an
 * OpenMP thread that runs a region may be a request's own thread, whose
 * inherited context must stay.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "runtime.h"
#include "sigsafe.h"
#include "thread.h"

/* A reference on the context c (NULL: the empty one), from the calling
 * thread's cache when it has one.  The usual case, an entry for c with
 * references to spare, is inline: every frame takes one and gives it back,
 * and that pair is most of what a callback costs. */
static inline ctxvar_ctx *ref_take(struct ctxvar__thread *t, ctxvar_ctx *c)
{
    if (!c) return c;
#pragma GCC unroll 4
    for (int i = 0; i < CTXVAR__REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] > 1) {
            t->cache_refs[i]--;
            return c;
        }
    }
    ctxvar__ref_take(t, c, c, 1);
    return c;
}

/* An entry for c has room: the reference goes back to it.  (An entry holds
 * one reference at least, so c is never freed here.) */
static inline void ref_give(struct ctxvar__thread *t, ctxvar_ctx *c)
{
    if (!c) return;
#pragma GCC unroll 4
    for (int i = 0; i < CTXVAR__REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] < 2 * CTXVAR__REF_CACHE_BATCH) {
            t->cache_refs[i]++;
            return;
        }
    }
    ctxvar__ref_give(t, c, 1);
}

ctxvar_ctx *ctxvar__capture_for_child(void)
{
    return ctxvar__ctx_retain(ctxvar__current(ctxvar__me()));
}

/* ---- Snapshots ---------------------------------------------------------------- */

/* errno is kept: seeding the main thread allocates, and the interposers
 * that capture must leave errno as the program's call left it. */
static __attribute__((noinline)) ctxvar_ctx *capture_slow(struct ctxvar__thread *t, ctxvar_ctx *c)
{
    if (c) {
        ctxvar__ref_take(t, c, c, 1);
        return c;
    }
    int saved_errno = errno;
    c = ref_take(t, ctxvar__current(t)); /* may seed the main thread */
    errno = saved_errno;
    return c;
}

/* From a handler that interrupted a change of this thread's state: a
 * reference on the context's own count, the cache left alone. */
static __attribute__((noinline, cold)) ctxvar_ctx *capture_reentered(struct ctxvar__thread *t)
{
    ctxvar_ctx *c = t->current;
    return c ? ctxvar__reentered_retain(c) : NULL;
}

/* A reference from the thread's cache when it has one: no atomic at all. */
CTXVAR__EXPORT ctxvar_ctx *ctxvar_capture(void)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) return capture_reentered(t);
    ctxvar_ctx *c = t->current;
#pragma GCC unroll 4
    for (int i = 0; c && i < CTXVAR__REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] > 1) {
            t->cache_refs[i]--;
            ctxvar__busy_leave(t);
            return c;
        }
    }
    c = capture_slow(t, c);
    ctxvar__busy_leave(t);
    return c;
}

CTXVAR__EXPORT ctxvar_ctx *ctxvar_retain(ctxvar_ctx *c)
{
    if (!c) return NULL;
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) return ctxvar__reentered_retain(c);
    ref_take(t, c);
    ctxvar__busy_leave(t);
    return c;
}

static __attribute__((noinline)) void release_slow(struct ctxvar__thread *t, ctxvar_ctx *c)
{
    int saved_errno = errno;
    ctxvar__ref_give(t, c, 1);
    ctxvar__busy_leave(t);
    errno = saved_errno;
}

/* capture's mirror image: a reference back to the cache costs nothing. */
CTXVAR__EXPORT void ctxvar_release(ctxvar_ctx *c)
{
    if (!c) return;
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) {
        ctxvar__reentered_release(c);
        return;
    }
#pragma GCC unroll 4
    for (int i = 0; i < CTXVAR__REF_CACHE_ENTRIES; i++) {
        if (t->cache_node[i] == c && t->cache_refs[i] < 2 * CTXVAR__REF_CACHE_BATCH) {
            t->cache_refs[i]++;
            ctxvar__busy_leave(t);
            return;
        }
    }
    release_slow(t, c);
}

CTXVAR__EXPORT const char *ctxvar_ctx_get(const ctxvar_ctx *c, const ctxvar *v,
                                          const char *fallback)
{
    if (!v) return fallback;
    const ctxvar__binding *b = ctxvar__ctx_find(c, v);
    return b ? b->value : fallback;
}

CTXVAR__EXPORT size_t ctxvar_ctx_count(const ctxvar_ctx *c) { return ctxvar__ctx_count(c); }

struct foreach_call {
    int (*fn)(const char *, const char *, void *);
    void *arg;
};

static int call_foreach(const ctxvar__binding *b, void *p)
{
    struct foreach_call *call = p;
    return call->fn(b->var->name, b->value, call->arg);
}

CTXVAR__EXPORT int ctxvar_ctx_foreach(const ctxvar_ctx *c,
                                      int (*fn)(const char *name, const char *value, void *arg),
                                      void *arg)
{
    if (!fn) return 0;
    struct foreach_call call = {fn, arg};
    return ctxvar__ctx_visit_sorted_sigsafe(c, call_foreach, &call);
}

/* ---- The stale-context rule --------------------------------------------------- */

static void forget_inherited(struct ctxvar__thread *t)
{
    if (t->depth > 0) {
        /* Inside ctxvar_run or a task: the inherited context is in the
         * thread's base frame, which is restored later; strip it then. */
        t->forget_pending = 1;
        return;
    }
    ctxvar_ctx *inherited = t->inherited, *own = NULL;
    t->inherited = NULL;
    t->forget_pending = 0;
    if (ctxvar__ctx_minus(t->current, inherited, &own) != 0) {
        ctxvar__debug("out of memory keeping a worker's own variables; it starts empty");
        own = NULL;
    }
    ctxvar__ctx_release(ctxvar__install(t, own));
    ctxvar__ctx_release(inherited);
}

CTXVAR__EXPORT void ctxvar_clear(void)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (t->exited || !ctxvar__busy_enter(t)) return;
    ctxvar_ctx *inherited = t->inherited;
    t->inherited = NULL;
    ref_give(t, ctxvar__install(t, NULL));
    ctxvar__ctx_release(inherited);
    ctxvar__busy_leave(t);
}

/* ---- Frames --------------------------------------------------------------------- */

CTXVAR__EXPORT ctxvar_ctx *ctxvar_swap(ctxvar_ctx *c)
{
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) {
        /* A handler interrupted a change of this thread's state. */
        ctxvar__reentered_release(c);
        return NULL;
    }
    if (t->exited || (c && ctxvar__ensure_registered(t) != 0)) {
        /* Cannot hold c past this thread's exit: refuse it whole. */
        ctxvar__debug("ctxvar_swap: the thread cannot hold a context now; released it");
        ref_give(t, c);
        ctxvar__busy_leave(t);
        return NULL;
    }
    /* Swapping back what an earlier swap replaced returns to that frame;
     * anything else opens a new one.  (The version is always new: the
     * context there may have been replaced since by another at the same
     * address, so tokens of that frame take reset's general path.) */
    unsigned long long frame = 0;
    int back = 0;
    for (unsigned i = t->swaps; i-- > 0 && !back;) {
        if (t->swapped_from[i].context == c) {
            frame = t->swapped_from[i].frame;
            t->swaps = (unsigned char)i;
            back = 1;
        }
    }
    if (!back) {
        if (t->swaps == sizeof t->swapped_from / sizeof t->swapped_from[0]) {
            memmove(t->swapped_from, t->swapped_from + 1,
                    sizeof t->swapped_from - sizeof t->swapped_from[0]);
            t->swaps--;
        }
        t->swapped_from[t->swaps].context = t->current;
        t->swapped_from[t->swaps].frame = t->frame;
        t->swaps++;
        frame = ++t->serial;
    }
    t->frame = frame;
    ctxvar_ctx *previous = ctxvar__install(t, c);
    ctxvar__busy_leave(t);
    return previous;
}

/* `c` is current in the new frame: a reference the frame owns, or, when
 * `lent`, one that stays its lender's (below, "Lent contexts"). */
static inline void enter_frame(struct ctxvar__thread *t, struct ctxvar__frame *saved,
                               ctxvar_ctx *c, int lent)
{
    *saved = (struct ctxvar__frame){t, t->current, t->frame, t->version, t->top_frame,
                                    t->current_lent};
    t->current_lent = lent && c;
    t->top_frame = saved;
    t->depth++;
    t->current = c;
    ctxvar__otel_follow(c, saved->context);
    t->frame = ++t->serial;
    t->version = ++t->serial;
    /* No cache check: the caller's context, whose entries the cache holds,
     * stays alive in `saved` until the frame is left (lib/refcache.c). */
}

/* Inlined in run_frame, which every callback passes through; the
 * personality routine below calls the out-of-line copy. */
static inline __attribute__((always_inline)) void leave_frame_inline(struct ctxvar__frame *saved)
{
    struct ctxvar__thread *t = saved->thread;
    ctxvar_ctx *inner = t->current;
    t->top_frame = saved->outer;
    t->current = saved->context;
    ctxvar__otel_follow(saved->context, inner);
    t->frame = saved->frame;
    t->version = saved->version;
    if (!t->current_lent) ref_give(t, inner);
    t->current_lent = saved->outer_lent;
    ctxvar__cache_check(t);
    if (--t->depth == 0 && t->forget_pending) forget_inherited(t);
}

static void leave_frame(struct ctxvar__frame *saved) { leave_frame_inline(saved); }

/* ---- Lent contexts ------------------------------------------------------------------
 *
 * A libuv pool job's record is read by two callbacks on two threads: the
 * job on a pool thread, then its after-work callback on the loop thread,
 * which libuv runs only once the job has returned, and which takes the
 * record and its reference away.  So the record's reference outlives the
 * job, and the job's frame runs on it without taking one of its own: a
 * pool thread's cache never holds a submitter's context (nothing of the
 * thread's own keeps it alive), so a reference taken and given back there
 * would be two atomic operations on a count that every thread running that
 * request's work shares.
 *
 * The thread notes it in `current_lent`: its current context is not its
 * own.  Leaving the frame then gives nothing back.  Anything that would
 * replace it (a set, reset, swap or clear in the job) hands the replaced
 * context to its caller, who owns it from then on (a token, swap's
 * result, or a release), so ctxvar__install first takes a reference for
 * that caller and clears the mark: from then on the frame is an ordinary
 * one.  A frame nested inside owns its context, and restores the lent one
 * and the mark as it found them.  What else releases a thread's current
 * context skips a lent one: the thread's release at exit, which exit()
 * called in the job runs with the frame still open, and a forked child's
 * release of the threads it does not have.  The mark is kept in the
 * thread's state, not in the frame, which a longjmp out of a frame (not
 * supported, see lib/ctxvar.h) would leave pointing at a dead stack. */

void ctxvar__frame_keep_lent(struct ctxvar__thread *t)
{
    ctxvar__ref_take(t, t->current, t->current, 1);
    t->current_lent = 0;
}

/* ---- Leaving a frame on every way out ---------------------------------------------
 *
 * A C++ exception, pthread_exit or a cancellation may unwind through the
 * program's function and then through ours.  The usual way to restore
 * state on unwinding, a cleanup (landing pad), makes the unwinder call
 * back into the unwinder library the runtime was linked with; when the
 * program carries its own copy (g++ -static-libgcc -static-libstdc++), the
 * two copies meet on one exception and the process aborts.  So the
 * program's function is called from guarded_call, a frame with no landing
 * pad whose unwind information names a personality routine of ours:
 * every unwinder calls a personality with the same arguments, and ours,
 * in the cleanup phase, leaves the thread's innermost frame (t->top_frame)
 * and lets the unwinding go on.  It asks the unwinder nothing, so any copy
 * of it will do.  Frames nest, and the unwinder visits the innermost first,
 * so the frame it leaves is always the one it passes.  Elsewhere than
 * x86-64, a cleanup attribute does it, with the limit above. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <unwind.h>

void *ctxvar__guarded_call(void *(*fn)(void *), void *arg, void *arg2) CTXVAR__HIDDEN;
_Unwind_Reason_Code ctxvar__frame_personality(int version, _Unwind_Action actions,
                                              _Unwind_Exception_Class exception_class,
                                              struct _Unwind_Exception *exception,
                                              struct _Unwind_Context *context) CTXVAR__HIDDEN;

__asm__(".text\n"
        ".globl ctxvar__guarded_call\n"
        ".hidden ctxvar__guarded_call\n"
        ".type ctxvar__guarded_call, @function\n"
        "ctxvar__guarded_call:\n"
        ".cfi_startproc\n"
        ".cfi_personality 0x1b, ctxvar__frame_personality\n"
        "subq $8, %rsp\n"
        ".cfi_def_cfa_offset 16\n"
        "movq %rdi, %rax\n"
        "movq %rsi, %rdi\n"
        "movq %rdx, %rsi\n"
        "call *%rax\n"
        "addq $8, %rsp\n"
        ".cfi_def_cfa_offset 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size ctxvar__guarded_call, .-ctxvar__guarded_call\n");

_Unwind_Reason_Code ctxvar__frame_personality(int version, _Unwind_Action actions,
                                              _Unwind_Exception_Class exception_class,
                                              struct _Unwind_Exception *exception,
                                              struct _Unwind_Context *context)
{
    (void)version, (void)exception_class, (void)exception, (void)context;
    if (actions & _UA_CLEANUP_PHASE) {
        struct ctxvar__thread *t = ctxvar__me();
        if (t->top_frame) {
            ctxvar__busy_push(t);
            leave_frame(t->top_frame);
            ctxvar__busy_pop(t);
        }
    }
    return _URC_CONTINUE_UNWIND;
}

/* fn(arg) in a frame entered with c current, left on every way out; c is
 * a reference the frame owns, or lent (enter_frame).  On x86-64 fn is
 * called with arg2 as its second argument too, which a function of one
 * ignores.  Called marked (ctxvar__busy_enter); fn runs unmarked, returns
 * unmarked. */
static inline __attribute__((always_inline)) void *run_frame(struct ctxvar__thread *t,
                                                             ctxvar_ctx *c, int lent,
                                                             void *(*fn)(void *), void *arg,
                                                             void *arg2)
{
    struct ctxvar__frame saved;
    enter_frame(t, &saved, c, lent);
    ctxvar__busy_leave(t);
    void *result = ctxvar__guarded_call(fn, arg, arg2);
    ctxvar__busy_push(t);
    leave_frame_inline(&saved);
    ctxvar__busy_pop(t);
    return result;
}
#else
static void leave_frame_marked(struct ctxvar__frame *saved)
{
    ctxvar__busy_push(saved->thread);
    leave_frame(saved);
    ctxvar__busy_pop(saved->thread);
}

static void *run_frame(struct ctxvar__thread *t, ctxvar_ctx *c, int lent, void *(*fn)(void *),
                       void *arg, void *arg2)
{
    (void)arg2; /* a function of two arguments comes through a thunk here */
    struct ctxvar__frame saved __attribute__((cleanup(leave_frame_marked)));
    enter_frame(t, &saved, c, lent);
    ctxvar__busy_leave(t);
    return fn(arg);
}
#endif

CTXVAR__EXPORT void *ctxvar_run(ctxvar_ctx *c, void *(*fn)(void *), void *arg)
{
    if (!fn) return NULL;
    struct ctxvar__thread *t = ctxvar__me();
    /* Exited, or from a handler that interrupted a change of this thread's
     * state: fn runs in the context as it stands. */
    if (t->exited || !ctxvar__busy_enter(t)) return fn(arg);
    return run_frame(t, ref_take(t, c), 0, fn, arg, NULL);
}

/* A void function through run_frame's void * one. */
struct void_call {
    void (*fn)(void *);
    void *arg;
};

static void *call_void(void *p)
{
    const struct void_call *call = p;
    call->fn(call->arg);
    return NULL;
}

/* The thread, marked (ctxvar__busy_enter), when a frame can be entered on
 * it; NULL when it has exited, or from a handler that interrupted a change
 * of its state: the callback then runs in the context as it stands. */
static inline struct ctxvar__thread *frame_thread(void)
{
    struct ctxvar__thread *t = ctxvar__me();
    return t->exited || !ctxvar__busy_enter(t) ? NULL : t;
}

void ctxvar__run_in(ctxvar_ctx *c, void (*fn)(void *), void *arg)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        fn(arg);
        return;
    }
    struct void_call call = {fn, arg};
    run_frame(t, ref_take(t, c), 0, call_void, &call, NULL);
}

/* ---- Library callbacks -------------------------------------------------------------
 *
 * The interposers' trampolines run the program's callbacks here, one frame
 * call away: every library callback pays for these layers, and an event
 * loop runs millions. */

struct invocation {
    const struct ctxvar__callback *cb;
    void (*call)(const struct ctxvar__callback *, void *);
    void *io;
};

static void *invoke(void *p)
{
    const struct invocation *i = p;
    i->call(i->cb, i->io);
    return NULL;
}

void ctxvar__callback_invoke(const struct ctxvar__callback *cb,
                             void (*call)(const struct ctxvar__callback *cb, void *io), void *io)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        call(cb, io);
        return;
    }
    struct invocation i = {cb, call, io};
    run_frame(t, ref_take(t, cb->context), 0, invoke, &i, NULL);
}

/* call(cb, io) in a frame that takes over the reference c; as a pool task
 * when `task`. */
static inline __attribute__((always_inline)) void invoke_owning(
    const struct ctxvar__callback *cb, void (*call)(const struct ctxvar__callback *cb, void *io),
    void *io, ctxvar_ctx *c, int task)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        call(cb, io);
        ctxvar_release(c);
        return;
    }
    /* A library's pool worker is a worker like any other: what it inherited
     * from whichever request made the pool grow stops being its context. */
    if (task && t->inherited) forget_inherited(t);
    struct invocation i = {cb, call, io};
    run_frame(t, c, 0, invoke, &i, NULL); /* the frame gives the reference back */
}

void ctxvar__callback_invoke_task_owned(struct ctxvar__callback *cb,
                                        void (*call)(const struct ctxvar__callback *cb, void *io),
                                        void *io)
{
    ctxvar_ctx *c = cb->context;
    cb->context = NULL; /* the frame's now */
    invoke_owning(cb, call, io, c, 1);
}

void ctxvar__callback_invoke_owned(const struct ctxvar__callback *cb,
                                   void (*call)(const struct ctxvar__callback *cb, void *io),
                                   void *io)
{
    invoke_owning(cb, call, io, cb->context, 0); /* read now: call may free the record */
}

/* fn(arg) in a frame entered with c current (owned, or lent): fn takes
 * one pointer, of whatever type; it is called here as taking a void *,
 * which every ABI we build for passes alike.  On x86-64 run_frame's call is
 * made by ctxvar__guarded_call, in assembly, straight to fn: no thunk. */
static inline __attribute__((always_inline)) void run_one(struct ctxvar__thread *t,
                                                          ctxvar_ctx *c, int lent,
                                                          void (*fn)(void), void *arg)
{
#if defined(__x86_64__) && defined(__GNUC__)
    run_frame(t, c, lent, (void *(*)(void *))fn, arg, NULL);
#else
    struct void_call call = {(void (*)(void *))fn, arg};
    run_frame(t, c, lent, call_void, &call, NULL);
#endif
}

void ctxvar__callback_run(ctxvar_ctx *c, void (*fn)(void), void *arg)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        ((void (*)(void *))fn)(arg);
        return;
    }
    run_one(t, ref_take(t, c), 0, fn, arg);
}

void ctxvar__callback_run_owned(ctxvar_ctx *c, void (*fn)(void), void *arg)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        ((void (*)(void *))fn)(arg);
        ctxvar_release(c);
        return;
    }
    run_one(t, c, 0, fn, arg);
}

void ctxvar__callback_run_task_lent(ctxvar_ctx *c, void (*fn)(void), void *arg)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        ((void (*)(void *))fn)(arg);
        return;
    }
    /* A pool worker, as in ctxvar__callback_invoke_task_owned. */
    if (t->inherited) forget_inherited(t);
    run_one(t, c, 1, fn, arg);
}

#if !(defined(__x86_64__) && defined(__GNUC__))
struct status_call {
    void (*fn)(void *, int);
    void *arg;
    int status;
};

static void *call_status(void *p)
{
    const struct status_call *call = p;
    call->fn(call->arg, call->status);
    return NULL;
}
#endif

void ctxvar__callback_run_status_owned(ctxvar_ctx *c, void (*fn)(void), void *arg, int status)
{
    struct ctxvar__thread *t = frame_thread();
    if (!t) {
        ((void (*)(void *, int))fn)(arg, status);
        ctxvar_release(c);
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    /* The int travels in the low half of the second argument's register,
     * where a callee of (pointer, int) reads it. */
    run_frame(t, c, 0, (void *(*)(void *))fn, arg, (void *)(intptr_t)status);
#else
    struct status_call call = {(void (*)(void *, int))fn, arg, status};
    run_frame(t, c, 0, call_status, &call, NULL);
#endif
}

/* ---- Tasks ------------------------------------------------------------------------ */

static ctxvar_task *wrap(void (*fn)(void *), void *(*fn_ret)(void *), void *arg)
{
    int saved_errno = errno;
    if (!fn && !fn_ret) return NULL;
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) return NULL; /* malloc may be what the handler interrupted */
    ctxvar_task *task = ctxvar__alloc(sizeof *task);
    if (!task) {
        ctxvar__debug("ctxvar_wrap: out of memory");
        ctxvar__busy_leave(t);
        errno = saved_errno;
        return NULL;
    }
    task->ctxvar__fn = fn;
    task->ctxvar__fn_ret = fn_ret;
    task->ctxvar__arg = arg;
    task->ctxvar__ctx = ref_take(t, ctxvar__current(t));
    ctxvar__busy_leave(t);
    return task;
}

CTXVAR__EXPORT ctxvar_task *ctxvar_wrap(void (*fn)(void *), void *arg) { return wrap(fn, NULL, arg); }

CTXVAR__EXPORT ctxvar_task *ctxvar_wrap_ret(void *(*fn)(void *), void *arg)
{
    return wrap(NULL, fn, arg);
}

CTXVAR__EXPORT void *ctxvar_task_call(void *task)
{
    if (!task) return NULL;
    ctxvar_task copy = *(ctxvar_task *)task;
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) {
        /* From a handler that interrupted a change of this thread's state:
         * fn runs in the context as it stands; the task's memory and
         * context are freed later, by a thread not interrupted. */
        ctxvar__reentered_free(task);
        ctxvar__reentered_release(copy.ctxvar__ctx);
        if (copy.ctxvar__fn_ret) return copy.ctxvar__fn_ret(copy.ctxvar__arg);
        copy.ctxvar__fn(copy.ctxvar__arg);
        return NULL;
    }
    free(task);
    if (t->exited) {
        ctxvar__ctx_release(copy.ctxvar__ctx);
        ctxvar__busy_leave(t);
        if (copy.ctxvar__fn_ret) return copy.ctxvar__fn_ret(copy.ctxvar__arg);
        copy.ctxvar__fn(copy.ctxvar__arg);
        return NULL;
    }
    if (t->inherited) forget_inherited(t);
    /* The frame takes over the task's reference to its context. */
    if (copy.ctxvar__fn_ret)
        return run_frame(t, copy.ctxvar__ctx, 0, copy.ctxvar__fn_ret, copy.ctxvar__arg, NULL);
    struct void_call call = {copy.ctxvar__fn, copy.ctxvar__arg};
    run_frame(t, copy.ctxvar__ctx, 0, call_void, &call, NULL);
    return NULL;
}

CTXVAR__EXPORT void ctxvar_task_run(void *task) { (void)ctxvar_task_call(task); }

CTXVAR__EXPORT void ctxvar_task_free(ctxvar_task *task)
{
    if (!task) return;
    int saved_errno = errno;
    struct ctxvar__thread *t = ctxvar__me();
    if (!ctxvar__busy_enter(t)) { /* a handler: free nothing now */
        ctxvar__reentered_release(task->ctxvar__ctx);
        ctxvar__reentered_free(task);
        errno = saved_errno;
        return;
    }
    ref_give(t, task->ctxvar__ctx);
    free(task);
    ctxvar__busy_leave(t);
    errno = saved_errno;
}
