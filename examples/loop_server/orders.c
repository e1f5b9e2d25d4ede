/* orders.c - legacy order handling, unchanged by ctxvar: deferred work on
 * the event loop, and a log function that puts the current context in
 * front of every line.  No request id is ever passed to log_line: it comes
 * from the context that the one ctxvar_set in server.c made current, and
 * the runtime carries it into every callback scheduled from there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctxvar.h"
#include "orders.h"

void log_line(const char *fmt, ...)
{
    char ids[256], message[256];
    ctxvar_format(ids, sizeof ids);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    printf("[%s] %s\n", ids, message); /* one printf: lines never interleave */
}

static void send_reply(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct order *order = arg;
    log_line("reply: sending the receipt of request %s", order->request);
    char reply[64];
    int n = snprintf(reply, sizeof reply, "ok %s\n", order->request);
    bufferevent_write(order->connection, reply, (size_t)n);
}

static void charge(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct order *order = arg;
    log_line("payment: charging for %s of request %s", order->item, order->request);
    static const struct timeval soon = {0, 1000};
    order->reply_timer = evtimer_new(order->base, send_reply, order);
    evtimer_add(order->reply_timer, &soon);
}

void process_order(struct order *order)
{
    log_line("stock: reserving %s of request %s", order->item, order->request);
    static const struct timeval later = {0, 5000};
    event_base_once(order->base, -1, EV_TIMEOUT, charge, order, &later);
}
