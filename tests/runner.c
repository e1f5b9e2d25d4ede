/* runner.c - runs the C tests of test-list.h, each in its own process.
 *
 *   build/tests/runner                 every test, TAP on stdout
 *   build/tests/runner NAME...         only these
 *   build/tests/runner --list          the names, one a line
 *   build/tests/runner --one NAME       run NAME in this process (what the
 *                                      runner execs for each test)
 *
 * For each test the runner forks and execs itself with `--one NAME` in a fresh
 * process group, with the environment of the test's mode:
 *
 *   RUNTIME      LD_PRELOAD=$CTXVAR_TEST_PRELOAD, by default the absolute path
 *                of libctxvar.so in the parent of the runner's directory
 *                (build/tests/runner -> build/libctxvar.so).  `make check`
 *                sets it to the sanitizer runtime, then a sanitized runtime.
 *   NO_RUNTIME   LD_PRELOAD = $CTXVAR_TEST_PRELOAD without its libctxvar
 *                entries (so only a sanitizer runtime, if any), else unset.
 *
 * plus the test's own variables (test-list.h); BAGGAGE, CTXVAR_INHERIT and
 * CTXVAR_DEBUG from the caller's environment never leak in.  A test passes
 * when its process exits 0 within the timeout (CTXVAR_TEST_TIMEOUT seconds,
 * default 30) having written nothing on stdout (the contract: the runtime
 * never prints there).  The test's stderr is kept and shown after a failure
 * (or always with CTXVAR_TEST_VERBOSE=1), each line prefixed "# ".  A test
 * that exits with status 77 (test_skip) is reported "ok N - name # skip WHY".
 * Exit status: 0 when every test passed, 1 otherwise, 2 for a usage error.
 */
#include "test.h"

#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test_entry {
    const char *name;
    void (*fn)(void);
    enum test_mode mode;
    const char *env; /* "NAME=VALUE" lines separated by '\n', or NULL */
};

#define TEST(name, mode, env) void test_##name(void);
#include "test-list.h"
#undef TEST

static const struct test_entry tests[] = {
#define TEST(name, mode, env) {#name, test_##name, mode, env},
#include "test-list.h"
#undef TEST
};
#define NTESTS (sizeof tests / sizeof tests[0])

static const struct test_entry *find_test(const char *name)
{
    for (size_t i = 0; i < NTESTS; i++)
        if (strcmp(tests[i].name, name) == 0) return &tests[i];
    return NULL;
}

/* --one NAME: runs the test here.  The mode is checked first, so that a test
 * meant for the runtime never passes vacuously without it. */
static int run_one(const char *name)
{
    const struct test_entry *t = find_test(name);
    if (!t) {
        fprintf(stderr, "runner: no test named %s\n", name);
        return 2;
    }
    if (t->mode == RUNTIME && !ctxvar_runtime_present()) {
        const char *p = getenv("LD_PRELOAD");
        fprintf(stderr, "runner: %s needs the runtime, not loaded (LD_PRELOAD=%s)\n", name,
                p ? p : "(unset)");
        return 1;
    }
    if (t->mode == NO_RUNTIME && ctxvar_runtime_present()) {
        fprintf(stderr, "runner: %s needs no runtime, but one is loaded\n", name);
        return 1;
    }
    t->fn();
    return 0;
}

static char self[PATH_MAX];
static char default_preload[PATH_MAX];
static const char *preload;      /* for RUNTIME tests */
static char *bare_preload;       /* for NO_RUNTIME tests; NULL = unset */
static double timeout_s = 30;

static void find_paths(void)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("runner: /proc/self/exe");
        exit(2);
    }
    self[n] = '\0';
    /* <dir of the runner>/../libctxvar.so, made absolute. */
    char guess[PATH_MAX];
    snprintf(guess, sizeof guess, "%s", self);
    char *slash = strrchr(guess, '/');
    if (slash) *slash = '\0';
    strncat(guess, "/../libctxvar.so", sizeof guess - strlen(guess) - 1);
    if (!realpath(guess, default_preload)) snprintf(default_preload, sizeof default_preload, "%s", guess);

    preload = getenv("CTXVAR_TEST_PRELOAD");
    if (!preload || !*preload) preload = default_preload;

    /* The preload list minus every libctxvar entry. */
    size_t len = strlen(preload);
    bare_preload = calloc(1, len + 1);
    char *copy = strdup(preload);
    if (!bare_preload || !copy) exit(2);
    for (char *save = NULL, *item = strtok_r(copy, ": ", &save); item;
         item = strtok_r(NULL, ": ", &save)) {
        const char *base = strrchr(item, '/');
        base = base ? base + 1 : item;
        if (strncmp(base, "libctxvar", 9) == 0) continue;
        if (*bare_preload) strcat(bare_preload, ":");
        strcat(bare_preload, item);
    }
    free(copy);
    if (!*bare_preload) {
        free(bare_preload);
        bare_preload = NULL;
    }

    const char *t = getenv("CTXVAR_TEST_TIMEOUT");
    if (t && atof(t) > 0) timeout_s = atof(t);
}

/* In the forked child: the test's environment, then exec --one NAME. */
static void exec_test(const struct test_entry *t, int out_fd, int err_fd)
{
    setpgid(0, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    unsetenv("BAGGAGE");
    unsetenv("CTXVAR_INHERIT");
    unsetenv("CTXVAR_DEBUG");
    if (t->mode == RUNTIME) setenv("LD_PRELOAD", preload, 1);
    else if (bare_preload) setenv("LD_PRELOAD", bare_preload, 1);
    else unsetenv("LD_PRELOAD");
    if (t->env) {
        char *env = strdup(t->env);
        for (char *save = NULL, *line = strtok_r(env, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (!eq) continue;
            *eq = '\0';
            setenv(line, eq + 1, 1);
        }
        /* env stays allocated: setenv copied, and exec follows. */
    }
    char *argv[] = {self, (char *)"--one", (char *)t->name, NULL};
    execv(self, argv);
    fprintf(stderr, "runner: exec %s: %s\n", self, strerror(errno));
    _exit(127);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(int fd, size_t *len)
{
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = malloc(size > 0 ? (size_t)size + 1 : 1);
    if (!text) exit(2);
    ssize_t got = size > 0 ? pread(fd, text, (size_t)size, 0) : 0;
    *len = got > 0 ? (size_t)got : 0;
    text[*len] = '\0';
    return text;
}

static void show_as_comments(const char *text)
{
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        int n = end ? (int)(end - line) : (int)strlen(line);
        fprintf(stderr, "# %.*s\n", n, line);
        line += n + (end ? 1 : 0);
    }
}

/* Runs one test in a child process; prints its TAP line; returns 1 if ok. */
static int run_child(const struct test_entry *t, int number, int verbose)
{
    int out_fd = memfd_create("test-stdout", 0), err_fd = memfd_create("test-stderr", 0);
    if (out_fd < 0 || err_fd < 0) {
        perror("runner: memfd_create");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        exit(2);
    }
    if (pid == 0) exec_test(t, out_fd, err_fd);
    setpgid(pid, pid);

    double deadline = now() + timeout_s;
    int status = 0, timed_out = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            perror("runner: waitpid");
            exit(2);
        }
        if (now() > deadline) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL); /* strays the test forked, if any */

    size_t out_len, err_len;
    char *out = slurp(out_fd, &out_len), *err = slurp(err_fd, &err_len);
    close(out_fd);
    close(err_fd);

    char why[128] = "";
    if (timed_out)
        snprintf(why, sizeof why, " # timeout after %g s", timeout_s);
    else if (WIFSIGNALED(status))
        snprintf(why, sizeof why, " # killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP_STATUS && out_len == 0)
        snprintf(why, sizeof why, " # skip %.*s", (int)strcspn(err, "\n"), err);
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        snprintf(why, sizeof why, " # exit status %d", WEXITSTATUS(status));
    else if (out_len > 0)
        snprintf(why, sizeof why, " # wrote %zu bytes to stdout", out_len);
    int skipped = strncmp(why, " # skip", 7) == 0;
    int ok = why[0] == '\0' || skipped;

    printf("%sok %d - %s%s\n", ok ? "" : "not ", number, t->name, why);
    fflush(stdout);
    if ((!ok || verbose) && !skipped) {
        show_as_comments(err);
        if (out_len) {
            fprintf(stderr, "# stdout:\n");
            show_as_comments(out);
        }
        fflush(stderr);
    }
    free(out);
    free(err);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--one") == 0) return run_one(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc >= 2 && argv[1][0] == '-') {
        fprintf(stderr, "usage: %s [--list | --one NAME | NAME...]\n", argv[0]);
        return 2;
    }

    find_paths();
    const char *v = getenv("CTXVAR_TEST_VERBOSE");
    int verbose = v && strcmp(v, "1") == 0;

    const struct test_entry **selected = calloc(NTESTS + (size_t)argc, sizeof *selected);
    size_t count = 0;
    if (!selected) return 2;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const struct test_entry *t = find_test(argv[i]);
            if (!t) {
                fprintf(stderr, "runner: no test named %s (see --list)\n", argv[i]);
                return 2;
            }
            selected[count++] = t;
        }
    } else {
        for (size_t i = 0; i < NTESTS; i++) selected[count++] = &tests[i];
    }

    printf("1..%zu\n", count);
    fprintf(stderr, "# runtime tests preload: %s\n", preload);
    int failed = 0;
    for (size_t i = 0; i < count; i++)
        if (!run_child(selected[i], (int)i + 1, verbose)) failed++;
    if (failed) fprintf(stderr, "# %d of %zu tests failed\n", failed, count);
    free(selected);
    free(bare_preload);
    return failed ? 1 : 0;
}
