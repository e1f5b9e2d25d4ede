/* client.c - an unmodified-style C program that calls a service with
 * libcurl from several threads, each inside its own request's context.
 * Nothing in it speaks W3C or OpenTelemetry: under `ctxrun --http` the
 * runtime adds traceparent, tracestate and baggage to each request.
 *
 *   client SERVICE_URL    prints "<request>: <the service's answer>"
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"

struct request {
    const char *id, *user;
    char answer[4096];
    size_t len;
};

static const char *service;

static size_t keep(char *data, size_t size, size_t n, void *arg)
{
    struct request *r = arg;
    size_t room = sizeof r->answer - 1 - r->len, take = size * n < room ? size * n : room;
    memcpy(r->answer + r->len, data, take);
    r->len += take;
    r->answer[r->len] = '\0';
    return size * n;
}

static void *handle(void *arg)
{
    struct request *r = arg;
    ctxvar_set(ctxvar_named("request_id"), r->id, NULL);
    ctxvar_set(ctxvar_named("user"), r->user, NULL);
    char url[512];
    snprintf(url, sizeof url, "%s/work?r=%s", service, r->id);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) snprintf(r->answer, sizeof r->answer, "error: %s", curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    service = argv[1];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct request rs[3] = {{"r1", "alice", "", 0}, {"r2", "bob", "", 0}, {"r3", "carol", "", 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, handle, &rs[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) printf("%s: %s\n", rs[i].id, rs[i].answer);
    curl_global_cleanup();
    return 0;
}
