#!/usr/bin/env bats
# What is not claimed (ctxvar.h "Not covered"; shim pitfall 7): a static
# binary ignores LD_PRELOAD, so the runtime never gets in and the program runs
# as it always does; threads glibc starts itself bypass the interposer and
# start empty, yet may use the API.

load helpers

@test "a static program under LD_PRELOAD behaves exactly as it does plainly" {
    run -0 readelf -lW "$PROGS/static_context"
    [[ "$output" != *INTERP* ]]     # no dynamic loader: nothing is preloaded
    run_recorded plain "$PROGS/static_context"
    run_recorded preloaded env LD_PRELOAD="$RUNTIME" BAGGAGE=request_id=42 "$PROGS/static_context"
    expect_same_run plain preloaded
    [ "$(cat "$BATS_TEST_TMPDIR/plain.status")" = 3 ]
    run -3 --separate-stderr "$PROGS/static_context"
    expect_output <<'EOF'
runtime: no
set: no ctxvar runtime in this process
main: request_id=none
thread: request_id=none
EOF
    expect_no_stderr
}

@test "a static program under ctxrun behaves exactly as it does plainly, exit status included" {
    run_recorded plain "$PROGS/static_context"
    run_recorded ctxrun "$CTXRUN" --set request_id=42 -- "$PROGS/static_context"
    expect_same_run plain ctxrun
    [ "$(cat "$BATS_TEST_TMPDIR/ctxrun.status")" = 3 ]
}

@test "threads glibc starts itself begin with an empty context and can use the API" {
    # A SIGEV_THREAD timer's thread and pthread_create found on a libc
    # handle bypass the interposer: documented as not covered.
    run -0 --separate-stderr preloaded "$PROGS/bypass"
    expect_output <<'EOF'
timer thread: 
timer thread after set: request_id=timer
libc handle thread: 
main: request_id=42
EOF
    expect_no_stderr
}
