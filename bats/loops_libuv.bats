#!/usr/bin/env bats
# libuv, unmodified, from Debian: pool work, fs, name resolution, timers and
# close callbacks run in the context of the request that submitted or
# started them (shim/libuv.c, shim/libuv_req.c).  Each program line names
# the request it belongs to (from req->data or handle->data) and shows the
# context it ran in, so a line is right exactly when the two agree.

load helpers

setup() {
    [ -x "$PROGS/loops_uv" ] || skip "libuv1-dev is not installed"
}

# `loops_uv MODE [ARG]` under valgrind memcheck with one pool thread: any error
# or definite leak fails the run (exit 99).
memchecked_loops_uv() {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    UV_THREADPOOL_SIZE=1 run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q \
        --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
        "$PROGS/loops_uv" "$@"
}

# The lines `loops_uv requests THREADS JOBS` must print, sorted.
expected_requests() {
    local threads=$1 jobs=$2 t j what
    {
        for ((t = 0; t < threads; t++)); do
            for ((j = 0; j < jobs; j++)); do
                for what in work after fs resolve timer closed; do
                    echo "$what r$t.$j: request_id=r$t.$j"
                done
            done
            echo "own t$t: "
            echo "loop done t$t: "
        done
    } | LC_ALL=C sort
}

@test "uv_queue_work, uv_fs_stat, uv_getaddrinfo and timers from four threads run every callback in its own request" {
    run -0 --separate-stderr bash -c "LD_PRELOAD='$RUNTIME' '$PROGS/loops_uv' requests 4 6 | LC_ALL=C sort"
    expect_output < <(expected_requests 4 6)
    expect_no_stderr
}

@test "CTXVAR_LOOPS=0 turns the libuv support off: other requests' ids or none, as without it" {
    # The runtime with loop support off: pool threads show the request that
    # made the pool grow, loop callbacks the loop thread's empty context.
    run -0 --separate-stderr bash -c "CTXVAR_LOOPS=0 LD_PRELOAD='$RUNTIME' '$PROGS/loops_uv' requests 4 6 | LC_ALL=C sort"
    [ "$output" != "$(expected_requests 4 6)" ]
    [[ "$output" == *"after r0.0: "$'\n'* ]]
    [[ "$output" == *"timer r3.5: "$'\n'* ]]
}

@test "a repeating timer keeps its start's context through uv_timer_again; a new start takes the new one" {
    run -0 --separate-stderr preloaded "$PROGS/loops_uv" timers
    expect_output <<'EOF'
repeat start: request_id=start
repeat start: request_id=start
repeat start: request_id=start
repeat start: request_id=start
repeat start: request_id=start
repeat restart: request_id=restart
repeat restart: request_id=restart
loop done main: 
EOF
    expect_no_stderr
}

@test "cancelled work and fs requests and timers closed unfired call back in their request and free every record" {
    # One pool thread, held by a blocker, so the others stay queued.  The
    # records hold the requests' contexts while pending ("more") and give
    # them back through libuv's own completion paths.
    UV_THREADPOOL_SIZE=1 run -0 --separate-stderr preloaded "$PROGS/loops_uv" cancel
    expect_output <<'EOF'
live while pending: more
cancelled c0: request_id=c0
fs cancelled c0: request_id=c0
cancelled c1: request_id=c1
fs cancelled c1: request_id=c1
cancelled c2: request_id=c2
fs cancelled c2: request_id=c2
cancelled c3: request_id=c3
fs cancelled c3: request_id=c3
closed unfired c3: request_id=c3
closed unfired c2: request_id=c2
closed unfired c1: request_id=c1
closed unfired c0: request_id=c0
blocker done: 0
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "handles whose memory held garbage or a copy of a started one, and async handles whose words libuv uses, keep their own records" {
    # Records live in words libuv reserves inside the handle or request,
    # next to a check word naming the object's address: garbage there, or
    # the original's words in a byte-for-byte copy, is never taken for a
    # record (the copy's start would otherwise move the original's record to
    # its own request, and closing both would release it twice).  libuv
    # 1.45 and later keep a busy count in an async handle's u.fd: its record
    # is kept elsewhere, and the program writes there as such a libuv does.
    # An async handle given another's callback member (our trampoline) loses
    # that callback, but must not crash (the trampoline used to call itself).
    UV_THREADPOOL_SIZE=1 run -0 --separate-stderr bash -c "LD_PRELOAD='$RUNTIME' '$PROGS/loops_uv' leftovers | LC_ALL=C sort"
    expect_output <<'EOF'
after work: request_id=work
async async: request_id=async
async passed back: closed
live_contexts back to baseline: yes
timer copy: request_id=copy
timer garbage: request_id=garbage
timer original: request_id=original
work work: request_id=work
EOF
    expect_no_stderr
}

@test "uv_write, which reaches uv_write2 by a tail call, uv_write2 and uv_shutdown call back once each, in their own request" {
    # Debian's uv_write ends in a jump to uv_write2, which then sees the
    # program's return address and the trampoline uv_write was given; taken
    # for the program's call, it used to replace the write's record with one
    # calling the trampoline itself, and the callback was lost.
    run -0 --separate-stderr preloaded "$PROGS/loops_uv" streams
    expect_output <<'EOF'
uv_write: 0
uv_write2: 0
uv_shutdown: 0
written s0: request_id=s0
written s1: request_id=s1
shut down s2: request_id=s2
read 10 bytes to eof: request_id=reader
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "a close callback read back from another handle is lost, as documented, and CTXVAR_DEBUG=1 says so" {
    # libuv runs close callbacks latest first.
    run -0 --separate-stderr "$PROGS/loops_uv" closecb
    expect_output <<'EOF'
closed b: 
closed a: 
EOF
    run -0 --separate-stderr env CTXVAR_DEBUG=1 LD_PRELOAD="$RUNTIME" "$PROGS/loops_uv" closecb
    expect_output <<'EOF'
closed a: 
EOF
    [ "$stderr" = "ctxvar: libuv: a handle closed with no record; its close callback is lost" ]
}

@test "memcheck finds no error in reading libuv's reserved words, garbage or never written" {
    # The runtime reads those words before it knows what they hold (the
    # check word vouches for them), and tells memcheck so: a program that is
    # clean under valgrind stays clean with the runtime.
    memchecked_loops_uv leftovers
    [ "${lines[-1]}" = "live_contexts back to baseline: yes" ]
    [ "${#lines[@]}" -eq 8 ]
    expect_no_stderr
}

@test "cancellation and closing leak nothing under valgrind memcheck" {
    memchecked_loops_uv cancel
    [ "${lines[-1]}" = "live_contexts back to baseline: yes" ]
    [ "${lines[1]}" = "cancelled c0: request_id=c0" ]
    expect_no_stderr
}

# The lines `loops_uv jobchanges` prints, sorted; with `fork`, the child's.
expected_job_changes() {
    {
        for j in 0 1 2 3 4 5 6; do
            echo "work j$j: request_id=j$j"
            echo "after j$j: request_id=j$j"
        done
        cat <<'EOF'
work end j0: request_id=j0
work end j1: request_id=j1 step=set
set j2: request_id=j2 step=set
work end j2: request_id=j2
work end j3: 
swapped back j4: request_id=j4
work end j4: 
nested j5: request_id=j5 step=nested
work end j5: request_id=j5
kept j3: request_id=j3
kept j5: request_id=j5
live contexts: as before
EOF
        [ "${1-}" != fork ] || echo "child: as many contexts as the parent"
    } | LC_ALL=C sort
}

@test "pool jobs that set, reset, swap, clear or nest leave every after-work callback its own request; a fork during a job keeps its context; nothing leaks" {
    # Each job's request is held by its record alone, which lends the job
    # its reference: a change inside the job must take one of its own, and
    # a forked child must not release what the pool thread only borrows.
    run -0 --separate-stderr bash -c "UV_THREADPOOL_SIZE=1 LD_PRELOAD='$RUNTIME' '$PROGS/loops_uv' jobchanges | LC_ALL=C sort"
    expect_output < <(expected_job_changes fork)
    expect_no_stderr
}

@test "pool jobs that change their context: no memory error and no leak under valgrind memcheck" {
    memchecked_loops_uv jobchanges nofork
    output=$(printf '%s\n' "${lines[@]}" | LC_ALL=C sort)
    expect_output < <(expected_job_changes)
    expect_no_stderr
}

@test "a pool job that calls exit() leaves its record's context alive while the atexit handlers run" {
    # glibc runs the exiting thread's thread_local destructors, and so the
    # runtime's release of the pool thread's context, with the job's frame
    # still open: the context the job runs in is its record's (the job
    # waits until the submitter has reset, so nothing else holds it).
    run -0 --separate-stderr preloaded "$PROGS/loops_uv" jobexit
    expect_output <<'EOF'
after first: request_id=first
work exits: request_id=exits
at exit: 1 context(s) alive
EOF
    expect_no_stderr
}

# loops_reload: after each round the program unloads the library and maps
# memory where it was, so the next copy lands elsewhere.
expect_three_rounds() {
    expect_output <<'EOF'
round 0: result 0, callback: request_id=r0
round 1: result 0, callback: request_id=r1
round 2: result 0, callback: request_id=r2
done
EOF
    expect_no_stderr
}

@test "libuv dlopen'ed, unloaded and loaded again elsewhere, three times, RTLD_LOCAL and RTLD_GLOBAL: each round's callback in its request's context" {
    local mode
    for mode in uv-local uv-global; do
        run -0 --separate-stderr preloaded "$PROGS/loops_reload" "$mode"
        expect_three_rounds
    done
}

@test "libevent dlopen'ed, unloaded and loaded again elsewhere, three times: each round's one-shot timer in its request's context" {
    [ -x "$PROGS/loops_event" ] || skip "libevent-dev is not installed"
    run -0 --separate-stderr preloaded "$PROGS/loops_reload" event
    expect_three_rounds
}

@test "a plugin dlopen'ed RTLD_LOCAL with its own libuv gets its work in each request's context" {
    run -0 --separate-stderr bash -c "LD_PRELOAD='$RUNTIME' '$PROGS/loops_plugin_main' '$PROGS/libloops_plugin.so' | LC_ALL=C sort"
    expect_output <<'EOF'
libuv global: no
plugin after p0 (0): request_id=p0
plugin after p1 (0): request_id=p1
plugin after p2 (0): request_id=p2
plugin work p0: request_id=p0
plugin work p1: request_id=p1
plugin work p2: request_id=p2
EOF
    expect_no_stderr
}

@test "a program that uses neither libuv nor libevent loads neither and binds none of their symbols" {
    run -0 env LD_PRELOAD="$RUNTIME" LD_DEBUG=libs,bindings "$PROGS/three_threads"
    if grep -E 'libuv|libevent|symbol `(uv|event|bufferevent)_' <<<"$output" >&2; then
        return 1
    fi
    # The check can see: the runtime's own bindings are there.
    grep -q 'symbol `pthread_create' <<<"$output"
}

@test "a refused uv_read_start or uv_listen leaves the first callbacks and their context; a start given back s->alloc_cb, or both callbacks, runs the program's own in the new context" {
    run -0 --separate-stderr preloaded "$PROGS/uv_read_again"
    expect_no_stderr
    expect_output <<'EOF2'
first start: 0
second start: UV_EALREADY
listen on it: refused
read by the first callbacks: x (request_id=first)
third start: 0
read by the third callback: y (request_id=third)
fourth start, both callbacks read back: 0
read by the third callback: z (request_id=fourth)
live_contexts back to baseline: yes
EOF2
}

@test "calls that return straight into libuv are carried: a uv_walk callback ending in a jump to uv_timer_start, and uv_tcp_close_reset's close callback" {
    # libuv calls a uv_walk callback itself, with nothing of ours between:
    # the request it sets is the program's, though the start returns into
    # libuv; uv_tcp_close_reset passes the program's callback on to
    # uv_close.
    run -0 --separate-stderr preloaded "$PROGS/loops_uv" direct
    expect_no_stderr
    expect_output <<'EOF2'
uv_tcp_close_reset: 0
closed reset: request_id=reset
timer walked: request_id=walked
EOF2
}

@test "timer, idle, prepare, check and poll handles started again with the callback read back from their public member run in the new start's context" {
    # uv_timer_start(t, t->timer_cb, ...) passes the runtime's trampoline,
    # which stands for the program's callback; libuv's own uv_timer_again
    # passes it too and keeps the start's context (the timers test).
    run -0 --separate-stderr preloaded "$PROGS/loops_uv" readback
    expect_no_stderr
    expect_output <<'EOF2'
timer handle: request_id=first
idle handle: request_id=first
prepare handle: request_id=first
poll handle: request_id=first
check handle: request_id=first
timer handle: request_id=again
idle handle: request_id=again
prepare handle: request_id=again
poll handle: request_id=again
check handle: request_id=again
EOF2
}

@test "libuv's pool workers, started inside the first request that needs them, keep no request; a uv_thread_create thread inherits" {
    # libuv's default four workers; before, they held the first request's
    # context for the rest of the process.
    run -0 --separate-stderr env -u UV_THREADPOOL_SIZE LD_PRELOAD="$RUNTIME" "$PROGS/loops_uv" poolidle
    expect_no_stderr
    expect_output <<'EOF2'
stat pool: request_id=pool
thread thread: request_id=thread
live_contexts back to baseline: yes
EOF2
}
