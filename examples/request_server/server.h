/* server.h - the pieces of the request server example and who provides them.
 *
 * server.c starts one thread per request; legacy.c does the work and logs
 * through log.c; the request's ids come from the context module, the one
 * file that differs between the two binaries:
 *
 *   server_ctxvar  = server.c legacy.c log.c context_ctxvar.c
 *   server_global  = server.c legacy.c log.c context_global.c
 */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

/* What a request asks for.  It knows its own request and user, so every log
 * message can state them in its text, whatever the prefix says. */
struct order {
    const char *request_id;
    const char *user_id;
    const char *item;
    const char *amount;
};

/* legacy.c: handles one order, starting helper threads of its own. */
void process_order(const struct order *o);

/* log.c: prints "[<request ids>] <message>" on stdout as one line. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* context_ctxvar.c or context_global.c.
 * request_begin: called once, at the start of a request, by its thread.
 * request_ids: the ids that apply to the calling thread, as logfmt
 * ("request_id=r1 user_id=alice", or "" when it has none). */
void request_begin(const char *request_id, const char *user_id);
void request_ids(char *buf, size_t size);

#endif
