#!/usr/bin/env bats
# Signal handlers and the runtime: a crash handler that logs the crashing
# thread's request id (examples/crash_handler).  ctxvar_get and
# ctxvar_format are async-signal-safe; the handler lets the signal kill the
# process as it would without it.  (Handlers that interrupt ctxvar calls
# themselves: tests/test-signals.c.)

load helpers

# The program under ctxrun with core dumps off: status and stderr as left
# by `run --separate-stderr`.
crash_under_ctxrun() {
    run --separate-stderr bash -c 'ulimit -c 0; exec "$@"' _ "$CTXRUN" "$@"
}

@test "a SIGSEGV handler logs the crashing thread's request id and context, and the process still dies of SIGSEGV" {
    crash_under_ctxrun --set tenant=acme -- "$B/examples/crash_handler" r2
    [ "$status" -eq 139 ]
    [ "$stderr" = "crash_handler: SIGSEGV in request r2 (request_id=r2 tenant=acme)" ]
    [ "$output" = "" ]
}

@test "the crash handler names whichever request crashed, not another thread's" {
    for r in r1 r3; do
        crash_under_ctxrun -- "$B/examples/crash_handler" "$r"
        [ "$status" -eq 139 ]
        [ "$stderr" = "crash_handler: SIGSEGV in request $r (request_id=$r)" ]
    done
}

@test "without the runtime the crash handler logs no request and the process dies the same way" {
    run --separate-stderr bash -c 'ulimit -c 0; exec "$@"' _ "$B/examples/crash_handler" r2
    [ "$status" -eq 139 ]
    [ "$stderr" = "crash_handler: SIGSEGV in request (none) ()" ]
}

@test "fork from a signal handler that interrupted popen, ctxvar_stats or a set with CTXVAR_OTEL=1 on the same thread does not deadlock in the runtime's fork handlers" {
    # The handlers took locks the interrupted code held (the popen list's,
    # held across the shell's start; the registry's; the profilers' key
    # map's, taken at every set once 400 names had filled it), and waited
    # for ever.
    run -0 --separate-stderr timeout 120 "$PROGS/fork_in_handler" popen 1000
    [ "$output" = "done, forked: yes" ]
    run -0 --separate-stderr preloaded timeout 120 "$PROGS/fork_in_handler" popen 1000
    [ "$output" = "done, forked: yes" ]
    expect_no_stderr
    run -0 --separate-stderr preloaded timeout 120 "$PROGS/fork_in_handler" stats 2000000
    [ "$output" = "done, forked: yes" ]
    expect_no_stderr
    CTXVAR_OTEL=1 run -0 --separate-stderr preloaded timeout 120 "$PROGS/fork_in_handler" sets 3000000
    [ "$output" = "done, forked: yes" ]
    expect_no_stderr
}
