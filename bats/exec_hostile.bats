#!/usr/bin/env bats
# Starting a process under conditions a program may well create: a thread
# or signal handler with a small stack, a large environment, a large
# context, vfork, a command near the kernel's limit, no memory to spare.
# The child still gets its context (or, with no memory at all, the
# environment unchanged), the call returns what it returns without the
# runtime, and nothing is left behind.  Programs: bats/programs/exec_*.c,
# spawn_env.c, spawn_encoding.c.

load helpers

# --- stacks -----------------------------------------------------------------

# The child's environment used to be built on the caller's stack, sized to
# the environment (up to 32 KiB): a 16 KiB thread overflowed with 1,300
# entries, an 8 KiB signal stack with 600.
@test "posix_spawn from a thread with a 16 KiB stack and 1,300 environment entries exports its context" {
    run -0 --separate-stderr preloaded "$PROGS/exec_small_stack" spawn16k 1300
    expect_output <<'EOF'
request_id=r1
status: 0
EOF
    expect_no_stderr
}

@test "execve from a signal handler on an 8 KiB alternate stack with 600 environment entries exports its context" {
    run -0 --separate-stderr preloaded "$PROGS/exec_small_stack" altstack 600
    expect_output <<'EOF'
request_id=r1
EOF
    expect_no_stderr
}

@test "posix_spawn from a 16 KiB thread with 50,000 environment entries and 20,000 variables exports the first members" {
    run -0 --separate-stderr preloaded "$PROGS/exec_small_stack" spawn16k 50000 20000
    expect_output <<'EOF'
request_id=r1,v00000=x,v00001=x,v00002=x
status: 0
EOF
    expect_no_stderr
}

@test "execve from an 8 KiB signal stack with 20,000 variables exports the first members" {
    run -0 --separate-stderr preloaded "$PROGS/exec_small_stack" altstack 100 20000
    expect_output <<'EOF'
request_id=r1,v00000=x,v00001=x,v00002=x
EOF
    expect_no_stderr
}

# --- cost -------------------------------------------------------------------

# Beyond 512 variables the encoder found each next name by a walk of the
# whole context: 20,000 variables took some 20 seconds per call.
@test "posix_spawn from a thread with 20,000 context variables finishes within 5 seconds" {
    run -0 --separate-stderr timeout 5 env LD_PRELOAD="$RUNTIME" "$PROGS/spawn_env" \
        posix_spawn environ 'printf "%.23s\n" "$BAGGAGE"' $(seq -f 'v%05g=x' 1 20000)
    expect_output <<'EOF'
v00001=x,v00002=x,v0000
status: 0
EOF
    expect_no_stderr
}

@test "the BAGGAGE a child gets equals ctxvar_baggage_current for 300 random contexts, with members dropped and later ones kept" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_encoding" 300 1
    expect_output <<'EOF'
cases: 300, with members dropped: 291, reaching past the first 64 names: 77, differing: 0
EOF
    expect_no_stderr
}

# --- vfork --------------------------------------------------------------------

# An exec in a vfork child runs on the parent's memory: the child's
# environment, mapped there, stays after the exec and is the parent's to
# unmap (lib/childenv.c, "After vfork").
@test "vfork then execve 2,000 times leaves no mapping behind in the parent" {
    run -0 --separate-stderr preloaded "$PROGS/exec_vfork_loop" 0 2000
    expect_output <<'EOF'
address space: steady
failures: 0
EOF
    expect_no_stderr
}

@test "vfork then execve 500 times from each of 4 threads leaves no mapping behind in the parent" {
    run -0 --separate-stderr preloaded "$PROGS/exec_vfork_loop" 4 500
    expect_output <<'EOF'
address space: steady
failures: 0
EOF
    expect_no_stderr
}

@test "vfork then execve from 100 threads that end, then 1,000 times from the main thread: no mapping stays behind" {
    # An ended thread's leftover mapping goes when it ends, and its record
    # with it; before, 64 ended threads held every record for good and each
    # later vfork child's environment stayed mapped.
    run -0 --separate-stderr preloaded "$PROGS/exec_vfork_threads"
    [ "$output" = "RSS grew by a megabyte or more: no" ]
    expect_no_stderr
}

# --- commands near the kernel's limit -----------------------------------------

# A single argument may be at most 131,072 bytes.  system() and popen()
# used to put the context in front of the command, so a command just under
# the limit went over it and the shell never ran (127).
@test "system and popen of a 131,060-byte command run it under the runtime" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_env" system environ '@131060:echo ok' a=1
    expect_output <<'EOF'
ok
status: 0
parent after: SIGINT default, SIGQUIT default, SIGCHLD unblocked, SIGUSR1 unblocked
EOF
    expect_no_stderr
    run -0 --separate-stderr preloaded "$PROGS/spawn_env" popen:r environ '@131060:echo ok' a=1
    expect_output <<'EOF'
stream: fifo, cloexec=0
ok
status: 0
EOF
    expect_no_stderr
}

@test "system and popen of a command past the 131,072-byte limit fail as they do without the runtime" {
    for method in system popen:r; do
        run_recorded "$method.plain" "$PROGS/spawn_env" "$method" environ '@131073:echo ok'
        run_recorded "$method.runtime" preloaded "$PROGS/spawn_env" "$method" environ '@131073:echo ok'
        expect_same_run "$method.plain" "$method.runtime"
    done
    run -0 cat "$BATS_TEST_TMPDIR/system.runtime.out" "$BATS_TEST_TMPDIR/popen:r.runtime.out"
    expect_output <<'EOF'
status: 127, errno: Argument list too long
parent after: SIGINT default, SIGQUIT default, SIGCHLD unblocked, SIGUSR1 unblocked
popen failed, errno: Cannot allocate memory
EOF
}

# --- no memory ------------------------------------------------------------------

@test "with no address space to spare, posix_spawn fails as without the runtime, and the runtime says why" {
    run -0 --separate-stderr env -i PATH=/usr/bin:/bin "$PROGS/spawn_env" -l posix_spawn environ 'echo hi'
    expect_output <<'EOF'
status: -1, errno: Cannot allocate memory
EOF
    run -0 --separate-stderr env -i PATH=/usr/bin:/bin LD_PRELOAD="$RUNTIME" CTXVAR_DEBUG=1 \
        "$PROGS/spawn_env" -l posix_spawn environ 'echo hi' a=1
    expect_output <<'EOF'
status: -1, errno: Cannot allocate memory
EOF
    [ "$stderr" = "ctxvar: exec: no memory for the child's environment (3 entries); passed on unchanged" ]
}

# --- a failing exec ----------------------------------------------------------------

@test "an exec that fails returns -1 and the errno it gives without the runtime, 1,000 times, and leaves no mapping behind" {
    local call
    for call in execve execv execvp execvpe execl execlp execle fexecve; do
        run_recorded "$call.plain" "$PROGS/spawn_env" "fail:$call" environ /nonexistent/x
        run_recorded "$call.runtime" preloaded "$PROGS/spawn_env" "fail:$call" environ /nonexistent/x \
            request_id=r1
        expect_same_run "$call.plain" "$call.runtime"
    done
    run -0 cat "$BATS_TEST_TMPDIR/execle.runtime.out" "$BATS_TEST_TMPDIR/fexecve.runtime.out"
    expect_output <<'EOF2'
execle: -1, errno: No such file or directory
address space: steady
fexecve: -1, errno: Invalid argument
address space: steady
EOF2
}
