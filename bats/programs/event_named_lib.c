/* event_named_lib.c - a program's own library whose file name starts like
 * libevent's, built as libeventhandlers.so, that schedules its own
 * callbacks with libevent (bats/loops_libevent.bats): the runtime must take
 * it for the program, not for libevent. */
#include <event2/event.h>

#include "show.h"

static void handled(evutil_socket_t fd, short what, void *label)
{
    (void)fd, (void)what;
    show(label);
}

void handlers_schedule(struct event_base *base, const char *label)
{
    static const struct timeval ms1 = {0, 1000};
    event_base_once(base, -1, EV_TIMEOUT, handled, (void *)label, &ms1);
}
