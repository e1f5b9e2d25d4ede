/* event_named_main.c - schedules two requests' callbacks through
 * libeventhandlers.so (event_named_lib.c), then runs the loop in a third
 * context. */
#include <event2/event.h>

#include "show.h"

void handlers_schedule(struct event_base *base, const char *label);

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct event_base *base = event_base_new();
    set_or_say("request_id", "A");
    handlers_schedule(base, "handled A");
    set_or_say("request_id", "B");
    handlers_schedule(base, "handled B");
    set_or_say("request_id", "loop");
    event_base_dispatch(base);
    event_base_free(base);
    return 0;
}
