/* orders.h - the legacy order handling of the loop server: it knows nothing
 * of request ids and never passes one to log_line. */
#ifndef LOOP_SERVER_ORDERS_H
#define LOOP_SERVER_ORDERS_H

#include <event2/bufferevent.h>
#include <event2/event.h>

struct order {
    struct event_base *base;
    struct bufferevent *connection;
    struct event *reply_timer;
    char request[32];  /* what the message text names; never read for logging */
    char item[32];
};

/* Logs "[<ctxvar_format of the current context>] <message>". */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks the stock now, charges later (event_base_once), replies later
 * still (a one-shot timer). */
void process_order(struct order *order);

#endif
