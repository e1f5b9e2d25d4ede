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
 * the stack), and so does this file, never cut: into 1 KiB on the stack,
 * and only a line that does not fit there (where glibc allocates too) into
 * a heap block sized by that first vsnprintf.  So a program that logs from
 * a signal handler, as glibc tolerates for short lines, is no less safe;
 * the context is read as any reader in a handler reads it, without
 * allocating.  A thread cancelled in glibc's syslog frees that block.
 *
 * When there is nothing to add (an empty context, only private names, the
 * switch off, this copy of the runtime defers) the program's call goes to
 * the real function untouched.  When rendering fails (out of memory, a
 * format vsnprintf refuses), it goes there untouched too, with a debug line;
 * so does a message holding a NUL byte (%c of 0), which "%s" would cut.
 * __syslog_chk and __vsyslog_chk (what -D_FORTIFY_SOURCE calls) render with
 * __vsnprintf_chk, so the program keeps its fortification checks.
 *
 * Not in the static archive: a statically linked program's syslog is not
 * routed through the runtime.
 */
#include <errno.h>
#include <pthread.h>
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

/* Room on the stack for the usual line, as glibc keeps (1 KiB): the
 * runtime allocates only for a line glibc would allocate for too, so that a
 * syslog call from a signal handler that interrupted malloc is no less
 * safe than without the runtime. */
enum { LINE_ON_STACK = 1024 };

/* The program's message, formatted into buf[size] as glibc would: errno
 * put back first for %m.  flag < 0: plain vsnprintf; else the fortified
 * one with that flag. */
static int format_message(char *buf, size_t size, int saved_errno, int flag, const char *fmt,
                          va_list ap)
{
    errno = saved_errno;
    return flag < 0 ? vsnprintf(buf, size, fmt, ap) : __vsnprintf_chk(buf, size, flag, size, fmt, ap);
}

/* The suffix after the message's `base` bytes of buf[size]: one space and
 * the context, then the newline the message ended with, if it did (glibc's
 * LOG_PERROR copy then adds none, and the suffix belongs to the line).
 * The whole line's length, written only when it fits. */
static size_t put_suffix(const ctxvar_ctx *c, char *buf, size_t size, size_t base, int newline,
                         size_t suffix_len)
{
    size_t len = base + 1 + suffix_len + (size_t)newline;
    if (len >= size) return len;
    buf[base] = ' ';
    ctxvar__format_exported(c, buf + base + 1, suffix_len + 1);
    if (newline) buf[len - 1] = '\n';
    buf[len] = '\0';
    return len;
}

/* The program's message with the suffix, in *out (line, or a heap block the
 * caller frees when it is not line).  0, or -1 when the call should go
 * through unchanged (nothing to add, or we could not). */
static int render(char *line, size_t room, char **out, int saved_errno, int pri, int flag,
                  const char *fmt, va_list ap)
{
    if (!ctxvar__syslog_enabled()) return -1;
    /* A priority the program masked out (setlogmask) is dropped by glibc
     * before it formats anything: so it must be here, where formatting
     * could run a fortified check, or cost a copy, for nothing. */
    if (!(LOG_MASK(LOG_PRI(pri)) & setlogmask(0))) return -1;
    /* As a reader: a handler may have interrupted a change of it. */
    const ctxvar_ctx *c = ctxvar__current_for_reader();
    if (!c) return -1;
    size_t suffix_len = ctxvar__format_exported(c, NULL, 0);
    if (suffix_len == 0) return -1;

    va_list again;
    va_copy(again, ap);
    int n = format_message(line, room, saved_errno, flag, fmt, ap);
    char *text = line;
    if (n >= 0) {
        size_t base = (size_t)n, shown = base < room ? base : room - 1;
        /* A NUL the format wrote (%c of 0) would end the text early: such a
         * line goes out as the program wrote it. */
        if (memchr(line, '\0', shown)) n = -2;
        int newline = n >= 0 && base > 0 && base <= shown && line[base - 1] == '\n';
        base -= (size_t)newline;
        size_t len = n >= 0 ? put_suffix(c, line, room, base, newline, suffix_len) : 0;
        if (n >= 0 && len >= room) {
            /* Sized exactly, formatted again into it. */
            text = malloc(len + 1);
            if (text) {
                int again_n = format_message(text, len + 1, saved_errno, flag, fmt, again);
                /* The same arguments give the same text; if a %m or a
                 * locale changed between the two, it is cut at the first
                 * one's length, where the suffix was sized to go. */
                size_t first = (size_t)n, shown_again = (size_t)again_n < first ? (size_t)again_n : first;
                if (again_n < 0) {
                    n = -1;
                } else if (memchr(text, '\0', shown_again)) {
                    n = -2;
                } else {
                    newline = shown_again > 0 && text[shown_again - 1] == '\n';
                    put_suffix(c, text, len + 1, shown_again - (size_t)newline, newline, suffix_len);
                }
            }
        }
    }
    va_end(again);
    if (n < 0 || !text) {
        if (text && text != line) free(text);
        if (n != -2) goto failed;
        return -1;
    }
    *out = text;
    return 0;

failed:
    ctxvar__debug("syslog: the line goes out without the context (out of memory or a format "
                  "vsnprintf refused)");
    return -1;
}

typedef void (*syslog_fn)(int, const char *, ...);

/* The real syslog with "%s": every variant ends here once rendered.  glibc's
 * syslog is a cancellation point (it may wait on the socket): a thread
 * cancelled there frees the copy too. */
static void send_rendered(int pri, char *text, const char *line)
{
    syslog_fn real = (syslog_fn)CTXVAR__NEXT(syslog);
    pthread_cleanup_push(free, text != line ? text : NULL);
    if (real) real(pri, "%s", text);
    pthread_cleanup_pop(1);
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
