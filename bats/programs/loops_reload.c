/* loops_reload - a plugin host's life: it loads libuv or libevent with
 * dlopen, runs a request's callback through it, unloads it, and loads it
 * again, three times.  Between rounds it maps memory where the library
 * was, so that each copy lands somewhere else: the runtime must not keep
 * addresses of a copy that is gone, and each round's callback runs in its
 * request's context.
 *
 *     loops_reload uv-local|uv-global|event
 *
 * Output, three rounds:
 *     round 0: result 0, callback: request_id=r0
 *     ...
 *     done
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "show.h"

static char seen[256];

static void remember(void) { ctxvar_format(seen, sizeof seen); }

static void on_write(uv_write_t *req, int status)
{
    (void)req, (void)status;
    remember();
}

/* A uv_write to a pipe through a copy of libuv opened with `flags`. */
static int uv_round(int flags)
{
    void *lib = dlopen("libuv.so.1", RTLD_NOW | flags);
    if (!lib) return -1;
    uv_loop_t *(*loop_new)(void) = (uv_loop_t * (*)(void)) dlsym(lib, "uv_loop_new");
    int (*pipe_init)(uv_loop_t *, uv_pipe_t *, int) =
        (int (*)(uv_loop_t *, uv_pipe_t *, int))dlsym(lib, "uv_pipe_init");
    int (*pipe_open)(uv_pipe_t *, uv_file) = (int (*)(uv_pipe_t *, uv_file))dlsym(lib, "uv_pipe_open");
    int (*write)(uv_write_t *, uv_stream_t *, const uv_buf_t *, unsigned, uv_write_cb) =
        (int (*)(uv_write_t *, uv_stream_t *, const uv_buf_t *, unsigned, uv_write_cb))dlsym(lib, "uv_write");
    int (*run)(uv_loop_t *, uv_run_mode) = (int (*)(uv_loop_t *, uv_run_mode))dlsym(lib, "uv_run");
    void (*uv_close_fn)(uv_handle_t *, uv_close_cb) =
        (void (*)(uv_handle_t *, uv_close_cb))dlsym(lib, "uv_close");
    void (*loop_delete)(uv_loop_t *) = (void (*)(uv_loop_t *))dlsym(lib, "uv_loop_delete");
    int fds[2];
    if (pipe(fds) != 0) return -1;
    uv_loop_t *loop = loop_new();
    uv_pipe_t pipe_handle;
    pipe_init(loop, &pipe_handle, 0);
    pipe_open(&pipe_handle, fds[1]);
    uv_write_t req;
    char text[] = "hello";
    uv_buf_t buf = {text, 5};
    int result = write(&req, (uv_stream_t *)&pipe_handle, &buf, 1, on_write);
    run(loop, UV_RUN_DEFAULT);
    uv_close_fn((uv_handle_t *)&pipe_handle, NULL);
    run(loop, UV_RUN_DEFAULT);
    loop_delete(loop);
    char got[8] = "";
    if (read(fds[0], got, 5) != 5 || strcmp(got, "hello") != 0) result = -2;
    close(fds[0]);
    close(fds[1]);
    dlclose(lib);
    return result;
}

static void on_timer(int fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    remember();
}

/* A one-shot timer through a copy of libevent_core. */
static int event_round(void)
{
    void *lib = dlopen("libevent_core-2.1.so.7", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return -1;
    void *(*base_new)(void) = (void *(*)(void))dlsym(lib, "event_base_new");
    int (*once)(void *, int, short, void (*)(int, short, void *), void *, const struct timeval *) =
        (int (*)(void *, int, short, void (*)(int, short, void *), void *,
                 const struct timeval *))dlsym(lib, "event_base_once");
    int (*dispatch)(void *) = (int (*)(void *))dlsym(lib, "event_base_dispatch");
    void (*base_free)(void *) = (void (*)(void *))dlsym(lib, "event_base_free");
    void *base = base_new();
    struct timeval soon = {0, 1000};
    int result = once(base, -1, 0x01 /* EV_TIMEOUT */, on_timer, NULL, &soon);
    dispatch(base);
    base_free(base);
    dlclose(lib);
    return result;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    for (int round = 0; round < 3; round++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", round);
        ctxvar_token tok;
        ctxvar_set(ctxvar_named("request_id"), id, &tok);
        seen[0] = '\0';
        int result = strcmp(mode, "event") == 0       ? event_round()
                     : strcmp(mode, "uv-global") == 0 ? uv_round(RTLD_GLOBAL)
                                                      : uv_round(RTLD_LOCAL);
        ctxvar_reset(&tok);
        printf("round %d: result %d, callback: %s\n", round, result, seen);
        fflush(stdout);
        /* Where the library was, so that the next copy goes elsewhere. */
        for (int i = 0; i < 64; i++)
            mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    puts("done");
    return 0;
}
