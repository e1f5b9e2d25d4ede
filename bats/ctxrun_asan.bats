#!/usr/bin/env bats
# ctxrun in front of a program built with gcc -fsanitize=address, which
# loads libasan.so as a dependency, after everything in LD_PRELOAD (clang
# -shared-libasan: libclang_rt.asan-<arch>.so): ASan
# would refuse to start behind the runtime, so ctxrun adds
# verify_asan_link_order=0 to ASAN_OPTIONS for such a command, and only for
# it; ASan then runs and still catches what it catches.

load helpers

setup_file() {
    PROGRAM="$BATS_FILE_TMPDIR/asan_threads"
    export PROGRAM
    gcc -std=c11 -g -fsanitize=address -I"$ROOT/lib" "$ROOT/bats/programs/asan_threads.c" \
        -pthread -o "$PROGRAM" 2>"$BATS_FILE_TMPDIR/build.log" || true
}

setup() {
    [ -x "$PROGRAM" ] ||
        skip "gcc -fsanitize=address builds nothing here: $(head -1 "$BATS_FILE_TMPDIR/build.log")"
    [ -f "$RUNTIME" ] || skip "build/libctxvar.so is not built"
}

# runs_carried REQUEST_ID COMMAND: ctxrun --set request_id=REQUEST_ID runs
# COMMAND (an asan_threads build, with no ASAN_OPTIONS from the caller),
# which gets the option and whose thread sees the request.
runs_carried() {
    run -0 --separate-stderr "$CTXRUN" --set request_id="$1" -- "$2"
    expect_output <<OUT
ASAN_OPTIONS=verify_asan_link_order=0
thread: request_id=$1
OUT
    expect_no_stderr
}

@test "the ASan program is linked with libasan.so, and behind a preloaded runtime ASan refuses it" {
    run -0 sh -c "readelf -d '$PROGRAM' | grep -c 'NEEDED.*libasan\.so'"
    [ "$output" = 1 ]
    LD_PRELOAD="$RUNTIME" run -1 --separate-stderr "$PROGRAM"
    [[ "$stderr" == *"ASan runtime does not come first in initial library list"* ]]
}

@test "under ctxrun an ASan program runs, and its thread inherits the context" {
    runs_carried 42 "$PROGRAM"
}

@test "the caller's ASAN_OPTIONS are kept, with the option appended" {
    ASAN_OPTIONS=detect_leaks=0,halt_on_error=1 run -0 --separate-stderr \
        "$CTXRUN" --set request_id=7 -- "$PROGRAM"
    expect_output <<'OUT'
ASAN_OPTIONS=detect_leaks=0,halt_on_error=1:verify_asan_link_order=0
thread: request_id=7
OUT
}

@test "a command found through PATH is looked at like one given by path" {
    dir="$BATS_TEST_TMPDIR/bin"
    mkdir -p "$dir"
    cp "$PROGRAM" "$dir/asan-program"
    PATH="$dir:$PATH" runs_carried 5 asan-program
}

@test "a verify_asan_link_order the caller set is left alone, and ASan refuses as asked" {
    ASAN_OPTIONS=verify_asan_link_order=1 run -1 --separate-stderr "$CTXRUN" -- "$PROGRAM"
    [ "$output" = "" ]
    [[ "$stderr" == *"ASan runtime does not come first in initial library list"* ]]
    # ASan splits its options on colons too.
    ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=1 run -1 --separate-stderr \
        "$CTXRUN" -- "$PROGRAM"
    [[ "$stderr" == *"ASan runtime does not come first in initial library list"* ]]
}

@test "a 32-bit program built with gcc -m32 -fsanitize=address runs under ctxrun" {
    gcc -m32 -std=c11 -fsanitize=address -I"$ROOT/lib" "$ROOT/bats/programs/asan_threads.c" \
        -pthread -o "$BATS_TEST_TMPDIR/asan32" 2>/dev/null ||
        skip "gcc -m32 -fsanitize=address builds nothing here"
    # Where 32-bit programs run only in an emulator (qemu-i386 registered
    # with binfmt_misc), an ASan program may never get through its start-up:
    # a bounded try says so.
    timeout 30 "$BATS_TEST_TMPDIR/asan32" >/dev/null 2>&1 ||
        skip "32-bit ASan programs do not run here (or not within 30 s)"
    runs_carried 32 "$BATS_TEST_TMPDIR/asan32"
}

@test "a program built with clang -shared-libasan (libclang_rt.asan) runs under ctxrun" {
    command -v clang >/dev/null || skip "clang is not installed"
    asan_dir=$(dirname "$(clang -print-file-name=libclang_rt.asan-x86_64.so)")
    clang -std=c11 -shared-libasan -fsanitize=address -I"$ROOT/lib" \
        "$ROOT/bats/programs/asan_threads.c" -pthread -Wl,-rpath,"$asan_dir" \
        -o "$BATS_TEST_TMPDIR/clang_asan" 2>/dev/null ||
        skip "clang -shared-libasan builds nothing here"
    run -0 sh -c "readelf -d '$BATS_TEST_TMPDIR/clang_asan' | grep -c 'NEEDED.*libclang_rt\.asan'"
    [ "$output" = 1 ]
    runs_carried 64 "$BATS_TEST_TMPDIR/clang_asan"
}

@test "behind the runtime ASan still reports a heap overflow in a thread, with its stack" {
    run -1 --separate-stderr "$CTXRUN" --set request_id=9 -- "$PROGRAM" overflow
    [ "${lines[1]}" = "thread: request_id=9" ]
    [[ "$stderr" == *"ERROR: AddressSanitizer: heap-buffer-overflow"* ]]
    [[ "$stderr" == *"in thread_main "*"asan_threads.c:"* ]]
}

@test "a program without ASan, and a script, get no ASAN_OPTIONS" {
    run -0 env -u ASAN_OPTIONS "$CTXRUN" -- sh -c 'printf "%s\n" "${ASAN_OPTIONS-(unset)}"'
    [ "$output" = "(unset)" ]
    printf '#!/bin/sh\nprintf "%%s\\n" "${ASAN_OPTIONS-(unset)}"\n' >"$BATS_TEST_TMPDIR/script"
    chmod +x "$BATS_TEST_TMPDIR/script"
    run -0 env -u ASAN_OPTIONS "$CTXRUN" -- "$BATS_TEST_TMPDIR/script"
    [ "$output" = "(unset)" ]
}
