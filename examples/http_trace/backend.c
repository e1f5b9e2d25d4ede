/* backend.c - a small legacy-style C HTTP server that joins its callers'
 * traces with one line: ctxvar_accept_headers at the request's entry.
 *
 *   backend PORTFILE      (127.0.0.1, a port the system chooses, written
 *                          to PORTFILE; serves until killed)
 *
 * Each request is answered with the context the request runs in, as
 * ctxvar_format writes it: the caller's baggage members and traceparent.
 * Run it under ctxrun so that the runtime is there.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctxvar.h"

/* The value of header `name` in the request head, copied to out (NUL-
 * terminated), or NULL when absent. */
static const char *header(const char *head, const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, len) != 0 || p[len] != ':') continue;
        p += len + 1;
        while (*p == ' ' || *p == '\t') p++;
        const char *end = strstr(p, "\r\n");
        size_t n = (size_t)(end - p) < size - 1 ? (size_t)(end - p) : size - 1;
        memcpy(out, p, n);
        out[n] = '\0';
        return out;
    }
    return NULL;
}

static void serve(int fd)
{
    static char head[65536];
    size_t got = 0;
    head[0] = '\0';
    while (got < sizeof head - 1 && !strstr(head, "\r\n\r\n")) {
        ssize_t n = read(fd, head + got, sizeof head - 1 - got);
        if (n <= 0) return;
        got += (size_t)n;
        head[got] = '\0';
    }
    static char tp[8192], ts[8192], bag[16384];
    ctxvar_token tok;
    int err = ctxvar_accept_headers(header(head, "traceparent", tp, sizeof tp),
                                    header(head, "tracestate", ts, sizeof ts),
                                    header(head, "baggage", bag, sizeof bag), &tok);
    char body[4096], reply[4300];
    if (err == 0) {
        ctxvar_format(body, sizeof body);
        ctxvar_reset(&tok);
    } else {
        snprintf(body, sizeof body, "not accepted: %s", ctxvar_strerror(err));
    }
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     strlen(body), body);
    if (write(fd, reply, (size_t)n) < 0) perror("backend: write");
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("backend");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f) return 1;
    fprintf(f, "%d", ntohs(a.sin_port));
    fclose(f);
    rename(tmp, argv[1]);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        serve(fd);
        close(fd);
    }
}
