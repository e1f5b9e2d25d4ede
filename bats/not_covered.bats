#!/usr/bin/env bats
# What is not claimed (lib/ctxvar.h, "Not covered" in section 1;
# docs/interposing.md, "Bypasses in glibc >= 2.34"): a static
# binary ignores LD_PRELOAD, so the runtime never gets in and the program runs
# as it always does; a thread started through a libc handle bypasses the
# interposer and starts empty, yet may use the API.  (SIGEV_THREAD timers,
# once in this list, are now covered: see notify.bats.)

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

@test "a thread started through a libc handle begins empty while a SIGEV_THREAD timer's thread sees its creator's context" {
    # pthread_create found on a libc handle bypasses the interposer:
    # documented as not covered, and the negative control here.  The timer's
    # thread is glibc's own too, but timer_create is interposed.
    run -0 --separate-stderr preloaded "$PROGS/bypass"
    expect_output <<'EOF'
timer thread: request_id=42
timer thread after set: request_id=timer
libc handle thread: 
main: request_id=42
EOF
    expect_no_stderr
}
