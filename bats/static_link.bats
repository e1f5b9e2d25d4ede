#!/usr/bin/env bats
# A statically linked program ignores LD_PRELOAD; linked with libctxvar.a
# the way `pkg-config --static` says, it gets inheritance, release at join
# and child-process export all the same (shim/wrapped.h).

load helpers

setup() {
    prefix="$BATS_TEST_TMPDIR/prefix"
    make -s -C "$ROOT" install PREFIX="$prefix" >/dev/null
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
}

@test "pkg-config --static --libs ctxvar gives libctxvar.a and a --wrap for every interposed function" {
    run -0 pkg-config --static --libs ctxvar
    for name in pthread_create thrd_create pthread_join pthread_detach thrd_join timer_create \
                mq_notify execve execvp posix_spawn system popen; do
        [[ " $output " == *" -Wl,--wrap=$name "* ]] || { echo "no --wrap=$name in: $output"; false; }
    done
    [ -f "$prefix/lib/libctxvar.a" ]
}

@test "a -static program linked with pkg-config --static flags: its threads inherit and its children get the context" {
    cc -static -std=c11 "$ROOT/bats/programs/static_inherit.c" \
        $(pkg-config --static --cflags --libs ctxvar) -o "$BATS_TEST_TMPDIR/static_inherit"
    run -0 file "$BATS_TEST_TMPDIR/static_inherit"
    [[ "$output" == *"statically linked"* ]]
    BAGGAGE=request_id=7 run -0 --separate-stderr "$BATS_TEST_TMPDIR/static_inherit"
    expect_output <<'EOF'
runtime present: 1
main: request_id=7
pthread: request_id=42
thrd: request_id=42
threads inherited: 2, live contexts back: yes
child: BAGGAGE=request_id=42
EOF
    # Threads that start empty release what they set when they end, as
    # under LD_PRELOAD (before: glibc's thread-exit registration, weakly
    # referenced, was not linked in, and every such context leaked).
    CTXVAR_INHERIT=0 BAGGAGE=request_id=7 run -0 --separate-stderr "$BATS_TEST_TMPDIR/static_inherit"
    expect_output <<'EOF'
runtime present: 1
main: request_id=7
pthread: request_id=-
thrd: request_id=-
threads inherited: 0, live contexts back: yes
child: BAGGAGE=request_id=42
EOF
}
