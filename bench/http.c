/* http.c - what CTXVAR_HTTP=1 adds to one curl_easy_perform: a GET to a
 * server on 127.0.0.1 (a thread of this process, keep-alive, so the
 * connection is reused and the figure is the request, not a handshake),
 * with a 10-variable context and a traceparent.
 *
 *     http SAMPLES CALLS
 *
 * SAMPLES samples of CALLS requests on one handle and connection; prints
 * the mean microseconds per request as perform.on when the runtime sends
 * the headers (CTXVAR_HTTP=1), perform.off when not, and perform.own when
 * not but the program sets the same three headers itself (BENCH_HTTP_OWN=1:
 * what the headers cost libcurl and the server, whoever adds them).  bench/run.py runs
 * the same binary, with the runtime preloaded and the same context, both
 * ways alternately.  (Calling libcurl's own curl_easy_perform would not
 * give "off" in one process: libcurl reaches curl_multi_add_handle through
 * its PLT, so the runtime's interposer runs anyway.)  The server reads
 * each request whole, so the bytes the headers add are paid on both sides,
 * as they would be.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static int listener;

/* Answers every request on every connection until the process ends. */
static void *serve(void *arg)
{
    (void)arg;
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static char buf[65536];
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        size_t have = 0;
        for (;;) {
            ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
            if (n <= 0) break;
            have += (size_t)n;
            buf[have] = '\0';
            char *end;
            while ((end = strstr(buf, "\r\n\r\n"))) {
                size_t used = (size_t)(end + 4 - buf);
                if (write(fd, reply, sizeof reply - 1) < 0) break;
                memmove(buf, buf + used, have - used + 1);
                have -= used;
            }
            if (have == sizeof buf - 1) have = 0; /* not HTTP: drop it */
        }
        close(fd);
    }
    return NULL;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static void batch(CURL *h, long calls)
{
    for (long i = 0; i < calls; i++)
        if (curl_easy_perform(h) != CURLE_OK) bench_die("request failed");
}

int main(int argc, char **argv)
{
    int samples = (int)bench_arg(argc, argv, 1, 20);
    long calls = bench_arg(argc, argv, 2, 200);
    if (!ctxvar_runtime_present()) bench_die("run with the runtime preloaded");
    if (bench_set_vars(10) != 10 ||
        ctxvar_set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", NULL) ||
        ctxvar_set(ctxvar_named("tracestate"), "vendor=x", NULL))
        bench_die("could not set the context");

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(listener, 4) != 0 || getsockname(listener, (struct sockaddr *)&a, &len) != 0)
        bench_die("no server socket");
    pthread_t server;
    if (pthread_create(&server, NULL, serve, NULL) != 0) bench_die("no server thread");

    const char *http = getenv("CTXVAR_HTTP"), *own = getenv("BENCH_HTTP_OWN");
    const char *metric = http && strcmp(http, "1") == 0 ? "perform.on"
                         : own && strcmp(own, "1") == 0 ? "perform.own"
                                                        : "perform.off";
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    struct curl_slist *list = NULL;
    if (strcmp(metric, "perform.own") == 0) {
        static char line[3][9000];
        snprintf(line[0], sizeof line[0], "traceparent: %s",
                 ctxvar_get(ctxvar_named("traceparent"), ""));
        snprintf(line[1], sizeof line[1], "tracestate: vendor=x");
        memcpy(line[2], "baggage: ", 9);
        ctxvar_baggage_current(line[2] + 9, sizeof line[2] - 9, NULL);
        for (int i = 0; i < 3; i++) list = curl_slist_append(list, line[i]);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    }
    batch(h, calls); /* warm-up, and the connection */
    for (int s = 0; s < samples; s++) {
        uint64_t t0 = bench_now_ns();
        batch(h, calls);
        bench_sample(metric, s, (double)(bench_now_ns() - t0) / 1e3 / (double)calls);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(list);
    return 0;
}
