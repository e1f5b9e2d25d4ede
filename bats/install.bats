#!/usr/bin/env bats
# make install / uninstall of every artifact (the header, the runtime,
# ctxrun, the ctxvar command, the pkg-config file, the man pages and the
# bats helper: INSTALLED below): PREFIX and DESTDIR on every path, the
# installed launcher and command find the installed runtime, pkg-config's
# flags build a linked program, and its batsdir holds a helper that runs
# the example suite with the installed tools; and a build tree made before
# an optional library's headers were installed is rebuilt with them.

load helpers

INSTALLED="include/ctxvar.h lib/libctxvar.so bin/ctxrun lib/pkgconfig/ctxvar.pc share/man/man1/ctxrun.1 share/man/man3/ctxvar.3"
INSTALLED+=" bin/ctxvar share/man/man1/ctxvar.1 share/ctxvar/bats/ctxvar.bash"

@test "make install puts every artifact under DESTDIR/PREFIX and uninstall removes them all" {
    local dest="$BATS_TEST_TMPDIR/dest" f
    run -0 make -C "$ROOT" -s install PREFIX=/opt/ctxvar DESTDIR="$dest"
    for f in $INSTALLED; do [ -f "$dest/opt/ctxvar/$f" ] || { echo "missing $f" >&2; false; }; done
    [ -x "$dest/opt/ctxvar/bin/ctxrun" ]
    [ -x "$dest/opt/ctxvar/bin/ctxvar" ]
    run -0 grep -x 'prefix=/opt/ctxvar' "$dest/opt/ctxvar/lib/pkgconfig/ctxvar.pc"
    run -0 make -C "$ROOT" -s uninstall PREFIX=/opt/ctxvar DESTDIR="$dest"
    for f in $INSTALLED; do [ ! -e "$dest/opt/ctxvar/$f" ] || { echo "left $f" >&2; false; }; done
    [ ! -e "$dest/opt/ctxvar/share/ctxvar" ]
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

@test "the installed ctxvar reads the context with the installed runtime" {
    local prefix="$BATS_TEST_TMPDIR/prefix"
    run -0 make -C "$ROOT" -s install PREFIX="$prefix"
    BAGGAGE='request_id=42,note=a%20b' run -0 --separate-stderr "$prefix/bin/ctxvar" format
    [ "$output" = 'note="a b" request_id=42' ]
    expect_no_stderr
    run -0 ldd "$prefix/bin/ctxvar"
    [[ "$output" == *"libctxvar.so.1 => $prefix/bin/../lib/libctxvar.so.1 ("* ]]
}

@test "pkg-config's batsdir holds the helper, which runs the example suite with the installed ctxrun and ctxvar" {
    local prefix="$BATS_TEST_TMPDIR/prefix"
    run -0 make -C "$ROOT" -s install PREFIX="$prefix"
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    run -0 pkg-config --variable=batsdir ctxvar
    [ "$output" = "$prefix/share/ctxvar/bats" ]
    unset CTXVAR_BATS_BINDIR CTXVAR_BATS_HELPER
    run -0 bats --tap "$ROOT/examples/bats/request_ids.bats"
    expect_output <<'EOF2'
1..3
ok 1 every line of every request carries its own request's ids, the hook scripts' lines too
ok 2 the context the server starts with reaches every request's hook, with the request's own ids
ok 3 without the runtime the server logs no ids, never wrong ones, and its hooks receive none
EOF2
    # The tools it used are the installed ones.
    printf '%s\n' \
        'setup() { load "$(pkg-config --variable=batsdir ctxvar)/ctxvar"; }' \
        '@test "which" {' \
        '    ctxvar_run_with -0 request_id=42 -- sh -c "command -v ctxvar; echo \"\$LD_PRELOAD\"; ctxvar format"' \
        '    printf "%s\n" "$output" >"$WHICH_OUT"' \
        '}' >"$BATS_TEST_TMPDIR/which.bats"
    WHICH_OUT="$BATS_TEST_TMPDIR/which.out" run -0 bats "$BATS_TEST_TMPDIR/which.bats"
    run -0 cat "$BATS_TEST_TMPDIR/which.out"
    # The installed ctxrun preloads PREFIX/$LIB/libctxvar.so where a 32-bit
    # runtime was installed too (bats/multilib.bats), else the plain path.
    local preloaded="$prefix/lib/libctxvar.so"
    if [ -s "$B/launcher-libdirs" ] && [ "$(cat "$B/launcher-libdirs")" != none ]; then
        preloaded="$prefix/\$LIB/libctxvar.so"
    fi
    expect_output <<EOF2
$prefix/bin/ctxvar
$preloaded
request_id=42
EOF2
}

# The sources test for libuv's, libevent's and valgrind's headers with
# __has_include, which no dependency list records: installing libuv1-dev
# after a build must still give the next make a runtime with the libuv
# interposers.  The build keeps what the compiler found in runtime-features;
# a build tree whose record differs (made before the install) relinks.
@test "a runtime built before an optional library's headers were installed is rebuilt with its interposers" {
    local b="$BATS_TEST_TMPDIR/b" built
    run -0 make -C "$ROOT" -s B="$b" "$b/libctxvar.so"
    # .ci/run installs libuv1-dev and libevent-dev.
    run -0 cat "$b/runtime-features"
    [[ "$output" == *"#define CTXVAR_WITH_LIBUV 1"* ]]
    [[ "$output" == *"#define CTXVAR_WITH_LIBEVENT 1"* ]]
    # Nothing changed: nothing is rebuilt.
    built=$(stat -c %y "$b/libctxvar.so")
    run -0 make -C "$ROOT" -s B="$b" "$b/libctxvar.so"
    [ "$(stat -c %y "$b/libctxvar.so")" = "$built" ]
    # The tree as a build before libuv1-dev left it.
    grep -v LIBUV "$b/runtime-features" >"$b/before" && mv "$b/before" "$b/runtime-features"
    run -0 make -C "$ROOT" -s B="$b" "$b/libctxvar.so"
    [ "$(stat -c %y "$b/libctxvar.so")" != "$built" ]
    run -0 grep -cx '#define CTXVAR_WITH_LIBUV 1' "$b/runtime-features"
    [ "$output" = 1 ]
    run -0 nm -D --defined-only "$b/libctxvar.so"
    [[ "$output" == *" T uv_timer_start"* ]]
}
