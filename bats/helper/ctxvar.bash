# ctxvar.bash - a bats helper for testing programs under the ctxvar runtime.
#
#     load "$(pkg-config --variable=batsdir ctxvar)/ctxvar"
#
# Four things a test of a program using context variables wants to say:
# "run it with this context", "every log line of a request carries that
# request's ids", "the child it started received this value", and "this
# child received nothing of that name".  Every check decodes and formats
# with ctxvar's own code: the ctxvar command (man 1 ctxvar), linked with the
# runtime, never a second parser in shell.  Needs bats 1.5 or later.
#
# ctxvar_run_with [RUN_OPTION]... [NAME=VALUE | --baggage VALUE]... -- COMMAND [ARG]...
#     Runs COMMAND under the runtime (through ctxrun) with exactly the given
#     context, as bats' `run` runs it: sets $output, $status and $lines
#     (and $stderr, $stderr_lines with --separate-stderr).  RUN_OPTIONs are
#     `run`'s own (!, -N, --separate-stderr, --keep-empty-lines) and mean
#     what they mean there; with -N a different status fails the test.
#     Each NAME=VALUE starts COMMAND's main thread with NAME set to VALUE
#     (ctxrun --set); traceparent=V goes to TRACEPARENT (ctxrun
#     --traceparent, which refuses an invalid one) and tracestate=V to
#     TRACESTATE (seeded only with a valid traceparent); --baggage VALUE
#     merges the members of a W3C baggage value (ctxrun --baggage).
#     BAGGAGE, TRACEPARENT and TRACESTATE of the test's own environment are
#     not passed on: COMMAND gets these and nothing else.  COMMAND runs with
#     the directory of ctxrun and ctxvar first in PATH, so the scripts it
#     starts call the ctxvar command that goes with the runtime.
#         ctxvar_run_with -0 request_id=42 tenant=acme -- ./server --once
#
# assert_lines_carry_request_ids MARKER_ERE NAME...
#     Every line of $lines that matches MARKER_ERE (bash's =~, an extended
#     regular expression) carries its own request's ids: for the i-th NAME,
#     the logfmt pair NAME=<the i-th group MARKER_ERE captured>, written the
#     way ctxvar_format writes it (so quoted when the value needs it).  The
#     marker is the part of a line that says, independently of the context,
#     which request the line is about (the message, not the log prefix).
#     A pair counts when it stands whole: at the start of the line or after
#     a space, tab, '[', '(' or '{', and at the end or before a space, tab,
#     ']', ')' or '}'.  At least one line must match.  On failure prints
#     the verdict (below) and each line at fault.
#         assert_lines_carry_request_ids 'of request ([^ ]+) by ([^ ]+)$' request_id user_id
#
# ctxvar_request_ids_verdict MARKER_ERE NAME...
#     The count behind that assertion, as `make demo` prints it: sets
#     $ctxvar_verdict to "R of T marked lines carry their own request's
#     ids (W another request's, N none)", where a line is "none" when no
#     NAME= pair stands whole in it and "another request's" when some does
#     but not all of its own; and $ctxvar_ids_right, $ctxvar_ids_wrong,
#     $ctxvar_ids_none, $ctxvar_ids_marked, and the arrays
#     $ctxvar_ids_wrong_lines and $ctxvar_ids_none_lines.  Returns 0 unless
#     called wrongly.  For "no ids, never wrong ones" (a program run without
#     the runtime):
#         [ "$ctxvar_verdict" = "0 of 6 marked lines carry their own request's ids (0 another request's, 6 none)" ]
#
# ctxvar_child_recorder [NAME]
#     Creates a command that records what it receives, and prints its path
#     (NAME defaults to "child").  Give that path to the program under test
#     as the child it starts (a hook, a helper command).  Each run keeps
#     BAGGAGE, TRACEPARENT and TRACESTATE exactly as it got them (set or
#     not) and its arguments, prints nothing and exits 0.  Runs may overlap.
#     Creating NAME again in the same test forgets its runs.
#
# assert_child_received [--child NAME] [--first-arg ARG] VAR VALUE
#     The recorded child NAME ran, and every run of it (with --first-arg,
#     every run whose first argument was ARG; at least one) received VAR
#     with exactly the value VALUE: `ctxvar get VAR` in the environment the
#     run recorded prints VALUE.  So VAR is read as the child's runtime
#     reads it: percent-decoded from BAGGAGE, traceparent from TRACEPARENT
#     when valid, tracestate from TRACESTATE with it.
#         hook=$(ctxvar_child_recorder hook)
#         ctxvar_run_with -0 -- ./server --hook "$hook"
#         assert_child_received --child hook --first-arg r1 request_id r1
#
# refute_child_received [--child NAME] [--first-arg ARG] VAR
#     The recorded child ran (at least once, as selected) and no run
#     received VAR at all.
#
# Where ctxrun and ctxvar come from: $CTXVAR_BATS_BINDIR when set (a build
# tree: CTXVAR_BATS_BINDIR=$PWD/build); otherwise the installation this file
# belongs to (PREFIX/bin, three levels up from PREFIX/share/ctxvar/bats);
# otherwise the ctxrun found in PATH, with the ctxvar beside it.  The two
# always come from one place, so the command and the runtime agree.
#
# These functions run under bats' errexit: every command that may fail is
# tested, and locals never shadow the variables `run` sets (output, status,
# lines, stderr).

# This file's directory, for the installation it belongs to.
_ctxvar_helper_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Sets _ctxvar_bin to the directory of ctxrun and ctxvar, or explains.
_ctxvar_find_bin() {
    local dir
    if [ -n "${CTXVAR_BATS_BINDIR:-}" ]; then
        dir=$CTXVAR_BATS_BINDIR
    elif [ -x "$_ctxvar_helper_dir/../../../bin/ctxrun" ]; then
        dir="$_ctxvar_helper_dir/../../../bin"
    elif dir=$(command -v ctxrun); then
        dir=$(dirname "$dir")
    else
        echo "ctxvar.bash: no ctxrun: set CTXVAR_BATS_BINDIR to the directory of ctxrun and ctxvar" >&2
        return 1
    fi
    if [ ! -x "$dir/ctxrun" ] || [ ! -x "$dir/ctxvar" ]; then
        echo "ctxvar.bash: no ctxrun and ctxvar in $dir" >&2
        return 1
    fi
    _ctxvar_bin=$(cd "$dir" && pwd)
}

# What ctxvar_run_with runs inside `run`: COMMAND under ctxrun, from an
# environment without the test's own context.  A subshell, so that exec
# replaces it and nothing of the test's shell.
_ctxvar_launch() { # BIN TRACESTATE_GIVEN TRACESTATE CTXRUN_ARG...
    (
        bin=$1
        unset BAGGAGE TRACEPARENT TRACESTATE
        if [ "$2" = 1 ]; then export TRACESTATE="$3"; fi
        shift 3
        PATH="$bin:$PATH" exec "$bin/ctxrun" "$@"
    )
}

ctxvar_run_with() {
    local -a run_options=() ctxrun_args=()
    local tracestate_given=0 tracestate=''
    while [ $# -gt 0 ]; do
        case $1 in
        --)
            shift
            break
            ;;
        '!' | -[0-9]* | --separate-stderr | --keep-empty-lines)
            run_options+=("$1")
            ;;
        --baggage)
            if [ $# -lt 2 ]; then
                echo "ctxvar_run_with: --baggage expects a W3C baggage value" >&2
                return 2
            fi
            ctxrun_args+=(--baggage "$2")
            shift
            ;;
        traceparent=*)
            ctxrun_args+=(--traceparent "${1#*=}")
            ;;
        tracestate=*)
            tracestate_given=1
            tracestate=${1#*=}
            ;;
        [!-]*=*)
            ctxrun_args+=(--set "$1")
            ;;
        *)
            echo "ctxvar_run_with: expected NAME=VALUE, --baggage VALUE or --, got '$1'" >&2
            return 2
            ;;
        esac
        shift
    done
    if [ $# -eq 0 ]; then
        echo "ctxvar_run_with: missing -- COMMAND" >&2
        return 2
    fi
    _ctxvar_find_bin || return 1
    run "${run_options[@]}" _ctxvar_launch "$_ctxvar_bin" "$tracestate_given" "$tracestate" \
        "${ctxrun_args[@]}" -- "$@"
}

# Sets _ctxvar_pair to NAME=VALUE as ctxvar_format writes it, from the
# ctxvar command itself; each pair is asked for once per test.
declare -gA _ctxvar_pairs=()
_ctxvar_format_pair() { # NAME VALUE
    local key="$1=$2" text
    if [ -n "${_ctxvar_pairs[$key]+set}" ]; then
        _ctxvar_pair=${_ctxvar_pairs[$key]}
        return 0
    fi
    if ! text=$(unset BAGGAGE TRACEPARENT TRACESTATE
                "$_ctxvar_bin/ctxvar" format --set "$key"); then
        echo "ctxvar.bash: ctxvar format cannot take $1 from a marker" >&2
        return 1
    fi
    _ctxvar_pairs[$key]=$text
    _ctxvar_pair=$text
}

# Whether TEXT (whole, not a pattern) stands as a pair in LINE: whole on the
# left, and, with RIGHT=1, on the right too (see the top of the file).
_ctxvar_stands() { # LINE TEXT RIGHT
    local rest=$1 text=$2 right=$3 before='' head left after
    while [[ $rest == *"$text"* ]]; do
        head=${rest%%"$text"*}
        if [ -n "$head" ]; then left=${head: -1}; else left=$before; fi
        after=${rest:${#head}+${#text}:1}
        if [[ -z $left || $left == [[:blank:]'[({'] ]] &&
           [[ $right != 1 || -z $after || $after == [[:blank:]'])}'] ]]; then
            return 0
        fi
        before=${rest:${#head}:1}
        rest=${rest:${#head}+1}
    done
    return 1
}

ctxvar_request_ids_verdict() {
    if [ $# -lt 2 ]; then
        echo "ctxvar_request_ids_verdict: expected MARKER_ERE NAME..." >&2
        return 2
    fi
    local marker=$1 line i ok found
    shift
    _ctxvar_find_bin || return 1
    ctxvar_ids_right=0 ctxvar_ids_wrong=0 ctxvar_ids_none=0 ctxvar_ids_marked=0
    ctxvar_ids_wrong_lines=() ctxvar_ids_none_lines=()
    for line in "${lines[@]}"; do
        [[ $line =~ $marker ]] || continue
        if [ $((${#BASH_REMATCH[@]} - 1)) -lt $# ]; then
            echo "ctxvar_request_ids_verdict: the marker has fewer groups than the $# names" >&2
            return 2
        fi
        local -a values=("${BASH_REMATCH[@]:1}")
        ctxvar_ids_marked=$((ctxvar_ids_marked + 1))
        ok=1 found=0
        for ((i = 1; i <= $#; i++)); do
            _ctxvar_format_pair "${!i}" "${values[i - 1]}" || return 1
            if ! _ctxvar_stands "$line" "$_ctxvar_pair" 1; then ok=0; fi
            if _ctxvar_stands "$line" "${!i}=" 0; then found=1; fi
        done
        if [ "$ok" = 1 ]; then
            ctxvar_ids_right=$((ctxvar_ids_right + 1))
        elif [ "$found" = 1 ]; then
            ctxvar_ids_wrong=$((ctxvar_ids_wrong + 1))
            ctxvar_ids_wrong_lines+=("$line")
        else
            ctxvar_ids_none=$((ctxvar_ids_none + 1))
            ctxvar_ids_none_lines+=("$line")
        fi
    done
    ctxvar_verdict="$ctxvar_ids_right of $ctxvar_ids_marked marked lines carry their own request's ids ($ctxvar_ids_wrong another request's, $ctxvar_ids_none none)"
}

assert_lines_carry_request_ids() {
    local line
    ctxvar_request_ids_verdict "$@" || return
    if [ "$ctxvar_ids_marked" -eq 0 ]; then
        printf 'assert_lines_carry_request_ids: no line matches %s\n' "$1" >&2
        printf -- '--- output\n%s\n' "$output" >&2
        return 1
    fi
    if [ "$ctxvar_ids_right" -eq "$ctxvar_ids_marked" ]; then return 0; fi
    printf 'assert_lines_carry_request_ids: %s\n' "$ctxvar_verdict" >&2
    for line in "${ctxvar_ids_wrong_lines[@]}"; do
        printf "another request's: %s\n" "$line" >&2
    done
    for line in "${ctxvar_ids_none_lines[@]}"; do
        printf 'none: %s\n' "$line" >&2
    done
    return 1
}

# Quotes text for a POSIX shell: 'text', a ' inside as '\''.
_ctxvar_sh_quote() {
    printf "'%s'" "${1//\'/\'\\\'\'}"
}

ctxvar_child_recorder() {
    local name=${1:-child} dir
    if [[ ! $name =~ ^[A-Za-z0-9_.-]+$ ]]; then
        echo "ctxvar_child_recorder: NAME is [A-Za-z0-9_.-]+, got '$name'" >&2
        return 2
    fi
    dir="$BATS_TEST_TMPDIR/ctxvar-children"
    mkdir -p "$dir" || return 1
    rm -rf "$dir/$name.runs"
    mkdir "$dir/$name.runs" || return 1
    # A run writes into a hidden directory, then renames it: an assertion
    # never reads half a run.
    cat >"$dir/$name" <<EOF || return 1
#!/bin/sh
# A child recorder of ctxvar.bash: keeps what this run received, exits 0.
runs=$(_ctxvar_sh_quote "$dir/$name.runs")
tmp=\$(mktemp -d "\$runs/.run.XXXXXX") || exit 1
if [ "\${BAGGAGE+set}" ]; then printf '%s' "\$BAGGAGE" >"\$tmp/BAGGAGE" || exit 1; fi
if [ "\${TRACEPARENT+set}" ]; then printf '%s' "\$TRACEPARENT" >"\$tmp/TRACEPARENT" || exit 1; fi
if [ "\${TRACESTATE+set}" ]; then printf '%s' "\$TRACESTATE" >"\$tmp/TRACESTATE" || exit 1; fi
if [ \$# -gt 0 ]; then printf '%s' "\$1" >"\$tmp/arg1" || exit 1; fi
printf '%s' "\$*" >"\$tmp/args" || exit 1
mv "\$tmp" "\$runs/\${tmp##*/.run.}" || exit 1
exit 0
EOF
    chmod +x "$dir/$name" || return 1
    printf '%s\n' "$dir/$name"
}

# Reads a whole file, every byte (no trailing newline is lost), into
# _ctxvar_text.
_ctxvar_read() {
    _ctxvar_text=''
    IFS= read -r -d '' _ctxvar_text <"$1" || true
}

# Sets _ctxvar_runs to the selected complete runs of a child, or explains.
_ctxvar_select_runs() { # WHO CHILD FIRST_ARG_GIVEN FIRST_ARG
    local who=$1 child=$2 runs="$BATS_TEST_TMPDIR/ctxvar-children/$2.runs" run
    _ctxvar_runs=()
    if [ ! -d "$runs" ]; then
        echo "$who: no recorder '$child' in this test (ctxvar_child_recorder $child)" >&2
        return 1
    fi
    for run in "$runs"/*; do
        [ -d "$run" ] || continue
        if [ "$3" = 1 ]; then
            [ -f "$run/arg1" ] || continue
            _ctxvar_read "$run/arg1"
            [ "$_ctxvar_text" = "$4" ] || continue
        fi
        _ctxvar_runs+=("$run")
    done
    if [ ${#_ctxvar_runs[@]} -eq 0 ]; then
        if [ "$3" = 1 ]; then
            echo "$who: child '$child' never ran with first argument '$4'" >&2
        else
            echo "$who: child '$child' never ran" >&2
        fi
        return 1
    fi
}

# Sets _ctxvar_found (1 or 0) and _ctxvar_value: VAR as `ctxvar get` reads
# it in the environment a run recorded, and _ctxvar_args for messages.
_ctxvar_run_get() { # RUN VAR
    local run=$1 var=$2 got rc
    got=$(
        unset BAGGAGE TRACEPARENT TRACESTATE
        for v in BAGGAGE TRACEPARENT TRACESTATE; do
            if [ -f "$run/$v" ]; then
                _ctxvar_read "$run/$v"
                export "$v=$_ctxvar_text"
            fi
        done
        "$_ctxvar_bin/ctxvar" get "$var" && rc=0 || rc=$?
        printf '/%d' "$rc"
    )
    rc=${got##*/}
    got=${got%/*}
    _ctxvar_read "$run/args"
    _ctxvar_args=$_ctxvar_text
    case $rc in
    0) _ctxvar_found=1 _ctxvar_value=${got%$'\n'} ;;
    1) _ctxvar_found=0 _ctxvar_value='' ;;
    *)
        echo "ctxvar.bash: ctxvar get $var failed (status $rc)" >&2
        return 1
        ;;
    esac
}

# Reads [--child NAME] [--first-arg ARG] into _ctxvar_child, _ctxvar_first
# (1 or 0) and _ctxvar_first_arg; _ctxvar_shift is how many words they took.
_ctxvar_child_options() {
    _ctxvar_child=child _ctxvar_first=0 _ctxvar_first_arg='' _ctxvar_shift=0
    while [ $# -ge 2 ]; do
        case $1 in
        --child) _ctxvar_child=$2 ;;
        --first-arg) _ctxvar_first=1 _ctxvar_first_arg=$2 ;;
        *) return 0 ;;
        esac
        shift 2
        _ctxvar_shift=$((_ctxvar_shift + 2))
    done
}

assert_child_received() {
    local run failed=0
    _ctxvar_child_options "$@"
    shift "$_ctxvar_shift"
    if [ $# -ne 2 ]; then
        echo "assert_child_received: expected [--child NAME] [--first-arg ARG] VAR VALUE" >&2
        return 2
    fi
    _ctxvar_find_bin || return 1
    _ctxvar_select_runs assert_child_received "$_ctxvar_child" "$_ctxvar_first" \
        "$_ctxvar_first_arg" || return 1
    for run in "${_ctxvar_runs[@]}"; do
        _ctxvar_run_get "$run" "$1" || return 1
        if [ "$_ctxvar_found" = 0 ]; then
            echo "assert_child_received: child '$_ctxvar_child' run with arguments '$_ctxvar_args' received no $1, expected '$2'" >&2
            failed=1
        elif [ "$_ctxvar_value" != "$2" ]; then
            echo "assert_child_received: child '$_ctxvar_child' run with arguments '$_ctxvar_args' received $1 '$_ctxvar_value', expected '$2'" >&2
            failed=1
        fi
    done
    return "$failed"
}

refute_child_received() {
    local run failed=0
    _ctxvar_child_options "$@"
    shift "$_ctxvar_shift"
    if [ $# -ne 1 ]; then
        echo "refute_child_received: expected [--child NAME] [--first-arg ARG] VAR" >&2
        return 2
    fi
    _ctxvar_find_bin || return 1
    _ctxvar_select_runs refute_child_received "$_ctxvar_child" "$_ctxvar_first" \
        "$_ctxvar_first_arg" || return 1
    for run in "${_ctxvar_runs[@]}"; do
        _ctxvar_run_get "$run" "$1" || return 1
        if [ "$_ctxvar_found" = 1 ]; then
            echo "refute_child_received: child '$_ctxvar_child' run with arguments '$_ctxvar_args' received $1 '$_ctxvar_value'" >&2
            failed=1
        fi
    done
    return "$failed"
}
