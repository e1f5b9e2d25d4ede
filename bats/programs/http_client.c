/* http_client.c - makes libcurl requests in the ways bats/http.bats checks;
 * the server it calls records what arrived.  Prints "<name>: <CURLcode>"
 * per transfer, and what the program's own header list holds after.
 *
 *   http_client MODE BASE_URL [ARG]
 *
 * MODE: easy, threads, multi, cleanup, reuse, own, redirect, dup, reset, h2, hostile,
 * changes; mail (BASE_URL an smtp:// one: a MIME message whose header list
 * is the program's "X-Mailer: http_client"); schemeless (BASE_URL without
 * "http://", which libcurl takes for HTTP, and a "://" later in the query);
 * proxied (an ftp:// URL through BASE_URL as an HTTP proxy); keys (a
 * request, then pthread keys created until none is left: "keys: N");
 * keydtor (a POSIX AIO SIGEV_THREAD callback, on a thread glibc starts
 * itself, makes a request in its own request_id=r-aio; a pthread key
 * destructor of that thread makes another once its context is released);
 * fork (3 threads set a handle's URL over and over while the main thread
 * forks 100 children, each of which sets one: "children hung: N of 100").
 */
#define _GNU_SOURCE
#include <aio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"

static const char *base;

static void set(const char *name, const char *value)
{
    int err = ctxvar_set(ctxvar_named(name), value, NULL);
    if (err) printf("set %s failed: %s\n", name, ctxvar_strerror(err));
}

static CURL *handle_for(const char *path, char *url, size_t size)
{
    CURL *h = curl_easy_init();
    snprintf(url, size, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, stderr); /* bodies out of the way */
    return h;
}

static void get(const char *path, struct curl_slist *list)
{
    char url[512];
    CURL *h = handle_for(path, url, sizeof url);
    if (list) curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    printf("%s: %d\n", path, (int)curl_easy_perform(h));
    curl_easy_cleanup(h);
}

static void print_list(const char *who, const struct curl_slist *list)
{
    printf("%s:", who);
    for (; list; list = list->next) printf(" [%s]", list->data);
    printf("\n");
}

static void *thread_get(void *arg)
{
    set("request_id", arg);
    char path[64];
    snprintf(path, sizeof path, "/%s", (char *)arg);
    get(path, NULL);
    return NULL;
}

static void multi(void)
{
    CURLM *m = curl_multi_init();
    CURL *h[2];
    char url[2][512];
    set("request_id", "m1");
    h[0] = handle_for("/m1", url[0], sizeof url[0]);
    curl_multi_add_handle(m, h[0]);
    set("request_id", "m2");
    h[1] = handle_for("/m2", url[1], sizeof url[1]);
    curl_multi_add_handle(m, h[1]);
    /* Added twice: libcurl refuses (CURLM_ADDED_ALREADY), and the transfer
     * keeps the header list it was given. */
    printf("add again: %d\n", (int)curl_multi_add_handle(m, h[0]));
    int running = 1, left;
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    CURLMsg *msg;
    int result[2] = {-1, -1}; /* printed in a fixed order: they may end in either */
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE) result[msg->easy_handle == h[0] ? 0 : 1] = (int)msg->data.result;
    printf("/m1: %d\n/m2: %d\n", result[0], result[1]);
    /* Reused from another context after the first transfers ended. */
    set("request_id", "m3");
    curl_multi_remove_handle(m, h[0]);
    curl_easy_setopt(h[0], CURLOPT_URL, (snprintf(url[0], sizeof url[0], "%s/m3", base), url[0]));
    curl_multi_add_handle(m, h[0]);
    for (running = 1; running;) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE) printf("/m3: %d\n", (int)msg->data.result);
    for (int i = 0; i < 2; i++) {
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
}

static void run_multi(CURLM *m)
{
    for (int running = 1; running;) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
}

/* Handles left in their multi handles at curl_multi_cleanup (libcurl
 * detaches them), then reused from other contexts: with curl_easy_perform,
 * with the program's own list set after, and in a new multi handle.  And a
 * removal that names another multi handle, which libcurl refuses, while
 * the transfer is still to run in its own. */
static void cleanup(void)
{
    char url[2][512];
    CURL *h = handle_for("/c1", url[0], sizeof url[0]);
    CURL *g = handle_for("/c2", url[1], sizeof url[1]);
    CURLM *m = curl_multi_init(), *other = curl_multi_init();
    set("request_id", "c1");
    curl_multi_add_handle(m, h);
    set("request_id", "c2");
    curl_multi_add_handle(m, g);
    run_multi(m);
    curl_multi_cleanup(m);
    set("request_id", "c3");
    curl_easy_setopt(h, CURLOPT_URL, (snprintf(url[0], sizeof url[0], "%s/c3", base), url[0]));
    printf("/c3: %d\n", (int)curl_easy_perform(h));
    struct curl_slist *list = curl_slist_append(NULL, "X-New: 1");
    curl_easy_setopt(g, CURLOPT_HTTPHEADER, list);
    set("request_id", "c4");
    curl_easy_setopt(g, CURLOPT_URL, (snprintf(url[1], sizeof url[1], "%s/c4", base), url[1]));
    printf("/c4: %d\n", (int)curl_easy_perform(g));
    set("request_id", "c5");
    curl_easy_setopt(h, CURLOPT_URL, (snprintf(url[0], sizeof url[0], "%s/c5", base), url[0]));
    m = curl_multi_init();
    curl_multi_add_handle(m, h);
    printf("remove from another: %d\n", (int)curl_multi_remove_handle(other, h));
    run_multi(m);
    curl_multi_remove_handle(m, h);
    curl_multi_cleanup(m);
    curl_multi_cleanup(other);
    print_list("list after", list);
    curl_easy_cleanup(h);
    curl_easy_cleanup(g);
    curl_slist_free_all(list);
}

/* One handle, the program's own list, three contexts in a row. */
static void reuse(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "X-Own: 1");
    list = curl_slist_append(list, "X-Other: 2");
    struct curl_slist *first = list, *second = list->next;
    char url[512];
    CURL *h = handle_for("/a", url, sizeof url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    set("request_id", "a");
    printf("/a: %d\n", (int)curl_easy_perform(h));
    set("request_id", "b");
    curl_easy_setopt(h, CURLOPT_URL, (snprintf(url, sizeof url, "%s/b", base), url));
    printf("/b: %d\n", (int)curl_easy_perform(h));
    ctxvar_clear();
    curl_easy_setopt(h, CURLOPT_URL, (snprintf(url, sizeof url, "%s/empty", base), url));
    printf("/empty: %d\n", (int)curl_easy_perform(h));
    print_list("list after", list);
    printf("same nodes: %d\n", list == first && list->next == second && !second->next);
    curl_easy_cleanup(h);
    curl_slist_free_all(list);
}

static void own(void)
{
    struct curl_slist *list =
        curl_slist_append(NULL, "TraceParent: 00-11111111111111111111111111111111-2222222222222222-00");
    list = curl_slist_append(list, "BAGGAGE: mine=1");
    get("/own", list);
    print_list("list after", list);
    curl_slist_free_all(list);
    list = curl_slist_append(NULL, "tracestate:"); /* the program removes it */
    get("/removed", list);
    curl_slist_free_all(list);
}

static void redirect(const char *other)
{
    struct curl_slist *list = curl_slist_append(NULL, "X-Own: 1");
    list = curl_slist_append(list, "Authorization: Bearer secret");
    char url[1024];
    CURL *h = curl_easy_init();
    snprintf(url, sizeof url, "%s/redirect/1?%s/landed", base, other);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, stderr);
    printf("/redirect: %d\n", (int)curl_easy_perform(h));
    curl_easy_cleanup(h);
    curl_slist_free_all(list);
}

static void dup_and_reset(void)
{
    struct curl_slist *list = curl_slist_append(NULL, "X-Own: 1");
    char url[512];
    CURL *h = handle_for("/original", url, sizeof url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURL *copy = curl_easy_duphandle(h);
    char url2[512];
    curl_easy_setopt(copy, CURLOPT_URL, (snprintf(url2, sizeof url2, "%s/copy", base), url2));
    printf("/original: %d\n", (int)curl_easy_perform(h));
    printf("/copy: %d\n", (int)curl_easy_perform(copy));
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, (snprintf(url, sizeof url, "%s/after-reset", base), url));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, stderr);
    printf("/after-reset: %d\n", (int)curl_easy_perform(h));
    curl_easy_cleanup(h);
    curl_easy_cleanup(copy);
    curl_slist_free_all(list);
}

static void h2(void)
{
    char url[512];
    CURL *h = handle_for("/h2", url, sizeof url);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    printf("/h2: %d\n", (int)curl_easy_perform(h));
    long version = 0;
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
    printf("http version: %s\n", version == CURL_HTTP_VERSION_2_0 ? "2" : "other");
    curl_easy_cleanup(h);
}

/* One thread, one handle, its context changing between requests in every
 * way: the same context twice, a set and its reset, a ctxvar_run in a
 * snapshot and the return from it.  The runtime keeps a thread's last
 * headers while its context is unchanged; each request must still carry
 * the context current when it was made. */
static CURL *changing;
static char changing_url[512];

static void get_on_changing(const char *path)
{
    curl_easy_setopt(changing, CURLOPT_URL,
                     (snprintf(changing_url, sizeof changing_url, "%s%s", base, path), changing_url));
    printf("%s: %d\n", path, (int)curl_easy_perform(changing));
}

static void *inside_run(void *arg)
{
    get_on_changing(arg);
    return NULL;
}

static void changes(void)
{
    changing = handle_for("/c1", changing_url, sizeof changing_url);
    set("request_id", "c1");
    get_on_changing("/c1");
    get_on_changing("/c1-again");
    ctxvar_token token;
    ctxvar_set(ctxvar_named("request_id"), "c2", &token);
    ctxvar_ctx *c2 = ctxvar_capture();
    get_on_changing("/c2");
    ctxvar_reset(&token);
    get_on_changing("/c1-back");
    ctxvar_run(c2, inside_run, "/c2-run");
    get_on_changing("/c1-after-run");
    ctxvar_release(c2);
    curl_easy_cleanup(changing);
}

/* 64 members of 128 bytes and more: the encoder's caps, not the request,
 * give way. */
static void hostile(void)
{
    char name[16], value[4097];
    memset(value, 'v', 4096);
    value[4096] = '\0';
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "k%03d", i);
        set(name, i < 3 ? value : "%,; \"\\\x01\xff");
    }
    /* A tracestate that would end the header line is not sent at all. */
    set("tracestate", "a=1\r\nX-Injected: 1");
    get("/hostile", NULL);
    static char encoded[16384];
    ctxvar_baggage_current(encoded, sizeof encoded, NULL);
    printf("encoded: %s\n", encoded);
}

/* An ftp:// URL through an HTTP proxy: libcurl sends the proxy an HTTP
 * request, with the custom headers. */
static void proxied(void)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, "ftp://example.invalid/proxied");
    curl_easy_setopt(h, CURLOPT_PROXY, base);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, stderr);
    printf("proxied: %d\n", (int)curl_easy_perform(h));
    curl_easy_cleanup(h);
}

/* libcurl takes CURLOPT_HTTPHEADER as the message's top-level MIME
 * headers here. */
static void mail(void)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, base);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<from@example.org>");
    struct curl_slist *to = curl_slist_append(NULL, "<to@example.org>");
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
    struct curl_slist *headers = curl_slist_append(NULL, "X-Mailer: http_client");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_mime *mime = curl_mime_init(h);
    curl_mime_data(curl_mime_addpart(mime), "hello", CURL_ZERO_TERMINATED);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    printf("mail: %d\n", (int)curl_easy_perform(h));
    curl_easy_cleanup(h);
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_slist_free_all(to);
}

static void keys(void)
{
    get("/keys", NULL);
    pthread_key_t key;
    int count = 0;
    while (pthread_key_create(&key, NULL) == 0) count++;
    printf("keys: %d\n", count);
}

static pthread_key_t destructor_key;
static volatile int destructor_done;

static void request_from_destructor(void *unused)
{
    (void)unused;
    get("/from-key-destructor", NULL);
    destructor_done = 1;
}

static void aio_callback(union sigval unused)
{
    (void)unused;
    pthread_setspecific(destructor_key, (void *)1);
    set("request_id", "r-aio");
    get("/in-aio-callback", NULL);
}

static void keydtor(void)
{
    pthread_key_create(&destructor_key, request_from_destructor);
    int fd = open("/dev/null", O_RDONLY);
    static char buf[16];
    static struct aiocb read_one;
    read_one.aio_fildes = fd;
    read_one.aio_buf = buf;
    read_one.aio_nbytes = 1;
    read_one.aio_sigevent.sigev_notify = SIGEV_THREAD;
    read_one.aio_sigevent.sigev_notify_function = aio_callback;
    if (aio_read(&read_one) != 0) return;
    for (int i = 0; i < 500 && !destructor_done; i++) usleep(10000);
    close(fd);
}

static void *set_url_forever(void *unused)
{
    CURL *h = curl_easy_init();
    for (;;) curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:9/spin");
    return unused;
}

static void fork_children(void)
{
    pthread_t spinner;
    for (int i = 0; i < 3; i++) pthread_create(&spinner, NULL, set_url_forever, NULL);
    int hung = 0, n = 100;
    for (int i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0) {
            alarm(5); /* a lock left held ends it */
            curl_easy_setopt(curl_easy_init(), CURLOPT_URL, "http://127.0.0.1:9/child");
            _exit(0);
        }
        int status;
        if (child > 0 && waitpid(child, &status, 0) == child && WIFSIGNALED(status)) hung++;
    }
    printf("children hung: %d of %d\n", hung, n);
    fflush(stdout);
    _exit(0); /* the spinning threads with it */
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    base = argv[2];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *mode = argv[1];
    if (strcmp(mode, "easy") == 0) get("/easy", NULL);
    else if (strcmp(mode, "threads") == 0) {
        pthread_t t[3];
        char *ids[3] = {"t1", "t2", "t3"};
        for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, thread_get, ids[i]);
        for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    } else if (strcmp(mode, "multi") == 0) multi();
    else if (strcmp(mode, "reuse") == 0) reuse();
    else if (strcmp(mode, "cleanup") == 0) cleanup();
    else if (strcmp(mode, "own") == 0) own();
    else if (strcmp(mode, "redirect") == 0 && argc == 4) redirect(argv[3]);
    else if (strcmp(mode, "dup") == 0) dup_and_reset();
    else if (strcmp(mode, "h2") == 0) h2();
    else if (strcmp(mode, "hostile") == 0) hostile();
    else if (strcmp(mode, "changes") == 0) changes();
    else if (strcmp(mode, "mail") == 0) mail();
    else if (strcmp(mode, "proxied") == 0) proxied();
    else if (strcmp(mode, "schemeless") == 0) get("/schemeless?next=http://x", NULL);
    else if (strcmp(mode, "keys") == 0) keys();
    else if (strcmp(mode, "keydtor") == 0) keydtor();
    else if (strcmp(mode, "fork") == 0) fork_children();
    else return 2;
    curl_global_cleanup();
    return 0;
}
