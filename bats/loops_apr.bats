#!/usr/bin/env bats
# APR-util's thread pool with no change to the program (ctxvar.h, "Event
# loops and library pools"): tasks pushed, topped or scheduled run in the
# context of the code that submitted them, as pool tasks, with the owner the
# program gave; cancelled tasks and tasks still queued when the pool is
# destroyed free their records (bats/programs/loops_apr.c, built against
# Debian's APR).

load helpers

@test "tasks pushed, topped and scheduled by four requests each run in their submitter's context with their own owner" {
    run -0 --separate-stderr preloaded "$PROGS/loops_apr" tasks
    local r
    expect_output < <(for r in r1 r2 r3 r4; do
        echo "task $r.push (owner A): request_id=$r"
        echo "task $r.schedule (owner C): request_id=$r"
        echo "task $r.top (owner B): request_id=$r"
    done)
    expect_no_stderr
}

@test "cancelling an owner's tasks and destroying a pool with tasks queued frees every record: live_contexts back to baseline" {
    run -0 --separate-stderr preloaded "$PROGS/loops_apr" cancel
    expect_output <<'EOF2'
cancel A: 0
task b.1 (owner B): request_id=cb
task b.2 (owner B): request_id=cb
tasks run after the cancellations: 0
live_contexts back to baseline: yes
EOF2
    expect_no_stderr
}

@test "an owner cancelled again and again while four threads push its tasks: no task runs twice, every record is freed" {
    # A cancellation used to free records whose push had not reached APR
    # yet, which APR then ran: a freed record, SIGSEGV.
    run -0 --separate-stderr preloaded "$PROGS/loops_apr" race
    expect_output <<'EOF2'
tasks run more than once: 0
live_contexts back to baseline: yes
EOF2
    expect_no_stderr
}

@test "CTXVAR_LOOPS=0 gives APR's plain behaviour: tasks run in the context their worker was created in" {
    local r
    run -0 --separate-stderr preloaded "$PROGS/loops_apr" tasks
    [ "${lines[0]}" = "task r1.push (owner A): request_id=r1" ]
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_PRELOAD="$RUNTIME" "$PROGS/loops_apr" tasks
    expect_output < <(for r in r1 r2 r3 r4; do
        echo "task $r.push (owner A): "
        echo "task $r.schedule (owner C): "
        echo "task $r.top (owner B): "
    done)
}

@test "valgrind finds no error and nothing definitely lost when APR tasks are cancelled and their pool destroyed" {
    command -v valgrind >/dev/null || skip "valgrind not installed"
    run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" valgrind -q --leak-check=full \
        --errors-for-leak-kinds=definite --error-exitcode=1 "$PROGS/loops_apr" cancel
    expect_output <<'EOF2'
cancel A: 0
task b.1 (owner B): request_id=cb
task b.2 (owner B): request_id=cb
tasks run after the cancellations: 0
live_contexts back to baseline: yes
EOF2
}
