/* syslog.c - with CTXVAR_SYSLOG=1, a syslog(3) line from a thread whose
 * context has something to show ends with one space and that context in
 * logfmt (lib/api.c, ctxvar__format_exported): the pairs ctxvar_format
 * writes for every variable a child process would get, then trace_id,
 * span_id and trace_flags from the thread's traceparent, the names
 * OpenTelemetry uses for trace context in logs that are not OTLP.
 *
 *     syslog(LOG_INFO, "payment refused: %m")
 *     -> "payment refused: Permission denied request_id=42 tenant=acme"
 *
 * HOW.  The program's message is rendered here, as glibc would render it:
 * vsnprintf with the program's format and arguments, errno put back first
 * so that %m says the caller's error (glibc's printf knows %m, and its
 * syslog does exactly this).  The suffix is appended (before a trailing
 * newline, so that the LOG_PERROR copy still ends the line once), and the
 * real syslog gets "%s" and the whole text.  So no byte of a value is ever
 * read as a format, and everything glibc does after formatting (the header,
 * the tag, LOG_PERROR's copy on stderr, the socket, the console, the
 * priority mask, cancellation) is its own, on a message glibc sees as it
 * would a longer one written by the program: glibc 2.36 as Debian ships it
 * formats a message of any length (into a heap buffer beyond its 1 KiB on
 * the stack), and so does this file, sized by a first vsnprintf, never cut.
 *
 * When there is nothing to add (an empty context, only private names, the
 * switch off, this copy of the runtime defers) the program's call goes to
 * the real function untouched.  When rendering fails (out of memory, a
 * format vsnprintf refuses), it goes there untouched too, with a debug line.
 * __syslog_chk and __vsyslog_chk (what -D_FORTIFY_SOURCE calls) render with
 * __vsnprintf_chk, so the program keeps its fortification checks.
 *
 * Not in the static archive: a statically linked program's syslog is not
 * routed through the runtime.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "runtime.h"

/* glibc's fortified entry points, declared by <syslog.h> only under
 * _FORTIFY_SOURCE. */
void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);
int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, va_list ap);

/* Room on the stack for the usual line; a longer one goes to the heap. */
enum { LINE_ON_STACK = 1024, SUFFIX_ON_STACK = 512 };

/* The program's message with the suffix, in *out (line, or a heap block the
 * caller frees when it is not line).  flag < 0: plain vsnprintf; else the
 * fortified one with that flag.  0, or -1 when the call should go through
 * unchanged (nothing to add, or we could not). */
static int render(char *line, size_t room, char **out, int saved_errno, int pri, int flag,
                  const char *fmt, va_list ap)
{
    if (!ctxvar__syslog_enabled()) return -1;
    /* A priority the program masked out (setlogmask) is dropped by glibc
     * before it formats anything: so it must be here, where formatting
     * could run a fortified check, or cost a copy, for nothing. */
    if (!(LOG_MASK(LOG_PRI(pri)) & setlogmask(0))) return -1;
    ctxvar_ctx *c = ctxvar__current_borrowed();
    if (!c) return -1;

    char suffix_room[SUFFIX_ON_STACK];
    char *suffix = suffix_room;
    size_t suffix_len = ctxvar__format_exported(c, suffix_room, sizeof suffix_room);
    if (suffix_len == 0) return -1;
    if (suffix_len >= sizeof suffix_room) {
        suffix = malloc(suffix_len + 1);
        if (!suffix) goto failed;
        ctxvar__format_exported(c, suffix, suffix_len + 1);
    }

    va_list again;
    va_copy(again, ap);
    errno = saved_errno; /* for %m */
    int n = flag < 0 ? vsnprintf(line, room, fmt, ap)
                     : __vsnprintf_chk(line, room, flag, room, fmt, ap);
    char *text = line;
    if (n >= 0 && (size_t)n + 1 + suffix_len >= room) {
        /* Sized exactly: the message, a space, the suffix, the NUL. */
        size_t need = (size_t)n + 1 + suffix_len + 1;
        text = malloc(need);
        if (text) {
            errno = saved_errno;
            int again_n = flag < 0 ? vsnprintf(text, need, fmt, again)
                                   : __vsnprintf_chk(text, need, flag, need, fmt, again);
            /* The same arguments give the same text; if a %m or a locale
             * changed between the two, take the shorter and stay inside. */
            if (again_n < 0) n = -1;
            else if (again_n < n) n = again_n;
        }
    }
    va_end(again);
    if (n < 0 || !text) {
        if (text && text != line) free(text);
        if (suffix != suffix_room) free(suffix);
        goto failed;
    }

    /* A message ending in a newline keeps it last: glibc's LOG_PERROR copy
     * adds none then, and the suffix belongs to the line. */
    size_t len = (size_t)n;
    int newline = len > 0 && text[len - 1] == '\n';
    if (newline) len--;
    text[len] = ' ';
    memcpy(text + len + 1, suffix, suffix_len);
    len += 1 + suffix_len;
    if (newline) text[len++] = '\n';
    text[len] = '\0';
    if (suffix != suffix_room) free(suffix);
    *out = text;
    return 0;

failed:
    ctxvar__debug("syslog: the line goes out without the context (out of memory or a format "
                  "vsnprintf refused)");
    return -1;
}

typedef void (*syslog_fn)(int, const char *, ...);

/* The real syslog with "%s": every variant ends here once rendered. */
static void send_rendered(int pri, char *text, const char *line)
{
    syslog_fn real = (syslog_fn)CTXVAR__NEXT(syslog);
    if (real) real(pri, "%s", text);
    if (text != line) free(text);
}

CTXVAR__EXPORT void vsyslog(int pri, const char *fmt, va_list ap)
{
    int saved_errno = errno;
    char line[LINE_ON_STACK], *text;
    va_list mine;
    va_copy(mine, ap);
    int rendered = render(line, sizeof line, &text, saved_errno, pri, -1, fmt, mine);
    va_end(mine);
    errno = saved_errno;
    if (rendered == 0) {
        send_rendered(pri, text, line);
    } else {
        __typeof__(&vsyslog) real = CTXVAR__NEXT(vsyslog);
        if (real) real(pri, fmt, ap);
    }
    /* errno as glibc left it, as without the runtime. */
}

CTXVAR__EXPORT void syslog(int pri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}

CTXVAR__EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
    int saved_errno = errno;
    char line[LINE_ON_STACK], *text;
    va_list mine;
    va_copy(mine, ap);
    int rendered = render(line, sizeof line, &text, saved_errno, pri, flag, fmt, mine);
    va_end(mine);
    errno = saved_errno;
    if (rendered == 0) {
        send_rendered(pri, text, line);
    } else {
        __typeof__(&__vsyslog_chk) real = CTXVAR__NEXT(__vsyslog_chk);
        if (real) real(pri, flag, fmt, ap);
    }
    /* errno as glibc left it, as without the runtime. */
}

CTXVAR__EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    __vsyslog_chk(pri, flag, fmt, ap);
    va_end(ap);
}
