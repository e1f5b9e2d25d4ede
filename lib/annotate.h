/* annotate.h - the runtime's hand-overs between threads, told to helgrind
 * and DRD.
 *
 * Those two tools see the order that pthread calls (mutexes, create, join)
 * put between threads, but not the order that C11 atomics put: to them an
 * atomic read-modify-write is a plain read and an atomic store a plain
 * write, so a record handed over through a compare-and-swap, or a block our
 * free lists hand to its next user, looks like a data race.  Three kinds of
 * annotation say what the atomics do:
 *
 *   CTXVAR__HAPPENS_BEFORE(sync)   before the releasing atomic on `sync`
 *   CTXVAR__HAPPENS_AFTER(sync)    after an acquiring atomic on `sync` saw
 *                                  what a releasing one wrote: to the tools,
 *                                  everything the releasing thread did before
 *                                  the first comes before everything this
 *                                  one does after the second (valgrind's
 *                                  ANNOTATE_HAPPENS_BEFORE/_AFTER, one
 *                                  request that both tools understand)
 *   CTXVAR__NEW_MEMORY(p, size)    a block put on a free list is, to the
 *                                  tools, freed, as free() would tell them
 *   CTXVAR__ATOMIC_WORDS(p, size)  words that only atomics touch, which the
 *                                  tools are told to ignore: an atomic is
 *                                  never a data race, and what it hands over
 *                                  is ordered by the two above
 *
 * and one for memcheck, when memcheck runs the process (not callgrind, so
 * that callgrind counts what a real run executes):
 *
 *   CTXVAR__READ_ANYWAY(p, size)   words read on purpose before anything
 *                                  may have written them (a library's
 *                                  reserved words, whose content a check
 *                                  word vouches for): defined, to memcheck
 *
 * Cost: a request is a few instructions that do nothing outside valgrind,
 * but it writes its arguments to the stack.  So each annotation is a load
 * and a branch not taken on a flag that is set at load only when helgrind
 * or DRD runs the process (not under memcheck or callgrind, so callgrind
 * counts what a real run executes).  Built without valgrind's headers, the
 * annotations are nothing at all.
 *
 * ThreadSanitizer sees atomics, but not in code built without its
 * instrumentation (CTXVAR__BEFORE_THREAD_START): a release there is told
 * to it by
 *
 *   CTXVAR__TSAN_RELEASE(sync)     before such a releasing atomic on `sync`,
 *                                  on a thread TSan knows; nothing in other
 *                                  builds
 *
 * nor an order that only the kernel gives: a detached thread's writes
 * before it ends, read by the thread that learns from tgkill that it has
 * gone, are ordered to TSan by
 *
 *   CTXVAR__TSAN_RELEASE(sync)     after the writes, and
 *   CTXVAR__TSAN_ACQUIRE(sync)     after learning it, before the reads
 *
 * Internal to lib/.
 */
#ifndef CTXVAR_ANNOTATE_H
#define CTXVAR_ANNOTATE_H

#include <stdatomic.h>

#include "platform.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define CTXVAR__TSAN_RELEASE(sync) __tsan_release((void *)(sync))
#define CTXVAR__TSAN_ACQUIRE(sync) __tsan_acquire((void *)(sync))
#else
#define CTXVAR__TSAN_RELEASE(sync) ((void)(sync))
#define CTXVAR__TSAN_ACQUIRE(sync) ((void)(sync))
#endif

/* (cppcheck cannot evaluate __has_include: it checks the build without.) */
#if defined(__has_include) && !defined(__CPPCHECK__)
#if __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>) && \
    __has_include(<valgrind/memcheck.h>)
#define CTXVAR__ANNOTATIONS 1
#endif
#endif
#ifndef CTXVAR__ANNOTATIONS
#define CTXVAR__ANNOTATIONS 0
#endif

#if CTXVAR__ANNOTATIONS
#include <valgrind/helgrind.h>
#include <valgrind/drd.h> /* after helgrind.h, whose happens-before requests it keeps */
#include <valgrind/memcheck.h>

/* 1 when memcheck runs the process (lib/annotate.c). */
extern atomic_int ctxvar__under_memcheck CTXVAR__HIDDEN;
#define CTXVAR__READ_ANYWAY(p, size)                                              \
    do {                                                                          \
        if (__builtin_expect(atomic_load_explicit(&ctxvar__under_memcheck,        \
                                                  memory_order_relaxed), 0))      \
            (void)VALGRIND_MAKE_MEM_DEFINED(p, size);                             \
    } while (0)

/* 1 when helgrind or DRD runs the process (lib/annotate.c). */
extern atomic_int ctxvar__race_detector CTXVAR__HIDDEN;
#define CTXVAR__RACE_DETECTOR() atomic_load_explicit(&ctxvar__race_detector, memory_order_relaxed)

#define CTXVAR__HAPPENS_BEFORE(sync)                                              \
    do {                                                                          \
        if (__builtin_expect(CTXVAR__RACE_DETECTOR(), 0)) ANNOTATE_HAPPENS_BEFORE(sync); \
    } while (0)
#define CTXVAR__HAPPENS_AFTER(sync)                                               \
    do {                                                                          \
        if (__builtin_expect(CTXVAR__RACE_DETECTOR(), 0)) ANNOTATE_HAPPENS_AFTER(sync); \
    } while (0)
#define CTXVAR__NEW_MEMORY(p, size)                                               \
    do {                                                                          \
        if (__builtin_expect(CTXVAR__RACE_DETECTOR(), 0)) ANNOTATE_NEW_MEMORY(p, size); \
    } while (0)
/* helgrind's request, then DRD's (drd.h's ANNOTATE_BENIGN_RACE_SIZED). */
#define CTXVAR__ATOMIC_WORDS(p, size)                                             \
    do {                                                                          \
        if (CTXVAR__RACE_DETECTOR()) {                                            \
            VALGRIND_HG_DISABLE_CHECKING(p, size);                                \
            ANNOTATE_BENIGN_RACE_SIZED(p, size, "atomics only");                  \
        }                                                                         \
    } while (0)
/* A constructor that uses CTXVAR__ATOMIC_WORDS: it runs after the flag is set. */
#define CTXVAR__AFTER_DETECTION __attribute__((constructor(102)))
#else
#define CTXVAR__RACE_DETECTOR() 0
#define CTXVAR__HAPPENS_BEFORE(sync) ((void)(sync))
#define CTXVAR__HAPPENS_AFTER(sync) ((void)(sync))
#define CTXVAR__NEW_MEMORY(p, size) ((void)(p), (void)(size))
#define CTXVAR__ATOMIC_WORDS(p, size) ((void)(p), (void)(size))
#define CTXVAR__READ_ANYWAY(p, size) ((void)(p), (void)(size))
#define CTXVAR__AFTER_DETECTION __attribute__((unused))
#endif

#endif
