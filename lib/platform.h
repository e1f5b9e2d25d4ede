/* platform.h - every assumption the runtime makes about glibc and x86-64,
 * in one place, each with the start-up check that allows it and the
 * portable way taken when the check fails or the build asks for it.
 *
 *   assumption                          check at start-up          fallback
 *   ---------------------------------   ------------------------   --------------------
 *   the runtime's TLS block sits at a   its TLS descriptor holds   &self through the
 *   fixed offset from %fs (static TLS)  a negative offset equal    descriptor call
 *                                       to &self - %fs             (ordinary TLS)
 *   pthread_t is the thread pointer     pthread_self() == %fs:0    exit records found
 *   (glibc's struct pthread is the TCB)                            through the table in
 *                                                                  lib/handover.c
 *   the CPU has POPCNT                  cpuid                      five arithmetic steps
 *
 * A build defines CTXVAR_PORTABLE (or is a ThreadSanitizer or fault-injection
 * build, which must see every access and reach every path) to take the
 * portable ways everywhere: the same state machines then run on ordinary C,
 * which is what `make check` and `make fault` test.
 *
 * Everything here is internal to the runtime.
 */
#ifndef CTXVAR_PLATFORM_H
#define CTXVAR_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

#define CTXVAR__HIDDEN __attribute__((visibility("hidden")))

#if defined(__SANITIZE_THREAD__) || defined(CTXVAR_FAULT_INJECTION)
#ifndef CTXVAR_PORTABLE
#define CTXVAR_PORTABLE 1
#endif
#endif

/* Code that runs in a new thread before the start routine it wraps.  Under a
 * dynamic ThreadSanitizer, preloaded first as it must be, TSan's own start
 * routine is the one we wrap, so this code runs before TSan has set the
 * thread up: it must not be instrumented, nor call what is (so no malloc or
 * free through TSan's interceptors either).  Nothing changes otherwise. */
#if defined(__SANITIZE_THREAD__)
#define CTXVAR__BEFORE_THREAD_START __attribute__((no_sanitize("thread"), noinline))
#define CTXVAR__BEFORE_THREAD_START_INLINE __attribute__((no_sanitize("thread")))
#else
#define CTXVAR__BEFORE_THREAD_START
#define CTXVAR__BEFORE_THREAD_START_INLINE
#endif

/* Memory a new thread may free before TSan knows the thread: under TSan it
 * comes from glibc's own allocator, which TSan does not intercept. */
#if defined(__SANITIZE_THREAD__)
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
#define ctxvar__early_alloc __libc_malloc
#define ctxvar__early_free __libc_free
#else
#define ctxvar__early_alloc ctxvar__alloc
#define ctxvar__early_free free
#endif

/* ---- The thread pointer ----------------------------------------------------
 *
 * A library preloaded or linked has its TLS in the static TLS block, at a
 * fixed distance below the thread pointer, and its TLS descriptor resolves
 * to that distance; reading the thread's state with one %fs-relative load
 * then saves every API call the call into the descriptor's resolver, about
 * a third of ctxvar_get's cost.  Initial-exec TLS would do the same, but
 * would make a dlopen() of the library fail when static TLS is short; here a
 * dlopen()ed library simply keeps the ordinary access.  Only in the shared
 * library: in an executable the linker turns the descriptor into a constant
 * and there is none to read. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__PIC__) && !defined(__PIE__) && \
    !defined(CTXVAR_PORTABLE)
#define CTXVAR__THREAD_POINTER 1
#else
#define CTXVAR__THREAD_POINTER 0
#endif

#if CTXVAR__THREAD_POINTER
/* The offset of the thread's state from the thread pointer once
 * ctxvar__platform_init has seen the TLS static; 0 when unknown. */
extern atomic_long ctxvar__self_offset CTXVAR__HIDDEN;
/* The same offset from a pthread_t, once start-up has seen that pthread_t
 * is the thread pointer (then another thread's state is at its pthread_t
 * plus this); 0 when unknown. */
extern atomic_long ctxvar__pthread_state_offset CTXVAR__HIDDEN;

static inline uintptr_t ctxvar__thread_pointer(void)
{
    uintptr_t tp = 0; /* (initialised for cppcheck, which does not read asm) */
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* The pointer-sized word at `offset` from the thread pointer. */
static inline void *ctxvar__thread_pointer_load(long offset)
{
    void *word = 0;
    __asm__("movq %%fs:(%1), %0" : "=r"(word) : "r"(offset));
    return word;
}
#endif

/* ---- POPCNT ------------------------------------------------------------------ */

/* Nonzero once start-up has seen that this CPU has POPCNT. */
extern atomic_int ctxvar__cpu_has_popcnt CTXVAR__HIDDEN;

/* Bits set in x.  Without -mpopcnt, __builtin_popcount is a call into
 * libgcc, which makes every lookup save registers.  x86-64's baseline has no
 * POPCNT, so the instruction is used when the CPU was seen to have it, and
 * five inline arithmetic steps otherwise. */
static inline unsigned ctxvar__popcount(uint32_t x)
{
#if defined(__POPCNT__)
    return (unsigned)__builtin_popcount(x);
#else
#if defined(__x86_64__) && !defined(CTXVAR_PORTABLE)
    if (__builtin_expect(atomic_load_explicit(&ctxvar__cpu_has_popcnt, memory_order_relaxed), 1)) {
        uint32_t bits = 0; /* (for cppcheck, which does not read asm) */
        __asm__("popcntl %1, %0" : "=r"(bits) : "rm"(x) : "cc");
        return bits;
    }
#endif
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
#endif
}

/* Runs each check above once, at start-up, on the thread that initialises
 * the runtime; `self` is that thread's state, as the descriptor finds it. */
void ctxvar__platform_init(const void *self) CTXVAR__HIDDEN;

/* The calling thread's kernel id (gettid), also where a seccomp filter
 * refuses gettid: then from /proc; -1 when neither answers. */
int ctxvar__tid(void) CTXVAR__HIDDEN;

/* The process id (getpid), from /proc where a filter refuses getpid; -1
 * when neither answers. */
int ctxvar__pid(void) CTXVAR__HIDDEN;

/* 1 on the process's main thread (its id is the process id), by the same
 * means; where an id cannot be known, 1 on the thread noted as main at
 * load (or, in a forked child, the thread that forked), and 1 everywhere
 * when none was noted. */
int ctxvar__on_main_thread(void) CTXVAR__HIDDEN;

#endif
