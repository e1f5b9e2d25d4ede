/* server.c - a small libevent order server, with its own client.
 *
 * The server accepts connections on 127.0.0.1, reads one line per
 * connection ("order <request> <item>"), hands it to the legacy code in
 * orders.c (which logs, defers work with event_base_once, and replies from
 * a timer), and stops after ORDERS replies.  A client thread sends ORDERS
 * orders at once, so the requests' callbacks interleave on the one loop
 * thread.
 *
 * The only line ctxvar asks for is the ctxvar_set where a request enters
 * (marked below).  Under ctxrun every callback scheduled from there, in
 * orders.c too, runs in that request's context, and the loop thread is
 * back to its own after each: every log line carries its own request's id.
 * Without the runtime the ids are empty, never wrong.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "ctxvar.h"
#include "orders.h"

#define ORDERS 4

static struct event_base *base;
static int replies_sent;

static void on_flushed(struct bufferevent *connection, void *arg)
{
    struct order *order = arg;
    /* Also called with nothing written yet: wait for the reply. */
    if (!order->reply_timer || evbuffer_get_length(bufferevent_get_output(connection)) > 0) return;
    bufferevent_free(connection);
    event_free(order->reply_timer);
    free(order);
    if (++replies_sent == ORDERS) event_base_loopexit(base, NULL);
}

static void on_request(struct bufferevent *connection, void *arg)
{
    struct order *order = arg;
    char *line = evbuffer_readln(bufferevent_get_input(connection), NULL, EVBUFFER_EOL_LF);
    if (!line) return;
    if (sscanf(line, "order %31s %31s", order->request, order->item) == 2) {
        ctxvar_set(ctxvar_named("request_id"), order->request, NULL); /* <- the one line */
        log_line("request: order for %s of request %s", order->item, order->request);
        process_order(order);
    }
    free(line);
}

static void on_accept(evutil_socket_t listener, short what, void *arg)
{
    (void)what, (void)arg;
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return;
    struct order *order = calloc(1, sizeof *order);
    order->base = base;
    order->connection = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(order->connection, on_request, on_flushed, NULL, order);
    bufferevent_enable(order->connection, EV_READ | EV_WRITE);
}

/* The client: ORDERS connections, all orders sent before any reply is
 * read.  Its own lines go to stderr and only on trouble. */
static void *client(void *arg)
{
    const struct sockaddr_in *address = arg;
    static const char *items[ORDERS] = {"tea", "coffee", "cake", "bread"};
    int fds[ORDERS];
    for (int i = 0; i < ORDERS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (const struct sockaddr *)address, sizeof *address) != 0) {
            perror("client: connect");
            exit(1);
        }
    }
    for (int i = 0; i < ORDERS; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "order r%d %s\n", i + 1, items[i]);
        if (write(fds[i], line, (size_t)n) != n) perror("client: write");
    }
    for (int i = 0; i < ORDERS; i++) {
        char reply[64] = "";
        ssize_t n = read(fds[i], reply, sizeof reply - 1);
        char expected[16];
        snprintf(expected, sizeof expected, "ok r%d\n", i + 1);
        if (n <= 0 || strcmp(reply, expected) != 0) fprintf(stderr, "client: bad reply %d\n", i + 1);
        close(fds[i]);
    }
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    base = event_base_new();
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener, ORDERS) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        perror("server");
        return 1;
    }
    evutil_make_socket_nonblocking(listener);
    struct event *accepting = event_new(base, listener, EV_READ | EV_PERSIST, on_accept, NULL);
    event_add(accepting, NULL);
    pthread_t client_thread;
    pthread_create(&client_thread, NULL, client, &address);
    event_base_dispatch(base);
    pthread_join(client_thread, NULL);
    event_free(accepting);
    event_base_free(base);
    close(listener);
    return 0;
}
