#!/usr/bin/env bats
# libevent, unmodified, from Debian: timers, event_base_once, persistent and
# embedded events and bufferevents call back in the context of the request
# that registered or scheduled them, and the program reads back what it
# passed (shim/libevent.c, shim/libevent_buffer.c); memcached, a real
# libevent server, answers the same under ctxrun.

load helpers

setup() {
    [ -x "$PROGS/loops_event" ] || skip "libevent-dev is not installed"
}

expected_requests() {
    local threads=$1 n=$2 t j
    {
        for ((t = 0; t < threads; t++)); do
            for ((j = 0; j < n; j++)); do
                echo "oneshot r$t.$j: request_id=r$t.$j"
                echo "once r$t.$j: request_id=r$t.$j"
                echo "persist r$t.$j: request_id=r$t.$j"
                echo "persist r$t.$j: request_id=r$t.$j"
                echo "embedded r$t.$j: request_id=r$t.$j"
                echo "embedded r$t.$j: request_id=r$t.$j"
            done
            echo "own t$t: "
            echo "loop done t$t: "
        done
    } | LC_ALL=C sort
}

@test "timers, event_base_once, persistent, assigned and legacy event_set events from four threads each run in their own request" {
    run -0 --separate-stderr bash -c "LD_PRELOAD='$RUNTIME' '$PROGS/loops_event' requests 4 5 | LC_ALL=C sort"
    expect_output < <(expected_requests 4 5)
    expect_no_stderr
}

@test "CTXVAR_LOOPS=0 turns the libevent support off: the loop thread's empty context, as without it" {
    run -0 --separate-stderr bash -c "CTXVAR_LOOPS=0 LD_PRELOAD='$RUNTIME' '$PROGS/loops_event' requests 4 5 | LC_ALL=C sort"
    [ "$output" != "$(expected_requests 4 5)" ]
    [[ "$output" == *"once r0.0: "$'\n'* ]]
}

@test "a one-shot event runs in the context of event_add or event_active, a persistent one in its registration's" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event" when
    expect_output <<'EOF'
fired oneshot (activated in activated): request_id=activated
fired persistent (activated in activated): request_id=registered
fired oneshot (added in added): request_id=added
fired persistent (added in added): request_id=registered
after the loop main: 
EOF
    expect_no_stderr
}

@test "bufferevents over a socketpair call back in the context of their bufferevent_setcb" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event" buffers
    expect_output <<'EOF'
read "ping" by rb: request_id=rb
read "pong" by ra: request_id=ra
eof at rb: request_id=rb
after the loop main: 
EOF
    expect_no_stderr
}

@test "a bufferevent with unlocked, deferred callbacks: another thread's setcb or free between libevent reading the callback and calling it, as without the runtime" {
    # The old callback still runs, with its old argument and, under the
    # runtime, the context of the setcb that registered them; its record
    # used to be freed under it (a call through NULL).
    local mode expected
    for mode in setcb "free 2" "clear 2"; do
        run -0 --separate-stderr "$PROGS/bufferevent_unlocked" $mode
        expected=$output
        [ "${lines[0]}" = "callbacks: $([ "$mode" = setcb ] && echo 20 || echo 1)" ]
        run -0 --separate-stderr preloaded "$PROGS/bufferevent_unlocked" $mode
        [ "$output" = "$expected" ] || { echo "$mode: $output" >&2; false; }
        [ "${lines[1]}" = "argument and context agree: yes" ]
        [ "${lines[2]}" = "live_contexts back to baseline: yes" ]
        expect_no_stderr
    done
}

@test "the getters, event_self_cbarg and finalizers give the program its own callbacks and arguments" {
    # After event_finalize the getters show the finalizer and the argument,
    # as libevent does, also once the finalizer ran (they used to read a
    # freed record then).
    run -0 --separate-stderr preloaded "$PROGS/loops_event" getters
    expect_output <<'EOF'
event_get_callback: program's
event_get_callback_arg: program's
self arg: the event
event_get_assignment: base same fd -1 events 0 callback program's arg program's
bufferevent_getcb: read program's write none event program's arg program's
finalized arg: request_id=g
finalizing pending: event_get_callback the finalizer event_get_callback_arg program's event_get_assignment the finalizer program's
finalized embedded: request_id=g
finalizing done: event_get_callback the finalizer event_get_callback_arg program's event_get_assignment the finalizer program's
embedded embedded: request_id=again
EOF
    expect_no_stderr
}

@test "events freed unfired, embedded events reused, finalized events, freed bufferevents, libevent's own loopexit events and event_base_once events of a freed base give every context back" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event" frees
    expect_output <<'EOF'
finalized f0: request_id=f0
finalized f1: request_id=f1
finalized f2: request_id=f2
finalized f3: request_id=f3
finalized f4: request_id=f4
finalized f5: request_id=f5
finalized f6: request_id=f6
finalized f7: request_id=f7
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "events embedded in structs the program frees with free() after event_del keep no context: one-shot, fired or not, and persistent" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event" dropped
    expect_output <<'EOF'
fired: 100, each in its request: yes
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "event_add and event_del of one event on two threads, and event_del of a running EV_FINALIZE event, give each reference back once" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" adddel
    [ "$output" = "live_contexts back to baseline: yes" ]
    expect_no_stderr
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" finalizedel
    expect_output <<'EOF'
ran: yes
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "a one-shot event a worker activates over and over runs every time in the worker's request, also with a new request each time" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" activate
    expect_output <<'EOF'
ran: yes, each in the worker's request: yes
live_contexts back to baseline: yes
EOF
    expect_no_stderr
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" activatenew
    expect_output <<'EOF'
ran: yes, each in one of the worker's requests: yes
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "a persistent event deleted and then fired by event_active runs in the context of that event_active" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" delactive
    [ "$output" = "persistent, deleted, then activated: request_id=r2" ]
    expect_no_stderr
}

@test "a bufferevent with unlocked callbacks freed by a finalizer that event_base_free runs keeps no context" {
    run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" finalizerfree
    [ "$output" = "live_contexts back to baseline: yes" ]
    expect_no_stderr
}

@test "a bufferevent whose callbacks were set twice: one run of the loop (EVLOOP_ONCE) gets the data, and the base counts its events, as without the runtime" {
    for mode in looponce looponceunlocked; do
        run -0 --separate-stderr "$PROGS/loops_event_threads" "$mode"
        plain=$output
        run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" "$mode"
        expect_no_stderr
        [ "$output" = "$plain" ]
        # Unlocked callbacks: the replaced record waits for the loop to
        # free it, with no event of ours in the base for the program to see.
        expect_output <<'EOF'
events in the base: 0
reads after one run of the loop: 1
live_contexts back to baseline: yes
EOF
    done
}

@test "bufferevent_getcb on one thread while another replaces the callbacks and the loop runs: the program's callback and argument, read before the record can go" {
    # The program's lock functions stop the getter each time it lets go of
    # the bufferevent's lock, until the record it may be reading has been
    # replaced and the loop has run long enough to free it.
    local expected='read callback, arg new
getcb: readcb rd, arg old'
    run -0 --separate-stderr timeout 30 "$PROGS/bufferevent_getcb"
    [ "$output" = "$expected" ]
    run -0 --separate-stderr preloaded timeout 30 "$PROGS/bufferevent_getcb"
    [ "$output" = "$expected" ]
    expect_no_stderr
}

@test "an event_assign libevent refuses after storing the new callback leaves the event running that callback" {
    # libevent 2.1 stores the callback and its argument before refusing
    # EV_SIGNAL with EV_READ: the event is the program's second assignment.
    run -0 --separate-stderr preloaded "$PROGS/loops_event" refused
    expect_output <<'EOF'
event_assign: 0, then -1; callback on_second, argument two
second two: request_id=added
EOF
    expect_no_stderr
}

@test "calls that return straight into libevent are carried: sibling calls from a callback libevent calls directly, and libevent's bufferevent_new" {
    # An evbuffer callback sets the request and ends in a jump to
    # event_base_once, event_add or bufferevent_setcb; the loop then runs
    # with no request.
    run -0 --separate-stderr preloaded "$PROGS/loops_event" direct
    expect_output <<'EOF'
read legacy: request_id=legacy
read entered2: request_id=entered2
direct entered0: request_id=entered0
direct entered1: request_id=entered1
EOF
    expect_no_stderr
}

@test "a program's own library whose name starts like libevent's is the program's: its callbacks are carried" {
    run -0 --separate-stderr preloaded "$PROGS/event_named_main"
    expect_output <<'EOF'
handled A: request_id=A
handled B: request_id=B
EOF
    expect_no_stderr
}

@test "sixteen threads making the process's first libevent calls at once each have their callback carried" {
    # Whichever thread looks for libevent's code first, the others find it
    # too rather than pass their calls through; 40 runs, since the window
    # is the first moments of the process.
    for ((run_no = 0; run_no < 40; run_no++)); do
        run -0 --separate-stderr preloaded "$PROGS/loops_event_threads" firstuse
        [ "$output" = "callbacks in another context: 0" ]
    done
}

@test "the frees leak nothing under valgrind memcheck" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q \
        --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
        "$PROGS/loops_event" frees
    [ "${lines[-1]}" = "live_contexts back to baseline: yes" ]
    [ "${lines[0]}" = "finalized f0: request_id=f0" ]
    expect_no_stderr
}

@test "the getters read nothing freed under valgrind memcheck, also after a finalizer ran" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q --error-exitcode=99 \
        "$PROGS/loops_event" getters
    [ "${lines[-2]}" = "finalizing done: event_get_callback the finalizer event_get_callback_arg program's event_get_assignment the finalizer program's" ]
    expect_no_stderr
}

# A free TCP port on 127.0.0.1 (the kernel picks one; it is released at once).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# memcached_session PREFIX...: starts memcached on a free port under
# PREFIX, sets, gets, deletes and increments a few keys, then shuts it down
# with SIGTERM; prints the client's transcript and memcached's exit status.
memcached_session() {
    local port pid i
    port=$(free_port)
    "$@" memcached -l 127.0.0.1 -p "$port" -U 0 -t 4 -u nobody -c 64 2>/dev/null &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "memcached did not start"; return 1; }
    printf 'set k1 0 0 2\r\nv1\r\nset k2 0 0 5\r\nhello\r\nset k3 7 0 1\r\nx\r\nget k1 k2 k3\r\ndelete k2\r\nget k2\r\nincr k3 1\r\nquit\r\n' >&3
    timeout 10 cat <&3 | tr -d '\r'
    exec 3>&-
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    echo "exit status: $status"
}

@test "memcached serves the same answers plain and under ctxrun and shuts down cleanly" {
    command -v memcached >/dev/null || skip "memcached is not installed"
    plain=$(memcached_session env)
    run -0 memcached_session "$CTXRUN" --set request_id=boot --
    [ "$output" = "$plain" ]
    expect_output <<'EOF'
STORED
STORED
STORED
VALUE k1 0 2
v1
VALUE k2 0 5
hello
VALUE k3 7 1
x
END
DELETED
END
CLIENT_ERROR cannot increment or decrement non-numeric value
exit status: 0
EOF
}

@test "a library that is not libevent but exports event_new and event_add gets exactly the program's callback and argument; one that exports uv_close, its object untouched" {
    # libev's libevent emulation exports these names with structs of its
    # own: with no libevent (or libuv) loaded, the runtime leaves such
    # calls alone.  The uv_close object is 4 bytes at the end of a page.
    run -0 --separate-stderr preloaded "$PROGS/impostor_event_main"
    expect_no_stderr
    expect_output <<'EOF2'
callback: fd -1, what 1, arg the program's, context r1
the library kept: callback the program's, arg the program's
lamp closed, on=0
EOF2
}
