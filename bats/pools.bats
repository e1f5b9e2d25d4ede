#!/usr/bin/env bats
# Thread pools: a pool that knows nothing of ctxvar runs each wrapped task in
# its submitter's context, and a worker never shows the context it inherited
# once it has run a wrapped task (lib/ctxvar.h section 4, the stale-context
# rule; docs/interposing.md, "Thread pools reuse threads (stale context)").

load helpers
# ctxvar's bats helper (bats/helper/ctxvar.bash), on this build tree's
# ctxrun and ctxvar.
CTXVAR_BATS_BINDIR=$B
load helper/ctxvar

@test "an unmodified pool runs wrapped tasks in the submitter's context and shows no inherited context between them" {
    # The worker starts while request_id=A: it shows A until its first
    # wrapped task (so the empty lines below are not an accident), never after.
    run -0 --separate-stderr preloaded "$PROGS/pool"
    expect_output <<'EOF'
worker before any task: request_id=A
wrapped task: request_id=B
worker between tasks: 
wrapped task: request_id=C
worker between tasks: 
task result: request_id=C
main: request_id=C
EOF
    expect_no_stderr
}

@test "without the runtime the same pool still runs every task" {
    run -0 --separate-stderr "$PROGS/pool"
    # main's third set runs while the worker already prints: where its line
    # falls among the worker's varies, so the three are counted apart.
    [ "$(grep -cx 'set request_id failed: no ctxvar runtime in this process' <<<"$output")" -eq 3 ]
    output=$(grep -vx 'set request_id failed: no ctxvar runtime in this process' <<<"$output")
    expect_output <<'EOF'
worker before any task: 
wrapped task: 
worker between tasks: 
wrapped task: 
worker between tasks: 
task result: 
main: 
EOF
    expect_no_stderr
}

@test "what a worker set itself, before and between wrapped tasks, stays visible while what it inherited goes" {
    # The worker inherits request_id=A tenant=acme, then sets worker=w1 and
    # its own tenant; later, in an unwrapped job, note=n1.
    run -0 --separate-stderr preloaded "$PROGS/pool" own
    expect_output <<'EOF'
worker start: request_id=A tenant=own worker=w1
worker before any task: request_id=A tenant=own worker=w1
wrapped task: request_id=B tenant=acme
worker between tasks: tenant=own worker=w1
worker after its own set: note=n1 tenant=own worker=w1
wrapped task: request_id=C tenant=acme
worker between tasks: note=n1 tenant=own worker=w1
main: request_id=C tenant=acme
EOF
    expect_no_stderr
}

@test "a lazily grown pool shows no stale request in an unwrapped job on any worker" {
    # Worker 1 starts on request A's submit, worker 2 on request B's (the
    # program says so when not); afterwards an unwrapped job runs on each.
    run -0 --separate-stderr preloaded "$PROGS/pool" lazy
    expect_output <<'EOF'
job of request A: request_id=A
job of request B: request_id=B
unwrapped job: 
unwrapped job: 
main: request_id=B
EOF
    expect_no_stderr
}

@test "ctxvar_clear empties the caller, keeps tokens of its frame usable and forgets what a thread inherited" {
    run -0 --separate-stderr preloaded "$PROGS/pool" clear
    expect_output <<'EOF'
before clear: request_id=A user_id=u1
after clear: 
reset after clear: 0
after reset: user_id=u0
inside run after clear: 
after run: user_id=u0
thread after clear: 
wrapped task: user_id=u0
thread after task: own=1
main: user_id=u0
EOF
    expect_no_stderr
}

@test "a worker started inside ctxvar_run(NULL, ...) inherits nothing" {
    run -0 --separate-stderr preloaded "$PROGS/pool" isolated
    expect_output <<'EOF'
worker started inside ctxvar_run(NULL): 
inside run: 
main: request_id=A
EOF
    expect_no_stderr
}

@test "1,000,000 wrapped tasks from 8 submitters through 4 workers each see exactly their submitter's values and leak no context" {
    run -0 --separate-stderr preloaded "$PROGS/pool_stress"
    expect_output <<'EOF'
tasks: 1000000
mismatches: 0
live_contexts back to baseline: yes
EOF
    [[ "$stderr" =~ ^elapsed:\ [0-9]+\.[0-9]+\ s$ ]] || { echo "stderr: $stderr" >&2; false; }
}

@test "the thread_pool example logs every job with its own request's ids under ctxrun" {
    ctxvar_run_with -0 --separate-stderr -- "$B/examples/thread_pool"
    assert_lines_carry_request_ids 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
    output=$(LC_ALL=C sort <<<"$output")
    expect_output <<'EOF'
[request_id=r1 user_id=alice] job 1 of request r1 by alice
[request_id=r1 user_id=alice] job 2 of request r1 by alice
[request_id=r2 user_id=bob] job 1 of request r2 by bob
[request_id=r2 user_id=bob] job 2 of request r2 by bob
[request_id=r3 user_id=carol] job 1 of request r3 by carol
[request_id=r3 user_id=carol] job 2 of request r3 by carol
EOF
    expect_no_stderr
}

@test "the thread_pool example logs no ids, never wrong ones, without the runtime" {
    run -0 --separate-stderr "$B/examples/thread_pool"
    ctxvar_request_ids_verdict 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
    [ "$ctxvar_verdict" = "0 of 6 marked lines carry their own request's ids (0 another request's, 6 none)" ]
    output=$(LC_ALL=C sort <<<"$output")
    expect_output <<'EOF'
[] job 1 of request r1 by alice
[] job 1 of request r2 by bob
[] job 1 of request r3 by carol
[] job 2 of request r1 by alice
[] job 2 of request r2 by bob
[] job 2 of request r3 by carol
EOF
    expect_no_stderr
}
