#!/usr/bin/env bats
# The bats helper users load in their own suites (bats/helper/ctxvar.bash,
# installed under share/ctxvar/bats): its example suite passes from this
# build tree, and each function does exactly what its comment says, failing
# with the message it promises.  The installed helper is tested in
# install.bats.

load helpers

TP=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01

setup() {
    export CTXVAR_BATS_BINDIR="$B"
    load helper/ctxvar
}

# --- the example suite -------------------------------------------------------

@test "the example suite examples/bats/request_ids.bats passes from the build tree" {
    CTXVAR_BATS_HELPER="$ROOT/bats/helper/ctxvar" \
        run -0 bats --tap "$ROOT/examples/bats/request_ids.bats"
    expect_output <<'EOF2'
1..3
ok 1 every line of every request carries its own request's ids, the hook scripts' lines too
ok 2 the context the server starts with reaches every request's hook, with the request's own ids
ok 3 without the runtime the server logs no ids, never wrong ones, and its hooks receive none
EOF2
}

# --- ctxvar_run_with ---------------------------------------------------------

@test "ctxvar_run_with runs the command under the runtime with exactly the given context, as run does" {
    ctxvar_run_with request_id=42 'note=a b,"c"' user.id=u-7 -- "$B/examples/print_context"
    [ "$status" -eq 0 ]
    expect_output <<'EOF2'
main: note="a b,\"c\"" request_id=42 user.id=u-7
thread: note="a b,\"c\"" request_id=42 user.id=u-7
runtime: yes
EOF2
    [ "${lines[2]}" = "runtime: yes" ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "ctxvar_run_with passes run's options on: -N checks the status, --separate-stderr splits stderr" {
    ctxvar_run_with -3 --separate-stderr k=v -- sh -c 'echo "out $BAGGAGE"; echo "err $BAGGAGE" >&2; exit 3'
    [ "$output" = "out k=v" ]
    [ "$stderr" = "err k=v" ]
    [ "$status" -eq 3 ]
    # A status other than -N's fails, as it does with run.
    run -1 ctxvar_run_with -3 k=v -- true
    ctxvar_run_with ! -- false
    [ "$status" -eq 1 ]
}

@test "ctxvar_run_with passes none of the test's own BAGGAGE, TRACEPARENT or TRACESTATE" {
    BAGGAGE=leak=1 TRACEPARENT=$TP TRACESTATE=k=v \
        ctxvar_run_with -0 a=1 -- sh -c 'echo "${BAGGAGE-(unset)} ${TRACEPARENT-(unset)} ${TRACESTATE-(unset)}"'
    [ "$output" = "a=1 (unset) (unset)" ]
    ctxvar_run_with -0 -- sh -c 'echo "${BAGGAGE-(unset)}"'
    [ "$output" = "(unset)" ]
}

@test "ctxvar_run_with: traceparent= and tracestate= go to TRACEPARENT and TRACESTATE, --baggage members to BAGGAGE" {
    ctxvar_run_with -0 traceparent=$TP tracestate=vendor=x --baggage 'b=1,c=%C3%A9' a=2 -- \
        sh -c 'echo "$BAGGAGE $TRACEPARENT $TRACESTATE"'
    [ "$output" = "b=1,c=%C3%A9,a=2 $TP vendor=x" ]
}

@test "ctxvar_run_with puts the ctxvar command of the same runtime first in PATH" {
    ctxvar_run_with -0 traceparent=$TP tracestate=vendor=x 'note=it'\''s é' -- \
        sh -c 'command -v ctxvar; ctxvar format'
    expect_output <<EOF2
$B/ctxvar
note="it's é" traceparent=$TP tracestate="vendor=x"
EOF2
}

@test "ctxvar_run_with gives ctxrun's own refusal of an invalid name or traceparent as the command's status" {
    ctxvar_run_with -2 1bad=x -- true
    [ "$output" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
    ctxvar_run_with -2 traceparent=00-bad -- true
    [ "$output" = "ctxrun: invalid traceparent '00-bad' (expected 00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zero)" ]
}

@test "ctxvar_run_with without -- COMMAND, or with a word that is no NAME=VALUE, is a usage error" {
    run -2 ctxvar_run_with a=1 true
    [ "$output" = "ctxvar_run_with: expected NAME=VALUE, --baggage VALUE or --, got 'true'" ]
    run -2 ctxvar_run_with a=1 --
    [ "$output" = "ctxvar_run_with: missing -- COMMAND" ]
}

@test "without CTXVAR_BATS_BINDIR or an installation, the helper finds ctxrun and ctxvar in PATH, and says so when it cannot" {
    unset CTXVAR_BATS_BINDIR
    PATH="$B:$PATH" ctxvar_run_with -0 a=1 -- sh -c 'echo "$BAGGAGE"'
    [ "$output" = "a=1" ]
    PATH=/usr/bin:/bin run -1 ctxvar_run_with a=1 -- true
    [ "$output" = "ctxvar.bash: no ctxrun: set CTXVAR_BATS_BINDIR to the directory of ctxrun and ctxvar" ]
}

# --- request ids in log lines --------------------------------------------------

# Log lines of four kinds, and one line that names no request.
some_lines() {
    lines=(
        '[request_id=r1 user_id=alice] job of request r1 by alice'
        '[request_id=r2 user_id=alice] job of request r1 by alice'
        '[] job of request r3 by carol'
        '[request_id=r3] job of request r3 by carol'
        'starting up'
        'request_id=r4 tenant=acme user_id=dave job of request r4 by dave'
    )
}

@test "ctxvar_request_ids_verdict counts the lines as make demo does: own ids, another request's, none" {
    some_lines
    ctxvar_request_ids_verdict 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
    [ "$ctxvar_verdict" = "2 of 5 marked lines carry their own request's ids (2 another request's, 1 none)" ]
    [ "$ctxvar_ids_right $ctxvar_ids_wrong $ctxvar_ids_none $ctxvar_ids_marked" = "2 2 1 5" ]
    [ "${ctxvar_ids_wrong_lines[*]}" = "[request_id=r2 user_id=alice] job of request r1 by alice [request_id=r3] job of request r3 by carol" ]
    [ "${ctxvar_ids_none_lines[*]}" = "[] job of request r3 by carol" ]
}

@test "assert_lines_carry_request_ids fails with the verdict and every line at fault" {
    some_lines
    run -1 assert_lines_carry_request_ids 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
    expect_output <<'EOF2'
assert_lines_carry_request_ids: 2 of 5 marked lines carry their own request's ids (2 another request's, 1 none)
another request's: [request_id=r2 user_id=alice] job of request r1 by alice
another request's: [request_id=r3] job of request r3 by carol
none: [] job of request r3 by carol
EOF2
    some_lines
    lines=("${lines[0]}" "${lines[4]}" "${lines[5]}")
    assert_lines_carry_request_ids 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
}

@test "assert_lines_carry_request_ids wants each pair whole and as ctxvar_format writes it, quoted when it must be" {
    lines=('[note="a b" request_id=r1] note a b of r1')
    assert_lines_carry_request_ids 'note (.+) of ([^ ]+)$' note request_id
    lines=('[note=a b request_id=r1] note a b of r1')
    run -1 assert_lines_carry_request_ids 'note (.+) of ([^ ]+)$' note request_id
    [ "${lines[0]}" = "assert_lines_carry_request_ids: 0 of 1 marked lines carry their own request's ids (1 another request's, 0 none)" ]
    lines=('[request_id=r12] of r1' '[xrequest_id=r1] of r1' '(request_id=r1) of r1' 'request_id=r1, of r1')
    ctxvar_request_ids_verdict 'of ([^ ]+)$' request_id
    [ "$ctxvar_verdict" = "1 of 4 marked lines carry their own request's ids (2 another request's, 1 none)" ]
    [ "${ctxvar_ids_none_lines[*]}" = "[xrequest_id=r1] of r1" ]
}

@test "assert_lines_carry_request_ids fails when no line is marked, showing the output" {
    output=$'[a=1] hello\nbye'
    lines=('[a=1] hello' 'bye')
    run -1 assert_lines_carry_request_ids 'of request ([^ ]+)$' request_id
    expect_output <<'EOF2'
assert_lines_carry_request_ids: no line matches of request ([^ ]+)$
--- output
[a=1] hello
bye
EOF2
}

@test "a marker with fewer groups than names is a usage error" {
    lines=('of request r1')
    run -2 ctxvar_request_ids_verdict 'of request [^ ]+$' request_id
    [ "$output" = "ctxvar_request_ids_verdict: the marker has fewer groups than the 1 names" ]
}

# --- what a child received -----------------------------------------------------

@test "assert_child_received reads what a recorded child got, decoded by ctxvar: percent-escapes, UTF-8, quotes, the trace" {
    child=$(ctxvar_child_recorder)
    [ "$child" = "$BATS_TEST_TMPDIR/ctxvar-children/child" ]
    ctxvar_run_with -0 'note=a b,c;"q"'\'' %41' city=Köln traceparent=$TP tracestate=vendor=x \
        -- sh -c '"$1" one two' sh "$child"
    [ "$output" = "" ]
    assert_child_received note 'a b,c;"q"'\'' %41'
    assert_child_received city Köln
    assert_child_received traceparent $TP
    assert_child_received tracestate vendor=x
    assert_child_received --first-arg one city Köln
    refute_child_received user_id
}

@test "assert_child_received fails for a value that differs or is absent, naming the run; refute for one present" {
    child=$(ctxvar_child_recorder hook)
    ctxvar_run_with -0 request_id=r1 -- "$child" r1 alice
    run -1 assert_child_received --child hook request_id r2
    [ "$output" = "assert_child_received: child 'hook' run with arguments 'r1 alice' received request_id 'r1', expected 'r2'" ]
    run -1 assert_child_received --child hook user_id alice
    [ "$output" = "assert_child_received: child 'hook' run with arguments 'r1 alice' received no user_id, expected 'alice'" ]
    run -1 refute_child_received --child hook request_id
    [ "$output" = "refute_child_received: child 'hook' run with arguments 'r1 alice' received request_id 'r1'" ]
}

@test "assert_child_received checks every run, and fails for a child that never ran" {
    child=$(ctxvar_child_recorder)
    run -1 assert_child_received request_id r1
    [ "$output" = "assert_child_received: child 'child' never ran" ]
    run -1 assert_child_received --child other request_id r1
    [ "$output" = "assert_child_received: no recorder 'other' in this test (ctxvar_child_recorder other)" ]
    ctxvar_run_with -0 request_id=r1 -- "$child" r1
    ctxvar_run_with -0 request_id=r2 -- "$child" r2
    assert_child_received --first-arg r2 request_id r2
    run -1 assert_child_received --first-arg r3 request_id r3
    [ "$output" = "assert_child_received: child 'child' never ran with first argument 'r3'" ]
    run -1 assert_child_received request_id r1
    [ "$output" = "assert_child_received: child 'child' run with arguments 'r2' received request_id 'r2', expected 'r1'" ]
}

@test "a child recorder keeps the variables byte for byte, a TRACEPARENT the runtime would ignore included" {
    child=$(ctxvar_child_recorder)
    BAGGAGE=$'j=1\n,k=v' TRACEPARENT=bad TRACESTATE= run -0 "$child"
    run -0 cat "$BATS_TEST_TMPDIR"/ctxvar-children/child.runs/*/TRACEPARENT
    [ "$output" = bad ]
    run -0 cat "$BATS_TEST_TMPDIR"/ctxvar-children/child.runs/*/TRACESTATE
    [ "$output" = "" ]
    [ "$(od -An -c "$BATS_TEST_TMPDIR"/ctxvar-children/child.runs/*/BAGGAGE | tr -s ' ')" = " j = 1 \n , k = v" ]
    # Read as the runtime reads them: a member with a raw newline is
    # skipped; no valid traceparent, so no tracestate either.
    refute_child_received j
    assert_child_received k v
    refute_child_received traceparent
    refute_child_received tracestate
}

@test "each of the three request threads' system() children received its own request's ids" {
    hook=$(ctxvar_child_recorder hook)
    ctxvar_run_with -0 -- "$B/examples/request_hooks" "$hook"
    assert_child_received --child hook --first-arg r1 request_id r1
    assert_child_received --child hook --first-arg r2 request_id r2
    assert_child_received --child hook --first-arg r3 request_id r3
    assert_child_received --child hook --first-arg r3 user_id carol
    [ "$(ls "$BATS_TEST_TMPDIR/ctxvar-children/hook.runs" | wc -l)" -eq 3 ]
}
