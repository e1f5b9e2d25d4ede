/* uv_read_again.c - a second uv_read_start on a stream that is already
 * reading: libuv refuses it (UV_EALREADY) and keeps the first callbacks,
 * with the runtime preloaded as without it; so does a uv_listen on that
 * stream, whose record the runtime cannot keep in the handle's words,
 * which the read callbacks hold.  Then the stream is started again with
 * the allocation callback read back from it (s->alloc_cb, the runtime's
 * trampoline) and a new read callback: the program's own allocation
 * callback must run, in the new start's context; and once more with both
 * callbacks read back, which must also take the new start's context
 * (bats/loops_libuv.bats). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "ctxvar.h"

static char buffer[64];
static int fds[2];
static ctxvar *request_id;

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ctxvar_stats(&s);
    return s.live_contexts;
}

static void alloc_first(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(buffer, sizeof buffer);
}

static void alloc_second(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    printf("the second allocation callback ran\n");
    *buf = uv_buf_init(buffer, sizeof buffer);
}

/* Stops s and starts it again with alloc and read in request `id`: what
 * uv_read_start returns.  The callbacks are read from s by the caller
 * first: uv_read_stop clears the fields. */
static int restart_in(uv_stream_t *s, uv_alloc_cb alloc, uv_read_cb read, const char *id)
{
    uv_read_stop(s);
    ctxvar_token token;
    ctxvar_set(request_id, id, &token);
    int r = uv_read_start(s, alloc, read);
    ctxvar_reset(&token);
    return r;
}

static void read_third(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    static int restarted;
    if (n > 0)
        printf("read by the third callback: %.*s (request_id=%s)\n", (int)n, buf->base,
               ctxvar_get(request_id, "none"));
    if (n > 0 && !restarted++) {
        /* Started again with both callbacks read back from the stream,
         * in a fourth request: the same callbacks, the new context. */
        int r = restart_in(s, s->alloc_cb, s->read_cb, "fourth");
        printf("fourth start, both callbacks read back: %d\n", r);
        if (r == 0 && write(fds[1], "z", 1) == 1) return;
    }
    uv_read_stop(s);
    uv_close((uv_handle_t *)s, NULL);
}

static void read_first(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0)
        printf("read by the first callbacks: %.*s (request_id=%s)\n", (int)n, buf->base,
               ctxvar_get(request_id, "none"));
    /* Started again with the allocation callback read back from the
     * stream (under the runtime its trampoline, standing for alloc_first)
     * and a new read callback, in another request. */
    int r = restart_in(s, s->alloc_cb, read_third, "third");
    printf("third start: %d\n", r);
    if (r != 0 || write(fds[1], "y", 1) != 1) uv_close((uv_handle_t *)s, NULL);
}

static void read_second(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    printf("the second read callback ran (%zd)\n", n);
    uv_read_stop(s);
    uv_close((uv_handle_t *)s, NULL);
}

static void on_connection(uv_stream_t *server, int status)
{
    (void)server;
    printf("a connection callback ran (%d)\n", status);
}

int main(void)
{
    request_id = ctxvar_named("request_id");
    unsigned long long before = live_contexts();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
    uv_loop_t *loop = uv_default_loop();
    uv_pipe_t pipe;
    uv_pipe_init(loop, &pipe, 0);
    uv_pipe_open(&pipe, fds[0]);
    ctxvar_set(request_id, "first", NULL);
    printf("first start: %d\n", uv_read_start((uv_stream_t *)&pipe, alloc_first, read_first));
    ctxvar_set(request_id, "second", NULL);
    int r = uv_read_start((uv_stream_t *)&pipe, alloc_second, read_second);
    printf("second start: %s\n", r == UV_EALREADY ? "UV_EALREADY" : r == 0 ? "0" : uv_err_name(r));
    ctxvar_set(request_id, "listen", NULL);
    r = uv_listen((uv_stream_t *)&pipe, 1, on_connection);
    printf("listen on it: %s\n", r < 0 ? "refused" : "accepted");
    ctxvar_set(request_id, "loop", NULL);
    if (write(fds[1], "x", 1) != 1) return 1;
    uv_run(loop, UV_RUN_DEFAULT);
    close(fds[1]);
    ctxvar_clear();
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return uv_loop_close(loop) != 0;
}
