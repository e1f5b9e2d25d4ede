#!/usr/bin/env bats
# fork: the child process keeps the forking thread's context and can use the
# runtime, even while other threads were using it at the fork: a lock held
# by a thread that does not exist in the child must not stay held there
# (lib/ctxvar.h, section 1; docs/interposing.md, "fork").

load helpers

@test "a process forked by a thread keeps that thread's context and can start threads" {
    run -0 --separate-stderr preloaded "$PROGS/fork_child"
    expect_output <<'EOF'
child process: request_id=worker
child process thread: request_id=worker
child process after set: request_id=child
worker: child exited with 0
worker: request_id=worker
main: request_id=main
EOF
    expect_no_stderr
}

@test "processes forked while other threads use the runtime can still use it" {
    # A deadlock on a lock held at fork time would hang: timeout turns it
    # into a failure.
    run -0 --separate-stderr timeout 60 env LD_PRELOAD="$RUNTIME" "$PROGS/fork_child" busy
    expect_output <<'EOF'
worker: 50 of 50 children used the runtime
worker: request_id=worker
main: request_id=main
EOF
    expect_no_stderr
}
