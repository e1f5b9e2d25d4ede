#!/usr/bin/env bats
# 32-bit programs under the runtime.  LD_PRELOAD is inherited by every
# process a command starts, so a 32-bit program run by ctxrun, or started
# by a preloaded 64-bit one, is handed the runtime as well; given the 64-bit
# file, its loader prints "ERROR: ld.so: object ... cannot be preloaded
# (wrong ELF class: ELFCLASS64): ignored." on the program's stderr.  The
# build adds a 32-bit runtime where it can, and ctxrun preloads
# <dir>/$LIB/libctxvar.so, which each loader expands to the directory of
# its own word size (Makefile, "The 32-bit runtime").
#
# Skipped where $CC -m32 links no program (Debian: gcc-multilib), and where
# this machine's kernel runs no 32-bit program: there no 32-bit program can
# start, with or without ctxvar.  Programs: bats/programs/m32_*.c.

load helpers

setup_file() {
    local probe="$BATS_FILE_TMPDIR/probe"
    printf 'int main(void) { return 0; }\n' >"$probe.c"
    if ! ${CC:-cc} -m32 "$probe.c" -o "$probe" 2>/dev/null; then
        export M32_SKIP="no 32-bit toolchain: ${CC:-cc} -m32 links no program (Debian: apt-get install gcc-multilib)"
    elif ! "$probe" 2>/dev/null; then
        export M32_SKIP="this machine's kernel runs no 32-bit program"
    fi
}

setup() {
    [ -z "${M32_SKIP:-}" ] || skip "$M32_SKIP"
    # The runtime's path as ctxrun spells it: canonical, and with $LIB left
    # for the loader to expand.
    CANON="$(cd -P "$B" && pwd)"
    TOKEN="$CANON/\$LIB/libctxvar.so"
    SHOW_PRELOAD=(sh -c 'printf "%s\n" "$LD_PRELOAD"')
}

# The lines m32_context prints under ctxrun --set request_id=42.
context_42() {
    cat <<'EOF'
main: request_id=42
thread: request_id=42
runtime: yes
pointer bits: 32
EOF
}

@test "the 32-bit test program is a 32-bit program and runs plainly" {
    run -0 file -L "$PROGS/m32_context"
    [[ "$output" == *"ELF 32-bit"* ]]
    run -0 --separate-stderr "$PROGS/m32_context"
    expect_output <<'EOF'
main: 
thread: 
runtime: no
pointer bits: 32
EOF
    expect_no_stderr
}

@test "a 32-bit program under ctxrun prints exactly its plain output, and nothing on stderr" {
    expect_transparent m32 "$PROGS/m32_context" args one 'two three'
    [ "$(cat "$BATS_TEST_TMPDIR/m32.ctxrun.out")" = "pointer bits: 32, args: one two three" ]
    [ ! -s "$BATS_TEST_TMPDIR/m32.ctxrun.err" ] || {
        cat "$BATS_TEST_TMPDIR/m32.ctxrun.err" >&2
        false
    }
}

@test "a 32-bit program's thread inherits request_id from ctxrun --set request_id=42" {
    run -0 --separate-stderr "$CTXRUN" --set request_id=42 -- "$PROGS/m32_context"
    expect_output < <(context_42)
    expect_no_stderr
}

@test "a preloaded 64-bit program that execs a 32-bit one passes its context on, with no loader line" {
    run -0 --separate-stderr "$CTXRUN" --set request_id=42 -- "$PROGS/m32_exec" "$PROGS/m32_context"
    expect_output <<'EOF'
exec: request_id=42
exec runtime: yes, pointer bits: 64
main: hop=64 request_id=42
thread: hop=64 request_id=42
runtime: yes
pointer bits: 32
EOF
    expect_no_stderr
}

@test "a preloaded 32-bit program that execs a 64-bit one passes its context on, with no loader line" {
    run -0 --separate-stderr "$CTXRUN" --set request_id=42 -- "$PROGS/m32_exec32" "$B/examples/print_context"
    expect_output <<'EOF'
exec: request_id=42
exec runtime: yes, pointer bits: 32
main: hop=32 request_id=42
thread: hop=32 request_id=42
runtime: yes
EOF
    expect_no_stderr
}

# resolved PROGRAM: the file the loader maps for the runtime entry of
# LD_PRELOAD=$TOKEN in PROGRAM, with $LIB expanded (it lists the objects it
# would load, and runs nothing).
resolved() {
    LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD="$TOKEN" "$1" |
        sed -n 's|^[[:space:]]*[^[:space:]]*/libctxvar\.so => \([^ ]*\) .*|\1|p'
}

@test "ctxrun preloads the runtime as <build>/\$LIB/libctxvar.so, which each loader finds in its word size" {
    run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$TOKEN" ]
    run -0 resolved "$PROGS/m32_context"
    [[ "$output" == "$CANON/"?*"/libctxvar.so" ]]
    run -0 file -L "$output"
    [[ "$output" == *"ELF 32-bit"* ]]
    run -0 resolved "$B/examples/print_context"
    [[ "$output" == "$CANON/"?*"/libctxvar.so" ]]
    run -0 file -L "$output"
    [[ "$output" == *"ELF 64-bit"* ]]
}

@test "ctxrun does not add the runtime to LD_PRELOAD twice, however it is named there" {
    # Nested: the inner ctxrun finds its own entry.
    run -0 "$CTXRUN" "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$TOKEN" ]
    # The 64-bit file by its plain name, as a user may have preloaded it.
    LD_PRELOAD="$CANON/libctxvar.so" run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$CANON/libctxvar.so" ]
    # Space-separated, with another entry first (which does not exist, so
    # the loader complains on stderr, which is not looked at here).
    LD_PRELOAD="/nonexistent/a.so $TOKEN" run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "/nonexistent/a.so $TOKEN" ]
    # An entry that only starts like it is another entry.
    LD_PRELOAD="$TOKEN.old" run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$TOKEN.old:$TOKEN" ]
}

@test "a 64-bit program given both names of the runtime loads it once" {
    # <build>/<64-bit $LIB>/libctxvar.so is a link to <build>/libctxvar.so,
    # and the loader maps one file once whatever its names.
    LD_DEBUG=files LD_PRELOAD="$CANON/libctxvar.so:$TOKEN" \
        run -0 --separate-stderr "$PROGS/three_threads"
    [ "${lines[0]}" = "runtime: yes" ]
    [[ "$output" == *"threads_inherited: 3"* ]]
    [ "$(grep -c 'libctxvar\.so.*generating link map' <<<"$stderr")" = 1 ]
    [ "$(grep -c 'calling init: .*libctxvar\.so' <<<"$stderr")" = 1 ]
}

@test "LD_PRELOAD=<build>/\$LIB/libctxvar.so set by hand serves a 32-bit program" {
    LD_PRELOAD="$B/\$LIB/libctxvar.so" BAGGAGE=request_id=42 run -0 --separate-stderr "$PROGS/m32_context"
    expect_output < <(context_42)
    expect_no_stderr
}

@test "the installed ctxrun preloads both runtimes, and uninstall removes them" {
    local prefix="$BATS_TEST_TMPDIR/prefix"
    mkdir -p "$prefix"
    prefix="$(cd -P "$prefix" && pwd)"
    run -0 make -C "$ROOT" -s install PREFIX="$prefix"
    CTXVAR_DEBUG=1 run -0 --separate-stderr "$prefix/bin/ctxrun" -- true
    [[ "$stderr" == *"LD_PRELOAD=$prefix/\$LIB/libctxvar.so"* ]]
    run -0 --separate-stderr "$prefix/bin/ctxrun" --set request_id=42 -- "$PROGS/m32_context"
    expect_output < <(context_42)
    expect_no_stderr
    run -0 --separate-stderr "$prefix/bin/ctxrun" --set request_id=42 -- "$B/examples/print_context"
    expect_output <<'EOF'
main: request_id=42
thread: request_id=42
runtime: yes
EOF
    expect_no_stderr
    # The 64-bit runtime stays at PREFIX/lib/libctxvar.so.
    run -0 file -L "$prefix/lib/libctxvar.so"
    [[ "$output" == *"ELF 64-bit"* ]]
    run -0 make -C "$ROOT" -s uninstall PREFIX="$prefix"
    run -0 find "$prefix" -name 'libctxvar.so*'
    [ "$output" = "" ]
}
