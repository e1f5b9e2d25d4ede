#!/usr/bin/env bats
# SIGEV_THREAD timers and mq_notify (ctxvar.h section 4): the notification
# function runs, on every notification, in the context the caller had when it
# called timer_create or mq_notify, with the sigev_value it gave, although
# glibc runs it on a thread of its own (bats/programs/notify.c).

load helpers

@test "every expiry of a SIGEV_THREAD timer sees the creator's context at timer_create, not its later change" {
    run -0 --separate-stderr preloaded "$PROGS/notify" timer
    expect_output <<'EOF'
notification 1: request_id=T1 value=7
notification 2: request_id=T1 value=7
notification 3: request_id=T1 value=7
main: request_id=T2
timer_delete: 0
after grace: alive
EOF
    expect_no_stderr
}

@test "without the runtime the timer still fires three times with its value and no context" {
    run -0 --separate-stderr "$PROGS/notify" timer
    expect_output <<'EOF'
set request_id failed: no ctxvar runtime in this process
set request_id failed: no ctxvar runtime in this process
notification 1:  value=7
notification 2:  value=7
notification 3:  value=7
main: 
timer_delete: 0
after grace: alive
EOF
    expect_no_stderr
}

@test "two timers created by two threads in different contexts each see their creator's, after the creators ended" {
    run -0 --separate-stderr preloaded "$PROGS/notify" two-timers
    expect_output <<'EOF'
timer 1: request_id=X
timer 2: request_id=Y
main: request_id=main
EOF
    expect_no_stderr
}

@test "a deleted timer's record is freed once retired for more than 2 s and live_contexts returns to baseline" {
    run -0 --separate-stderr preloaded "$PROGS/notify" retired
    expect_output <<'EOF'
notification: request_id=T1
live_contexts back to baseline: yes
EOF
    expect_no_stderr
}

@test "an mq_notify SIGEV_THREAD notification runs in the registering thread's context" {
    run -0 --separate-stderr preloaded "$PROGS/notify" mq "/ctxvar-test-$$"
    expect_output <<'EOF'
mq notification: request_id=Q1 value=9 message=hello
main: request_id=Q2
EOF
    expect_no_stderr
}

@test "timer_create on an invalid clock fails with -1 and EINVAL with and without the runtime" {
    run_recorded plain "$PROGS/notify" bad-clock
    run_recorded preloaded env LD_PRELOAD="$RUNTIME" "$PROGS/notify" bad-clock
    expect_same_run plain preloaded
    run -0 --separate-stderr preloaded "$PROGS/notify" bad-clock
    expect_output <<'EOF'
SIGEV_THREAD: -1 EINVAL
SIGEV_NONE: -1 EINVAL
EOF
    expect_no_stderr
}

@test "a timer's notification that starts after its timer was deleted and its record freed runs its function, never freed memory" {
    # The notification thread is held with ptrace, as a debugger or a
    # frozen cgroup would hold it, past the 2 s the runtime keeps a deleted
    # timer's record: it finds the timer's function and value by its slot.
    run -0 --separate-stderr timeout 60 "$PROGS/notify_late"
    plain=$output
    run -0 --separate-stderr preloaded timeout 60 "$PROGS/notify_late"
    [ "$output" = "$plain" ]
    expect_output <<'EOF2'
deleted the first timer, created a second (never armed)
first timer's function: value=old-value
end
EOF2
}
