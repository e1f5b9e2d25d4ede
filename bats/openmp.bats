#!/usr/bin/env bats
# OpenMP with no code change (ctxvar.h section 4): every team thread of a
# region runs it in the opener's context, every task in its creator's,
# although libgomp reuses its threads; the opener's own changes behave as
# without ctxvar.  The program is built with gcc -fopenmp and the header
# alone (bats/programs/omp_context.c).

load helpers

@test "the OpenMP program calls every libgomp entry point these tests rely on" {
    # So that each test below goes through the interposer it means to test.
    run -0 nm -u "$PROGS/omp_context"
    local name missing=""
    for name in GOMP_parallel GOMP_parallel_sections GOMP_parallel_reductions \
                GOMP_parallel_loop_dynamic GOMP_parallel_loop_guided \
                GOMP_parallel_loop_runtime GOMP_parallel_loop_nonmonotonic_dynamic \
                GOMP_parallel_loop_nonmonotonic_guided \
                GOMP_parallel_loop_maybe_nonmonotonic_runtime GOMP_teams_reg \
                GOMP_task GOMP_taskloop GOMP_taskloop_ull; do
        grep -q " $name@" <<<"$output" || missing+=" $name"
    done
    [ -z "$missing" ] || { echo "not called:$missing" >&2; false; }
}

@test "every team thread of region 2 sees the value the main thread set after region 1" {
    # Region 1 starts libgomp's workers while request_id=A; they are reused
    # for region 2, opened after the main thread set B.
    run -0 --separate-stderr preloaded "$PROGS/omp_context" regions
    expect_output <<'EOF'
region 1 thread 0: request_id=A
region 1 thread 1: request_id=A
region 1 thread 2: request_id=A
region 1 thread 3: request_id=A
region 2 thread 0: request_id=B
region 2 thread 1: request_id=B
region 2 thread 2: request_id=B
region 2 thread 3: request_id=B
main: request_id=B
EOF
    expect_no_stderr
}

@test "without the runtime the same OpenMP program runs with no context at all" {
    # The negative control: the output above does not come from OpenMP.
    run -0 --separate-stderr "$PROGS/omp_context" regions
    expect_output <<'EOF'
set request_id failed: no ctxvar runtime in this process
region 1 thread 0: 
region 1 thread 1: 
region 1 thread 2: 
region 1 thread 3: 
set request_id failed: no ctxvar runtime in this process
region 2 thread 0: 
region 2 thread 1: 
region 2 thread 2: 
region 2 thread 3: 
main: 
EOF
    expect_no_stderr
}

@test "every iteration of parallel for sees the opener's value with every schedule" {
    OMP_SCHEDULE=dynamic,7 run -0 --separate-stderr preloaded "$PROGS/omp_context" loops
    expect_output <<'EOF'
schedule(static): 0 mismatches in 1000 iterations
schedule(dynamic): 0 mismatches in 1000 iterations
schedule(guided): 0 mismatches in 1000 iterations
schedule(runtime): 0 mismatches in 1000 iterations
schedule(monotonic: dynamic): 0 mismatches in 1000 iterations
schedule(monotonic: guided): 0 mismatches in 1000 iterations
schedule(monotonic: runtime): 0 mismatches in 1000 iterations
EOF
    expect_no_stderr
}

@test "every section of parallel sections sees the opener's value" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" sections
    expect_output <<'EOF'
section 1: request_id=S
section 2: request_id=S
section 3: request_id=S
section 4: request_id=S
EOF
    expect_no_stderr
}

@test "each task sees the value current when it was created, with its data intact" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" tasks
    expect_output <<'EOF'
task 0 (label task-0): request_id=task-0
task 1 (label task-1): request_id=task-1
task 2 (label task-2): request_id=task-2
task 3 (label task-3): request_id=task-3
task 4 (label task-4): request_id=task-4
task 5 (label task-5): request_id=task-5
task 6 (label task-6): request_id=task-6
task 7 (label task-7): request_id=task-7
after tasks: request_id=T
EOF
    expect_no_stderr
}

@test "every iteration of a taskloop sees its creator's value and the loop covers its whole range" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" taskloop
    expect_output <<'EOF'
taskloop: 0 mismatches, 1000 iterations, sum 499500
taskloop ull: 0 mismatches, 1000 iterations, sum 499500
EOF
    expect_no_stderr
}

@test "an inner region opened by a team thread runs in that thread's context, round after round" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" nested
    expect_output <<'EOF'
round 1 outer 0 inner 0: request_id=outer1-0
round 1 outer 0 inner 1: request_id=outer1-0
round 1 outer 1 inner 0: request_id=outer1-1
round 1 outer 1 inner 1: request_id=outer1-1
round 2 outer 0 inner 0: request_id=outer2-0
round 2 outer 0 inner 1: request_id=outer2-0
round 2 outer 1 inner 0: request_id=outer2-1
round 2 outer 1 inner 1: request_id=outer2-1
main: request_id=N
EOF
    expect_no_stderr
}

@test "the main thread's own change inside a region persists after it and the workers' changes do not" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" master
    expect_output <<'EOF'
region 1 thread 0: mine=0 request_id=M
region 1 thread 1: mine=1 request_id=A
region 1 thread 2: mine=2 request_id=A
region 1 thread 3: mine=3 request_id=A
main after region 1: request_id=M
region 2 thread 0: request_id=M
region 2 thread 1: request_id=M
region 2 thread 2: request_id=M
region 2 thread 3: request_id=M
EOF
    expect_no_stderr
}

@test "host teams run in the opener's context" {
    run -0 --separate-stderr preloaded "$PROGS/omp_context" teams
    expect_output <<'EOF'
team 0: request_id=R
team 1: request_id=R
EOF
    expect_no_stderr
}

@test "a region with a task reduction runs in the opener's context and its reduction still works" {
    # GOMP_parallel_reductions reads the reduction descriptors from the
    # first word of the data block it is given.
    run -0 --separate-stderr preloaded "$PROGS/omp_context" reduction
    expect_output <<'EOF'
reduction region thread 0: request_id=R
reduction region thread 1: request_id=R
reduction region thread 2: request_id=R
reduction region thread 3: request_id=R
tasks that saw request_id=R: 4
EOF
    expect_no_stderr
}

@test "without the runtime the task-reduction region still works, with no context" {
    # The control for the test above: the program itself is right.
    run -0 --separate-stderr "$PROGS/omp_context" reduction
    expect_output <<'EOF'
set request_id failed: no ctxvar runtime in this process
set request_id failed: no ctxvar runtime in this process
reduction region thread 0: 
reduction region thread 1: 
reduction region thread 2: 
reduction region thread 3: 
tasks that saw request_id=R: 0
EOF
    expect_no_stderr
}

@test "a program without OpenMP does not load libgomp under the runtime" {
    run -0 --separate-stderr env LD_DEBUG=libs LD_PRELOAD="$RUNTIME" "$B/examples/print_context"
    [[ "$stderr" == *libctxvar.so* ]]        # the loader's trace is there ...
    [[ "$stderr" != *libgomp* ]] || { echo "$stderr" | grep libgomp >&2; false; }
}

@test "the libgomp check above can fail: an OpenMP program's trace names libgomp" {
    run -0 --separate-stderr env LD_DEBUG=libs LD_PRELOAD="$RUNTIME" "$PROGS/omp_context" regions
    [[ "$stderr" == *libgomp* ]]
}

# Tasks libgomp handles specially are left to it as they are (shim/openmp.c,
# wrap_tasks).  Regressions from a review: with our copy function in the
# way, a detach task fulfilled a garbage event (SIGSEGV) and the tasks of a
# cancelled taskgroup all ran.
@test "a task with detach fulfils its event under the runtime" {
    run -0 --separate-stderr preloaded "$PROGS/omp_edge" detach
    [ "$output" = "detach: x=1" ]
    expect_no_stderr
}

@test "with OMP_CANCELLATION=true the tasks of a cancelled taskgroup are discarded under the runtime too" {
    OMP_CANCELLATION=true run -0 --separate-stderr "$PROGS/omp_edge" cancel
    [ "$output" = "cancel: fewer of 50 tasks ran" ]
    OMP_CANCELLATION=true run -0 --separate-stderr preloaded "$PROGS/omp_edge" cancel
    [ "$output" = "cancel: fewer of 50 tasks ran" ]
    expect_no_stderr
}

@test "an OpenMP plugin loaded, run in a request, unloaded with libgomp and loaded again elsewhere, three times: each region in its request" {
    OMP_NUM_THREADS=1 run -0 --separate-stderr preloaded "$PROGS/omp_reload" "$PROGS/libomp_plugin.so"
    expect_output <<'EOF2'
round 0: threads 1, region: request_id=r0
round 1: threads 1, region: request_id=r1
round 2: threads 1, region: request_id=r2
done
EOF2
    expect_no_stderr
}

@test "an OpenMP plugin loaded RTLD_LOCAL, whose libgomp is in no global scope, runs its region on every thread asked for, in its request" {
    OMP_NUM_THREADS=3 run -0 --separate-stderr "$PROGS/omp_reload" "$PROGS/libomp_plugin.so" local
    expect_output <<'EOF2'
round 0: threads 3, region: 
done
EOF2
    OMP_NUM_THREADS=3 run -0 --separate-stderr preloaded "$PROGS/omp_reload" "$PROGS/libomp_plugin.so" local
    expect_output <<'EOF2'
round 0: threads 3, region: request_id=r0
done
EOF2
    expect_no_stderr
}

@test "an RTLD_LOCAL OpenMP plugin that links the runtime: a region in its constructor makes a task, and nested regions reached by a tail call run whole" {
    OMP_NUM_THREADS=2 run -0 --separate-stderr preloaded timeout 60 "$PROGS/omp_reload" \
        "$PROGS/libomp_cases.so" cases
    expect_output <<'EOF2'
constructor: 1 task ran
nested: section 1 ran 2, section 2 ran 2, at the wrong level 0
EOF2
    expect_no_stderr
}

@test "OpenMP tools preloaded after the runtime: a GOMP_parallel tracer stays in the chain, and a GOMP_barrier wrapper does not mislead the search for libgomp" {
    local expected
    expected=$(printf 'region %s thread %s: request_id=%s\n' 1 0 A 1 1 A 1 2 A 1 3 A 2 0 B 2 1 B 2 2 B 2 3 B; echo "main: request_id=B")
    LD_PRELOAD="$RUNTIME:$PROGS/libomp_barrier_tool.so" run -0 --separate-stderr "$PROGS/omp_context" regions
    [ "$output" = "$expected" ]
    expect_no_stderr
    LD_PRELOAD="$RUNTIME:$PROGS/libomp_tracer.so" run -0 --separate-stderr "$PROGS/omp_context" regions
    [ "$output" = "$expected"$'\n'"tool: 2 regions seen" ]
    expect_no_stderr
}
