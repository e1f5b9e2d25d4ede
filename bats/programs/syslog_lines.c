/* syslog_lines.c - logs through syslog(3) from threads with different
 * contexts, for bats/syslog.bats.  openlog("app", LOG_PERROR, LOG_USER):
 * every line also goes to stderr, which the test compares, as it compares
 * what a socket at /dev/log received.  Built twice: plainly (syslog,
 * vsyslog) and with -D_FORTIFY_SOURCE=2 (__syslog_chk, __vsyslog_chk).
 *
 *   syslog_lines lines      the ordinary cases, one thread after another
 *   syslog_lines long N     one message of N bytes ('a' .. 'z' repeated)
 *   syslog_lines errno      the errno each of three calls leaves: an
 *                           ordinary line, a %ls of an invalid wide
 *                           character (glibc's formatting fails: EILSEQ),
 *                           and vsyslog of the same; printed on stdout
 */
#define _DEFAULT_SOURCE /* vsyslog */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ctxvar.h"

static void set(const char *name, const char *value)
{
    int err = ctxvar_set(ctxvar_named(name), value, NULL);
    if (err) fprintf(stderr, "set %s failed: %s\n", name, ctxvar_strerror(err));
}

/* Through vsyslog (or __vsyslog_chk), as a program's own log helper does. */
static void log_v(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_v(int pri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}

static void *request(void *arg)
{
    const char *id = arg;
    set("request_id", id);
    set("_secret", "hunter2");                 /* private: never in a line */
    syslog(LOG_INFO, "request %s starts", id);
    errno = EACCES;
    syslog(LOG_ERR, "open failed: %m (errno kept: %d)", EACCES);
    log_v(LOG_WARNING, "through vsyslog: %d%%", 50);
    return NULL;
}

static void *private_only(void *arg)
{
    (void)arg;
    ctxvar_clear();
    set("_secret", "hunter2");
    syslog(LOG_INFO, "only a private variable");
    return NULL;
}

static void *empty(void *arg)
{
    (void)arg;
    ctxvar_clear();
    errno = ENOENT;
    syslog(LOG_INFO, "empty context: %m");
    return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) == 0) pthread_join(t, NULL);
}

static void lines(void)
{
    syslog(LOG_INFO, "main starts");           /* the context ctxrun gave */
    run_thread(request, "r1");
    run_thread(request, "r2");
    run_thread(private_only, NULL);
    run_thread(empty, NULL);
    set("note", "100%s %n %m");                /* a format in a value stays text */
    set("quoted", "a b");
    syslog(LOG_INFO, "value with percent signs");
    syslog(LOG_INFO, "ends with a newline\n");
    ctxvar_set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL);
    set("tracestate", "vendor=x");
    syslog(LOG_NOTICE, "in a trace");
}

static void long_message(size_t n)
{
    char *text = malloc(n + 1);
    if (!text) return;
    for (size_t i = 0; i < n; i++) text[i] = (char)('a' + i % 26);
    text[n] = '\0';
    syslog(LOG_INFO, "%s", text);
    free(text);
}

/* A debug line the program masked out, whose format (writable, with %n)
 * a fortified build refuses to run: glibc drops the line before it
 * formats anything, so the program goes on. */
static void masked(void)
{
    char fmt[] = "masked %n line";
    int written = 0;
    setlogmask(LOG_UPTO(LOG_INFO));
    syslog(LOG_DEBUG, fmt, &written);
    syslog(LOG_INFO, "after the masked line");
}

/* glibc leaves errno as its formatting left it; so must the runtime. */
static void errno_left(void)
{
    errno = 0;
    syslog(LOG_INFO, "ordinary");
    printf("ordinary line: %d\n", errno);
    errno = 0;
    syslog(LOG_INFO, "%ls", L"\xd800");
    printf("invalid wide character: %s\n", errno == EILSEQ ? "EILSEQ" : strerror(errno));
    errno = 0;
    log_v(LOG_INFO, "%ls", L"\xd800");
    printf("vsyslog, invalid wide character: %s\n", errno == EILSEQ ? "EILSEQ" : strerror(errno));
}

int main(int argc, char **argv)
{
    openlog("app", LOG_PERROR, LOG_USER);
    if (argc == 2 && strcmp(argv[1], "masked") == 0) masked();
    else if (argc == 2 && strcmp(argv[1], "lines") == 0) lines();
    else if (argc == 3 && strcmp(argv[1], "long") == 0) long_message(strtoul(argv[2], NULL, 10));
    else if (argc == 2 && strcmp(argv[1], "errno") == 0) errno_left();
    else return 2;
    closelog();
    return 0;
}
