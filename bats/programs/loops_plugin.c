/* loops_plugin.c - a plugin that uses libuv, for a program that does not
 * (loops_plugin_main.c): uv_queue_work from three requests. */
#include <stdio.h>
#include <uv.h>

#include "show.h"

static void on_work(uv_work_t *req)
{
    char text[256];
    ctxvar_format(text, sizeof text);
    printf("plugin work %s: %s\n", (const char *)req->data, text);
}

static void on_after(uv_work_t *req, int status)
{
    char text[256];
    ctxvar_format(text, sizeof text);
    printf("plugin after %s (%d): %s\n", (const char *)req->data, status, text);
}

int plugin_run(void)
{
    static const char *labels[] = {"p0", "p1", "p2"};
    uv_work_t work[3];
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (int i = 0; i < 3; i++) {
        ctxvar_token token;
        ctxvar_set(ctxvar_named("request_id"), labels[i], &token);
        work[i].data = (void *)labels[i];
        uv_queue_work(&loop, &work[i], on_work, on_after);
        ctxvar_reset(&token);
    }
    int r = uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return r;
}
