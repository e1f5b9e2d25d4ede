/* ctxrun.c - run a command with the ctxvar runtime preloaded and an initial
 * context.  See man/ctxrun.1 for the user's view.
 *
 *     ctxrun [--set NAME=VALUE | --baggage VALUE | --traceparent VALUE]...
 *            [--syslog] [--http] [--otel] [--] COMMAND [ARG]...
 *
 * The launcher does three things and then gets out of the way with execvp():
 *
 *   1. It finds libctxvar.so relative to its own executable, never through the
 *      current directory, PATH or an environment variable: a launcher that
 *      could be made to preload a library planted by someone else would turn
 *      "run this with context" into "run this with arbitrary code"
 *      (docs/interposing.md, "Secure execution").  Three places are tried,
 *      in order:
 *          <dir of ctxrun>/libctxvar.so          the build tree (build/)
 *          <dir of ctxrun>/../lib/libctxvar.so   an install under PREFIX
 *          <dir of ctxrun>/../<$LIB>/libctxvar.so.1
 *                                                the Debian package
 *      In the third, <$LIB> is what this machine's loader puts for $LIB
 *      (lib/x86_64-linux-gnu on Debian, the package's multiarch directory),
 *      and the file is the one libctxvar1 ships, named by its SONAME (the
 *      libctxvar.so link belongs to the development package, which ctxrun
 *      must not need).  The entry preloaded is then <prefix>/$LIB/
 *      libctxvar.so.1, unexpanded: libctxvar1 is Multi-Arch: same, so the
 *      runtime of another architecture (libctxvar1:i386) lands in that
 *      architecture's $LIB directory, where its loader looks.
 *      Where the build also made a 32-bit runtime, the place found has a
 *      runtime for each word size under the directories the loaders put for
 *      $LIB, and the entry becomes <base>/$LIB/libctxvar.so, with $LIB left
 *      as it is (base: the directory above, or the PREFIX): LD_PRELOAD is
 *      inherited, and each loader expands the token to its own directory,
 *      so a 32-bit program the command starts (or the command itself) gets
 *      the 32-bit runtime instead of a "wrong ELF class" line on its stderr.
 *   2. It appends that absolute path to LD_PRELOAD.  Appending, not
 *      prepending, keeps a dynamic ASan/TSan runtime first, where it must be
 *      to intercept everything before anything else does; ASan refuses to
 *      start otherwise (docs/interposing.md, "Sanitizers first in
 *      LD_PRELOAD").
 *   3. It merges the --set pairs and the members of --baggage values into
 *      BAGGAGE, and puts a --traceparent in TRACEPARENT: the runtime reads
 *      both at load to seed the main thread's context.  --set values are
 *      percent-encoded so the header stays valid W3C Baggage whatever bytes
 *      the user passed; --baggage members are checked the way the runtime
 *      reads them and kept in their encoded form.
 *
 * Exit status is the command's own (we exec), or 2 for a usage error, 126 when
 * the command (or the runtime) cannot be used, 127 when the command is not
 * found: the shell's conventions, so ctxrun can be put in front of anything.
 *
 * The switches of the runtime's outlets set their variable to 1 (--syslog:
 * CTXVAR_SYSLOG, --http: CTXVAR_HTTP, --otel: CTXVAR_OTEL).  A command
 * built with a dynamic AddressSanitizer gets verify_asan_link_order=0 in
 * ASAN_OPTIONS ("AddressSanitizer's link order" below).  Nothing else in
 * the environment is touched (TRACESTATE neither: it stays the caller's),
 * and nothing is written to stdout except what --help and --version were
 * asked for: the command owns stdout.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The rules the runtime reads BAGGAGE and TRACEPARENT by, so that a setting
 * the runtime would skip at load is refused here, where the user can still
 * see why.  w3c.h brings ctxvar.h, and with it the limits ctxvar_named and
 * ctxvar_set enforce and CTXVAR_VERSION: the launcher is versioned with the
 * library it launches, from the one definition the Makefile and the runtime
 * read too, rather than from a copy here or a -D from the build that a
 * build without make would miss.  Nothing of the header's API is called:
 * ctxrun never loads the runtime itself. */
#include "escape.h"
#include "w3c.h"

#define RUNTIME_NAME   "libctxvar.so"

/* What the 64-bit and the 32-bit loader put for $LIB, as the Makefile asked
 * them (launcher/libdir.sh), when it built a runtime for each word size
 * there: <base>/CTXRUN_LIB64/libctxvar.so (a link to the 64-bit runtime)
 * and <base>/CTXRUN_LIB32/libctxvar.so.  Without them (no 32-bit toolchain,
 * or a build without make) only the 64-bit runtime is preloaded. */
#if defined(CTXRUN_LIB64) && defined(CTXRUN_LIB32)
#define HAVE_LIB_DIRS 1
#else
#define HAVE_LIB_DIRS 0
#endif
#define LIB_TOKEN      "$LIB"

/* The package's runtime file, its SONAME, and the loader's $LIB expansion
 * for programs of ctxrun's own word size (launcher/libdir.sh), where the
 * Makefile could ask the loader. */
#define PACKAGED_NAME  "libctxvar.so.1"
#if defined(CTXRUN_HOST_LIB)
#define HAVE_HOST_LIB 1
#else
#define HAVE_HOST_LIB 0
#endif

/* The messages and --help spell these limits out in words. */
_Static_assert(CTXVAR_NAME_MAX == 64, "update the '1 to 64 bytes' texts");
_Static_assert(CTXVAR_VALUE_MAX == 4096, "update the '4096 bytes' texts");

enum exit_status {
    EXIT_USAGE      = 2,
    EXIT_CANNOT_RUN = 126,
    EXIT_NOT_FOUND  = 127,
};

/* One member to merge into BAGGAGE: a --set NAME=VALUE (value to be
 * percent-encoded, NUL-terminated) or one member of a --baggage value (text
 * already encoded, kept as it is, text_len bytes).  All point into argv
 * (borrowed, never copied): name and a --baggage text are not
 * NUL-terminated, hence the lengths. */
struct setting {
    const char *name;
    size_t      name_len;
    const char *value;      /* --set: the raw value; NULL for --baggage */
    const char *text;       /* --baggage: the member, OWS trimmed */
    size_t      text_len;
};

static const char usage_text[] =
    "Usage: ctxrun [--set NAME=VALUE]... [--baggage VALUE]... [--traceparent VALUE]\n"
    "              [--syslog] [--http] [--otel] [--] COMMAND [ARG]...\n"
    "Run COMMAND with the ctxvar runtime preloaded and an initial context.\n"
    "\n"
    "  --set NAME=VALUE     set variable NAME to VALUE in COMMAND's main thread\n"
    "                       (merged into BAGGAGE; may be repeated, last wins)\n"
    "  --baggage VALUE      merge the members of a W3C baggage value, already\n"
    "                       percent-encoded, into BAGGAGE (same key: last wins)\n"
    "  --traceparent VALUE  set TRACEPARENT to a valid W3C traceparent, such as\n"
    "                       00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>\n"
    "  --syslog             append the calling thread's context to the command's\n"
    "                       syslog(3) lines (sets CTXVAR_SYSLOG=1)\n"
    "  --http               send the calling thread's trace context and baggage\n"
    "                       with the command's libcurl requests (CTXVAR_HTTP=1)\n"
    "  --otel               publish the context to profilers (CTXVAR_OTEL=1):\n"
    "                       OpenTelemetry process and thread context\n"
    "  --                   end of options\n"
    "  --help               show this help and exit\n"
    "  --version            show the version and exit\n"
    "\n"
    "NAME is 1 to 64 bytes of [A-Za-z0-9_.-] starting with a letter or '_';\n"
    "VALUE is at most 4096 bytes.  --set and --baggage apply in command-line\n"
    "order.  The runtime is " RUNTIME_NAME " next to ctxrun or in ../lib, or the\n"
    "package's " PACKAGED_NAME " in ../lib/<multiarch>.\n"
    "CTXVAR_DEBUG=1 explains what is done on stderr.\n"
    "\n"
    "Exit status: COMMAND's, or 2 for a usage error, 126 if COMMAND cannot be\n"
    "run, 127 if it is not found.\n";


/* Prints "ctxrun: <before><arg escaped><after>" as one line and exits.  arg
 * may be NULL. */
static _Noreturn void fail(int status, const char *before, const char *arg,
                           size_t arg_len, const char *after)
{
    fputs("ctxrun: ", stderr);
    fputs(before, stderr);
    if (arg != NULL)
        put_escaped(arg, arg_len);
    fputs(after, stderr);
    fputc('\n', stderr);
    exit(status);
}

static _Noreturn void fail_usage(const char *before, const char *arg,
                                 const char *after)
{
    fail(EXIT_USAGE, before, arg, arg ? strlen(arg) : 0, after);
}

static _Noreturn void fail_nomem(void)
{
    fail(EXIT_CANNOT_RUN, "out of memory", NULL, 0, "");
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        fail_nomem();
    return p;
}

/* Writing --help or --version into a closed pipe or a full disk must not
 * look like success to a script. */
static _Noreturn void print_and_exit(const char *text)
{
    if (fputs(text, stdout) == EOF || fflush(stdout) == EOF || ferror(stdout))
        fail(EXIT_USAGE, "cannot write to stdout: ", strerror(errno),
             strlen(strerror(errno)), "");
    exit(0);
}

/* Finds the key of the baggage member member[0..len): the text before the
 * first '=' or ';', without the optional whitespace around it.  Returns
 * whether the member has a value at all ('=' comes first). */
static int member_key(const char *member, size_t len, const char **key,
                      size_t *key_len)
{
    size_t end = 0;
    while (end < len && member[end] != '=' && member[end] != ';')
        end++;
    size_t start = 0;
    while (start < end && ctxvar__w3c_is_ows(member[start]))
        start++;
    size_t stop = end;
    while (stop > start && ctxvar__w3c_is_ows(member[stop - 1]))
        stop--;
    *key = member + start;
    *key_len = stop - start;
    return end < len && member[end] == '=';
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!ctxvar__w3c_is_ows(s[i]))
            return 0;
    return 1;
}

/* Parses "NAME=VALUE" (the text after --set) into *out, or exits with a
 * usage error.  The value is never echoed: it may be a secret. */
static void parse_setting(const char *arg, struct setting *out)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL) /* not shown: it may be the value alone */
        fail_usage("--set expects NAME=VALUE; its argument has no '='", NULL, "");
    size_t name_len = (size_t)(eq - arg);
    /* Not shown either: a secret passed by mistake may hold '=' (base64). */
    if (!ctxvar__w3c_name_valid(arg, name_len))
        fail_usage("--set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with "
                   "a letter or '_'); not shown, as the argument may be a secret", NULL, "");
    /* The runtime never reads these from BAGGAGE: silently lost there. */
    if (ctxvar__w3c_is_trace_header(arg, name_len))
        fail(EXIT_USAGE, "--set: '", arg, name_len,
             "' travels in its own variable, not in BAGGAGE (--traceparent; TRACESTATE "
             "in the environment)");
    size_t value_len = strlen(eq + 1);
    if (value_len > CTXVAR_VALUE_MAX)
        fail(EXIT_USAGE, "value of '", arg, name_len,
             "' is longer than 4096 bytes");
    /* It travels as baggage, whose decoder replaces what is not UTF-8
     * (w3c.h, "UTF-8"): it must still fit once replaced. */
    if (ctxvar__w3c_repaired_length((const unsigned char *)eq + 1, value_len) > CTXVAR_VALUE_MAX)
        fail(EXIT_USAGE, "value of '", arg, name_len,
             "' is longer than 4096 bytes once its bytes that are not UTF-8 are replaced");
    out->name = arg;
    out->name_len = name_len;
    out->value = eq + 1;
}

/* Checks the value text[0..len) of the member named key the way the runtime
 * decodes it (baggage-octets, raw UTF-8, %HH escapes but not %00, at most
 * 4096 bytes once decoded and what is not UTF-8 replaced), or exits with a
 * usage error that names the key but never shows the value. */
static void check_baggage_value(const char *key, size_t key_len, const char *text,
                                size_t len)
{
    static unsigned char bytes[CTXVAR_VALUE_MAX];
    size_t decoded = 0;
    for (size_t i = 0; i < len; i++, decoded++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '%') {
            int hi = i + 2 < len ? ctxvar__w3c_hex_value((unsigned char)text[i + 1]) : -1;
            int lo = hi >= 0 ? ctxvar__w3c_hex_value((unsigned char)text[i + 2]) : -1;
            if (lo < 0)
                fail(EXIT_USAGE, "--baggage: value of '", key, key_len,
                     "' has a bad percent-escape");
            if (hi == 0 && lo == 0)
                fail(EXIT_USAGE, "--baggage: value of '", key, key_len,
                     "' holds an escaped NUL (%00)");
            i += 2;
            c = (unsigned char)(hi << 4 | lo);
        } else if (c < 0x80 && !ctxvar__w3c_is_baggage_octet(c)) {
            fail(EXIT_USAGE, "--baggage: value of '", key, key_len,
                 "' holds a byte that must be percent-encoded");
        }
        if (decoded == CTXVAR_VALUE_MAX)
            fail(EXIT_USAGE, "--baggage: value of '", key, key_len,
                 "' is longer than 4096 bytes once decoded");
        bytes[decoded] = c;
    }
    if (ctxvar__w3c_repaired_length(bytes, decoded) > CTXVAR_VALUE_MAX)
        fail(EXIT_USAGE, "--baggage: value of '", key, key_len,
             "' is longer than 4096 bytes once its bytes that are not UTF-8 are replaced");
}

/* Splits the W3C baggage value after --baggage into members, appending one
 * setting per non-blank member at settings[*n] (room for one per comma and
 * one more), or exits with a usage error for a member the runtime would
 * skip: no '=', a key that is not a variable name or is a trace header, a
 * value that is not properly encoded.  Each member is kept as given, with
 * the blanks around it removed; properties (";k=v") stay with it. */
static void parse_baggage(const char *arg, struct setting *settings, size_t *n)
{
    unsigned index = 1;
    for (const char *p = arg;; index++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && ctxvar__w3c_is_ows(*p)) {
            p++;
            len--;
        }
        while (len > 0 && ctxvar__w3c_is_ows(p[len - 1]))
            len--;
        if (len > 0) {
            const char *key;
            size_t key_len;
            if (!member_key(p, len, &key, &key_len)) {
                fprintf(stderr, "ctxrun: --baggage: member %u has no '=' (KEY=VALUE expected)\n",
                        index);
                exit(EXIT_USAGE);
            }
            if (!ctxvar__w3c_name_valid(key, key_len))
                fail(EXIT_USAGE, "--baggage: invalid variable name '", key, key_len,
                     "' (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_')");
            if (ctxvar__w3c_is_trace_header(key, key_len))
                fail(EXIT_USAGE, "--baggage: '", key, key_len,
                     "' travels in its own variable, not in BAGGAGE");
            const char *value = (const char *)memchr(p, '=', len) + 1;
            const char *props = memchr(value, ';', len - (size_t)(value - p));
            const char *value_end = props ? props : p + len;
            while (value < value_end && ctxvar__w3c_is_ows(*value))
                value++;
            while (value_end > value && ctxvar__w3c_is_ows(value_end[-1]))
                value_end--;
            check_baggage_value(key, key_len, value, (size_t)(value_end - value));
            settings[*n] = (struct setting){key, key_len, NULL, p, len};
            (*n)++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

/* The text after --traceparent, or a usage error naming it (a traceparent
 * is an id, not a secret).  Valid by the rule the runtime checks
 * TRACEPARENT with, and at most CTXVAR_VALUE_MAX bytes, the other check the
 * runtime makes there: a longer one it could not hold and would ignore. */
static const char *parse_traceparent(const char *arg)
{
    if (strlen(arg) > CTXVAR_VALUE_MAX || !ctxvar__w3c_traceparent_valid(arg))
        fail_usage("invalid traceparent '", arg,
                   "' (expected 00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zero)");
    return arg;
}

/* Room for every member the options can give: one per --set, one per
 * member of a --baggage value (at most its commas plus one). */
static size_t settings_room(int argc, char **argv)
{
    size_t room = (size_t)(argc > 0 ? argc : 1);
    for (int i = 1; i < argc; i++)
        for (const char *p = argv[i]; *p != '\0'; p++)
            room += *p == ',';
    return room;
}

/* The outlets that send the context out of the process, off unless asked
 * for: each flag sets its variable to 1 in COMMAND's environment, which
 * the runtime reads at load. */
static const struct {
    const char *flag, *variable;
} outlet_switches[] = {
    {"--syslog", "CTXVAR_SYSLOG"}, /* syslog(3) lines end with the context */
    {"--http", "CTXVAR_HTTP"},     /* libcurl requests carry trace headers */
    {"--otel", "CTXVAR_OTEL"},     /* profilers read OpenTelemetry's contexts */
};

/* 1 when arg is one of the switches, whose variable is then set. */
static int take_outlet_switch(const char *arg)
{
    for (size_t i = 0; i < sizeof outlet_switches / sizeof outlet_switches[0]; i++) {
        if (strcmp(arg, outlet_switches[i].flag) != 0) continue;
        if (setenv(outlet_switches[i].variable, "1", 1) != 0) fail_nomem();
        return 1;
    }
    return 0;
}

/* Reads the options into settings[] (room from settings_room) and
 * *traceparent (the last --traceparent, or NULL), and returns the index of
 * COMMAND in argv.  Options stop at the first non-option or "--" so that
 * COMMAND's own arguments, even ones spelled --set, are never ours. */
static int parse_options(int argc, char **argv, struct setting *settings,
                         size_t *n_settings, const char **traceparent)
{
    int i = 1;
    *n_settings = 0;
    *traceparent = NULL;
    while (i < argc) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')   /* "-" is a file name, not an option */
            break;
        if (strcmp(arg, "--help") == 0)
            print_and_exit(usage_text);
        if (strcmp(arg, "--version") == 0)
            print_and_exit("ctxrun (ctxvar) " CTXVAR_VERSION "\n");
        if (take_outlet_switch(arg)) {
            i += 1;
        } else if (strcmp(arg, "--set") == 0) {
            if (i + 1 >= argc)
                fail_usage("--set expects NAME=VALUE", NULL, "");
            parse_setting(argv[i + 1], &settings[(*n_settings)++]);
            i += 2;
        } else if (strncmp(arg, "--set=", 6) == 0) {
            parse_setting(arg + 6, &settings[(*n_settings)++]);
            i += 1;
        } else if (strcmp(arg, "--baggage") == 0) {
            if (i + 1 >= argc)
                fail_usage("--baggage expects a W3C baggage value", NULL, "");
            parse_baggage(argv[i + 1], settings, n_settings);
            i += 2;
        } else if (strncmp(arg, "--baggage=", 10) == 0) {
            parse_baggage(arg + 10, settings, n_settings);
            i += 1;
        } else if (strcmp(arg, "--traceparent") == 0) {
            if (i + 1 >= argc)
                fail_usage("--traceparent expects a W3C traceparent", NULL, "");
            *traceparent = parse_traceparent(argv[i + 1]);
            i += 2;
        } else if (strncmp(arg, "--traceparent=", 14) == 0) {
            *traceparent = parse_traceparent(arg + 14);
            i += 1;
        } else {
            fail_usage("unknown option '", arg, "' (try 'ctxrun --help')");
        }
    }
    if (i >= argc)
        fail_usage("missing COMMAND (try 'ctxrun --help')", NULL, "");
    return i;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The ways an LD_PRELOAD entry can name the runtime ctxrun found: the
 * 64-bit file by its own path, and where there is a runtime per word size,
 * the $LIB form ctxrun adds and its two expansions.  Each is PATH_MAX
 * bytes; unused ones are "". */
struct runtime_names {
    char plain[PATH_MAX];       /* <dir>/libctxvar.so, <prefix>/lib/libctxvar.so or
                                   <prefix>/<host $LIB>/libctxvar.so.1 */
    char token[PATH_MAX];       /* <base>/$LIB/libctxvar.so */
    char lib64[PATH_MAX];       /* <base>/CTXRUN_LIB64/libctxvar.so */
    char lib32[PATH_MAX];       /* <base>/CTXRUN_LIB32/libctxvar.so */
};

/* Fills the $LIB names in *names when base[0..base_len) holds a runtime
 * under each word size's $LIB directory, else leaves them "". */
static void find_lib_dirs(const char *base, size_t base_len, struct runtime_names *names)
{
#if HAVE_LIB_DIRS
    int b = (int)base_len;
    int l64 = snprintf(names->lib64, PATH_MAX, "%.*s/%s/%s", b, base, CTXRUN_LIB64, RUNTIME_NAME);
    int l32 = snprintf(names->lib32, PATH_MAX, "%.*s/%s/%s", b, base, CTXRUN_LIB32, RUNTIME_NAME);
    int lt = snprintf(names->token, PATH_MAX, "%.*s/%s/%s", b, base, LIB_TOKEN, RUNTIME_NAME);
    if (l64 > 0 && l64 < PATH_MAX && l32 > 0 && l32 < PATH_MAX && lt > 0 && lt < PATH_MAX &&
        is_regular_file(names->lib64) && is_regular_file(names->lib32))
        return;
#else
    (void)base;
    (void)base_len;
#endif
    names->token[0] = names->lib64[0] = names->lib32[0] = '\0';
}

/* Fills *names for the packaged runtime, <prefix>/<host $LIB>/
 * libctxvar.so.1, preloaded as <prefix>/$LIB/libctxvar.so.1, and returns 1
 * when that file is there (prefix: prefix[0..prefix_len)); else returns 0.
 * The $LIB form is used whether or not a runtime of the other word size is
 * installed: one added later is then found without a new ctxrun, and
 * without it a program of that size gets the loader's "cannot be
 * preloaded" line, as it gets "wrong ELF class" with the plain path. */
static int find_packaged(const char *prefix, size_t prefix_len, struct runtime_names *names)
{
#if HAVE_HOST_LIB
    int p = (int)prefix_len;
    int lp = snprintf(names->plain, PATH_MAX, "%.*s/%s/%s", p, prefix, CTXRUN_HOST_LIB,
                      PACKAGED_NAME);
    int lt = snprintf(names->token, PATH_MAX, "%.*s/%s/%s", p, prefix, LIB_TOKEN, PACKAGED_NAME);
    if (lp > 0 && lp < PATH_MAX && lt > 0 && lt < PATH_MAX && is_regular_file(names->plain)) {
        names->lib64[0] = names->lib32[0] = '\0';
        return 1;
    }
#else
    (void)prefix;
    (void)prefix_len;
#endif
    names->plain[0] = names->token[0] = names->lib64[0] = names->lib32[0] = '\0';
    return 0;
}

/* Fills *names for the runtime beside ctxrun, or exits with 126.
 * /proc/self/exe, not argv[0]: argv[0] is whatever the caller chose to put
 * there, and resolving it would mean searching PATH or the current
 * directory.  realpath() on top makes a symlink to ctxrun in another
 * directory find the library beside the real file. */
static void find_runtime(struct runtime_names *names)
{
    char link[PATH_MAX], exe[PATH_MAX];
    char *lib = names->plain;
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    if (n < 0 || (size_t)n >= sizeof link - 1)
        fail(EXIT_CANNOT_RUN, "cannot find own executable in /proc/self/exe",
             NULL, 0, "");
    link[n] = '\0';
    if (realpath(link, exe) == NULL)
        fail(EXIT_CANNOT_RUN, "cannot resolve own executable '", link,
             strlen(link), "'");

    /* exe is canonical, so its directory's parent is found by text alone and
     * the installed path reads /usr/local/lib/..., not .../bin/../lib/... */
    char *slash = strrchr(exe, '/');
    size_t dir_len = (size_t)(slash - exe);
    int len = snprintf(lib, PATH_MAX, "%.*s/%s", (int)dir_len, exe, RUNTIME_NAME);
    if (len > 0 && len < PATH_MAX && is_regular_file(lib)) {
        find_lib_dirs(exe, dir_len, names);
        return;
    }

    size_t parent_len = dir_len;
    while (parent_len > 0 && exe[parent_len - 1] != '/')
        parent_len--;
    if (parent_len > 0)
        parent_len--;                          /* drop the '/' itself */
    len = snprintf(lib, PATH_MAX, "%.*s/lib/%s", (int)parent_len, exe, RUNTIME_NAME);
    if (len > 0 && len < PATH_MAX && is_regular_file(lib)) {
        find_lib_dirs(exe, parent_len, names);
        return;
    }

    if (find_packaged(exe, parent_len, names))
        return;

    fail(EXIT_CANNOT_RUN, "cannot find " RUNTIME_NAME " next to ", exe,
         strlen(exe), "");
}

/* ld.so splits LD_PRELOAD on ':' and ' ' with no way to quote either. */
static int is_preload_separator(char c)
{
    return c == ':' || c == ' ';
}

static int preload_contains(const char *list, const char *path)
{
    size_t path_len = strlen(path);
    const char *p = list;
    while (*p != '\0') {
        while (is_preload_separator(*p))
            p++;
        const char *start = p;
        while (*p != '\0' && !is_preload_separator(*p))
            p++;
        if ((size_t)(p - start) == path_len && memcmp(start, path, path_len) == 0)
            return 1;
    }
    return 0;
}

/* 1 when an entry of `list` with a '/' in it (the loader looks for one
 * without in its library path, not here) is the file `st` describes: the
 * runtime by another name (its SONAME link libctxvar.so.1, a path with
 * ".." or a symbolic link in it). */
static int preload_names_file(const char *list, const struct stat *st)
{
    char entry[PATH_MAX];
    for (const char *p = list; *p != '\0';) {
        while (is_preload_separator(*p))
            p++;
        const char *start = p;
        while (*p != '\0' && !is_preload_separator(*p))
            p++;
        size_t len = (size_t)(p - start);
        struct stat other;
        if (len == 0 || len >= sizeof entry || !memchr(start, '/', len))
            continue;
        memcpy(entry, start, len);
        entry[len] = '\0';
        if (stat(entry, &other) == 0 && other.st_dev == st->st_dev && other.st_ino == st->st_ino)
            return 1;
    }
    return 0;
}

/* Sets LD_PRELOAD to its old value with the runtime appended (its $LIB
 * form where there is one, else its plain path), unless one of the names
 * of *names is already one of its entries, or an entry is one of its files
 * by another name: preloading the runtime twice is harmless but
 * pointless, and nested ctxrun calls should not grow it.  An entry naming
 * the 64-bit file by its plain path counts too: adding the $LIB form
 * after it would not keep its loader line from 32-bit programs, and the
 * user chose it. */
static void update_preload(const struct runtime_names *names)
{
    const char *lib = names->token[0] != '\0' ? names->token : names->plain;
    for (const char *p = lib; *p != '\0'; p++)
        if (is_preload_separator(*p))
            fail(EXIT_CANNOT_RUN, "cannot preload '", lib, strlen(lib),
                 "': the dynamic loader cannot take a path with ':' or ' '");

    const char *old = getenv("LD_PRELOAD");
    const char *const known[] = {names->plain, names->token, names->lib64, names->lib32};
    for (size_t i = 0; old != NULL && i < sizeof known / sizeof known[0]; i++) {
        struct stat st;
        if (known[i][0] != '\0' &&
            (preload_contains(old, known[i]) ||
             (known[i] != names->token && stat(known[i], &st) == 0 && preload_names_file(old, &st))))
            return;
    }
    if (old == NULL || old[0] == '\0') {
        if (setenv("LD_PRELOAD", lib, 1) != 0)
            fail_nomem();
        return;
    }
    size_t old_len = strlen(old), lib_len = strlen(lib);
    char *joined = xmalloc(old_len + 1 + lib_len + 1);
    memcpy(joined, old, old_len);
    joined[old_len] = ':';
    memcpy(joined + old_len + 1, lib, lib_len + 1);
    if (setenv("LD_PRELOAD", joined, 1) != 0)
        fail_nomem();
    free(joined);
}

/* ---- AddressSanitizer's link order -------------------------------------------
 *
 * A program built with gcc -fsanitize=address loads libasan.so as one of
 * its dependencies (clang -shared-libasan: libclang_rt.asan-<arch>.so),
 * which come after everything in LD_PRELOAD, and ASan's start-up check
 * then refuses to run it ("ASan runtime does not come first in initial
 * library list") although it works behind the runtime:
 * the runtime defines none of the allocation functions ASan must see
 * first, and every function it does interpose goes on to the next
 * definition, ASan's.  For such a command, ctxrun adds
 * verify_asan_link_order=0 to ASAN_OPTIONS (children the command starts
 * inherit it), unless the caller's ASAN_OPTIONS says otherwise.  Any other
 * command's environment stays as it was; a program whose sanitizer is
 * linked into it (clang's default) or preloaded first needs nothing. */

/* Reads exactly size bytes at offset; 0 on a short read or an error. */
static int read_at(int fd, void *buf, size_t size, uint64_t offset)
{
    if (offset > (uint64_t)INT64_MAX) return 0;
    char *p = buf;
    while (size > 0) {
        ssize_t got = pread(fd, p, size, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        p += got;
        size -= (size_t)got;
        offset += (uint64_t)got;
    }
    return 1;
}

/* An ELF file's headers as 64-bit numbers, whichever its class. */
struct elf_segment {
    uint32_t type;
    uint64_t offset, vaddr, filesz;
};

/* Program header i of the file, or 0. */
static int elf_segment(int fd, int is64, uint64_t phoff, unsigned i, struct elf_segment *seg)
{
    if (is64) {
        Elf64_Phdr ph;
        if (!read_at(fd, &ph, sizeof ph, phoff + (uint64_t)i * sizeof ph)) return 0;
        *seg = (struct elf_segment){ph.p_type, ph.p_offset, ph.p_vaddr, ph.p_filesz};
    } else {
        Elf32_Phdr ph;
        if (!read_at(fd, &ph, sizeof ph, phoff + (uint64_t)i * sizeof ph)) return 0;
        *seg = (struct elf_segment){ph.p_type, ph.p_offset, ph.p_vaddr, ph.p_filesz};
    }
    return 1;
}

/* Whether the ELF file open on fd names an ASan runtime among its
 * DT_NEEDED entries.  Anything unexpected (another byte order, a truncated
 * or odd file, a script) answers no: the command then runs as it would
 * have. */
static int elf_needs_asan(int fd)
{
    unsigned char ident[EI_NIDENT];
    if (!read_at(fd, ident, sizeof ident, 0) || memcmp(ident, ELFMAG, SELFMAG) != 0) return 0;
    int is64 = ident[EI_CLASS] == ELFCLASS64;
    if (!is64 && ident[EI_CLASS] != ELFCLASS32) return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (ident[EI_DATA] != ELFDATA2MSB) return 0;
#else
    if (ident[EI_DATA] != ELFDATA2LSB) return 0;
#endif

    uint64_t phoff;
    unsigned phnum, phentsize;
    if (is64) {
        Elf64_Ehdr eh;
        if (!read_at(fd, &eh, sizeof eh, 0)) return 0;
        phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
    } else {
        Elf32_Ehdr eh;
        if (!read_at(fd, &eh, sizeof eh, 0)) return 0;
        phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
    }
    if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr))) return 0;

    /* The dynamic section, and the file offset of the string table it
     * names: the load segment that maps the table's address holds it. */
    struct elf_segment dynamic = {0, 0, 0, 0};
    for (unsigned i = 0; i < phnum; i++) {
        struct elf_segment seg;
        if (!elf_segment(fd, is64, phoff, i, &seg)) return 0;
        if (seg.type == PT_DYNAMIC) dynamic = seg;
    }
    size_t dynsize = is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
    if (dynamic.type != PT_DYNAMIC || dynamic.filesz / dynsize > 4096) return 0;
    size_t count = (size_t)(dynamic.filesz / dynsize);
    uint64_t strtab = 0, needed[64];
    size_t n_needed = 0;
    int have_strtab = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t tag, val;
        if (is64) {
            Elf64_Dyn d;
            if (!read_at(fd, &d, sizeof d, dynamic.offset + i * sizeof d)) return 0;
            tag = (uint64_t)d.d_tag, val = d.d_un.d_val;
        } else {
            Elf32_Dyn d;
            if (!read_at(fd, &d, sizeof d, dynamic.offset + i * sizeof d)) return 0;
            tag = (uint64_t)(uint32_t)d.d_tag, val = d.d_un.d_val;
        }
        if (tag == DT_NULL) break;
        if (tag == DT_STRTAB) strtab = val, have_strtab = 1;
        if (tag == DT_NEEDED && n_needed < sizeof needed / sizeof needed[0])
            needed[n_needed++] = val;
    }
    if (!have_strtab || n_needed == 0) return 0;
    uint64_t strtab_offset = 0;
    int mapped = 0;
    for (unsigned i = 0; i < phnum && !mapped; i++) {
        struct elf_segment seg;
        if (!elf_segment(fd, is64, phoff, i, &seg)) return 0;
        if (seg.type == PT_LOAD && strtab >= seg.vaddr && strtab - seg.vaddr < seg.filesz) {
            strtab_offset = seg.offset + (strtab - seg.vaddr);
            mapped = 1;
        }
    }
    if (!mapped) return 0;
    /* GCC's shared ASan runtime, and clang's (-shared-libasan). */
    static const char *const asan[] = {"libasan.so", "libclang_rt.asan"};
    for (size_t i = 0; i < n_needed; i++) {
        if (needed[i] > (uint64_t)INT64_MAX - strtab_offset) continue;
        /* A name may end, and the file with it, before 32 bytes. */
        char name[32];
        ssize_t got;
        do got = pread(fd, name, sizeof name, (off_t)(strtab_offset + needed[i]));
        while (got < 0 && errno == EINTR);
        for (size_t k = 0; got > 0 && k < sizeof asan / sizeof asan[0]; k++)
            if ((size_t)got >= strlen(asan[k]) && memcmp(name, asan[k], strlen(asan[k])) == 0)
                return 1;
    }
    return 0;
}

/* The file execvp will run for command, searched in PATH as it does (its
 * default path when PATH is unset), written to path; 0 when none is found. */
static int find_command(const char *command, char *path, size_t size)
{
    if (strchr(command, '/')) {
        if (strlen(command) >= size) return 0;
        strcpy(path, command);
        return 1;
    }
    const char *dirs = getenv("PATH");
    if (dirs == NULL) dirs = "/bin:/usr/bin";
    size_t command_len = strlen(command);
    for (const char *dir = dirs;; dir++) {
        const char *end = strchr(dir, ':');
        size_t len = end ? (size_t)(end - dir) : strlen(dir);
        /* An empty entry is the current directory, as execvp reads it. */
        const char *base = len ? dir : ".";
        size_t base_len = len ? len : 1;
        if (base_len + 1 + command_len < size) {
            memcpy(path, base, base_len);
            path[base_len] = '/';
            memcpy(path + base_len + 1, command, command_len + 1);
            if (is_regular_file(path) && access(path, X_OK) == 0) return 1;
        }
        if (!end) return 0;
        dir = end;
    }
}

/* Whether a sanitizer's option list sets name: ASan splits it on spaces,
 * commas, colons and line ends. */
static int sanitizer_option_set(const char *options, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *p = options; *p != '\0'; p++) {
        int at_start = p == options || strchr(" ,:\t\r\n", p[-1]) != NULL;
        if (at_start && strncmp(p, name, name_len) == 0 && p[name_len] == '=') return 1;
    }
    return 0;
}

static void let_asan_run_behind_the_runtime(const char *command)
{
    static char path[PATH_MAX];
    const char *old = getenv("ASAN_OPTIONS");
    if (old != NULL && sanitizer_option_set(old, "verify_asan_link_order")) return;
    if (!find_command(command, path, sizeof path)) return;
    /* Only a regular file is opened (a device may act on an open, a FIFO
     * would block it), and it is checked again once open; execvp reports
     * on the rest.  A file that can be run but not read (mode 711) is not
     * looked at. */
    if (!is_regular_file(path)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    int needs = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && elf_needs_asan(fd);
    close(fd);
    if (!needs) return;
    static const char option[] = "verify_asan_link_order=0";
    if (old == NULL || old[0] == '\0') {
        if (setenv("ASAN_OPTIONS", option, 1) != 0) fail_nomem();
        return;
    }
    size_t old_len = strlen(old);
    char *joined = xmalloc(old_len + 1 + sizeof option);
    memcpy(joined, old, old_len);
    joined[old_len] = ':';
    memcpy(joined + old_len + 1, option, sizeof option);
    if (setenv("ASAN_OPTIONS", joined, 1) != 0) fail_nomem();
    free(joined);
}

/* Whether c goes into BAGGAGE as it is: a baggage-octet other than '%',
 * which must be encoded too, or a literal "%41" would decode to "A" on the
 * other side.  The runtime's encoder makes the same choice. */
static int is_plain_octet(unsigned char c)
{
    return ctxvar__w3c_is_baggage_octet(c) && c != '%';
}

/* Appends the percent-encoding of value at out; returns the new end. */
static char *append_encoded(char *out, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (is_plain_octet(*p)) {
            *out++ = (char)*p;
        } else {
            *out++ = '%';
            *out++ = hex[*p >> 4];
            *out++ = hex[*p & 0x0F];
        }
    }
    return out;
}

/* Whether some setting in settings[from..n) is called name[0..len). */
static int is_set_from(const struct setting *settings, size_t from, size_t n,
                       const char *name, size_t len)
{
    for (size_t i = from; i < n; i++)
        if (settings[i].name_len == len && memcmp(settings[i].name, name, len) == 0)
            return 1;
    return 0;
}

/* Returns the new BAGGAGE (caller frees): the old members whose key no
 * setting names, byte for byte, then each setting in command line order
 * (NAME=ENCODED for a --set, the member as given for a --baggage), a
 * repeated NAME appearing once, where it was given last, as if each setting
 * replaced the members before it.  Blank members are dropped because they
 * are not members (W3C forbids empty list entries). */
static char *merge_baggage(const char *old, const struct setting *settings,
                           size_t n)
{
    size_t size = (old ? strlen(old) : 0) + 1;
    for (size_t i = 0; i < n; i++)
        size += settings[i].value ? settings[i].name_len + 2 + 3 * strlen(settings[i].value)
                                  : settings[i].text_len + 1;
    char *merged = xmalloc(size);
    char *out = merged;

    for (const char *p = old; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *key;
        size_t key_len;
        member_key(p, len, &key, &key_len);
        if (!is_blank(p, len) && !is_set_from(settings, 0, n, key, key_len)) {
            if (out != merged)
                *out++ = ',';
            memcpy(out, p, len);
            out += len;
        }
        p = comma ? comma + 1 : p + len;
    }

    for (size_t i = 0; i < n; i++) {
        if (is_set_from(settings, i + 1, n, settings[i].name, settings[i].name_len))
            continue;
        if (out != merged)
            *out++ = ',';
        if (settings[i].value == NULL) {
            memcpy(out, settings[i].text, settings[i].text_len);
            out += settings[i].text_len;
            continue;
        }
        memcpy(out, settings[i].name, settings[i].name_len);
        out += settings[i].name_len;
        *out++ = '=';
        out = append_encoded(out, settings[i].value);
    }
    *out = '\0';
    return merged;
}

/* Under CTXVAR_DEBUG=1: the final LD_PRELOAD, and the keys of the final
 * BAGGAGE.  Only keys: values are often tokens or user data, and debug
 * output ends up in CI logs.  A member without '=' is malformed and its text
 * could be anything, so it is not shown at all. */
static void debug_report(void)
{
    const char *debug = secure_getenv("CTXVAR_DEBUG");
    if (debug == NULL || strcmp(debug, "1") != 0)
        return;

    const char *preload = getenv("LD_PRELOAD");
    fputs("ctxvar: LD_PRELOAD=", stderr);
    put_escaped(preload, strlen(preload));
    fputc('\n', stderr);

    const char *baggage = getenv("BAGGAGE");
    if (baggage == NULL) {
        fputs("ctxvar: BAGGAGE unset\n", stderr);
        return;
    }
    fputs("ctxvar: BAGGAGE keys:", stderr);
    const char *sep = " ";
    for (const char *p = baggage; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *key;
        size_t key_len;
        if (member_key(p, len, &key, &key_len)) {
            fputs(sep, stderr);
            put_escaped(key, key_len);
            sep = ",";
        }
        p = comma ? comma + 1 : p + len;
    }
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    struct setting *settings = xmalloc(sizeof *settings * settings_room(argc, argv));
    size_t n_settings;
    const char *traceparent;
    int command = parse_options(argc, argv, settings, &n_settings, &traceparent);

    /* Static: four PATH_MAX paths, 16 KiB, stay off the stack. */
    static struct runtime_names names;
    find_runtime(&names);
    update_preload(&names);
    let_asan_run_behind_the_runtime(argv[command]);

    /* Without a member to merge, BAGGAGE is the caller's business: left
     * byte for byte, and unset stays unset rather than becoming "". */
    if (n_settings > 0) {
        char *baggage = merge_baggage(getenv("BAGGAGE"), settings, n_settings);
        if (setenv("BAGGAGE", baggage, 1) != 0)
            fail_nomem();
        free(baggage);
    }
    free(settings);
    /* TRACESTATE is the caller's: it is passed on as it is. */
    if (traceparent != NULL && setenv("TRACEPARENT", traceparent, 1) != 0)
        fail_nomem();

    debug_report();

    execvp(argv[command], &argv[command]);

    int err = errno;
    const char *name = argv[command];
    fputs("ctxrun: ", stderr);
    put_escaped(name, strlen(name));
    fprintf(stderr, ": %s\n", strerror(err));
    /* As the shells say: not found, also when a name searched for in PATH
     * is too long to be any file there. */
    if (err == ENOENT || err == ENOTDIR || (err == ENAMETOOLONG && !strchr(name, '/')))
        return EXIT_NOT_FOUND;
    return EXIT_CANNOT_RUN;
}
