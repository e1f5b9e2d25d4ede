/* annotate.c - whether helgrind or DRD runs the process, or memcheck: the
 * flags that turn the annotations of lib/annotate.h on. */
#include "annotate.h"

#if CTXVAR__ANNOTATIONS

atomic_int ctxvar__race_detector;
atomic_int ctxvar__under_memcheck;

/* At load, before the program's own threads and before the constructors
 * that annotate (CTXVAR__AFTER_DETECTION).  Threads that other libraries'
 * constructors started may already run the runtime and read the flag
 * unordered with this write, so the tools ignore the flag's word (such a
 * thread's 0 only leaves a few hand-overs untold). */
__attribute__((constructor(101))) static void detect_race_detector(void)
{
    static const char probe = 0;
    if (!RUNNING_ON_VALGRIND) return;
    /* memcheck alone answers a request for validity bits (1: done). */
    unsigned char bits;
    if (VALGRIND_GET_VBITS(&probe, &bits, 1) == 1)
        atomic_store_explicit(&ctxvar__under_memcheck, 1, memory_order_relaxed);
    /* Each tool answers a request of its own: helgrind the number of
     * addressable bytes asked about, DRD a thread number.  Other tools leave
     * the default (helgrind.h's -2 arrives as 0xfffffffe). */
    int helgrind = VALGRIND_HG_GET_ABITS(&probe, NULL, 1) == 1;
    int drd = DRD_GET_VALGRIND_THREADID != 0;
    if (!helgrind && !drd) return;
    VALGRIND_HG_DISABLE_CHECKING(&ctxvar__race_detector, sizeof ctxvar__race_detector);
    ANNOTATE_BENIGN_RACE_SIZED(&ctxvar__race_detector, sizeof ctxvar__race_detector, "set once");
    atomic_store_explicit(&ctxvar__race_detector, 1, memory_order_relaxed);
}

#else
typedef int ctxvar__no_annotations; /* (no empty translation unit) */
#endif
