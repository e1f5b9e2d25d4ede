# Shared setup for the bats suites.  Paths are absolute so a test may cd.
ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
B="$ROOT/build"
RUNTIME="$B/libctxvar.so"
CTXRUN="$B/ctxrun"
# Programs built for these tests live here (see bats/bats.mk).
PROGS="$B/bats"
# The environment a test starts from: none of ctxvar's own variables leak in
# from the caller's shell.
unset BAGGAGE CTXVAR_INHERIT CTXVAR_DEBUG LD_PRELOAD ASAN_OPTIONS

# `run -0`, `run --separate-stderr`.
bats_require_minimum_version 1.5.0

# expect_output <<'EOF' ... EOF
# Compares $output (as left by `run`) with the text on stdin, exactly; on a
# mismatch shows both and a diff.
expect_output() {
    local expected
    expected="$(cat)"
    if [ "$output" != "$expected" ]; then
        printf -- '--- expected\n%s\n--- got\n%s\n--- diff\n' "$expected" "$output" >&2
        diff <(printf '%s\n' "$expected") <(printf '%s\n' "$output") >&2
        return 1
    fi
}

# expect_no_stderr: after `run --separate-stderr`, nothing went to stderr.
expect_no_stderr() {
    if [ -n "$stderr" ]; then
        printf -- '--- unexpected stderr\n%s\n' "$stderr" >&2
        return 1
    fi
}

# preloaded COMMAND...: runs COMMAND with the runtime in LD_PRELOAD.
preloaded() {
    LD_PRELOAD="$RUNTIME" "$@"
}

# run_recorded TAG COMMAND...: runs COMMAND, keeping its stdout, stderr and
# exit status in $BATS_TEST_TMPDIR/TAG.out, TAG.err, TAG.status.  Never fails.
run_recorded() {
    local tag=$1; shift
    local status=0
    "$@" >"$BATS_TEST_TMPDIR/$tag.out" 2>"$BATS_TEST_TMPDIR/$tag.err" || status=$?
    echo "$status" >"$BATS_TEST_TMPDIR/$tag.status"
}

# expect_same_run TAG1 TAG2: the two recorded runs wrote the same bytes to
# stdout and to stderr and exited with the same status.
expect_same_run() {
    local a=$1 b=$2 part
    for part in status out err; do
        if ! cmp "$BATS_TEST_TMPDIR/$a.$part" "$BATS_TEST_TMPDIR/$b.$part" >&2; then
            printf -- '--- %s of "%s" and "%s" differ\n' "$part" "$a" "$b" >&2
            head -c 2000 "$BATS_TEST_TMPDIR/$a.$part" >&2
            printf -- '\n--- versus\n' >&2
            head -c 2000 "$BATS_TEST_TMPDIR/$b.$part" >&2
            return 1
        fi
    done
}

# expect_transparent TAG COMMAND...: COMMAND behaves the same plainly and
# under `ctxrun --set request_id=1 --` (same stdout, stderr, status).  The
# runs are kept as TAG.plain.* and TAG.ctxrun.*; the plain one must succeed.
expect_transparent() {
    local tag=$1; shift
    [ -x "$CTXRUN" ] || { echo "no launcher at $CTXRUN" >&2; return 1; }
    run_recorded "$tag.plain" "$@"
    run_recorded "$tag.ctxrun" "$CTXRUN" --set request_id=1 -- "$@"
    if [ "$(cat "$BATS_TEST_TMPDIR/$tag.plain.status")" != 0 ]; then
        echo "the plain run of $* failed:" >&2
        cat "$BATS_TEST_TMPDIR/$tag.plain.err" >&2
        return 1
    fi
    expect_same_run "$tag.plain" "$tag.ctxrun"
}
