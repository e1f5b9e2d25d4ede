/* loops_uv.c - libuv callbacks and pool work, unmodified, under the runtime
 * (bats/loops_libuv.bats).  Each request sets request_id to its own label,
 * submits, and resets; every callback prints its request's label (from
 * req->data or handle->data: the program's own fields) and the context it
 * runs in, so a line is right exactly when the two agree.
 *
 *   loops_uv requests THREADS JOBS  several threads, each with its own loop:
 *                                   uv_queue_work (both callbacks), uv_fs_stat,
 *                                   uv_getaddrinfo, a one-shot timer per job;
 *                                   then the loop thread's own timer
 *   loops_uv timers                 a repeating timer, uv_timer_again, a
 *                                   restart in another request
 *   loops_uv cancel                 uv_cancel of queued work and fs requests,
 *                                   uv_close of timers before they fire;
 *                                   live_contexts before and after
 *   loops_uv streams                uv_write, uv_write2 and uv_shutdown on
 *                                   a pipe, each in its own request, read
 *                                   by a reader started in another (libuv's
 *                                   uv_write reaches uv_write2 by a tail
 *                                   call); live_contexts before and after
 *   loops_uv closecb                a timer closed with the close_cb member
 *                                   read back from another (a callback the
 *                                   runtime cannot find: documented lost)
 *   loops_uv leftovers              handles and a request whose memory held
 *                                   something else before libuv's init
 *                                   (garbage, a byte-for-byte copy of a
 *                                   started timer), and async handles whose
 *                                   words libuv uses; live_contexts before
 *                                   and after
 *   loops_uv readback               timer, idle, prepare, check and poll
 *                                   handles started in one request, then
 *                                   started again in another with the
 *                                   callback read back from the handle's
 *                                   public member
 *   loops_uv poolidle               the first request that starts libuv's
 *                                   pool (a uv_fs_stat), then a
 *                                   uv_thread_create in another request;
 *                                   live_contexts once both are over
 *   loops_uv jobchanges [nofork]    pool jobs, one pool thread, each in a
 *                                   request only its record holds, that
 *                                   change their context in every way (set,
 *                                   set and reset, swap away and keep what
 *                                   was swapped out, clear, a nested run);
 *                                   then a fork while a job runs (valgrind
 *                                   counts glibc's record of the pool
 *                                   thread's thread_local destructors,
 *                                   which the child does not have, as a
 *                                   leak: nofork skips it); each
 *                                   after-work callback shows its request,
 *                                   and live_contexts comes back
 *   loops_uv jobexit                a pool job calls exit(): glibc runs the
 *                                   pool thread's thread_local destructors
 *                                   with the job's frame still open; an
 *                                   atexit handler counts the contexts
 *                                   alive (the job's record holds one)
 *   loops_uv direct                 a uv_walk callback, which libuv calls
 *                                   directly, sets a request and ends in a
 *                                   jump to uv_timer_start; libuv's
 *                                   uv_tcp_close_reset passes the
 *                                   program's close callback to uv_close
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "show.h"

static ctxvar *request_id;

static void say(const char *what, const char *label)
{
    char text[512];
    ctxvar_format(text, sizeof text);
    printf("%s %s: %s\n", what, label, text);
}

/* ---- requests --------------------------------------------------------------- */

struct job {
    uv_work_t work;
    uv_fs_t fs;
    uv_getaddrinfo_t resolve;
    uv_timer_t timer;
    char label[32];
};

static void on_work(uv_work_t *req) { say("work", req->data); }
static void on_after(uv_work_t *req, int status) { say(status == 0 ? "after" : "after?", req->data); }
static void on_fs(uv_fs_t *req)
{
    say(req->result == 0 ? "fs" : "fs?", req->data);
    uv_fs_req_cleanup(req);
}
static void on_resolve(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    say(status == 0 ? "resolve" : "resolve?", req->data);
    uv_freeaddrinfo(res);
}
static void on_timer_closed(uv_handle_t *handle) { say("closed", handle->data); }
static void on_timer(uv_timer_t *timer)
{
    say("timer", timer->data);
    uv_close((uv_handle_t *)timer, on_timer_closed);
}

static void own_timer_closed(uv_handle_t *handle) { (void)handle; }
static void on_own_timer(uv_timer_t *timer)
{
    say("own", timer->data);
    uv_close((uv_handle_t *)timer, own_timer_closed);
}

struct thread_args {
    int index, jobs;
};

static void *requests_thread(void *p)
{
    const struct thread_args *a = p;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct job *jobs = calloc((size_t)a->jobs, sizeof *jobs);
    uv_timer_t own;
    char own_label[32];
    snprintf(own_label, sizeof own_label, "t%d", a->index);
    /* The loop thread's own timer, due after every request's: registered
     * outside any request, it must see none. */
    uv_timer_init(&loop, &own);
    own.data = own_label;
    uv_timer_start(&own, on_own_timer, 60, 0);
    for (int j = 0; j < a->jobs; j++) {
        struct job *job = &jobs[j];
        snprintf(job->label, sizeof job->label, "r%d.%d", a->index, j);
        ctxvar_token token;
        ctxvar_set(request_id, job->label, &token);
        job->work.data = job->fs.data = job->resolve.data = job->timer.data = job->label;
        uv_queue_work(&loop, &job->work, on_work, on_after);
        uv_fs_stat(&loop, &job->fs, "/", on_fs);
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
        uv_getaddrinfo(&loop, &job->resolve, on_resolve, "127.0.0.1", NULL, &hints);
        uv_timer_init(&loop, &job->timer);
        uv_timer_start(&job->timer, on_timer, (uint64_t)(1 + j % 5), 0);
        ctxvar_reset(&token);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    say("loop done", own_label);
    uv_loop_close(&loop);
    free(jobs);
    return NULL;
}

static int requests(int threads, int jobs)
{
    pthread_t t[16];
    struct thread_args args[16];
    if (threads > 16) threads = 16;
    for (int i = 0; i < threads; i++) {
        args[i] = (struct thread_args){i, jobs};
        pthread_create(&t[i], NULL, requests_thread, &args[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}

/* ---- timers ----------------------------------------------------------------- */

static int fired;

static void on_repeat(uv_timer_t *timer)
{
    say("repeat", timer->data);
    if (++fired == 3) {
        uv_timer_stop(timer);
        /* Restarted from another request: uv_timer_again keeps the
         * context of the start. */
        ctxvar_token token;
        ctxvar_set(request_id, "other", &token);
        uv_timer_set_repeat(timer, 1);
        uv_timer_again(timer);
        ctxvar_reset(&token);
    } else if (fired == 5) {
        uv_timer_stop(timer);
        /* A new start in another request: its context from now on. */
        ctxvar_token token;
        ctxvar_set(request_id, "restart", &token);
        timer->data = "restart";
        uv_timer_start(timer, on_repeat, 1, 1);
        ctxvar_reset(&token);
    } else if (fired == 7) {
        uv_close((uv_handle_t *)timer, NULL);
    }
}

static int timers(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = "start";
    ctxvar_token token;
    ctxvar_set(request_id, "start", &token);
    uv_timer_start(&timer, on_repeat, 1, 1);
    ctxvar_reset(&token);
    uv_run(loop, UV_RUN_DEFAULT);
    say("loop done", "main");
    return uv_loop_close(loop) != 0;
}

/* ---- cancel ----------------------------------------------------------------- */

static uv_sem_t release_blocker, blocker_started;

static void blocking_work(uv_work_t *req)
{
    (void)req;
    uv_sem_post(&blocker_started);
    uv_sem_wait(&release_blocker);
}
static void after_blocking(uv_work_t *req, int status)
{
    (void)req;
    printf("blocker done: %d\n", status);
}
static void never_work(uv_work_t *req) { say("ran?", req->data); }
static void on_cancelled(uv_work_t *req, int status)
{
    say(status == UV_ECANCELED ? "cancelled" : "not cancelled", req->data);
}
static void on_fs_cancelled(uv_fs_t *req)
{
    say(req->result == UV_ECANCELED ? "fs cancelled" : "fs not cancelled", req->data);
    uv_fs_req_cleanup(req);
}
static void never_timer(uv_timer_t *timer) { say("fired?", timer->data); }
static void timer_closed(uv_handle_t *handle) { say("closed unfired", handle->data); }

static unsigned long long live_contexts(void)
{
    struct ctxvar_stats s;
    ctxvar_stats(&s);
    return s.live_contexts;
}

static int cancel(void)
{
    enum { N = 4 };
    uv_loop_t *loop = uv_default_loop();
    uv_work_t blocker, work[N], work_null_after;
    uv_fs_t fs[N];
    uv_timer_t timer[N];
    static char labels[N][16];
    unsigned long long before = live_contexts();
    uv_sem_init(&release_blocker, 0);
    uv_sem_init(&blocker_started, 0);
    /* UV_THREADPOOL_SIZE=1: the blocker holds the only pool thread, so
     * everything queued after it can still be cancelled. */
    uv_queue_work(loop, &blocker, blocking_work, after_blocking);
    uv_sem_wait(&blocker_started);
    for (int i = 0; i < N; i++) {
        snprintf(labels[i], sizeof labels[i], "c%d", i);
        ctxvar_token token;
        ctxvar_set(request_id, labels[i], &token);
        work[i].data = fs[i].data = timer[i].data = labels[i];
        uv_queue_work(loop, &work[i], never_work, on_cancelled);
        uv_fs_stat(loop, &fs[i], "/", on_fs_cancelled);
        uv_timer_init(loop, &timer[i]);
        uv_timer_start(&timer[i], never_timer, 100000, 0);
        if (i == 0) {
            work_null_after.data = labels[i];
            uv_queue_work(loop, &work_null_after, never_work, NULL);
        }
        ctxvar_reset(&token);
    }
    printf("live while pending: %s\n", live_contexts() > before ? "more" : "same");
    for (int i = 0; i < N; i++) {
        uv_cancel((uv_req_t *)&work[i]);
        uv_cancel((uv_req_t *)&fs[i]);
        ctxvar_token token;
        ctxvar_set(request_id, labels[i], &token);
        uv_close((uv_handle_t *)&timer[i], timer_closed);
        ctxvar_reset(&token);
    }
    uv_cancel((uv_req_t *)&work_null_after);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sem_post(&release_blocker);
    uv_run(loop, UV_RUN_DEFAULT);
    unsigned long long after = live_contexts();
    printf("live_contexts back to baseline: %s\n", after == before ? "yes" : "no");
    uv_loop_close(loop);
    return 0;
}

/* ---- leftovers --------------------------------------------------------------
 *
 * The runtime keeps a libuv record in words libuv reserves inside the
 * handle or request, next to a check word that names the object's address:
 * whatever those words held before (the program's garbage, a copy of
 * another handle carrying that handle's record) must never be taken for a
 * record.  An async handle's words are libuv's own from 1.45 on (a busy
 * count in u.fd, which uv_async_send updates from any thread): the program
 * writes there as such a libuv would, and the async callback must still
 * run in its context. */

static void on_leftover_timer(uv_timer_t *timer)
{
    say("timer", timer->data);
    uv_close((uv_handle_t *)timer, NULL);
}

static void on_leftover_work(uv_work_t *req) { say("work", req->data); }
static void on_leftover_after(uv_work_t *req, int status)
{
    say(status == 0 ? "after" : "after?", req->data);
}

static uv_async_t leftover_async;
static uv_timer_t async_deadline;

static void on_leftover_async(uv_async_t *async)
{
    say("async", async->data);
    uv_close((uv_handle_t *)async, NULL);
    uv_close((uv_handle_t *)&async_deadline, NULL);
}

static void on_async_deadline(uv_timer_t *timer)
{
    printf("the async callback never ran\n");
    uv_close((uv_handle_t *)&leftover_async, NULL);
    uv_close((uv_handle_t *)timer, NULL);
}

/* An async handle given the callback member of another (the runtime's
 * trampoline): that callback is lost, but nothing may call itself. */
static uv_async_t passed_from, passed_to;
static uv_timer_t passed_deadline;

static void on_passed_from(uv_async_t *async) { say("async", async->data); }

static void close_passed(uv_timer_t *timer)
{
    uv_close((uv_handle_t *)&passed_from, NULL);
    uv_close((uv_handle_t *)&passed_to, NULL);
    uv_close((uv_handle_t *)timer, NULL);
    printf("async passed back: closed\n");
}

/* What libuv 1.45 and later do to an async handle's u.fd. */
static void use_async_words_as_libuv_does(uv_async_t *async)
{
    async->u.fd = 0;
    __atomic_fetch_add(&async->u.fd, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&async->u.fd, -1, __ATOMIC_SEQ_CST);
}

static int leftovers(void)
{
    uv_loop_t *loop = uv_default_loop();
    unsigned long long before = live_contexts();
    uv_timer_t *garbage = malloc(sizeof *garbage), *original = malloc(sizeof *original),
               *copy = malloc(sizeof *copy);
    uv_work_t *work = malloc(sizeof *work);
    if (!garbage || !original || !copy || !work) return 1;
    ctxvar_token token;

    memset(garbage, 0xa5, sizeof *garbage);
    uv_timer_init(loop, garbage);
    garbage->data = "garbage";
    ctxvar_set(request_id, "garbage", &token);
    uv_timer_start(garbage, on_leftover_timer, 2, 0);
    ctxvar_reset(&token);

    uv_timer_init(loop, original);
    original->data = "original";
    ctxvar_set(request_id, "original", &token);
    uv_timer_start(original, on_leftover_timer, 1, 0);
    ctxvar_reset(&token);
    /* The copy carries the original's words; a new start must not take
     * the original's record for its own and move it to "copy". */
    memcpy(copy, original, sizeof *copy);
    uv_timer_init(loop, copy);
    copy->data = "copy";
    ctxvar_set(request_id, "copy", &token);
    uv_timer_start(copy, on_leftover_timer, 3, 0);
    ctxvar_reset(&token);

    memset(work, 0xa5, sizeof *work);
    work->data = "work";
    ctxvar_set(request_id, "work", &token);
    uv_queue_work(loop, work, on_leftover_work, on_leftover_after);
    ctxvar_reset(&token);

    /* Async handles inited and closed unsent give their records back too. */
    for (int i = 0; i < 3; i++) {
        uv_async_t unsent;
        ctxvar_set(request_id, "unsent", &token);
        uv_async_init(loop, &unsent, on_leftover_async);
        ctxvar_reset(&token);
        use_async_words_as_libuv_does(&unsent);
        uv_close((uv_handle_t *)&unsent, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    leftover_async.data = "async";
    ctxvar_set(request_id, "async", &token);
    uv_async_init(loop, &leftover_async, on_leftover_async);
    ctxvar_reset(&token);
    use_async_words_as_libuv_does(&leftover_async);
    uv_timer_init(loop, &async_deadline);
    uv_timer_start(&async_deadline, on_async_deadline, 2000, 0);
    uv_async_send(&leftover_async);

    passed_from.data = "passed-from";
    ctxvar_set(request_id, "passed-from", &token);
    uv_async_init(loop, &passed_from, on_passed_from);
    uv_async_init(loop, &passed_to, passed_from.async_cb);
    ctxvar_reset(&token);
    uv_async_send(&passed_to);
    uv_timer_init(loop, &passed_deadline);
    uv_timer_start(&passed_deadline, close_passed, 50, 0);

    uv_run(loop, UV_RUN_DEFAULT);
    free(garbage), free(original), free(copy), free(work);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return uv_loop_close(loop) != 0;
}

/* ---- streams ---------------------------------------------------------------- */

static char stream_labels[3][16];
static size_t received;

static void on_written(uv_write_t *req, int status)
{
    say(status == 0 ? "written" : "written?", req->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    say(status == 0 ? "shut down" : "shut down?", req->data);
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void reader_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    static char space[256];
    *buf = uv_buf_init(space, suggested < sizeof space ? (unsigned)suggested : sizeof space);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n > 0) {
        received += (size_t)n;
        return;
    }
    if (n == UV_EOF) {
        char what[64];
        snprintf(what, sizeof what, "read %zu bytes to", received);
        say(what, stream->data);
        uv_close((uv_handle_t *)stream, NULL);
    }
}

static int streams(void)
{
    uv_loop_t *loop = uv_default_loop();
    unsigned long long before = live_contexts();
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
    uv_pipe_t writer, reader;
    uv_pipe_init(loop, &writer, 0);
    uv_pipe_init(loop, &reader, 0);
    uv_pipe_open(&writer, fds[0]);
    uv_pipe_open(&reader, fds[1]);
    static char reader_label[] = "eof";
    reader.data = reader_label;
    ctxvar_token token;
    ctxvar_set(request_id, "reader", &token);
    uv_read_start((uv_stream_t *)&reader, reader_alloc, on_read);
    ctxvar_reset(&token);
    uv_write_t writes[2];
    uv_shutdown_t shutdown;
    uv_buf_t buf = uv_buf_init("hello", 5);
    for (int i = 0; i < 3; i++) {
        snprintf(stream_labels[i], sizeof stream_labels[i], "s%d", i);
        ctxvar_set(request_id, stream_labels[i], &token);
        if (i == 0) {
            writes[i].data = stream_labels[i];
            printf("uv_write: %d\n", uv_write(&writes[i], (uv_stream_t *)&writer, &buf, 1, on_written));
        } else if (i == 1) {
            writes[i].data = stream_labels[i];
            printf("uv_write2: %d\n",
                   uv_write2(&writes[i], (uv_stream_t *)&writer, &buf, 1, NULL, on_written));
        } else {
            shutdown.data = stream_labels[i];
            printf("uv_shutdown: %d\n", uv_shutdown(&shutdown, (uv_stream_t *)&writer, on_shutdown));
        }
        ctxvar_reset(&token);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

/* ---- closecb ---------------------------------------------------------------- */

static void on_closed_label(uv_handle_t *handle) { say("closed", handle->data); }

static int closecb(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t a, b;
    static char label_a[] = "a", label_b[] = "b";
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    a.data = label_a;
    b.data = label_b;
    uv_close((uv_handle_t *)&a, on_closed_label);
    uv_close((uv_handle_t *)&b, a.close_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

/* ---- readback ---------------------------------------------------------------- */

static void on_timer_once(uv_timer_t *h) { say("timer", h->data); }
static void on_idle_once(uv_idle_t *h)
{
    say("idle", h->data);
    uv_idle_stop(h);
}
static void on_prepare_once(uv_prepare_t *h)
{
    say("prepare", h->data);
    uv_prepare_stop(h);
}
static void on_check_once(uv_check_t *h)
{
    say("check", h->data);
    uv_check_stop(h);
}
static void on_poll_once(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    say("poll", h->data);
    uv_poll_stop(h);
}

static int readback(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t timer;
    uv_idle_t idle;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_poll_t poll;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
    uv_timer_init(loop, &timer);
    uv_idle_init(loop, &idle);
    uv_prepare_init(loop, &prepare);
    uv_check_init(loop, &check);
    uv_poll_init(loop, &poll, sv[0]);
    timer.data = idle.data = prepare.data = check.data = poll.data = "handle";
    for (int round = 0; round < 2; round++) {
        ctxvar_token token;
        ctxvar_set(request_id, round == 0 ? "first" : "again", &token);
        if (round == 0) {
            uv_timer_start(&timer, on_timer_once, 0, 0);
            uv_idle_start(&idle, on_idle_once);
            uv_prepare_start(&prepare, on_prepare_once);
            uv_check_start(&check, on_check_once);
            uv_poll_start(&poll, UV_WRITABLE, on_poll_once);
        } else {
            uv_timer_start(&timer, timer.timer_cb, 0, 0);
            uv_idle_start(&idle, idle.idle_cb);
            uv_prepare_start(&prepare, prepare.prepare_cb);
            uv_check_start(&check, check.check_cb);
            uv_poll_start(&poll, UV_WRITABLE, poll.poll_cb);
        }
        ctxvar_reset(&token);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    uv_close((uv_handle_t *)&timer, NULL);
    uv_close((uv_handle_t *)&idle, NULL);
    uv_close((uv_handle_t *)&prepare, NULL);
    uv_close((uv_handle_t *)&check, NULL);
    uv_close((uv_handle_t *)&poll, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    close(sv[0]);
    close(sv[1]);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

/* ---- poolidle ---------------------------------------------------------------- */

static void on_stat(uv_fs_t *req)
{
    say("stat", req->data);
    uv_fs_req_cleanup(req);
}

static void program_thread(void *label) { say("thread", label); }

static int poolidle(void)
{
    uv_loop_t *loop = uv_default_loop();
    unsigned long long before = live_contexts();
    uv_fs_t stat;
    stat.data = "pool";
    ctxvar_token token;
    ctxvar_set(request_id, "pool", &token);
    uv_fs_stat(loop, &stat, "/", on_stat); /* libuv starts its workers here */
    ctxvar_reset(&token);
    uv_run(loop, UV_RUN_DEFAULT);
    /* libuv's thread API runs the program's own function: it inherits. */
    uv_thread_t thread;
    ctxvar_set(request_id, "thread", &token);
    uv_thread_create(&thread, program_thread, "thread");
    ctxvar_reset(&token);
    uv_thread_join(&thread);
    printf("live_contexts back to baseline: %s\n", live_contexts() == before ? "yes" : "no");
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

/* ---- direct ------------------------------------------------------------------ */

static void on_walked_timer(uv_timer_t *timer) { say("timer", timer->data); }
static void on_reset_closed(uv_handle_t *handle) { say("closed", handle->data); }

#define SIBLING_CALLS __attribute__((noinline, optimize("O2", "optimize-sibling-calls")))

static SIBLING_CALLS void start_walked(uv_timer_t *timer)
{
    uv_timer_start(timer, on_walked_timer, 50, 0); /* after the close callback */
}

/* libuv calls it straight, no trampoline of ours between: the request
 * set here is the program's entry, and the start returns into libuv. */
static SIBLING_CALLS void on_walk(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (handle->type != UV_TIMER) return;
    ctxvar_set(request_id, handle->data, NULL);
    start_walked((uv_timer_t *)handle);
}

static int direct(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = "walked";
    uv_walk(loop, on_walk, NULL);
    ctxvar_set(request_id, NULL, NULL);
    uv_tcp_t tcp;
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    uv_tcp_init(loop, &tcp);
    tcp.data = "reset";
    if (uv_tcp_bind(&tcp, (const struct sockaddr *)&any, 0) != 0) return 1;
    ctxvar_token token;
    ctxvar_set(request_id, "reset", &token);
    int result = uv_tcp_close_reset(&tcp, on_reset_closed);
    ctxvar_reset(&token);
    printf("uv_tcp_close_reset: %d\n", result);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}

/* ---- jobchanges ---------------------------------------------------------------
 *
 * A pool job runs on the reference its record holds until the after-work
 * callback; these jobs make the runtime take one of its own (or not) in
 * every way a job can change its context. */

struct changing_job {
    uv_work_t work;
    int kind;
    char label[16];
    ctxvar_ctx *kept; /* what the job kept past its end, released after it */
};

static void *nested_set(void *label)
{
    ctxvar_set(ctxvar_named("step"), "nested", NULL);
    say("nested", label);
    return NULL;
}

static void changing_work(uv_work_t *req)
{
    struct changing_job *job = req->data;
    ctxvar *step = ctxvar_named("step");
    ctxvar_token token;
    say("work", job->label);
    switch (job->kind) {
    case 0: /* nothing */
        break;
    case 1: /* a set that the job never undoes */
        ctxvar_set(step, "set", NULL);
        break;
    case 2: /* a set undone */
        ctxvar_set(step, "set", &token);
        say("set", job->label);
        ctxvar_reset(&token);
        break;
    case 3: /* swapped away, kept past the job's end */
        job->kept = ctxvar_swap(NULL);
        break;
    case 4: /* swapped away and back, then cleared */
        ctxvar_swap(ctxvar_swap(NULL));
        say("swapped back", job->label);
        ctxvar_clear();
        break;
    case 5: { /* a nested run in a snapshot of its own, kept */
        job->kept = ctxvar_capture();
        ctxvar_run(job->kept, nested_set, job->label);
        break;
    }
    }
    say("work end", job->label);
}

static void changed_after(uv_work_t *req, int status)
{
    struct changing_job *job = req->data;
    say(status == 0 ? "after" : "after?", job->label);
    if (job->kept) {
        char text[256];
        ctxvar_ctx *kept = job->kept;
        job->kept = NULL;
        const char *id = ctxvar_ctx_get(kept, request_id, "(none)");
        snprintf(text, sizeof text, "kept %s: request_id=%s", job->label, id);
        puts(text);
        ctxvar_release(kept);
    }
}

/* The fork: a job that waits inside its frame while the loop thread
 * forks; the child, which has no pool thread, counts the contexts alive
 * in it, which must be as many as in the parent at the fork. */
static uv_sem_t in_job, may_finish;

static void waiting_work(uv_work_t *req)
{
    uv_sem_post(&in_job);
    uv_sem_wait(&may_finish);
    say("work", ((struct changing_job *)req->data)->label);
}

static int jobchanges(int with_fork)
{
    enum { KINDS = 6 };
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    uv_loop_t *loop = uv_default_loop();
    static struct changing_job jobs[KINDS + 1];
    unsigned long long before = live_contexts();
    for (int i = 0; i <= KINDS; i++) {
        struct changing_job *job = &jobs[i];
        job->kind = i;
        job->work.data = job;
        snprintf(job->label, sizeof job->label, "j%d", i);
        /* Set, submitted, reset: only the job's record holds its request. */
        ctxvar_token token;
        ctxvar_set(request_id, job->label, &token);
        if (i < KINDS) {
            uv_queue_work(loop, &job->work, changing_work, changed_after);
        } else {
            uv_sem_init(&in_job, 0);
            uv_sem_init(&may_finish, 0);
            uv_queue_work(loop, &job->work, waiting_work, changed_after);
        }
        ctxvar_reset(&token);
    }
    /* Every job before the last has run by the time the last has started:
     * one pool thread runs them in order. */
    uv_sem_wait(&in_job);
    unsigned long long at_fork = live_contexts();
    fflush(stdout);
    pid_t child = with_fork ? fork() : -1;
    if (child == 0) {
        unsigned long long in_child = live_contexts();
        printf("child: %s\n", in_child == at_fork ? "as many contexts as the parent"
                                                  : "a different number of contexts");
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    if (child > 0) waitpid(child, &status, 0);
    uv_sem_post(&may_finish);
    uv_run(loop, UV_RUN_DEFAULT);
    unsigned long long after = live_contexts();
    printf("live contexts: %s\n", after == before ? "as before" : "not as before");
    return uv_loop_close(loop) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ---- jobexit ------------------------------------------------------------------ */

static void count_at_exit(void)
{
    printf("at exit: %llu context(s) alive\n", live_contexts());
    fflush(stdout);
    _exit(0); /* libuv's own destructor, run next, aborts when a pool thread exits */
}

static void registering_work(uv_work_t *req)
{
    (void)req;
    ctxvar_token token; /* makes the pool thread arrange its release at exit */
    ctxvar_set(ctxvar_named("step"), "registering", &token);
    ctxvar_reset(&token);
}

/* Posted once the submitter has reset: from then on only the job's record
 * holds its request. */
static uv_sem_t submitter_reset;

static void exiting_work(uv_work_t *req)
{
    uv_sem_wait(&submitter_reset);
    say("work", req->data);
    fflush(stdout);
    exit(0);
}

static int jobexit(void)
{
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    uv_loop_t *loop = uv_default_loop();
    static uv_work_t first, second;
    first.data = "first", second.data = "exits";
    atexit(count_at_exit);
    ctxvar_token token;
    ctxvar_set(request_id, "first", &token);
    uv_queue_work(loop, &first, registering_work, on_after);
    ctxvar_reset(&token);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_sem_init(&submitter_reset, 0);
    ctxvar_set(request_id, "exits", &token);
    uv_queue_work(loop, &second, exiting_work, on_after); /* never after: the process ends */
    ctxvar_reset(&token);
    uv_sem_post(&submitter_reset);
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    request_id = ctxvar_named("request_id");
    if (argc >= 4 && strcmp(argv[1], "requests") == 0) return requests(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 2 && strcmp(argv[1], "timers") == 0) return timers();
    if (argc >= 2 && strcmp(argv[1], "cancel") == 0) return cancel();
    if (argc >= 2 && strcmp(argv[1], "leftovers") == 0) return leftovers();
    if (argc >= 2 && strcmp(argv[1], "streams") == 0) return streams();
    if (argc >= 2 && strcmp(argv[1], "closecb") == 0) return closecb();
    if (argc >= 2 && strcmp(argv[1], "direct") == 0) return direct();
    if (argc >= 2 && strcmp(argv[1], "readback") == 0) return readback();
    if (argc >= 2 && strcmp(argv[1], "poolidle") == 0) return poolidle();
    if (argc >= 2 && strcmp(argv[1], "jobexit") == 0) return jobexit();
    if (argc >= 2 && strcmp(argv[1], "jobchanges") == 0)
        return jobchanges(argc < 3 || strcmp(argv[2], "nofork") != 0);
    fprintf(stderr, "usage: loops_uv requests THREADS JOBS | timers | cancel | leftovers | streams | "
                    "closecb | direct | readback | poolidle | jobchanges [nofork] | jobexit\n");
    return 2;
}
