/* glib_plugin - a plugin that uses GLib, loaded by glib_dlopen with
 * RTLD_LOCAL, so that libglib is in no global scope: its jobs must still
 * run in their pusher's context (bats/loops_glib.bats). */
#include <glib.h>
#include "show.h"

static void job(gpointer data, gpointer user_data)
{
    (void)user_data;
    show(data);
}

void plugin_run(void);
void plugin_run(void)
{
    GThreadPool *pool = g_thread_pool_new(job, NULL, 1, TRUE, NULL);
    set_or_say("request_id", "p1");
    g_thread_pool_push(pool, (gpointer) "plugin job 1", NULL);
    set_or_say("request_id", "p2");
    g_thread_pool_push(pool, (gpointer) "plugin job 2", NULL);
    g_thread_pool_free(pool, FALSE, TRUE);
}
