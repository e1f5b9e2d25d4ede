/* dlclose.c - when the program unloads a library, the runtime forgets what
 * it kept of it.
 *
 * The library interposers find the real function once and keep its address
 * (CTXVAR__NEXT_IN), and know the library's code to tell its own calls from
 * the program's (lib/keyed.c, struct ctxvar__code_ranges).  A plugin host
 * that unloads libuv or libevent and loads it again gets it at another
 * address, often: the kept address would be a jump into unmapped memory,
 * and the library's calls into itself would look like the program's.  So
 * after a dlclose that succeeded, whatever lies in no loaded object any
 * more is forgotten and looked up again on next use.  The call itself, its
 * result and errno are the program's, untouched.
 *
 * The runtime's own dlclose calls (of handles it opened with RTLD_NOLOAD to
 * ask a loaded library for a symbol) go to the real one directly: they
 * unload nothing. */
#include <dlfcn.h>
#include <errno.h>

#include "runtime.h"

#ifndef CTXVAR_STATIC_WRAP /* libctxvar.a carries no library interposers */
int ctxvar__real_dlclose(void *handle)
{
    static _Atomic(void *) real_cache;
    int (*real)(void *) = (int (*)(void *))atomic_load_explicit(&real_cache, memory_order_acquire);
    if (!real) {
        int saved_errno = errno;
        *(void **)&real = dlsym(RTLD_NEXT, "dlclose");
        errno = saved_errno;
        if (!real) return -1;
        atomic_store_explicit(&real_cache, *(void **)&real, memory_order_release);
    }
    return real(handle);
}

CTXVAR__EXPORT int dlclose(void *handle)
{
    int r = ctxvar__real_dlclose(handle);
    if (r == 0) ctxvar__libraries_unloaded();
    return r;
}
#else
typedef int ctxvar__no_dlclose; /* ISO C wants a declaration */
#endif
