#!/usr/bin/env bats
# How the runtime gets into a process: linked (-DCTXVAR_LINKED -lctxvar)
# instead of preloaded, and loaded twice from two paths, where the second
# copy must defer to the first: two stores would split the process's
# contexts in two, and two sets of interposers would make each thread inherit
# twice (docs/interposing.md, "One copy, one TLS").

load helpers

# The output of three_threads when every thread inherited exactly once.
three_threads_output() {
    cat <<'EOF'
runtime: yes
first: request_id=42
grandchild: request_id=first
second: request_id=42
main: request_id=42
threads_inherited: 3
inherit_failures: 0
EOF
}

# A second copy of the runtime at another path.
copy_runtime() {
    mkdir -p "$BATS_TEST_TMPDIR/copy"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/copy/libctxvar.so"
    COPY="$BATS_TEST_TMPDIR/copy/libctxvar.so"
}

@test "a program linked with -lctxvar needs no LD_PRELOAD and its threads inherit" {
    run -0 readelf -d "$PROGS/linked"
    [[ "$output" == *"Shared library: [libctxvar.so"* ]]
    run -0 --separate-stderr "$PROGS/linked"
    expect_output < <(three_threads_output)
    expect_no_stderr
}

@test "a linked program seeded by BAGGAGE sees it in main" {
    BAGGAGE='user_id=u7' run -0 --separate-stderr "$PROGS/linked"
    expect_output <<'EOF'
runtime: yes
first: request_id=42 user_id=u7
grandchild: request_id=first user_id=u7
second: request_id=42 user_id=u7
main: request_id=42 user_id=u7
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a linked program also preloaded from the same path inherits once per thread" {
    run -0 --separate-stderr preloaded "$PROGS/linked"
    expect_output < <(three_threads_output)
    expect_no_stderr
}

@test "a linked program with a copy of the runtime preloaded from another path inherits once per thread" {
    copy_runtime
    LD_PRELOAD="$COPY" run -0 --separate-stderr "$PROGS/linked"
    expect_output < <(three_threads_output)
    expect_no_stderr
}

@test "two copies of the runtime in LD_PRELOAD give one inheritance per thread" {
    copy_runtime
    LD_PRELOAD="$COPY:$RUNTIME" run -0 --separate-stderr "$PROGS/three_threads"
    expect_output < <(three_threads_output)
    expect_no_stderr
}

@test "two copies of the runtime in LD_PRELOAD share the BAGGAGE seed and the exit-path guarantees" {
    copy_runtime
    BAGGAGE='user_id=u7' LD_PRELOAD="$RUNTIME:$COPY" run -0 --separate-stderr "$PROGS/exit_paths" exit
    expect_output <<'EOF'
thread: request_id=42 user_id=u7
cleanup handler: request_id=42 user_id=u7
thread_local destructor: request_id=42 user_id=u7
key destructor: request_id=42 user_id=u7
main: thread returned 22
leaked contexts: 0
main: request_id=42 user_id=u7
EOF
    expect_no_stderr
}

@test "ctxrun on a linked program inherits once per thread" {
    run -0 --separate-stderr "$CTXRUN" --set user_id=u7 -- "$PROGS/linked"
    expect_output <<'EOF'
runtime: yes
first: request_id=42 user_id=u7
grandchild: request_id=first user_id=u7
second: request_id=42 user_id=u7
main: request_id=42 user_id=u7
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

# Regression from a review: loaded from a worker thread, the runtime never
# seeded the main thread (its constructor ran elsewhere), registered the main
# thread twice, and a later fork() hung in the child.
@test "the runtime dlopen()ed from a worker thread still seeds the main thread and fork works" {
    BAGGAGE=tenant=acme run -0 --separate-stderr timeout 20 "$PROGS/dlopen_worker" "$RUNTIME"
    expect_output <<'EOF2'
main: tenant=acme
main after set: tenant=acme user=u1
fork: child exited 0
EOF2
    expect_no_stderr
}

# pthread_create must never wait for the loader's lock, which dlopen holds
# while a constructor runs: one that waits for a thread that starts another
# would never return (a version that asked dladdr about the start routine
# hung here).
@test "a library constructor that waits for a thread that starts another: dlopen returns, the helper inherits" {
    run -0 --separate-stderr timeout 20 env LD_PRELOAD="$RUNTIME" "$PROGS/ctor_wait" "$PROGS/libctor_wait.so"
    expect_output <<'EOF2'
constructor: request_id=r1
helper: request_id=r1
constructor: worker and helper done
dlopen: ok
EOF2
    expect_no_stderr
}
