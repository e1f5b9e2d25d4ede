#!/usr/bin/env bats
# Hostile input and security: names and values at and past every limit,
# invalid UTF-8 and control bytes, malformed and huge BAGGAGE, huge
# environments: a clear error and nothing else.  Values never appear in
# diagnostics; the environment is read with secure_getenv only.  Program:
# bats/programs/hostile.c.

load helpers

@test "ctxvar_named accepts exactly the valid names among 1,038 tries of every byte and length" {
    run -0 --separate-stderr preloaded "$PROGS/hostile" names
    expect_no_stderr
    [ "$output" = "names tried: 1038, wrong: 0" ]
}

@test "values of 4096 bytes, every byte and invalid UTF-8 come back byte for byte and format escapes them per the contract; 4097 bytes and 1 MB give E2BIG" {
    run -0 --separate-stderr preloaded "$PROGS/hostile" values
    expect_no_stderr
    [ "$output" = "values tried: 530, wrong: 0" ]
}

@test "a 128 KiB BAGGAGE of one value too long for a variable is skipped and the program runs" {
    local big
    big="big=$(head -c 130000 /dev/zero | tr '\0' v)"
    BAGGAGE="$big,small=1" run -0 --separate-stderr preloaded "$PROGS/hostile" count
    expect_no_stderr
    expect_output <<'EOF2'
main: 1 variables, format 7 bytes
thread: 1 variables, format 7 bytes
runtime: yes
EOF2
}

@test "a BAGGAGE of 10,000 members seeds 10,000 variables in main and in a thread" {
    local baggage
    baggage=$(seq 1 10000 | sed 's/.*/k&=v&/' | paste -sd,)
    BAGGAGE=$baggage run -0 --separate-stderr preloaded "$PROGS/hostile" count
    expect_no_stderr
    expect_output <<'EOF2'
main: 10000 variables, format 117787 bytes
thread: 10000 variables, format 117787 bytes
runtime: yes
EOF2
}

@test "truncated and invalid percent escapes in BAGGAGE skip only their member" {
    BAGGAGE='a=%,b=%4,c=%zz,d=%4g,e=ok%21,f=%%41,g=%00,h=%E9' run -0 --separate-stderr preloaded "$PROGS/hostile" count
    expect_no_stderr
    [ "${lines[2]}" = "runtime: yes" ]
    BAGGAGE='a=%,b=%4,c=%zz,d=%4g,e=ok%21,f=%%41,g=%00,h=%E9' run -0 preloaded "$PROGS/context"
    # e decodes; h is a valid escape of a byte that is not UTF-8, which W3C
    # Baggage replaces with U+FFFD; the rest are malformed, and %00 cannot be
    # in a C string.
    [ "${lines[0]}" = "main: e=ok! h=$(printf '\xef\xbf\xbd')" ]
}

@test "binary junk in BAGGAGE seeds only its well-formed members, without a crash or a word" {
    local junk
    junk=$(head -c 100000 /dev/urandom | tr -d '\0' | tr ',' ';')
    BAGGAGE="$junk,good=yes" run -0 --separate-stderr preloaded "$PROGS/context"
    expect_no_stderr
    [[ "${lines[0]}" =~ good=yes ]]
    [ "${lines[2]}" = "runtime: yes" ]
}

@test "a BAGGAGE of only commas, spaces, semicolons and equals signs seeds nothing" {
    BAGGAGE=",,, ;;=,= ,=;,  ,;a;,=b" run -0 --separate-stderr preloaded "$PROGS/context"
    expect_no_stderr
    expect_output <<'EOF2'
main: 
thread: 
runtime: yes
EOF2
}

@test "a process with 50,000 environment variables runs under ctxrun with its context" {
    local vars
    mapfile -t vars < <(seq 1 50000 | sed 's/.*/HOSTILE_&=value_&/')
    run -0 --separate-stderr env "${vars[@]}" "$CTXRUN" --set request_id=7 -- "$PROGS/context"
    expect_no_stderr
    expect_output <<'EOF2'
main: request_id=7
thread: request_id=7
runtime: yes
EOF2
}

@test "CTXVAR_DEBUG=1 explains refused calls on stderr without ever printing a value" {
    BAGGAGE='token=s3cr3t,9bad=s3cr3t,also=%zzs3cr3t' CTXVAR_DEBUG=1 \
        run -0 --separate-stderr preloaded "$PROGS/hostile" secret
    [ -z "$output" ]
    [ -n "$stderr" ]
    ! grep -q s3cr3t <<<"$stderr"
    # Every line is a diagnostic of ours.
    ! grep -v '^ctxvar: ' <<<"$stderr"
}

@test "CTXVAR_DEBUG=1 ctxrun with a secret value never prints it" {
    CTXVAR_DEBUG=1 BAGGAGE='old=s3cr3t' run -0 --separate-stderr "$CTXRUN" --set pw=s3cr3t -- "$PROGS/context"
    ! grep -q s3cr3t <<<"$stderr"
    [[ "${lines[0]}" = "main: old=s3cr3t pw=s3cr3t" ]]
}

@test "the runtime calls secure_getenv and never getenv" {
    run -0 nm -D --undefined-only "$RUNTIME"
    ! grep -Ew 'getenv' <<<"$output"
    grep -Ew 'secure_getenv' <<<"$output"
}

# What ctxrun adds for build/libctxvar.so: its path, or where the build made
# a runtime for each word size, build/$LIB/libctxvar.so (bats/multilib.bats).
added_runtime() {
    if [ -s "$B/launcher-libdirs" ] && [ "$(cat "$B/launcher-libdirs")" != none ]; then
        printf '%s\n' "$B/\$LIB/libctxvar.so"
    else
        printf '%s\n' "$RUNTIME"
    fi
}

@test "ctxrun found through PATH from another directory uses its own runtime, not one in the current directory or on PATH" {
    mkdir -p "$BATS_TEST_TMPDIR/cwd" "$BATS_TEST_TMPDIR/decoy"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/cwd/libctxvar.so"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/decoy/libctxvar.so"
    cd "$BATS_TEST_TMPDIR/cwd"
    PATH="$BATS_TEST_TMPDIR/decoy:$B:$PATH" run -0 --separate-stderr ctxrun -- sh -c 'printf %s "$LD_PRELOAD"'
    [ "$output" = "$(added_runtime)" ]
}

@test "ctxrun started with a lying argv[0] still uses the runtime beside its real file" {
    mkdir -p "$BATS_TEST_TMPDIR/evil"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/evil/libctxvar.so"
    cd "$BATS_TEST_TMPDIR"
    run -0 --separate-stderr bash -c 'exec -a "$1/evil/ctxrun" "$2" -- sh -c "printf %s \"\$LD_PRELOAD\""' _ "$BATS_TEST_TMPDIR" "$CTXRUN"
    [ "$output" = "$(added_runtime)" ]
    run -0 --separate-stderr bash -c 'exec -a ctxrun "$1" -- sh -c "printf %s \"\$LD_PRELOAD\""' _ "$CTXRUN"
    [ "$output" = "$(added_runtime)" ]
}

@test "joining or detaching a thread handle of 0 returns glibc's error, as without the runtime, in the six ways glibc answers" {
    local expected
    expected=$(cat <<'EOF2'
pthread_join: ESRCH
pthread_timedjoin_np: ESRCH
pthread_clockjoin_np: ESRCH
pthread_detach: ESRCH
thrd_join: thrd_error
thrd_detach: thrd_error
EOF2
)
    run -0 --separate-stderr "$PROGS/join_zero"
    [ "$output" = "$expected" ]
    run -0 --separate-stderr preloaded "$PROGS/join_zero"
    [ "$output" = "$expected" ]
    expect_no_stderr
}

@test "a program whose own malloc starts a thread, at any of its first 12 calls, starts under BAGGAGE and TRACEPARENT instead of hanging" {
    local at tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
    for at in 1 2 3 4 5 6 7 8 9 10 11 12; do
        MALLOC_THREAD_AT=$at BAGGAGE=k=v TRACEPARENT=$tp \
            run -0 --separate-stderr preloaded timeout 20 "$PROGS/malloc_thread"
        [ "$output" = "started: 1"$'\n'"main: k=v traceparent=$tp" ] || { echo "at $at: $output" >&2; false; }
        expect_no_stderr
    done
}

@test "under a seccomp filter that refuses tgkill, the contexts of 2,000 ended detached threads are still released" {
    # The runtime asks the kernel whether a detached thread is gone with a
    # tgkill of signal 0; refused, it used to keep every such context.
    run -0 --separate-stderr preloaded "$PROGS/tgkill_refused"
    expect_output <<'EOF2'
tgkill refused: EPERM
live_contexts back to baseline: yes
EOF2
    expect_no_stderr
}

@test "detached threads lingering in their key destructors do not keep later detached threads' contexts from being released" {
    # Eight of them at the head of the runtime's queue of ended threads
    # used to stop it there: every later context was kept (some 20 MiB).
    run -0 --separate-stderr preloaded "$PROGS/reap_lingering"
    expect_output <<'EOF2'
lingering: 8
resident memory grew less than 8 MiB
EOF2
    expect_no_stderr
}

@test "under a seccomp filter that refuses gettid or getpid, and tgkill, detached threads' contexts are released and atexit handlers see main's" {
    # Thread ids then come from /proc/thread-self; before, the runtime took
    # -1 for every thread's id: it kept every detached thread's context,
    # and, no thread being the main one, released main's before exit.
    run -0 --separate-stderr preloaded "$PROGS/tgkill_refused" ids
    expect_output <<'EOF2'
tgkill refused: EPERM
gettid refused: yes
live_contexts back to baseline: yes
atexit: request_id=main
EOF2
    expect_no_stderr
    run -0 --separate-stderr preloaded "$PROGS/tgkill_refused" pid
    expect_output <<'EOF2'
tgkill refused: EPERM
getpid refused: yes
live_contexts back to baseline: yes
atexit: request_id=main
EOF2
    expect_no_stderr
}

@test "where neither gettid nor /proc can tell thread ids, the main thread is still known: seeded from BAGGAGE, its context kept for atexit" {
    # The filter refuses readlink too, so /proc/thread-self tells nothing.
    # The runtime then took every thread, main too, for another: a main
    # thread whose ids were unknown from the start was not seeded, and its
    # context was released before the atexit handlers ran.  Installed by
    # the program itself (ids known at load), then before the runtime
    # loads (noproc-exec).
    for mode in noproc noproc-exec; do
        BAGGAGE=k=v run -0 --separate-stderr preloaded "$PROGS/tgkill_refused" "$mode"
        expect_output <<'EOF2'
tgkill refused: EPERM
gettid refused: yes
readlink refused: yes
main: k=v
live_contexts back to baseline: yes
atexit: k=v request_id=main
EOF2
        expect_no_stderr
    done
}
