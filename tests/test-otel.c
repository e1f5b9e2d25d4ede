/* test-otel.c - the thread context records profilers read (CTXVAR_OTEL=1),
 * seen from inside the process: after each way a thread's context changes,
 * the thread's otel_thread_ctx_v1 points at a record of exactly the new
 * context.  (Readers outside the process, gdb and tests/otel_reader.py, are
 * in bats/otel.bats.)
 *
 * dlsym() of a TLS symbol gives the calling thread's instance, so each
 * thread finds its own pointer.  A record is decoded into
 * "trace=HEX span=HEX flags=HEX INDEX=VALUE ..." (the key index, not the
 * name: in a test's fresh process the key map gives indexes in the order
 * variables first appear in a record, so they are known), or "none" for a
 * NULL pointer.
 */
#include "test.h"

#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#define TP_A "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TRACE_A "trace=0af7651916cd43dd8448eb211c80319c span=b7ad6b7169203331 flags=01"

static void *const *pointer_of_this_thread(void)
{
    void *const *slot = dlsym(RTLD_DEFAULT, "otel_thread_ctx_v1");
    ASSERT_NOT_NULL(slot);
    return slot;
}

static const unsigned char *record(void) { return *pointer_of_this_thread(); }

/* The calling thread's record as text, in buf. */
static const char *describe(char *buf, size_t size)
{
    const unsigned char *r = record();
    if (!r) return "none";
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    int any_id = 0;
    for (int i = 0; i < 24; i++) any_id |= r[i];
    ASSERT_INT(1, r[24]); /* valid */
    if (any_id) {
        n += (size_t)snprintf(buf + n, size - n, "trace=");
        for (int i = 0; i < 16; i++) n += (size_t)snprintf(buf + n, size - n, "%c%c", hex[r[i] >> 4], hex[r[i] & 15]);
        n += (size_t)snprintf(buf + n, size - n, " span=");
        for (int i = 16; i < 24; i++) n += (size_t)snprintf(buf + n, size - n, "%c%c", hex[r[i] >> 4], hex[r[i] & 15]);
        n += (size_t)snprintf(buf + n, size - n, " flags=%02x", r[25]);
    }
    uint16_t attrs;
    memcpy(&attrs, r + 26, 2);
    for (size_t i = 0; i + 2 <= attrs;) {
        unsigned index = r[28 + i], len = r[29 + i];
        ASSERT(i + 2 + len <= attrs);
        n += (size_t)snprintf(buf + n, size - n, "%s%u=%.*s", n ? " " : "", index, (int)len,
                              (const char *)r + 30 + i);
        i += 2 + len;
    }
    buf[n] = '\0';
    return buf;
}

#define ASSERT_RECORD(expected)                                                 \
    do {                                                                        \
        char described_[2048];                                                  \
        ASSERT_STR(expected, describe(described_, sizeof described_));          \
    } while (0)

static ctxvar *var(const char *name) { return ctxvar_named(name); }

TEST_IMPL(otel_pointer_follows_set_and_reset)
{
    ASSERT_RECORD("none");
    ctxvar_token t1, t2;
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r1", &t1));
    ASSERT_RECORD("0=r1");
    ASSERT_INT(0, ctxvar_set_traceparent(TP_A, NULL));
    ASSERT_RECORD(TRACE_A " 0=r1");
    ASSERT_INT(0, ctxvar_set(var("user_id"), "alice", &t2));
    ASSERT_RECORD(TRACE_A " 0=r1 1=alice");
    ASSERT_INT(0, ctxvar_set(var("_private"), "hidden", NULL));
    ASSERT_RECORD(TRACE_A " 0=r1 1=alice");
    ASSERT_INT(0, ctxvar_reset(&t2));
    ASSERT_RECORD(TRACE_A " 0=r1");
    ASSERT_INT(0, ctxvar_set(var("traceparent"), NULL, NULL));
    ASSERT_INT(0, ctxvar_set(var("_private"), NULL, NULL));
    ASSERT_RECORD("0=r1");
    ASSERT_INT(0, ctxvar_reset(&t1));
    ASSERT_RECORD("none");
}

TEST_IMPL(otel_context_of_private_variables_only_points_at_null)
{
    ASSERT_INT(0, ctxvar_set(var("_secret"), "s", NULL));
    ASSERT_RECORD("none");
    /* An invalid traceparent is not shown; the variable stays an ordinary
     * value, never an attribute (it has its own fields). */
    ASSERT_INT(0, ctxvar_set(var("traceparent"), "not-a-traceparent", NULL));
    ASSERT_RECORD("none");
}

TEST_IMPL(otel_pointer_follows_scope_swap_and_clear)
{
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r1", NULL));
    CTXVAR_SCOPE(var("user_id"), "bob") { ASSERT_RECORD("0=r1 1=bob"); }
    ASSERT_RECORD("0=r1");
    ctxvar_token tok;
    ASSERT_INT(0, ctxvar_set(var("tenant"), "acme", &tok));
    ctxvar_ctx *acme = ctxvar_capture();
    ASSERT_INT(0, ctxvar_reset(&tok));
    ASSERT_RECORD("0=r1");
    ctxvar_ctx *mine = ctxvar_swap(acme);
    ASSERT_RECORD("0=r1 2=acme");
    ctxvar_ctx *back = ctxvar_swap(NULL);
    ASSERT_RECORD("none");
    ctxvar_release(back);
    ctxvar_release(ctxvar_swap(mine));
    ASSERT_RECORD("0=r1");
    ctxvar_clear();
    ASSERT_RECORD("none");
}

static void *in_run(void *arg)
{
    (void)arg;
    ASSERT_RECORD("0=r2 1=carol");
    ASSERT_INT(0, ctxvar_set(var("user_id"), "dave", NULL));
    ASSERT_RECORD("0=r2 1=dave");
    return NULL;
}

static void in_task(void *arg)
{
    const unsigned char **seen = arg;
    ASSERT_RECORD("0=r2 1=carol");
    *seen = record();
}

TEST_IMPL(otel_pointer_follows_run_and_task_and_is_restored)
{
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r2", NULL));
    ASSERT_INT(0, ctxvar_set(var("user_id"), "carol", NULL));
    ctxvar_ctx *carol = ctxvar_capture();
    const unsigned char *carols = record();
    ASSERT_INT(0, ctxvar_set(var("user_id"), NULL, NULL));
    ASSERT_RECORD("0=r2");
    ctxvar_run(carol, in_run, NULL);
    ASSERT_RECORD("0=r2");
    /* Submitted from carol's context, run here. */
    ctxvar_ctx *mine = ctxvar_swap(ctxvar_retain(carol));
    const unsigned char *seen = NULL;
    ctxvar_task *task = ctxvar_wrap(in_task, &seen);
    ctxvar_release(ctxvar_swap(mine));
    ctxvar_task_run(task);
    ASSERT_RECORD("0=r2");
    /* One record per context, shared by whoever holds it. */
    ASSERT_PTR(carols, seen);
    ctxvar_release(carol);
}

struct seen {
    char text[256];
    const unsigned char *record;
};

static void *child_thread(void *arg)
{
    struct seen *s = arg;
    char text[sizeof s->text];
    snprintf(s->text, sizeof s->text, "%s", describe(text, sizeof text));
    s->record = record();
    return NULL;
}

TEST_IMPL(otel_new_thread_starts_pointing_at_its_creators_record)
{
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r3", NULL));
    ASSERT_INT(0, ctxvar_set_traceparent(TP_A, NULL));
    struct seen s;
    pthread_t th;
    ASSERT_INT(0, pthread_create(&th, NULL, child_thread, &s));
    ASSERT_INT(0, pthread_join(th, NULL));
    ASSERT_STR(TRACE_A " 0=r3", s.text);
    ASSERT_PTR(record(), s.record);
    /* A thread that starts empty points at nothing. */
    ASSERT_INT(0, ctxvar_set(var("request_id"), NULL, NULL));
    ASSERT_INT(0, ctxvar_set(var("traceparent"), NULL, NULL));
    ASSERT_INT(0, pthread_create(&th, NULL, child_thread, &s));
    ASSERT_INT(0, pthread_join(th, NULL));
    ASSERT_STR("none", s.text);
}

static sem_t fired;
static struct seen in_timer;

static void timer_fired(union sigval v)
{
    (void)v;
    char text[sizeof in_timer.text];
    snprintf(in_timer.text, sizeof in_timer.text, "%s", describe(text, sizeof text));
    sem_post(&fired);
}

TEST_IMPL(otel_timer_notification_points_at_its_creators_record)
{
    SKIP_UNDER_TSAN("a SIGEV_THREAD timer crashes in GCC 12's TSan even without ctxvar");
    ASSERT_INT(0, sem_init(&fired, 0, 0));
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r4", NULL));
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = timer_fired;
    timer_t timer;
    ASSERT_INT(0, timer_create(CLOCK_MONOTONIC, &sev, &timer));
    ASSERT_INT(0, ctxvar_set(var("request_id"), "changed", NULL));
    struct itimerspec in = {{0, 0}, {0, 1000000}};
    ASSERT_INT(0, timer_settime(timer, 0, &in, NULL));
    while (sem_wait(&fired) != 0) {}
    ASSERT_STR("0=r4", in_timer.text);
    timer_delete(timer);
}

TEST_IMPL(otel_values_cut_to_255_bytes_and_612_in_name_order)
{
    char big[301];
    memset(big, 'x', 300);
    big[300] = '\0';
    ASSERT_INT(0, ctxvar_set(var("a"), big, NULL));
    ASSERT_INT(0, ctxvar_set(var("b"), big, NULL));
    ASSERT_INT(0, ctxvar_set(var("c"), big, NULL));
    ASSERT_INT(0, ctxvar_set(var("d"), "left out", NULL));
    const unsigned char *r = record();
    ASSERT_NOT_NULL(r);
    uint16_t attrs;
    memcpy(&attrs, r + 26, 2);
    ASSERT_INT(612, attrs);
    /* a: 255 bytes, b: 255 bytes, c: the 96 left (612 - 2 * 257 - 2). */
    ASSERT_INT(255, r[28 + 1]);
    ASSERT_INT(255, r[28 + 257 + 1]);
    ASSERT_INT(96, r[28 + 514 + 1]);
    ASSERT_INT(2, r[28 + 514]);
}

TEST_IMPL(otel_cut_keeps_utf8_characters_whole)
{
    /* 254 ASCII bytes then "é" (2 bytes): 255 would split it. */
    char value[258];
    memset(value, 'y', 254);
    memcpy(value + 254, "\xc3\xa9", 3);
    ASSERT_INT(0, ctxvar_set(var("accent"), value, NULL));
    const unsigned char *r = record();
    ASSERT_NOT_NULL(r);
    ASSERT_INT(254, r[29]);
}

TEST_IMPL(otel_balanced_changes_free_their_records)
{
    struct ctxvar_stats before, after;
    ASSERT_INT(0, ctxvar_set(var("request_id"), "base", NULL));
    ASSERT_INT(0, ctxvar_stats(&before));
    for (int i = 0; i < 1000; i++) {
        ctxvar_token tok;
        char value[16];
        snprintf(value, sizeof value, "v%d", i);
        ASSERT_INT(0, ctxvar_set(var("step"), value, &tok));
        ASSERT_INT(0, ctxvar_reset(&tok));
    }
    ASSERT_INT(0, ctxvar_stats(&after));
    ASSERT_ULL(before.live_contexts, after.live_contexts);
    ASSERT_RECORD("0=base");
}

TEST_IMPL(otel_off_leaves_the_pointer_null_and_publishes_nothing)
{
    ASSERT_INT(0, ctxvar_set(var("request_id"), "r1", NULL));
    ASSERT_INT(0, ctxvar_set_traceparent(TP_A, NULL));
    ASSERT_NULL(record());
    FILE *maps = fopen("/proc/self/maps", "r");
    ASSERT_NOT_NULL(maps);
    char line[512];
    while (fgets(line, sizeof line, maps)) ASSERT(strstr(line, "OTEL_CTX") == NULL);
    fclose(maps);
}

/* The record as the test computes it from the context itself: exported
 * variables in name order, key index = position in `names` (which the test
 * made the order of first appearance), trace fields from traceparent. */
struct expected {
    char *out;
    size_t n, size;
    const char *const *names;
    int count;
};

static int expect_one(const char *name, const char *value, void *arg)
{
    struct expected *e = arg;
    if (name[0] == '_' || strcmp(name, "traceparent") == 0 || strcmp(name, "tracestate") == 0)
        return 0;
    int index = -1;
    for (int i = 0; i < e->count; i++)
        if (strcmp(e->names[i], name) == 0) index = i;
    ASSERT(index >= 0);
    e->n += (size_t)snprintf(e->out + e->n, e->size - e->n, "%s%d=%s", e->n ? " " : "", index,
                             value);
    return 0;
}

TEST_IMPL(otel_records_match_the_context_after_20000_random_changes)
{
    static const char *const names[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                        "foxtrot", "golf", "hotel", "india", "juliet"};
    enum { N = 10 };
    /* First appearance in name order: key index i is names[i]. */
    for (int i = 0; i < N; i++) ASSERT_INT(0, ctxvar_set(var(names[i]), "first", NULL));
    ASSERT_RECORD("0=first 1=first 2=first 3=first 4=first 5=first 6=first 7=first 8=first "
                  "9=first");
    ctxvar_clear();
    unsigned seed = 12345;
    ctxvar_token tokens[64];
    int depth = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        const char *name = names[r % N];
        char value[32];
        snprintf(value, sizeof value, "v%u", (r >> 4) % 1000);
        switch ((r >> 16) % 8) {
        case 0: ASSERT_INT(0, ctxvar_set(var(name), NULL, NULL)); break;
        case 1: ASSERT_INT(0, ctxvar_set(var("_private"), value, NULL)); break;
        case 2: ASSERT_INT(0, ctxvar_set(var("traceparent"), (r & 1) ? TP_A : NULL, NULL)); break;
        case 3:
            if (depth < 64) ASSERT_INT(0, ctxvar_set(var(name), value, &tokens[depth++]));
            break;
        case 4:
            if (depth > 0) ASSERT_INT(0, ctxvar_reset(&tokens[--depth]));
            break;
        default: ASSERT_INT(0, ctxvar_set(var(name), value, NULL)); break;
        }
        char want[1024] = "";
        struct expected e = {want, 0, sizeof want, names, N};
        ctxvar_ctx *now = ctxvar_capture();
        const char *tp = ctxvar_ctx_get(now, var("traceparent"), NULL);
        if (tp) e.n = (size_t)snprintf(want, sizeof want, "%s", TRACE_A);
        ctxvar_ctx_foreach(now, expect_one, &e);
        ctxvar_release(now);
        ASSERT_RECORD(e.n ? want : "none");
    }
    while (depth > 0) ASSERT_INT(0, ctxvar_reset(&tokens[--depth]));
}

/* A context no thread has made current yet (decoded, not set), run by
 * eight threads at once: they race to build its one record. */
static ctxvar_ctx *decoded;
static pthread_barrier_t together;

static void *run_decoded(void *arg)
{
    struct seen *s = arg;
    pthread_barrier_wait(&together);
    ctxvar_run(decoded, child_thread, s);
    return NULL;
}

TEST_IMPL(otel_threads_racing_to_build_one_record_share_it)
{
    enum { THREADS = 8 };
    ASSERT_INT(0, ctxvar_baggage_decode("request_id=r9,user_id=erin", NULL, &decoded, NULL));
    ASSERT_INT(0, pthread_barrier_init(&together, NULL, THREADS));
    pthread_t th[THREADS];
    struct seen s[THREADS];
    for (int i = 0; i < THREADS; i++)
        ASSERT_INT(0, pthread_create(&th[i], NULL, run_decoded, &s[i]));
    for (int i = 0; i < THREADS; i++) ASSERT_INT(0, pthread_join(th[i], NULL));
    for (int i = 0; i < THREADS; i++) {
        ASSERT_STR("0=r9 1=erin", s[i].text);
        ASSERT_PTR(s[0].record, s[i].record);
    }
    ctxvar_release(decoded);
}

TEST_IMPL(otel_key_map_holds_256_keys_and_later_variables_are_left_out)
{
    for (int i = 0; i < 300; i++) {
        char name[16], want[32];
        snprintf(name, sizeof name, "key%03d", i);
        ASSERT_INT(0, ctxvar_set(var(name), "v", NULL));
        snprintf(want, sizeof want, "%d=v", i);
        ASSERT_RECORD(i < 256 ? want : "none");
        ASSERT_INT(0, ctxvar_set(var(name), NULL, NULL));
    }
    /* Known keys keep working. */
    ASSERT_INT(0, ctxvar_set(var("key255"), "w", NULL));
    ASSERT_RECORD("255=w");
}
