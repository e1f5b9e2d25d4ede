/* impostor_event_main.c - calls the event_* of libimpostor_event.so, a
 * library that is not libevent, with the runtime preloaded: what the
 * library is handed and calls back must be exactly the program's. */
#include <stdio.h>

#include "ctxvar.h"

struct impostor;
struct impostor *event_new(void *base, int fd, short what, void (*cb)(int, short, void *),
                           void *arg);
int event_add(struct impostor *e, const void *timeout);
void event_free(struct impostor *e);
extern void (*impostor_seen_cb)(int, short, void *);
extern void *impostor_seen_arg;

static int mine;

static void callback(int fd, short what, void *arg)
{
    printf("callback: fd %d, what %d, arg %s, context %s\n", fd, what,
           arg == &mine ? "the program's" : "another", ctxvar_get(ctxvar_named("request_id"), "none"));
}

int main(void)
{
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL);
    struct impostor *e = event_new(NULL, -1, 0, callback, &mine);
    if (!e) return 1;
    event_add(e, NULL);
    printf("the library kept: callback %s, arg %s\n",
           impostor_seen_cb == callback ? "the program's" : "another",
           impostor_seen_arg == &mine ? "the program's" : "another");
    event_free(e);
    return 0;
}
