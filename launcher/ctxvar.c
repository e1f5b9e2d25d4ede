/* ctxvar.c - the ctxvar command: the context a process received, for shell
 * scripts.  See man/ctxvar.1 for the user's view.
 *
 *     ctxvar get NAME [DEFAULT]
 *     ctxvar format [--set NAME=VALUE]...
 *     ctxvar traceparent
 *     ctxvar env [--set NAME=VALUE]...
 *
 * A script started by system() from a request thread gets that thread's
 * context in BAGGAGE, TRACEPARENT and TRACESTATE; this command lets it read
 * them the way a C program under the runtime would:
 *     logger "$(ctxvar format) rotated the log"
 *
 * HOW IT READS THE CONTEXT: IT DOES NOT.  The command is linked with the
 * runtime (-DCTXVAR_LINKED -lctxvar), and the runtime seeds the main thread
 * from BAGGAGE, TRACEPARENT and TRACESTATE when it is loaded, with its own
 * decoder and its own rules (secure_getenv, members it skips, a TRACEPARENT
 * kept only when valid and TRACESTATE only with it).  So every subcommand is
 * a plain API call on the main thread's context: ctxvar_get, ctxvar_format,
 * ctxvar_set, ctxvar_baggage_current.  There is no parser or encoder here,
 * not even a call of ctxvar_baggage_decode on getenv("BAGGAGE"): that would
 * be a second reading of the environment, which could differ from the
 * seed in exactly the cases above, and "what ctxvar_format would print in a
 * C child" would no longer be true by construction.
 *
 * Why linked and not header-only under LD_PRELOAD: a script does not always
 * run with the runtime preloaded (a cron job, a user's shell, a server that
 * was started without ctxrun but handed on BAGGAGE), and the command must
 * read the context there too.  Linked, the runtime is always in the process.
 * It is found by the run path $ORIGIN:$ORIGIN/../lib, the two places ctxrun
 * looks (beside the executable in the build tree, ../lib under an install
 * PREFIX), never the current directory; the path is a DT_RPATH, which the
 * loader searches before LD_LIBRARY_PATH, so the runtime that reads the
 * context is the one installed with the command, as ctxrun's choice of
 * runtime is (launcher/tools.mk).  When another copy is preloaded as well
 * (a script whose parent ran under ctxrun), the runtime's own rule applies:
 * the first copy loaded serves, the other defers.
 *
 * The one rule repeated here is which of the three variables a child gets
 * (lib/childenv.c, "THE RULE"): BAGGAGE when the encoding is not empty,
 * TRACEPARENT when it is valid, TRACESTATE only with it and when valid.
 * `ctxvar env` prints what a child started from a thread with this context
 * gets: with no --set, the context is still the one the process started
 * with, and the process's own three variables pass on byte for byte.
 *
 * Exit status: 0; 1 when `get` or `traceparent` finds nothing; 2 for a usage
 * error, or when the output cannot be written or memory is short.  Nothing
 * but the requested text goes to stdout; each error is one line on stderr,
 * "ctxvar: ...", that never shows a value (values may be secrets).
 */
#define _GNU_SOURCE /* secure_getenv */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name and traceparent rules ctxrun and the runtime share, and behind
 * them ctxvar.h (the API, linked mode from the build's -DCTXVAR_LINKED). */
#include "escape.h"
#include "w3c.h"

_Static_assert(CTXVAR_NAME_MAX == 64, "update the '1 to 64 bytes' texts");
_Static_assert(CTXVAR_VALUE_MAX == 4096, "update the '4096 bytes' texts");

enum exit_status {
    EXIT_ABSENT = 1,
    EXIT_USAGE  = 2,
};

static const char usage_text[] =
    "Usage: ctxvar get NAME [DEFAULT]\n"
    "       ctxvar format [--set NAME=VALUE]...\n"
    "       ctxvar traceparent\n"
    "       ctxvar env [--set NAME=VALUE]...\n"
    "Read the context this process received in BAGGAGE, TRACEPARENT and\n"
    "TRACESTATE, as the ctxvar runtime reads it.\n"
    "\n"
    "  get NAME [DEFAULT]   print the value of NAME; if it is not set, print\n"
    "                       DEFAULT (if given) and exit 1\n"
    "  format               print the context as the logfmt line ctxvar_format\n"
    "                       gives (an empty line for an empty context)\n"
    "  traceparent          print the trace context; exit 1 when there is none\n"
    "  env                  print the BAGGAGE, TRACEPARENT and TRACESTATE a\n"
    "                       child gets, as shell lines for eval:\n"
    "                       export NAME='VALUE' or unset NAME\n"
    "  --set NAME=VALUE     change NAME first (may be repeated, last wins)\n"
    "  --help               show this help and exit\n"
    "  --version            show the version and exit\n"
    "\n"
    "NAME is 1 to 64 bytes of [A-Za-z0-9_.-] starting with a letter or '_';\n"
    "VALUE is at most 4096 bytes.  traceparent and tracestate are the trace\n"
    "context's variables; a traceparent given by --set must be valid.\n"
    "\n"
    "Exit status: 0, 1 when get or traceparent finds nothing, 2 for a usage\n"
    "error or when the output cannot be written.\n";


/* Prints "ctxvar: <before><arg[0..arg_len) escaped><after>" and exits 2.
 * arg may be NULL. */
static _Noreturn void fail(const char *before, const char *arg, size_t arg_len,
                           const char *after)
{
    fputs("ctxvar: ", stderr);
    fputs(before, stderr);
    if (arg != NULL)
        put_escaped(arg, arg_len);
    fputs(after, stderr);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

static _Noreturn void fail_usage(const char *before, const char *arg, const char *after)
{
    fail(before, arg, arg ? strlen(arg) : 0, after);
}

/* Exits with status, after making sure what was printed reached stdout: a
 * script must not take a full disk or a closed pipe for an empty value. */
static _Noreturn void finish(int status)
{
    if (fflush(stdout) == EOF || ferror(stdout))
        fail("cannot write to stdout: ", strerror(errno), strlen(strerror(errno)), "");
    exit(status);
}

static void put_line(const char *text)
{
    fputs(text, stdout);
    fputc('\n', stdout);
}

static const char name_rule[] =
    "' (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_')";

/* The variable called name, or a usage error naming it. */
static ctxvar *variable(const char *name, size_t len)
{
    if (!ctxvar__w3c_name_valid(name, len))
        fail("invalid variable name '", name, len, name_rule);
    char copy[CTXVAR_NAME_MAX + 1];
    memcpy(copy, name, len);
    copy[len] = '\0';
    ctxvar *v = ctxvar_named(copy);
    if (v == NULL)
        fail("out of memory", NULL, 0, "");
    return v;
}

/* Applies "NAME=VALUE" (the text after --set) to the main thread's context,
 * or exits with a usage error that never shows the value.  traceparent goes
 * through ctxvar_set_traceparent: a child gets only a valid one, so an
 * invalid one is refused here rather than silently not passed on. */
static void apply_setting(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL) /* not shown: it may be the value alone */
        fail_usage("--set expects NAME=VALUE; its argument has no '='", NULL, "");
    size_t name_len = (size_t)(eq - arg);
    /* Not shown either: a secret passed by mistake may hold '=' (base64). */
    if (!ctxvar__w3c_name_valid(arg, name_len))
        fail_usage("--set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with "
                   "a letter or '_'); not shown, as the argument may be a secret", NULL, "");
    ctxvar *v = variable(arg, name_len);
    const char *value = eq + 1;
    if (strlen(value) > CTXVAR_VALUE_MAX)
        fail("value of '", arg, name_len, "' is longer than 4096 bytes");
    int err = name_len == 11 && memcmp(arg, "traceparent", 11) == 0
                  ? ctxvar_set_traceparent(value, NULL)
                  : ctxvar_set(v, value, NULL);
    if (err == EINVAL)
        fail_usage("invalid traceparent (expected 00-<32 hex>-<16 hex>-<2 hex>, "
                   "lowercase, ids not all zero)", NULL, "");
    if (err != 0)
        fail("cannot set '", arg, name_len, "': out of memory");
}

/* Reads [--set NAME=VALUE | --set=NAME=VALUE]... from argv[i..argc) and
 * applies them in order; anything else is a usage error. */
static void apply_settings(const char *command, int i, int argc, char **argv)
{
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0) {
            if (i + 1 >= argc)
                fail_usage("--set expects NAME=VALUE", NULL, "");
            apply_setting(argv[++i]);
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            apply_setting(argv[i] + 6);
        } else {
            char before[64];
            snprintf(before, sizeof before, "%s: unexpected argument '", command);
            fail_usage(before, argv[i], "' (try 'ctxvar --help')");
        }
    }
}

/* Calls an API function that fills a buffer like snprintf, twice: once to
 * size the text, once to write it.  Caller frees. */
static char *text_of(int (*write_text)(char *, size_t))
{
    int len = write_text(NULL, 0);
    char *text = malloc((size_t)len + 1);
    if (text == NULL)
        fail("out of memory", NULL, 0, "");
    write_text(text, (size_t)len + 1);
    return text;
}

static int current_baggage(char *buf, size_t size)
{
    return ctxvar_baggage_current(buf, size, NULL);
}

static _Noreturn void cmd_get(int argc, char **argv)
{
    if (argc < 3)
        fail_usage("get expects NAME [DEFAULT] (try 'ctxvar --help')", NULL, "");
    if (argc > 4)
        fail_usage("get: unexpected argument '", argv[4], "' (try 'ctxvar --help')");
    const char *value = ctxvar_get(variable(argv[2], strlen(argv[2])), NULL);
    if (value != NULL) {
        put_line(value);
        finish(0);
    }
    if (argc == 4)
        put_line(argv[3]);
    finish(EXIT_ABSENT);
}

static _Noreturn void cmd_format(int argc, char **argv)
{
    apply_settings("format", 2, argc, argv);
    char *line = text_of(ctxvar_format);
    put_line(line);
    free(line);
    finish(0);
}

static _Noreturn void cmd_traceparent(int argc, char **argv)
{
    if (argc > 2)
        fail_usage("traceparent: unexpected argument '", argv[2], "' (try 'ctxvar --help')");
    const char *value = ctxvar_get(variable("traceparent", 11), NULL);
    if (value == NULL)
        finish(EXIT_ABSENT);
    put_line(value);
    finish(0);
}

/* One line for eval: "export NAME='value'" (a ' inside as '\'', the POSIX
 * way, so any bytes survive any POSIX shell), or "unset NAME" when a child
 * would not get the variable at all, so that eval also takes away one the
 * script's own environment holds. */
static void put_assignment(const char *name, const char *value)
{
    if (value == NULL) {
        printf("unset %s\n", name);
        return;
    }
    printf("export %s='", name);
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            fputc(*p, stdout);
    }
    fputs("'\n", stdout);
}

/* 1 when a member of the baggage value v has a key starting with '_',
 * well-formed or not. */
static int names_private(const char *v)
{
    for (const char *p = v; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '_')
            return 1;
    }
    return 0;
}

/* What a child started from this thread finds in BAGGAGE, TRACEPARENT and
 * TRACESTATE, by lib/childenv.c's rule: the baggage encoding when it is not
 * empty (names starting with '_' and the trace headers are never members,
 * ctxvar_baggage_current leaves them out), a traceparent only when valid,
 * and a tracestate only with it. */
static _Noreturn void cmd_env(int argc, char **argv)
{
    /* With nothing set here the context is the one the process started
     * with, and a child gets the process's own three variables byte for
     * byte (more members than an encoding keeps, properties, what the
     * runtime could not read), unless BAGGAGE names a private variable
     * ('_'), which is never passed on (the runtime reads them with
     * secure_getenv, and checks the keys as here). */
    const char *baggage_at_start = secure_getenv("BAGGAGE");
    if (argc == 2 && !names_private(baggage_at_start)) {
        put_assignment("BAGGAGE", baggage_at_start);
        put_assignment("TRACEPARENT", secure_getenv("TRACEPARENT"));
        put_assignment("TRACESTATE", secure_getenv("TRACESTATE"));
        finish(0);
    }
    apply_settings("env", 2, argc, argv);
    char *baggage = text_of(current_baggage);
    const char *traceparent = ctxvar_get(variable("traceparent", 11), NULL);
    if (traceparent != NULL && !ctxvar__w3c_traceparent_valid(traceparent))
        traceparent = NULL;
    const char *tracestate =
        traceparent ? ctxvar_get(variable("tracestate", 10), NULL) : NULL;
    if (tracestate != NULL && !ctxvar__w3c_tracestate_valid(tracestate))
        tracestate = NULL;
    put_assignment("BAGGAGE", baggage[0] != '\0' ? baggage : NULL);
    put_assignment("TRACEPARENT", traceparent);
    put_assignment("TRACESTATE", tracestate);
    free(baggage);
    finish(0);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        fail_usage("missing subcommand: get, format, traceparent or env (try 'ctxvar --help')",
                   NULL, "");
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0) {
        fputs(usage_text, stdout);
        finish(0);
    }
    if (strcmp(command, "--version") == 0) {
        fputs("ctxvar (ctxvar) " CTXVAR_VERSION "\n", stdout);
        finish(0);
    }
    if (strcmp(command, "get") == 0)
        cmd_get(argc, argv);
    if (strcmp(command, "format") == 0)
        cmd_format(argc, argv);
    if (strcmp(command, "traceparent") == 0)
        cmd_traceparent(argc, argv);
    if (strcmp(command, "env") == 0)
        cmd_env(argc, argv);
    fail_usage("unknown subcommand '", command, "' (try 'ctxvar --help')");
}
