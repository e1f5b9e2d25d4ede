/* wrapped.h - the functions the runtime stands in front of that a
 * statically linked program routes through it.
 *
 * A static program ignores LD_PRELOAD, and its calls are bound at link
 * time.  The linker's --wrap=NAME sends every call to NAME to __wrap_NAME
 * and lets __wrap_NAME reach the original as __real_NAME; libctxvar.a's
 * interposers are renamed __wrap_NAME when the archive is made (objcopy),
 * and find the originals through this list (shim/wrapped.c).  The Makefile
 * reads the names from here, one X(...) a line, for the archive and for
 * `pkg-config --static --libs ctxvar`.  OpenMP's entry points are not
 * among them: libgomp.a defines them too, and a static link may not hold
 * both. */
#ifndef CTXVAR_WRAPPED_H
#define CTXVAR_WRAPPED_H

#define CTXVAR__WRAPPED(X) \
    X(pthread_create)      \
    X(thrd_create)         \
    X(pthread_join)        \
    X(pthread_tryjoin_np)  \
    X(pthread_timedjoin_np) \
    X(pthread_clockjoin_np) \
    X(pthread_detach)      \
    X(thrd_join)           \
    X(thrd_detach)         \
    X(timer_create)        \
    X(timer_delete)        \
    X(mq_notify)           \
    X(mq_close)            \
    X(execve)              \
    X(execv)               \
    X(execvp)              \
    X(execvpe)             \
    X(execl)               \
    X(execlp)              \
    X(execle)              \
    X(fexecve)             \
    X(posix_spawn)         \
    X(posix_spawnp)        \
    X(system)              \
    X(popen)

#endif
