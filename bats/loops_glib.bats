#!/usr/bin/env bats
# GLib with no change to the program (ctxvar.h, "Event loops and library
# pools"): GThreadPool jobs (shared and exclusive pools) and GTask thread
# functions run in the context of the code that pushed them, as pool tasks;
# idle, timeout and invoke callbacks, every public variant, in the context
# of the call that scheduled them, with the loop thread's own context back
# after each; what GLib hands the program (comparators, item-free and
# destroy notifies, remove- and find-by-data) is the program's own data.
# The programs are bats/programs/loops_glib.c, glib_plugin.c and
# glib_dlopen.c, built against Debian's GLib.

load helpers

jobs_of_four_requests() {
    local r k
    for r in 1 2 3 4; do
        for k in 1 2 3; do echo "job r$r.$k: request_id=r$r"; done
    done
}

@test "jobs pushed by four requests to a shared GThreadPool each run in their pusher's context" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" pool shared
    expect_output < <(jobs_of_four_requests)
    expect_no_stderr
}

@test "jobs pushed by four requests to an exclusive GThreadPool each run in their pusher's context" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" pool exclusive
    expect_output < <(jobs_of_four_requests)
    expect_no_stderr
}

@test "job records are reused: 20,000 jobs from two requests each see their pusher's id, and the heap stays flat from round 2 to 20" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" reuse
    expect_output <<'EOF2'
jobs that saw their pusher's request_id: 20000 of 20000
heap in use from round 2 to round 20: grew less than 256 KiB
EOF2
    expect_no_stderr
}

@test "GTask thread functions run in their caller's context, and an async task's callback too; the loop thread's own is back" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" gtask
    expect_output <<'EOF2'
task t1: request_id=t1
task t2: request_id=t2
task t3: request_id=t3
task async1: request_id=async1
callback of async1 (result 1): request_id=async1
main after the loop: 
EOF2
    expect_no_stderr
}

@test "a GTask's callback runs in the context of its g_task_new, returned by a helper thread of another request, from an fd source, or run in a thread from another request" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" returned
    expect_output <<'EOF2'
callback of a1 (true): request_id=a1
callback of a2 (failed: 7 a2): request_id=a2
callback of d1 (true): request_id=d1
callback of r1 (true): request_id=r1
fd source after the return: 
main after the loop: 
live_contexts back to baseline: yes
EOF2
    expect_no_stderr
    # Without the runtime: the same results, no context anywhere (each
    # ctxvar_set says it has no runtime).
    run -0 --separate-stderr "$PROGS/loops_glib" returned
    run -0 grep '^callback' <<<"$output"
    expect_output <<'EOF2'
callback of a1 (true): 
callback of a2 (failed: 7 a2): 
callback of d1 (true): 
callback of r1 (true): 
EOF2
}

@test "valgrind finds no error and nothing definitely lost when GTasks are returned from another thread" {
    command -v valgrind >/dev/null || skip "valgrind not installed"
    run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99 \
        "$PROGS/loops_glib" returned
    [ "${lines[2]}" = "callback of d1 (true): request_id=d1" ]
    [ "${lines[6]}" = "live_contexts back to baseline: yes" ]
}

# sources_expected: what `loops_glib sources` prints when every callback
# runs in its scheduler's context and nothing leaks from one to the next.
sources_expected() {
    local r what
    echo "main's own idle: loop=main"
    for r in r1 r2 r3; do
        for what in g_idle_add_full g_main_context_invoke_full g_source_set_callback \
                    g_timeout_add_full g_timeout_add_seconds_full; do
            echo "notify $r $what"
        done
    done
    for r in r1 r2 r3; do
        for what in "g_idle_add run 1" "g_idle_add run 2" "g_idle_add_full run 1" \
                    "g_idle_add_full run 2" g_idle_add_once g_main_context_invoke \
                    g_main_context_invoke_full g_source_set_callback "g_timeout_add run 1" \
                    "g_timeout_add run 2" "g_timeout_add_full run 1" "g_timeout_add_full run 2" \
                    g_timeout_add_once "g_timeout_add_seconds run 1" "g_timeout_add_seconds run 2" \
                    "g_timeout_add_seconds_full run 1" "g_timeout_add_seconds_full run 2"; do
            echo "$r $what: request_id=$r"
        done
    done
    echo "main after the loop: loop=main"
}

@test "every idle, timeout and invoke variant runs each time in its scheduler's context, notifies once, and leaks nothing into the loop thread" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" sources
    expect_output < <(sources_expected)
    expect_no_stderr
}

# What `loops_glib remove` and `loops_glib free` print when each works.
remove_expected() {
    cat <<'EOF2'
find_source_by_user_data(a) is a's source: yes
find_source_by_funcs_user_data(timeout, d) is d's source: yes
find_source_by_funcs_user_data(idle, d): none
notify: a
g_source_remove_by_user_data(a): 1
notify: b
g_source_remove_by_funcs_user_data(timeout, b): 1
notify: c
g_idle_remove_by_data(c): 1
g_idle_remove_by_data(c) again: 0
notify: d
g_source_remove_by_user_data(d): 1
kept source e ran: request_id=rm
notify: e
notifications: 5
live_contexts back to baseline: yes
EOF2
}

free_expected() {
    cat <<'EOF2'
gate: request_id=g
item_free j1: 
item_free j2: 
item_free j3: 
live_contexts back to baseline: yes
EOF2
}

@test "remove- and find-by-data see the program's data; removed sources never run, notify once, and free their records; a kept one runs in its scheduler's context" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" remove
    expect_output < <(remove_expected)
    expect_no_stderr
}

@test "44 sources sharing one data are found and removed by it in GLib's own order, as without the runtime" {
    # GLib walks a context's sources by priority, then in the order they
    # were attached; the runtime used to offer its records newest first,
    # and at most 32 of them.
    local order="found in order: high timeout own" i
    for ((i = 0; i < 40; i++)); do order+=" more$i"; done
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" shared
    expect_output <<EOF
g_idle_remove_by_data(x): 1
first timeout: high
$order
g_source_remove_by_user_data(x) once none is left: 0
live_contexts back to baseline: yes
EOF
    expect_no_stderr
    # The same lines without the runtime (whose ctxvar_set says it is absent).
    local with_runtime=$output
    run -0 "$PROGS/loops_glib" shared
    [ "$(sed 1d <<<"$output")" = "$with_runtime" ]
}

@test "a pool freed with immediate=TRUE hands each dropped job's data to the program's item-free function once and frees its record" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" free
    expect_output < <(free_expected)
    expect_no_stderr
}

@test "a pool's sort function gets the program's data, move_to_front finds a job by it, and the jobs run in order in their pushers' contexts" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" sort
    expect_output <<'EOF2'
move_to_front(d): 1
move_to_front(x), never pushed: 0
gate: request_id=g
ran d: request_id=rd
ran a: request_id=ra
ran b: request_id=rb
ran c: request_id=rc
comparisons with data that is not the program's: 0
EOF2
    expect_no_stderr
}

@test "pool->user_data stays the program's while pool->func shows the trampoline, which runs the program's function when the program calls it, and is the program's own under CTXVAR_LOOPS=0" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" func
    expect_output <<'EOF2'
pool->func is the program's: no
pool->user_data is the program's: yes
called inline with its own data, user data the pool's
EOF2
    expect_no_stderr
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_glib" func
    expect_output <<'EOF2'
pool->func is the program's: yes
pool->user_data is the program's: yes
called inline with its own data, user data the pool's
EOF2
}

@test "lookups and removals by data stay in their context, where another context numbers its sources the same" {
    local expected='ids: the same in both contexts
found in the other context by the default one'"'"'s data: none
ids: the same in both contexts
removed by the other context'"'"'s data: 0
the default context'"'"'s source with that id: still there'
    run -0 --separate-stderr "$PROGS/loops_glib" contexts
    [ "$output" = "$expected" ]
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" contexts
    [ "$output" = "$expected" ]
    expect_no_stderr
}

@test "a pool's comparator may set another pool's sort function, as GLib allows" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" sortnested
    [ "$output" = "sorted, the comparator having set another pool's: yes" ]
    expect_no_stderr
}

@test "a sort function set again and again on a long-lived pool keeps no record of the earlier ones" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" resort
    [ "$output" = "heap grew by a megabyte or more: no" ]
    expect_no_stderr
}

@test "a push of NULL data is refused by GLib as without the runtime, not wrapped into a job that runs" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" null
    expect_output <<'EOF2'
push NULL: 1
jobs run: 0
EOF2
    [[ "$stderr" == *"g_async_queue_push_unlocked: assertion 'data' failed"* ]]
}

@test "CTXVAR_LOOPS=0 gives the plain behaviour: exclusive workers show the context they were created in, the loop thread its own" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" pool exclusive
    expect_output < <(jobs_of_four_requests)
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_glib" pool exclusive
    expect_output < <(jobs_of_four_requests | sed 's/request_id=r[0-9]$//')
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_glib" gtask
    [ "${lines[4]}" = "callback of async1 (result 1): " ]
    [ "${lines[5]}" = "main after the loop: " ]
    # A task returned by a helper thread: the helper's own context, as
    # plain GLib gives it.
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_glib" returned
    [ "${lines[0]}" = "callback of a1 (true): " ]
    [ "${lines[2]}" = "callback of d1 (true): " ]
}

@test "CTXVAR_INHERIT=0 keeps pool jobs and loop callbacks in their scheduler's context" {
    run -0 --separate-stderr env CTXVAR_INHERIT=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_glib" pool shared
    expect_output < <(jobs_of_four_requests)
}

@test "a fork once every GLib interposer has records: both sides go on, in their own contexts" {
    run -0 --separate-stderr preloaded "$PROGS/loops_glib" fork
    expect_output <<'EOF2'
job: request_id=parent
task: request_id=parent
idle: request_id=parent
child idle: request_id=child
child exited: 0
EOF2
    expect_no_stderr
    # make check runs it under the TSan runtime too (tests/reliability.mk).
}

@test "a plugin loaded RTLD_LOCAL that brings GLib with it gets its jobs run in their pusher's context" {
    run -0 --separate-stderr preloaded "$PROGS/glib_dlopen" "$PROGS/libglib_plugin.so"
    expect_output <<'EOF2'
plugin job 1: request_id=p1
plugin job 2: request_id=p2
GLib in the global scope: no
EOF2
    expect_no_stderr
}

@test "a program that does not use GLib or APR never loads them under the runtime, which has no DT_NEEDED on them" {
    run -0 nm -D --defined-only "$RUNTIME"
    grep -q ' T g_thread_pool_push$' <<<"$output"
    grep -q ' T apr_thread_pool_push$' <<<"$output"
    run -0 readelf -d "$RUNTIME"
    ! grep -E 'NEEDED.*(glib|gio|gobject|apr|uv|event)' <<<"$output"
    run -0 preloaded cat /proc/self/maps
    ! grep -E 'lib(glib|gio|gobject|apr|aprutil)' <<<"$output"
    run -0 --separate-stderr env LD_DEBUG=files LD_PRELOAD="$RUNTIME" "$PROGS/three_threads"
    ! grep -E 'file=lib(glib|apr)' <<<"$stderr"
    grep -q 'file=.*libctxvar.so' <<<"$stderr"
}

@test "gio info and gio list on a directory give the same output plainly and under ctxrun" {
    command -v gio >/dev/null || skip "gio not installed (libglib2.0-bin)"
    mkdir -p "$BATS_TEST_TMPDIR/dir/sub"
    printf 'hello\n' >"$BATS_TEST_TMPDIR/dir/a.txt"
    printf '#!/bin/sh\n' >"$BATS_TEST_TMPDIR/dir/run.sh"
    chmod +x "$BATS_TEST_TMPDIR/dir/run.sh"
    gio list "$BATS_TEST_TMPDIR/dir" >/dev/null # the directory's access time settles
    expect_transparent list gio list -l -h -d "$BATS_TEST_TMPDIR/dir"
    expect_transparent info gio info "$BATS_TEST_TMPDIR/dir/a.txt"
    grep -q 'standard::size: 6' "$BATS_TEST_TMPDIR/info.plain.out"
    grep -q 'a.txt' "$BATS_TEST_TMPDIR/list.plain.out"
    # ... and it went through the interposers: libgio's pool and idle calls
    # bind to the runtime.
    run -0 env LD_DEBUG=bindings LD_PRELOAD="$RUNTIME" gio list "$BATS_TEST_TMPDIR/dir"
    grep -qE "binding file [^ ]*libgio[^ ]* .*to [^ ]*libctxvar.so .*symbol \`g_thread_pool_push'" <<<"$output"
    grep -qE "binding file [^ ]*libgio[^ ]* .*to [^ ]*libctxvar.so .*symbol \`g_source_set_callback'" <<<"$output"
}

# The local HTTP server of the curl test, stopped whatever the test did.
teardown() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

@test "curl fetches the same bytes from a server on 127.0.0.1 plainly and under ctxrun" {
    command -v curl >/dev/null || skip "curl not installed"
    command -v python3 >/dev/null || skip "python3 not installed"
    cd "$BATS_TEST_TMPDIR"
    printf 'served %s\n' one two three >page.txt
    # fd 3 closed: bats waits for every holder of its output.
    python3 -c '
import http.server, socketserver
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
with socketserver.TCPServer(("127.0.0.1", 0), Quiet) as s:
    open("port.tmp", "w").write(str(s.server_address[1]))
    __import__("os").rename("port.tmp", "port")
    s.serve_forever()' >/dev/null 2>&1 3>&- &
    SERVER_PID=$!
    local tries=0
    while [ ! -s port ] && [ $tries -lt 200 ]; do sleep 0.05; tries=$((tries + 1)); done
    expect_transparent curl curl -sS "http://127.0.0.1:$(cat port)/page.txt"
    cmp curl.ctxrun.out page.txt
}

@test "valgrind finds no error and nothing definitely lost in the removal and immediate-free scenarios" {
    command -v valgrind >/dev/null || skip "valgrind not installed"
    local scenario
    for scenario in remove free; do
        run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q --leak-check=full \
            --errors-for-leak-kinds=definite --error-exitcode=1 "$PROGS/loops_glib" "$scenario"
        expect_output < <("${scenario}_expected")
    done
}
