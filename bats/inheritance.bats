#!/usr/bin/env bats
# Inheritance: every way a program starts a thread hands the creator's
# context to the new thread (lib/ctxvar.h, section 1): binaries of either
# pthread_create symbol version, threads started from another library's
# constructor, and C11 and C++ threads, which glibc >= 2.34 starts without
# calling pthread_create (docs/interposing.md, "Symbol versions", "Called
# before our constructor" and "Bypasses in glibc >= 2.34").

load helpers

@test "a pthread_create child sees its creator's value at the call and neither side sees later changes" {
    run -0 --separate-stderr preloaded "$PROGS/inherit"
    expect_output <<'EOF'
child: request_id=42
child after set: request_id=child
main: request_id=43
EOF
    expect_no_stderr
}

@test "a binary referencing pthread_create@GLIBC_2.34 inherits" {
    run -0 nm -D "$PROGS/inherit"
    [[ "$output" == *" U pthread_create@GLIBC_2.34"* ]]
    run -0 --separate-stderr preloaded "$PROGS/inherit"
    expect_output <<'EOF'
child: request_id=42
child after set: request_id=child
main: request_id=43
EOF
}

@test "a binary referencing the pre-2.34 pthread_create@GLIBC_2.2.5 inherits" {
    run -0 nm -D "$PROGS/inherit_old"
    [[ "$output" == *" U pthread_create@GLIBC_2.2.5"* ]]
    [[ "$output" != *"pthread_create@GLIBC_2.34"* ]]
    run -0 objdump -T "$PROGS/inherit_old"
    [[ "$output" =~ \(GLIBC_2\.2\.5\)\ +pthread_create ]]
    run -0 --separate-stderr preloaded "$PROGS/inherit_old"
    expect_output <<'EOF'
child: request_id=42
child after set: request_id=child
main: request_id=43
EOF
    expect_no_stderr
}

@test "a std::thread sees its creator's value" {
    run -0 --separate-stderr preloaded "$PROGS/std_thread"
    expect_output <<'EOF'
child: request_id=42
main: request_id=42
EOF
    expect_no_stderr
}

@test "a thrd_create thread sees its creator's value and its exit code is kept" {
    run -0 --separate-stderr preloaded "$PROGS/thrd"
    expect_output <<'EOF'
child: request_id=42
child exit code: 7
main: request_id=42
EOF
    expect_no_stderr
}

@test "a thread of a thread inherits its direct creator's value" {
    run -0 --separate-stderr preloaded "$PROGS/three_threads"
    expect_output <<'EOF'
runtime: yes
first: request_id=42
grandchild: request_id=first
second: request_id=42
main: request_id=42
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a thread started by another library's constructor sees the BAGGAGE context" {
    # The constructor may run before the runtime's own: the runtime must
    # initialise itself on first use (docs/interposing.md, "Called before
    # our constructor").
    BAGGAGE='request_id=7' run -0 --separate-stderr preloaded "$PROGS/ctor_thread"
    expect_output <<'EOF'
constructor: request_id=7
constructor thread: request_id=7
main: request_id=7
EOF
    expect_no_stderr
}

@test "a thread started by another library's constructor under ctxrun sees the --set value" {
    run -0 --separate-stderr "$CTXRUN" --set request_id=7 -- "$PROGS/ctor_thread"
    expect_output <<'EOF'
constructor: request_id=7
constructor thread: request_id=7
main: request_id=7
EOF
    expect_no_stderr
}

@test "ctxrun --set seeds the main thread and the threads it starts" {
    run -0 --separate-stderr "$CTXRUN" --set request_id=42 --set user_id=u7 -- "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42 user_id=u7
thread: request_id=42 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

# A stand-in for GLib (bats/programs/fake_glib.c): threads a library named
# libglib starts at a function it does not export start with no context;
# threads at functions it exports are the program's and inherit, and the
# runtime reads nothing of theirs as a GThread: not an IFUNC's (its symbol
# holds the resolver's address), nor anything of a library whose load bias
# wraps around (both crashed a version of the runtime).
@test "a library named libglib: its own worker starts with no context; threads at functions it exports, an IFUNC among them, inherit, whatever its load address" {
    local expected='program'"'"'s thread: request_id=r1
own worker: none
exported_start(1000): joined
ifunc_start(1000): joined'
    run -0 --separate-stderr env LD_LIBRARY_PATH="$PROGS/fake_glib" LD_PRELOAD="$RUNTIME" "$PROGS/fake_glib_use"
    expect_output <<<"$expected"
    expect_no_stderr
    run -0 --separate-stderr env LD_LIBRARY_PATH="$PROGS/fake_glib_high" LD_PRELOAD="$RUNTIME" "$PROGS/fake_glib_use"
    expect_output <<<"$expected"
    # With an exported IFUNC, no function of the library can be told from
    # one a program names: its worker inherits, as any thread.
    run -0 --separate-stderr env LD_LIBRARY_PATH="$PROGS/fake_glib_ifunc" LD_PRELOAD="$RUNTIME" "$PROGS/fake_glib_use"
    expect_output <<<"${expected/own worker: none/own worker: request_id=r1}"
    run -0 --separate-stderr env CTXVAR_LOOPS=0 LD_LIBRARY_PATH="$PROGS/fake_glib" LD_PRELOAD="$RUNTIME" "$PROGS/fake_glib_use"
    expect_output <<<"${expected/own worker: none/own worker: request_id=r1}"
}

# What the runtime learnt of a library's functions goes with the library:
# one unloaded and another of the same name loaded at the same address,
# whose function at the same place is exported, must not have its thread's
# argument read as a GThread (a version that kept answers across dlclose
# crashed here).
@test "a libglib unloaded and another loaded in its place: the first one's own function is not taken for the second one's" {
    local static="$PROGS/fake_glib_static/libglib-9.so" exported="$PROGS/fake_glib_exported/libglib-9.so"
    run -0 --separate-stderr env LD_PRELOAD="$RUNTIME" "$PROGS/swap_glib" "$static" "$exported"
    expect_output <<EOF
$static: thread joined
$exported: thread joined
done
EOF
    expect_no_stderr
}
