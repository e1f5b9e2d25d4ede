/* spawn_encoding CASES [SEED] - the BAGGAGE a child gets is exactly what
 * ctxvar_baggage_current gives, for CASES pseudo-random contexts.
 *
 * The runtime chooses a child's members without sorting the whole context
 * (it keeps only the first names that can be carried); this checks it
 * against the API's encoder, which sorts everything.  Each case runs in a
 * fresh empty context (ctxvar_run(NULL, ...)) and sets 0 to 400 variables:
 * names drawn from a small space (so some repeat, and replace), a few
 * private ones (_p...) and traceparent/tracestate; values of 0 to 4,096
 * bytes of every kind the encoder escapes (space, '%', ',', ';', '"', '\',
 * bytes >= 0x80), long enough that the 8,192-byte limit drops members and
 * later ones still fit.  Then it spawns sh -c 'printf %s "${BAGGAGE-}"' with
 * environ and compares.
 *
 * Prints "cases: N, with members dropped: D, reaching past the first 64
 * names: P, differing: K" and, for each
 * differing case, its number with the two texts' lengths.  Exit 0.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctxvar.h"

extern char **environ;

static unsigned long long state;

static unsigned next_random(unsigned below)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((state >> 33) % below);
}

static char value[CTXVAR_VALUE_MAX + 1];

static const char *random_value(void)
{
    static const char bytes[] = "abcXYZ019-_.~ %,;\"\\=/:\xc3\xa9\xff\x7f\t";
    unsigned kind = next_random(10), len;
    if (kind < 6) len = next_random(12);
    else if (kind < 8) len = 100 + next_random(400);
    else len = 1500 + next_random(CTXVAR_VALUE_MAX - 1500 + 1);
    for (unsigned i = 0; i < len; i++) value[i] = bytes[next_random(sizeof bytes - 1)];
    value[len] = '\0';
    return value;
}

/* The child's BAGGAGE ("" when unset), read through a pipe. */
static char *child_baggage(void)
{
    static char *argv[] = {"sh", "-c", "printf %s \"${BAGGAGE-}\"", NULL};
    int fds[2];
    if (pipe(fds) != 0) return NULL;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    pid_t pid;
    int err = posix_spawn(&pid, "/bin/sh", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    size_t size = 4 * CTXVAR_BAGGAGE_MAX_BYTES, len = 0;
    char *text = malloc(size + 1);
    ssize_t n;
    while (!err && text && (n = read(fds[0], text + len, size - len)) > 0) len += (size_t)n;
    close(fds[0]);
    if (!err) waitpid(pid, NULL, 0);
    if (text) text[len] = '\0';
    return err ? NULL : text;
}

struct result {
    int differs, dropped, past_first;
    size_t ours, childs;
};

/* Counts the exportable names before `last` (a member name) in name order. */
struct rank {
    const char *last;
    size_t len, before;
};

static int count_before(const char *name, const char *v, void *arg)
{
    struct rank *r = arg;
    (void)v;
    if (strlen(name) == r->len && memcmp(name, r->last, r->len) == 0) return 1;
    if (name[0] != '_' && strcmp(name, "traceparent") != 0 && strcmp(name, "tracestate") != 0)
        r->before++;
    return 0;
}

/* 1 when the encoding carries a member beyond the first 64 exportable
 * names: one of those was dropped for its length, and a later one fit. */
static int reaches_past_first(const char *encoded)
{
    const char *comma = strrchr(encoded, ','), *last = comma ? comma + 1 : encoded;
    const char *eq = strchr(last, '=');
    if (!eq) return 0;
    struct rank r = {last, (size_t)(eq - last), 0};
    ctxvar_ctx *c = ctxvar_capture();
    ctxvar_ctx_foreach(c, count_before, &r);
    ctxvar_release(c);
    return r.before >= CTXVAR_BAGGAGE_MAX_MEMBERS;
}

static void *one_case(void *arg)
{
    struct result *r = arg;
    unsigned count = next_random(401);
    char name[32];
    for (unsigned i = 0; i < count; i++) {
        unsigned which = next_random(100);
        if (which < 4) snprintf(name, sizeof name, "_p%u", next_random(50));
        else if (which == 4) snprintf(name, sizeof name, "traceparent");
        else if (which == 5) snprintf(name, sizeof name, "tracestate");
        else snprintf(name, sizeof name, "k%03u", next_random(600));
        ctxvar_set(ctxvar_named(name), random_value(), NULL);
    }
    size_t dropped = 0, len = (size_t)ctxvar_baggage_current(NULL, 0, &dropped);
    char *expected = malloc(len + 1);
    ctxvar_baggage_current(expected, len + 1, NULL);
    char *got = child_baggage();
    r->dropped = dropped > 0;
    r->past_first = expected && reaches_past_first(expected);
    r->ours = len;
    r->childs = got ? strlen(got) : 0;
    r->differs = !expected || !got || strcmp(expected, got) != 0;
    free(expected);
    free(got);
    return NULL;
}

int main(int argc, char **argv)
{
    int cases = argc > 1 ? atoi(argv[1]) : 100;
    state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    int dropped = 0, past_first = 0, differing = 0;
    for (int i = 0; i < cases; i++) {
        struct result r;
        ctxvar_run(NULL, one_case, &r);
        dropped += r.dropped;
        past_first += r.past_first;
        if (r.differs) {
            differing++;
            printf("case %d differs: ctxvar_baggage_current %zu bytes, child %zu bytes\n", i,
                   r.ours, r.childs);
        }
    }
    printf("cases: %d, with members dropped: %d, reaching past the first 64 names: %d, "
           "differing: %d\n", cases, dropped, past_first, differing);
    return 0;
}
