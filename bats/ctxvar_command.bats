#!/usr/bin/env bats
# The ctxvar command (launcher/ctxvar.c, man/ctxvar.1): what a script reads
# of the context it received, exactly as the runtime reads it, since the
# command is linked with the runtime and asks it (get, format, traceparent,
# env); usage errors; and a script run by system() from a request thread,
# whose `ctxvar format` carries that thread's request.

load helpers

CTXVAR="$B/ctxvar"
TP=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01

# --- get ----------------------------------------------------------------------

@test "get prints a value percent-decoded from BAGGAGE: spaces, commas, quotes, a backslash, UTF-8 escaped and raw" {
    export BAGGAGE='note=a%20b%2Cc%3B%22q%22%27%5C%25,city=K%C3%B6ln,raw=Köln'
    run -0 --separate-stderr "$CTXVAR" get note
    [ "$output" = "a b,c;\"q\"'\\%" ]
    expect_no_stderr
    run -0 "$CTXVAR" get city
    [ "$output" = "Köln" ]
    run -0 "$CTXVAR" get raw
    [ "$output" = "Köln" ]
}

@test "get reads BAGGAGE as the runtime does: blanks and properties dropped, the last of a repeated key wins, a malformed member skipped" {
    export BAGGAGE=' k = v1 ;p=1 , bad , 1x=2, k=v2 ;q , j = a%20b '
    run -0 "$CTXVAR" get k
    [ "$output" = "v2" ]
    run -0 "$CTXVAR" get j
    [ "$output" = "a b" ]
    run -1 "$CTXVAR" get bad
    [ "$output" = "" ]
}

@test "get prints a value that is set but empty as an empty line, with status 0" {
    BAGGAGE='k=' run -0 --separate-stderr "$CTXVAR" get k
    expect_no_stderr
    [ "$(BAGGAGE='k=' "$CTXVAR" get k; echo .)" = $'\n.' ]
}

@test "get of an absent variable prints nothing, or DEFAULT exactly, and exits 1" {
    BAGGAGE='a=1' run -1 --separate-stderr "$CTXVAR" get b
    [ "$output" = "" ]
    expect_no_stderr
    run -1 --separate-stderr "$CTXVAR" get b 'none, "really" é'
    [ "$output" = 'none, "really" é' ]
    expect_no_stderr
    [ "$("$CTXVAR" get b ''; echo .)" = $'\n.' ]
}

@test "get traceparent and tracestate read TRACEPARENT when valid and TRACESTATE with it" {
    TRACEPARENT=$TP TRACESTATE='a=1,b=2' run -0 "$CTXVAR" get traceparent
    [ "$output" = "$TP" ]
    TRACEPARENT=$TP TRACESTATE='a=1,b=2' run -0 "$CTXVAR" get tracestate
    [ "$output" = "a=1,b=2" ]
    TRACEPARENT=${TP^^} TRACESTATE='a=1' run -1 "$CTXVAR" get tracestate
    [ "$output" = "" ]
}

# --- format -------------------------------------------------------------------

@test "format prints the logfmt line ctxvar_format gives: name order, quoted and escaped where needed" {
    export BAGGAGE='utf=K%C3%B6ln,q=say%20%22hi%22,slash=a%5Cb,e=,eq=x%3Dy,nl=a%0Ab,tab=a%09b,ctl=%01,a=1'
    export TRACEPARENT=$TP TRACESTATE='v=1'
    run -0 --separate-stderr "$CTXVAR" format
    [ "$output" = "a=1 ctl=\"\\u0001\" e=\"\" eq=\"x=y\" nl=\"a\\nb\" q=\"say \\\"hi\\\"\" slash=a\\b tab=\"a\\tb\" traceparent=$TP tracestate=\"v=1\" utf=Köln" ]
    expect_no_stderr
}

@test "format prints an empty line for an empty context" {
    run -0 --separate-stderr "$CTXVAR" format
    [ "$output" = "" ]
    expect_no_stderr
    [ "$("$CTXVAR" format; echo .)" = $'\n.' ]
    BAGGAGE='bad,1x=2' TRACEPARENT=bad run -0 "$CTXVAR" format
    [ "$output" = "" ]
}

@test "format --set changes the context first, in order, the last of a name winning" {
    BAGGAGE='a=1,b=2' run -0 "$CTXVAR" format --set 'b=x y' --set=c= --set a=3 --set a=4
    [ "$output" = 'a=4 b="x y" c=""' ]
}

@test "the same context gives the same line in a C program under the runtime and from ctxvar format" {
    export BAGGAGE='note=a%20b%22c,user_id=u7,city=K%C3%B6ln'
    run -0 preloaded "$PROGS/context"
    c_line=$(grep '^main: ' <<<"$output")
    run -0 "$CTXVAR" format
    [ "main: $output" = "$c_line" ]
}

# --- traceparent ----------------------------------------------------------------

@test "traceparent prints the trace context, or nothing with status 1 when there is none or it is invalid" {
    TRACEPARENT=$TP run -0 --separate-stderr "$CTXVAR" traceparent
    [ "$output" = "$TP" ]
    expect_no_stderr
    BAGGAGE='a=1' run -1 --separate-stderr "$CTXVAR" traceparent
    [ "$output" = "" ]
    expect_no_stderr
    TRACEPARENT=00-00000000000000000000000000000000-b7ad6b7169203331-01 run -1 "$CTXVAR" traceparent
    [ "$output" = "" ]
}

# --- env ----------------------------------------------------------------------

@test "env prints export lines for BAGGAGE, TRACEPARENT and TRACESTATE with the changes merged, shell-quoted" {
    export BAGGAGE="note=it's%20ok,k=v;p=1" TRACEPARENT=$TP TRACESTATE='a=1,b=2'
    run -0 --separate-stderr "$CTXVAR" env --set step=2 --set _secret=x --set 'q=a"b c'
    expect_output <<EOF2
export BAGGAGE='k=v,note=it'\\''s%20ok,q=a%22b%20c,step=2'
export TRACEPARENT='$TP'
export TRACESTATE='a=1,b=2'
EOF2
    expect_no_stderr
}

@test "env with nothing set prints the process's own three variables, as a child gets them byte for byte" {
    run -0 --separate-stderr env -u BAGGAGE -u TRACEPARENT -u TRACESTATE "$CTXVAR" env
    expect_output <<'EOF2'
unset BAGGAGE
unset TRACEPARENT
unset TRACESTATE
EOF2
    # Members the runtime skips, properties, more members than an encoding
    # keeps: a child started from the unchanged context gets them all.
    members=$(for i in $(seq 100); do printf 'k%d=%d,' "$i" "$i"; done)
    BAGGAGE="bad,1x=2,p=1;prop,${members%,}" TRACEPARENT=bad TRACESTATE=k=v run -0 "$CTXVAR" env
    expect_output <<EOF2
export BAGGAGE='bad,1x=2,p=1;prop,${members%,}'
export TRACEPARENT='bad'
export TRACESTATE='k=v'
EOF2
    # Except a BAGGAGE naming a private variable, never passed on.
    BAGGAGE='_secret=1,a=2' run -0 "$CTXVAR" env
    expect_output <<'EOF2'
export BAGGAGE='a=2'
unset TRACEPARENT
unset TRACESTATE
EOF2
}

@test "env exports a tracestate only with a valid traceparent, and --set traceparent must be valid" {
    BAGGAGE='a=1' run -0 "$CTXVAR" env --set tracestate=k=v
    expect_output <<'EOF2'
export BAGGAGE='a=1'
unset TRACEPARENT
unset TRACESTATE
EOF2
    run -0 "$CTXVAR" env --set tracestate=k=v --set traceparent=$TP
    expect_output <<EOF2
unset BAGGAGE
export TRACEPARENT='$TP'
export TRACESTATE='k=v'
EOF2
    run -2 --separate-stderr "$CTXVAR" env --set traceparent=${TP^^}
    [ "$output" = "" ]
    [ "$stderr" = "ctxvar: invalid traceparent (expected 00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zero)" ]
}

@test "eval of env in a script gives its children the merged context, exported even when the script had no BAGGAGE" {
    run -0 env -u BAGGAGE sh -c 'eval "$("$1" env --set "note=it'\''s a b" --set step=2)"; sh -c "echo \"\$BAGGAGE\""; "$1" get note' sh "$CTXVAR"
    expect_output <<'EOF2'
note=it's%20a%20b,step=2
it's a b
EOF2
    BAGGAGE='request_id=42' run -0 sh -c 'eval "$("$1" env --set step=2)"; "$1" format' sh "$CTXVAR"
    [ "$output" = "request_id=42 step=2" ]
    BAGGAGE='bad' TRACEPARENT=$TP run -0 sh -c 'eval "$("$1" env --set step=2)"; echo "${BAGGAGE-(unset)} ${TRACEPARENT-(unset)}"' sh "$CTXVAR"
    [ "$output" = "step=2 $TP" ]
}

@test "env gives the variables the runtime gives a child started after the same changes" {
    export BAGGAGE='z=1,note=a%20b,k=v;p=1' TRACEPARENT=$TP TRACESTATE='a=1'
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn \
        'echo "$BAGGAGE|$TRACEPARENT|$TRACESTATE"' 'step=2' 'q=x,y'
    runtime=$(sed -n 2p <<<"$output")
    run -0 sh -c 'eval "$("$1" env --set step=2 --set q=x,y)"; echo "$BAGGAGE|$TRACEPARENT|$TRACESTATE"' sh "$CTXVAR"
    [ "$output" = "$runtime" ]
    [ "$output" = "k=v,note=a%20b,q=x%2Cy,step=2,z=1|$TP|a=1" ]
}

# --- usage, help, version -------------------------------------------------------

# usage_error EXPECTED_STDERR ARG...: ctxvar ARG... exits 2 with that one
# line on stderr and nothing on stdout.
usage_error() {
    local expected=$1
    shift
    run -2 --separate-stderr "$CTXVAR" "$@"
    [ "$output" = "" ]
    if [ "$stderr" != "$expected" ]; then
        printf -- '--- expected\n%s\n--- got\n%s\n' "$expected" "$stderr" >&2
        return 1
    fi
}

@test "no subcommand or an unknown one is a usage error (status 2, one line on stderr)" {
    usage_error "ctxvar: missing subcommand: get, format, traceparent or env (try 'ctxvar --help')"
    usage_error "ctxvar: unknown subcommand 'show' (try 'ctxvar --help')" show
    usage_error "ctxvar: unknown subcommand '--set' (try 'ctxvar --help')" --set a=1
}

@test "an invalid NAME is a usage error, shown with its bytes escaped; one in a --set argument is not shown" {
    local rule="(1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_')"
    usage_error "ctxvar: invalid variable name '1abc' $rule" get 1abc
    usage_error "ctxvar: invalid variable name 'a b' $rule" get 'a b'
    usage_error "ctxvar: invalid variable name 'a\\x0Ab' $rule" get $'a\nb'
    usage_error "ctxvar: invalid variable name '' $rule" get ''
    usage_error "ctxvar: invalid variable name '$(printf 'a%.0s' {1..65})' $rule" get "$(printf 'a%.0s' {1..65})"
    local hidden="ctxvar: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret"
    usage_error "$hidden" format --set 'ké=1'
    usage_error "$hidden" env --set =1
    usage_error "$hidden" env --set 's3cr+t/Pa55w0rd=='
}

@test "wrong arguments to a subcommand are usage errors, and values are never shown" {
    usage_error "ctxvar: get expects NAME [DEFAULT] (try 'ctxvar --help')" get
    usage_error "ctxvar: get: unexpected argument 'c' (try 'ctxvar --help')" get a b c
    usage_error "ctxvar: traceparent: unexpected argument 'x' (try 'ctxvar --help')" traceparent x
    usage_error "ctxvar: format: unexpected argument 'x' (try 'ctxvar --help')" format x
    usage_error "ctxvar: env: unexpected argument '--' (try 'ctxvar --help')" env -- true
    usage_error "ctxvar: --set expects NAME=VALUE" env --set
    usage_error "ctxvar: --set expects NAME=VALUE; its argument has no '='" format --set s3cr3t
    usage_error "ctxvar: value of 'k' is longer than 4096 bytes" env --set "k=$(printf 's%.0s' {1..4097})"
    BAGGAGE=a=1 run -0 "$CTXVAR" env --set "k=$(printf 's%.0s' {1..4096})"
    [ "${#lines[@]}" -eq 3 ]
}

@test "--help prints the usage on stdout and exits 0" {
    run -0 --separate-stderr "$CTXVAR" --help
    [ "${lines[0]}" = "Usage: ctxvar get NAME [DEFAULT]" ]
    [ "${lines[1]}" = "       ctxvar format [--set NAME=VALUE]..." ]
    [ "${lines[2]}" = "       ctxvar traceparent" ]
    [ "${lines[3]}" = "       ctxvar env [--set NAME=VALUE]..." ]
    [[ "$output" == *"  --set NAME=VALUE     change NAME first (may be repeated, last wins)"* ]]
    expect_no_stderr
}

@test "--version prints 'ctxvar (ctxvar) 1.0.0' on stdout and exits 0; a failed write is status 2" {
    run -0 --separate-stderr "$CTXVAR" --version
    [ "$output" = "ctxvar (ctxvar) 1.0.0" ]
    expect_no_stderr
    run -2 --separate-stderr sh -c '"$1" --version >/dev/full' sh "$CTXVAR"
    [ "$stderr" = "ctxvar: cannot write to stdout: No space left on device" ]
    BAGGAGE=a=1 run -2 --separate-stderr sh -c '"$1" get a >/dev/full' sh "$CTXVAR"
    [ "$stderr" = "ctxvar: cannot write to stdout: No space left on device" ]
}

# --- how it gets the runtime, and the script of a request thread ----------------

@test "ctxvar is linked with the runtime found beside it, whatever LD_LIBRARY_PATH says" {
    run -0 readelf -d "$CTXVAR"
    [[ "$output" == *"(NEEDED)             Shared library: [libctxvar.so.1]"* ]]
    [[ "$output" == *'(RPATH)              Library rpath: [$ORIGIN:$ORIGIN/../lib]'* ]]
    mkdir -p "$BATS_TEST_TMPDIR/other"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/other/libctxvar.so.1"
    LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/other" run -0 ldd "$CTXVAR"
    [[ "$output" == *"libctxvar.so.1 => $(cd -P "$B" && pwd)/libctxvar.so.1 ("* ]]
}

@test "ctxvar reads the same context with the runtime also preloaded, from its own path or another" {
    BAGGAGE='a=1,b=x%20y' run -0 --separate-stderr "$CTXVAR" format
    [ "$output" = 'a=1 b="x y"' ]
    BAGGAGE='a=1,b=x%20y' LD_PRELOAD="$RUNTIME" run -0 --separate-stderr "$CTXVAR" format
    [ "$output" = 'a=1 b="x y"' ]
    expect_no_stderr
    mkdir -p "$BATS_TEST_TMPDIR/copy"
    cp "$RUNTIME" "$BATS_TEST_TMPDIR/copy/libctxvar.so"
    BAGGAGE='a=1,b=x%20y' LD_PRELOAD="$BATS_TEST_TMPDIR/copy/libctxvar.so" \
        run -0 --separate-stderr "$CTXVAR" format
    [ "$output" = 'a=1 b="x y"' ]
    expect_no_stderr
}

@test "a script run by system() from each of three request threads logs, with ctxvar format, exactly its own thread's ids" {
    run -0 --separate-stderr env PATH="$B:$PATH" "$CTXRUN" --set tenant=acme -- \
        "$B/examples/request_hooks" "sh $ROOT/examples/request_hooks/hook.sh"
    output=$(LC_ALL=C sort <<<"$output")
    expect_output <<'EOF2'
[request_id=r1 tenant=acme user_id=alice] hook exited 0 for request r1 by alice
[request_id=r1 tenant=acme user_id=alice] hook rotated the log of request r1 by alice
[request_id=r2 tenant=acme user_id=bob] hook exited 0 for request r2 by bob
[request_id=r2 tenant=acme user_id=bob] hook rotated the log of request r2 by bob
[request_id=r3 tenant=acme user_id=carol] hook exited 0 for request r3 by carol
[request_id=r3 tenant=acme user_id=carol] hook rotated the log of request r3 by carol
EOF2
    expect_no_stderr
}

@test "a script's get, traceparent and env see the request thread's context, and a child of the script gets it on" {
    script='echo "$1 get: $(ctxvar get request_id) tp: $(ctxvar traceparent || echo none)"
            eval "$(ctxvar env --set step=hook)"; sh -c "echo \"$1 child: \$BAGGAGE\""'
    run -0 --separate-stderr env PATH="$B:$PATH" "$CTXRUN" --traceparent "$TP" -- \
        "$B/examples/request_hooks" "sh -c '$script' sh"
    output=$(LC_ALL=C sort <<<"$output" | grep -v 'hook exited 0')
    expect_output <<EOF2
r1 child: request_id=r1,step=hook,user_id=alice
r1 get: r1 tp: $TP
r2 child: request_id=r2,step=hook,user_id=bob
r2 get: r2 tp: $TP
r3 child: request_id=r3,step=hook,user_id=carol
r3 get: r3 tp: $TP
EOF2
    expect_no_stderr
}
