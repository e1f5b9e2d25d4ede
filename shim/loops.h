/* loops.h - which event-loop libraries the runtime is built for: those
 * whose headers are installed (the interposers need their types; nothing
 * is linked).  A build without them has no interposers for that library.
 * cppcheck cannot evaluate __has_include, and checks both. */
#ifndef CTXVAR_SHIM_LOOPS_H
#define CTXVAR_SHIM_LOOPS_H

#if defined(__CPPCHECK__)
#define CTXVAR_WITH_LIBUV 1
#define CTXVAR_WITH_LIBEVENT 1
#elif defined(__has_include)
#if __has_include(<uv.h>)
#define CTXVAR_WITH_LIBUV 1
#endif
#if __has_include(<event2/event.h>)
#define CTXVAR_WITH_LIBEVENT 1
#endif
#endif

#endif
