#!/usr/bin/env bats
# make install / uninstall of every artifact (the header, the runtime,
# ctxrun, the pkg-config file and both man pages: INSTALLED below): PREFIX
# and DESTDIR on every path, the installed launcher finds the installed
# runtime, and pkg-config's flags build a linked program.

load helpers

INSTALLED="include/ctxvar.h lib/libctxvar.so bin/ctxrun lib/pkgconfig/ctxvar.pc share/man/man1/ctxrun.1 share/man/man3/ctxvar.3"

@test "make install puts every artifact under DESTDIR/PREFIX and uninstall removes them all" {
    local dest="$BATS_TEST_TMPDIR/dest" f
    run -0 make -C "$ROOT" -s install PREFIX=/opt/ctxvar DESTDIR="$dest"
    for f in $INSTALLED; do [ -f "$dest/opt/ctxvar/$f" ] || { echo "missing $f" >&2; false; }; done
    [ -x "$dest/opt/ctxvar/bin/ctxrun" ]
    run -0 grep -x 'prefix=/opt/ctxvar' "$dest/opt/ctxvar/lib/pkgconfig/ctxvar.pc"
    run -0 make -C "$ROOT" -s uninstall PREFIX=/opt/ctxvar DESTDIR="$dest"
    for f in $INSTALLED; do [ ! -e "$dest/opt/ctxvar/$f" ] || { echo "left $f" >&2; false; }; done
}

@test "the installed ctxrun runs a program with the installed runtime" {
    local prefix="$BATS_TEST_TMPDIR/prefix"
    run -0 make -C "$ROOT" -s install PREFIX="$prefix"
    run -0 --separate-stderr "$prefix/bin/ctxrun" --set request_id=42 -- "$B/examples/print_context"
    expect_output <<'EOF2'
main: request_id=42
thread: request_id=42
runtime: yes
EOF2
    CTXVAR_DEBUG=1 run -0 --separate-stderr "$prefix/bin/ctxrun" -- true
    # PREFIX/$LIB/libctxvar.so where a 32-bit runtime was installed too
    # (bats/multilib.bats).
    [[ "$stderr" == *"LD_PRELOAD=$prefix/lib/libctxvar.so"* ||
       "$stderr" == *"LD_PRELOAD=$prefix/\$LIB/libctxvar.so"* ]]
}

@test "pkg-config's flags build a program linked to the installed runtime, which needs no LD_PRELOAD" {
    local prefix="$BATS_TEST_TMPDIR/prefix"
    run -0 make -C "$ROOT" -s install PREFIX="$prefix"
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    run -0 pkg-config --cflags --libs ctxvar
    cc -std=c11 "$ROOT/examples/print_context.c" $(pkg-config --cflags --libs ctxvar) \
        -o "$BATS_TEST_TMPDIR/linked"
    BAGGAGE=request_id=7 run -0 --separate-stderr "$BATS_TEST_TMPDIR/linked"
    expect_output <<'EOF2'
main: request_id=7
thread: request_id=7
runtime: yes
EOF2
}
