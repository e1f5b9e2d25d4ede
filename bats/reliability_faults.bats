#!/usr/bin/env bats
# Fault injection: with the test build of the runtime
# (build/fault/libctxvar.so), every allocation a scenario makes is failed in
# turn, and the call must give its documented error and change nothing, or
# succeed when the failing allocation was never reached.  The driver,
# tests/fault/driver.c, checks each step: the result (ENOMEM, NULL, a thread
# that starts empty with inherit_failures + 1), the context before and
# after, errno, and live_contexts after cleanup.  `make fault` runs them all
# and prints the total.

load helpers

FAULT_RUNTIME="$B/fault/libctxvar.so"
DRIVER="$B/reliability/fault_driver"

# walk SCENARIO MIN: the driver fails every allocation of SCENARIO, one at a
# time; at least MIN faults are injected and every one is handled.
walk() {
    run -0 --separate-stderr env LD_PRELOAD="$FAULT_RUNTIME" "$DRIVER" "$1"
    expect_no_stderr
    [[ "$output" =~ ^"$1: "([0-9]+)" faults injected, every one handled"$ ]] || {
        echo "unexpected output: $output" >&2; return 1; }
    local injected=${BASH_REMATCH[1]}
    [ "$injected" -ge "$2" ] || { echo "only $injected faults injected, expected >= $2" >&2; return 1; }
}

@test "the fault driver refuses to run without the fault-injection runtime" {
    run -2 --separate-stderr preloaded "$DRIVER" set
    [ "$stderr" = "fault_driver: preload build/fault/libctxvar.so (the fault-injection build)" ]
}

@test "the shipped runtime does not export the fault-injection hooks" {
    run -0 nm -D --defined-only "$RUNTIME"
    ! grep -q ctxvar_test_ <<<"$output"
}

@test "every failed allocation in ctxvar_set of a new variable gives ENOMEM and an unchanged context" {
    walk set 2
}

@test "every failed allocation in ctxvar_set replacing a value gives ENOMEM and an unchanged context" {
    walk set-replace 2
}

@test "a ctxvar_set with a token that fails leaves the token unfilled" {
    walk set-token 2
}

@test "every failed allocation in ctxvar_set to NULL gives ENOMEM and keeps the variable" {
    walk unset 1
}

@test "a ctxvar_reset on the slow path that fails gives ENOMEM and the token still works" {
    walk reset 1
}

@test "a ctxvar_reset to unset on the slow path that fails gives ENOMEM and the token still works" {
    walk reset-to-unset 1
}

@test "ctxvar_capture is exact whatever allocation fails" {
    walk capture 0
}

@test "ctxvar_swap installs and returns the right contexts whatever allocation fails" {
    walk swap 0
}

@test "ctxvar_run runs in the snapshot and restores the caller's context under every fault" {
    walk run 1
}

@test "ctxvar_wrap returns NULL when its allocation fails and a working task otherwise" {
    walk wrap 1
}

@test "ctxvar_wrap_ret returns NULL when its allocation fails and a working task otherwise" {
    walk wrap-ret 1
}

@test "ctxvar_task_run on a worker runs the task in its context under every fault and never leaves it stale" {
    walk task-run 10
}

@test "pthread_create returns 0 under every fault and a thread that cannot inherit starts empty and is counted" {
    walk pthread-create 1
}

@test "thrd_create returns thrd_success under every fault and a thread that cannot inherit starts empty and is counted" {
    walk thrd-create 1
}

@test "building a 100-variable context stops at the first ENOMEM with exactly the sets before it" {
    walk build-100 100
}

@test "ctxvar_format of 100 variables writes the same sorted text when its sorting buffer cannot be allocated" {
    walk format-100 1
}

@test "ctxvar_named returns NULL when interning fails and the same variable once it succeeds" {
    walk named 1
}

@test "every failed allocation in ctxvar_accept_headers gives ENOMEM and an unchanged context, and its token restores" {
    walk accept-headers 10
}

@test "the driver walks every scenario it has" {
    run -0 env LD_PRELOAD="$FAULT_RUNTIME" "$DRIVER" list
    local listed=$output
    run -0 grep -c '^    walk ' "$BATS_TEST_FILENAME"
    [ "$output" = "$(wc -l <<<"$listed")" ]
}

@test "seeding from BAGGAGE at load gives the whole BAGGAGE or nothing under every fault, and leaks nothing" {
    run -0 --separate-stderr "$ROOT/tests/fault/seed-walk.sh" "$B"
    expect_no_stderr
    [[ "$output" =~ ^"seed: "[0-9]+" faults injected, every one handled"$ ]]
}

@test "every failed allocation while registering a libuv or libevent callback still runs the callback, in its request or in none, and leaks nothing" {
    [ -x "$B/reliability/loops_fault" ] || skip "libuv1-dev or libevent-dev is not installed"
    run -0 --separate-stderr env LD_PRELOAD="$FAULT_RUNTIME" "$B/reliability/loops_fault" all
    expect_no_stderr
    [ "$output" = "loops: 7 faults injected in 7 scenarios, every one handled" ]
}

@test "the loop fault program sees every callback in its request with the shipped runtime" {
    [ -x "$B/reliability/loops_fault" ] || skip "libuv1-dev or libevent-dev is not installed"
    run -0 --separate-stderr preloaded "$B/reliability/loops_fault" plain
    expect_no_stderr
    [ "$output" = "loops: 7 scenarios, every callback in its request" ]
}

@test "GLib pools, idle sources and tasks and APR pools under every failed allocation: the callback runs once, without context, and nothing is left" {
    run -0 --separate-stderr env LD_PRELOAD="$FAULT_RUNTIME" "$B/reliability/fault_glib_apr" all
    expect_no_stderr
    local name
    for name in glib-pool-new glib-pool-push glib-idle glib-task apr-push; do
        grep -qE "^$name: [1-9][0-9]* faults injected, every one handled$" <<<"$output" || {
            echo "no clean walk of $name in: $output" >&2; return 1; }
    done
    [[ "${lines[-1]}" =~ ^"total: "[0-9]+" faults injected in 5 scenarios, every one handled"$ ]]
}
