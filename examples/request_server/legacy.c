/* legacy.c - code that must keep working unmodified: it knows nothing of
 * request ids or ctxvar, starts helper threads of its own (and one helper
 * starts another), and logs with log_info().
 *
 * Every message ends with "of request <id> by <user>", taken from the order
 * itself: that is the truth the log prefix should agree with, and what
 * demo.sh checks.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* Starts fn(o) on a new thread; this legacy code has no plan B without one. */
static void start(pthread_t *thread, void *(*fn)(void *), const struct order *o)
{
    int err = pthread_create(thread, NULL, fn, (void *)o);
    if (err != 0) {
        fprintf(stderr, "legacy: pthread_create: %s\n", strerror(err));
        exit(1);
    }
}

/* The grandchild: started by the payment thread, not by the request. */
static void *send_receipt(void *arg)
{
    const struct order *o = arg;
    log_info("receipt: mailing the receipt for the order of request %s by %s",
             o->request_id, o->user_id);
    return NULL;
}

static void *charge_payment(void *arg)
{
    const struct order *o = arg;
    pthread_t receipt;

    log_info("payment: charging %s for the order of request %s by %s",
             o->amount, o->request_id, o->user_id);
    start(&receipt, send_receipt, o);
    pthread_join(receipt, NULL);
    return NULL;
}

static void *reserve_stock(void *arg)
{
    const struct order *o = arg;
    log_info("inventory: reserving one %s for the order of request %s by %s",
             o->item, o->request_id, o->user_id);
    return NULL;
}

void process_order(const struct order *o)
{
    pthread_t payment, inventory;

    log_info("order: processing the order of request %s by %s",
             o->request_id, o->user_id);
    start(&payment, charge_payment, o);
    start(&inventory, reserve_stock, o);
    pthread_join(payment, NULL);
    pthread_join(inventory, NULL);
}
