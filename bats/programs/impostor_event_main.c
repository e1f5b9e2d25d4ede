/* impostor_event_main.c - calls the event_* and uv_close of
 * libimpostor_event.so, a library that is neither libevent nor libuv, with
 * the runtime preloaded: what the library is handed and calls back must be
 * exactly the program's, and the runtime must read nothing of its
 * objects. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctxvar.h"

struct impostor;
struct impostor *event_new(void *base, int fd, short what, void (*cb)(int, short, void *),
                           void *arg);
int event_add(struct impostor *e, const void *timeout);
void event_free(struct impostor *e);
struct lamp {
    int on;
};
void uv_close(struct lamp *lamp, void (*closed)(struct lamp *));
extern void (*impostor_seen_cb)(int, short, void *);
extern void *impostor_seen_arg;

static int mine;

static void callback(int fd, short what, void *arg)
{
    printf("callback: fd %d, what %d, arg %s, context %s\n", fd, what,
           arg == &mine ? "the program's" : "another", ctxvar_get(ctxvar_named("request_id"), "none"));
}

static void lamp_closed(struct lamp *lamp) { printf("lamp closed, on=%d\n", lamp->on); }

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
    /* The lamp ends a readable page: reading past it (a uv_handle_t's
     * fields) faults. */
    long page = sysconf(_SC_PAGESIZE);
    char *pages = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + page, (size_t)page, PROT_NONE) != 0) return 1;
    struct lamp *lamp = (struct lamp *)(void *)(pages + page - sizeof *lamp);
    lamp->on = 1;
    uv_close(lamp, lamp_closed);
    return 0;
}
