/* thrd - a C11 thread (thrd_create, which in glibc >= 2.34 does not go
 * through pthread_create, so the runtime interposes it too: see
 * docs/interposing.md, "Bypasses in glibc >= 2.34") starts with its
 * creator's context.
 *
 * Output:
 *   child: request_id=42
 *   child exit code: 7
 *   main: request_id=42
 */
#include <threads.h>
#include "show.h"

static int child(void *arg)
{
    (void)arg;
    show("child");
    return 7;
}

int main(void)
{
    thrd_t thread;
    int code = -1;

    set_or_say("request_id", "42");
    if (thrd_create(&thread, child, NULL) != thrd_success) {
        printf("thrd_create failed\n");
        return 1;
    }
    thrd_join(thread, &code);
    printf("child exit code: %d\n", code);
    show("main");
    return 0;
}
