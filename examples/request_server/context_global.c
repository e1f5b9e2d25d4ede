/* context_global.c - the approach ctxvar replaces: the current request's ids
 * in process-wide variables.
 *
 * The mutex makes every access safe, and the ids are still wrong: there is
 * one "current request" for the whole process, so every thread logs the ids
 * of whichever request began last, not of the request it works for.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>

#include "server.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char current_request[64], current_user[64];

void request_begin(const char *request_id, const char *user_id)
{
    pthread_mutex_lock(&lock);
    snprintf(current_request, sizeof current_request, "%s", request_id);
    snprintf(current_user, sizeof current_user, "%s", user_id);
    pthread_mutex_unlock(&lock);
}

void request_ids(char *buf, size_t size)
{
    pthread_mutex_lock(&lock);
    snprintf(buf, size, "request_id=%s user_id=%s", current_request, current_user);
    pthread_mutex_unlock(&lock);
}
