/* platform.c - the start-up checks of lib/platform.h, and the kernel's
 * thread and process ids where a sandbox refuses the calls that give them. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

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

/* ---- Kernel ids a seccomp filter may refuse --------------------------------------
 *
 * A sandbox may answer gettid or getpid with EPERM (-1).  The ids are then
 * read from the names /proc/thread-self ("PID/task/TID") and /proc/self
 * ("PID") link to, which need neither call. */

/* The number after the last '/' of what `link` names, or -1.  (Not
 * instrumented: a new thread may ask before ThreadSanitizer knows it.) */
static CTXVAR__BEFORE_THREAD_START pid_t id_from_link(const char *link)
{
    char name[64];
    int saved_errno = errno;
    ssize_t n = readlink(link, name, sizeof name - 1);
    errno = saved_errno;
    if (n <= 0) return -1;
    name[n] = '\0';
    const char *digits = strrchr(name, '/');
    digits = digits ? digits + 1 : name;
    long id = 0;
    for (const char *p = digits; *p; p++) {
        if (*p < '0' || *p > '9' || id > (0x7fffffff - (*p - '0')) / 10) return -1;
        id = id * 10 + (*p - '0');
    }
    return *digits && id > 0 ? (pid_t)id : -1;
}

CTXVAR__BEFORE_THREAD_START int ctxvar__tid(void)
{
    pid_t tid = gettid();
    return tid > 0 ? tid : id_from_link("/proc/thread-self");
}

int ctxvar__pid(void)
{
    pid_t pid = getpid();
    return pid > 0 ? pid : id_from_link("/proc/self");
}

/* The main thread as pthread_self() names it, for when an id cannot be
 * known at the time of asking: a program may install its seccomp filter
 * after start-up, where /proc is not mounted.  Noted at load, by the
 * constructor below, which runs on the main thread when the runtime is
 * preloaded or linked: the ids agree there, or, unknown then too, the
 * process has no other thread yet.  A runtime dlopen'ed later by another
 * thread notes nothing.  In a forked child the thread that forked is the
 * main one, and is noted (not after _Fork, which runs no fork handlers). */
static pthread_t main_thread;
static atomic_int main_thread_noted;

static void note_main_thread(void)
{
    main_thread = pthread_self();
    atomic_store_explicit(&main_thread_noted, 1, memory_order_release);
}

__attribute__((constructor)) static void note_main_thread_at_load(void)
{
    int tid = ctxvar__tid(), pid = ctxvar__pid();
    if (tid > 0 && pid > 0 ? tid == pid : __libc_single_threaded) note_main_thread();
    pthread_atfork(NULL, NULL, note_main_thread);
}

int ctxvar__on_main_thread(void)
{
    int tid = ctxvar__tid(), pid = tid > 0 ? ctxvar__pid() : -1;
    if (tid > 0 && pid > 0) return tid == pid;
    if (atomic_load_explicit(&main_thread_noted, memory_order_acquire))
        return pthread_equal(pthread_self(), main_thread) != 0;
    /* Not known at all: taken for the main thread, whose context is then
     * kept to the end. */
    return 1;
}
