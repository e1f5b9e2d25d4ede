#!/usr/bin/env bats
# Stress, the short versions; `make soak` runs the long ones and `make check`
# runs them under valgrind.  Programs: tests/stress/lifecycle.c, model.c,
# fork_storm.c.

load helpers

REL="$B/reliability"

@test "20,000 thread lifecycles of six kinds inherit right and leave live_contexts at its baseline" {
    run -0 --separate-stderr preloaded "$REL/lifecycle" 20000
    expect_no_stderr
    [ "$(head -n 4 <<<"$output")" = "cycles: 20000
ways a thread ended: 6
threads with a wrong context: 0
live_contexts back to baseline: yes" ]
    # Resident memory stays flat: under 1 MiB of growth after the warm-up.
    [[ "$(tail -n 1 <<<"$output")" =~ ^"VmRSS growth after warm-up: "(-?[0-9]+)" kB"$ ]]
    [ "${BASH_REMATCH[1]}" -lt 1024 ]
}

@test "each way a thread ends releases its context: join, detach, pthread_exit, cancel, exit and cancel inside ctxvar_run" {
    local way
    for way in 0 1 2 3 4 5; do
        run -0 --separate-stderr preloaded "$REL/lifecycle" 300 "$way"
        [ "$(sed -n 3,4p <<<"$output")" = "threads with a wrong context: 0
live_contexts back to baseline: yes" ] || { echo "way $way: $output" >&2; return 1; }
    done
}

@test "the lifecycle program refuses to run without the runtime" {
    run -2 --separate-stderr "$REL/lifecycle" 10
    [ "$stderr" = "lifecycle: run with the runtime preloaded" ]
}

@test "4 threads hammering set, reset, swap, run, capture and wrap agree with the model on seed 1" {
    run -0 --separate-stderr preloaded "$REL/model" 1 4 20000
    expect_no_stderr
    expect_output <<'EOF2'
seed 1: 4 threads x 20000 operations, 1061945 reads checked, 0 wrong
live_contexts back to baseline: yes
EOF2
}

@test "the model test is deterministic per seed whatever the scheduling" {
    run -0 preloaded "$REL/model" 7 8 20000
    local first=$output
    run -0 preloaded "$REL/model" 7 8 20000
    [ "$output" = "$first" ]
    [[ "$first" =~ ", 0 wrong" ]]
}

@test "8 threads agree with the model on seeds 2 to 6" {
    local seed
    for seed in 2 3 4 5 6; do
        run -0 --separate-stderr preloaded "$REL/model" "$seed" 8 10000
        expect_no_stderr
        [[ "${lines[0]}" =~ ^"seed $seed: 8 threads x 10000 operations, "[0-9]+" reads checked, 0 wrong"$ ]]
        [ "${lines[1]}" = "live_contexts back to baseline: yes" ]
    done
}

@test "children forked by 8 threads at once while 4 others set values keep their context and exit 0" {
    run -0 --separate-stderr preloaded "$REL/fork_storm" 20 8 4
    expect_no_stderr
    expect_output <<'EOF2'
rounds: 20, forkers: 8, setters: 4
children: 160, exited 0: 160
EOF2
}
