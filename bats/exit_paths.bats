#!/usr/bin/env bats
# Exit paths: cleanup handlers, C++ thread_local destructors and pthread key
# destructors run while a thread exits; each still sees the context the
# thread inherited, however the thread ends, and the thread's contexts are
# all released by the time it is joined.  Code after the start routine never
# runs on pthread_exit or cancellation, and these destructors run after the
# start routine has ended, so the runtime must keep the context until they
# are done (docs/interposing.md, "Thread exit order"; lib/ctxvar.h,
# section 1).

load helpers

@test "destructors of a thread that returns see its inherited context" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" return
    expect_output <<'EOF'
thread: request_id=42
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: thread returned 7
leaked contexts: 0
main: request_id=42
EOF
    expect_no_stderr
}

@test "destructors of a thread that calls pthread_exit see its inherited context" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" exit
    expect_output <<'EOF'
thread: request_id=42
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: thread returned 22
leaked contexts: 0
main: request_id=42
EOF
    expect_no_stderr
}

@test "destructors of a canceled thread see its inherited context" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" cancel
    expect_output <<'EOF'
thread: request_id=42
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: thread was canceled
leaked contexts: 0
main: request_id=42
EOF
    expect_no_stderr
}

@test "destructors of a detached thread see its inherited context" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" detach
    expect_output <<'EOF'
thread: request_id=42
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: detached thread finished its destructors
main: request_id=42
EOF
    expect_no_stderr
}

@test "pthread_exit inside ctxvar_run restores the thread's context for its destructors and leaks nothing" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" exit_in_run
    expect_output <<'EOF'
thread: request_id=42
inside run: request_id=inside
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: thread returned 22
leaked contexts: 0
main: request_id=42
EOF
    expect_no_stderr
}

@test "cancellation inside ctxvar_run restores the thread's context for its destructors and leaks nothing" {
    run -0 --separate-stderr preloaded "$PROGS/exit_paths" cancel_in_run
    expect_output <<'EOF'
thread: request_id=42
inside run: request_id=inside
cleanup handler: request_id=42
thread_local destructor: request_id=42
key destructor: request_id=42
main: thread was canceled
leaked contexts: 0
main: request_id=42
EOF
    expect_no_stderr
}

@test "atexit handlers and the program's destructors see the exiting thread's context, change it and start children with it" {
    # glibc runs the main thread's thread_local destructors first, inside
    # exit(); the runtime releases nothing there, the process is ending.
    local mode status
    for mode in return exit; do
        status=$([ "$mode" = exit ] && echo 3 || echo 0)
        run -"$status" --separate-stderr preloaded "$PROGS/process_exit" "$mode"
        expect_output <<'EOF2'
atexit handler: request_id=main
set in the atexit handler: ok
child of the atexit handler: BAGGAGE=request_id=shutdown
program destructor: request_id=shutdown
EOF2
        expect_no_stderr
    done
}
