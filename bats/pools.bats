#!/usr/bin/env bats
# Thread pools: a pool that knows nothing of ctxvar runs each wrapped task in
# its submitter's context and shows the worker's own context between tasks
# (api.md "Thread pools"; shim pitfall 8).

load helpers

@test "an unmodified pool runs wrapped tasks in the submitter's context and restores the worker's between them" {
    run -0 --separate-stderr preloaded "$PROGS/pool"
    expect_output <<'EOF'
wrapped task: request_id=B
worker between tasks: request_id=A
wrapped task: request_id=C
worker between tasks: request_id=A
task result: request_id=C
main: request_id=C
EOF
    expect_no_stderr
}

@test "without the runtime the same pool still runs every task" {
    run -0 --separate-stderr "$PROGS/pool"
    expect_output <<'EOF'
set request_id failed: no ctxvar runtime in this process
set request_id failed: no ctxvar runtime in this process
set request_id failed: no ctxvar runtime in this process
wrapped task: 
worker between tasks: 
wrapped task: 
worker between tasks: 
task result: 
main: 
EOF
    expect_no_stderr
}
