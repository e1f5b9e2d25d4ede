/* impostor_event.c - a library that exports libevent's names with other
 * meanings (as libev's libevent emulation does): event_new keeps the
 * callback and argument it is given in a struct of its own layout,
 * event_add calls them at once, event_free frees the struct.  It also
 * exports a uv_close of its own, for a 4-byte object.  Built as
 * libimpostor_event.so for bats/loops_libevent.bats. */
#include <stdlib.h>

struct impostor {
    void (*cb)(int, short, void *);
    void *arg;
};

void (*impostor_seen_cb)(int, short, void *);
void *impostor_seen_arg;

struct impostor *event_new(void *base, int fd, short what, void (*cb)(int, short, void *),
                           void *arg)
{
    (void)base, (void)fd, (void)what;
    struct impostor *e = malloc(sizeof *e);
    if (e) {
        e->cb = cb;
        e->arg = arg;
    }
    return e;
}

int event_add(struct impostor *e, const void *timeout)
{
    (void)timeout;
    impostor_seen_cb = e->cb;
    impostor_seen_arg = e->arg;
    e->cb(-1, 1, e->arg);
    return 0;
}

void event_free(struct impostor *e) { free(e); }

/* A lamp, closed: nothing like a uv_handle_t. */
struct lamp {
    int on;
};

void uv_close(struct lamp *lamp, void (*closed)(struct lamp *))
{
    lamp->on = 0;
    if (closed) closed(lamp);
}
