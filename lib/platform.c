/* platform.c - the start-up checks of lib/platform.h. */
#include <pthread.h>

#include "thread.h"

atomic_int ctxvar__cpu_has_popcnt;
#if CTXVAR__THREAD_POINTER
atomic_long ctxvar__self_offset;
atomic_long ctxvar__pthread_state_offset;
#endif

void ctxvar__platform_init(const void *self)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    atomic_store_explicit(&ctxvar__cpu_has_popcnt, __builtin_cpu_supports("popcnt") != 0,
                          memory_order_relaxed);
#endif
#if CTXVAR__THREAD_POINTER
    /* The x86-64 TLS descriptor is {resolver, argument}; for static TLS the
     * argument is the (negative) offset from the thread pointer, while for
     * dynamic TLS it is a pointer to a heap object, never negative. */
    uintptr_t descriptor = 0; /* (initialised for cppcheck, which does not read asm) */
    __asm__("leaq ctxvar__self@TLSDESC(%%rip), %0" : "=r"(descriptor));
    uintptr_t tp = ctxvar__thread_pointer();
    long offset = (long)((uintptr_t)self - tp);
    /* cppcheck-suppress nullPointer ; set by the asm above */
    if (offset < 0 && ((const long *)descriptor)[1] == offset) {
        atomic_store_explicit(&ctxvar__self_offset, offset, memory_order_relaxed);
        /* glibc's pthread_t is the address of its struct pthread, which is
         * the thread control block the thread pointer points at. */
        if ((uintptr_t)pthread_self() == tp)
            atomic_store_explicit(&ctxvar__pthread_state_offset, offset, memory_order_relaxed);
    }
#else
    (void)self;
#endif
}
