#!/usr/bin/env bash
# demo.sh BUILD_DIR - what `make demo` runs.
#
# Runs the request server (examples/request_server) three ways and checks
# every log line's prefix against the request and user its message names:
#   1. server_global                 ids in global variables: wrong ids
#   2. server_ctxvar, no runtime     ctxvar degrades: no ids, never wrong ones
#   3. server_ctxvar under ctxrun    every thread's lines carry their own ids
# Then the libevent order server (examples/loop_server) two ways:
#   4. loop_server, no runtime        no ids, never wrong ones
#   5. loop_server under ctxrun       every callback's lines carry their ids
# Prints each run's log, then one verdict line per run.  Exits 0 when every
# verdict is the expected one, 1 otherwise, so it doubles as a smoke test.
set -u
build=${1:-build}
lines_per_run=16 # 4 requests x (request thread, 2 helpers, 1 grandchild)

# Each run starts from the same environment: no context seeded from the
# caller's shell, no runtime preloaded unless ctxrun adds it.
unset BAGGAGE CTXVAR_INHERIT CTXVAR_DEBUG LD_PRELOAD

logs=$(mktemp -d) || exit 1
trap 'rm -rf "$logs"' EXIT
status=0

run() { # name title command...
    local name=$1 title=$2 rc
    shift 2
    echo "== $title: $*"
    "$@" >"$logs/$name"
    rc=$?
    cat "$logs/$name"
    if [ "$rc" -ne 0 ]; then
        echo "demo: exit status $rc" >&2
        status=1
    fi
    echo
}

# Counts the lines of a log as "right wrong none total".  A line reads
#   [request_id=r1 user_id=alice] payment: ... of request r1 by alice
# right: the prefix has the ids the message names; none: the prefix is
# empty; wrong: anything else, other ids or a line not in this format.
count() { # log
    awk '
        {
            total++
            if ($0 !~ /^\[[^]]*\] .* of request [^ ]+ by [^ ]+$/) { wrong++; next }
            prefix = substr($0, 2, index($0, "]") - 2)
            if (prefix == "") { none++; next }
            request = ""; user = ""
            n = split(prefix, pair, " ")
            for (i = 1; i <= n; i++) {
                if (pair[i] ~ /^request_id=/) request = substr(pair[i], 12)
                else if (pair[i] ~ /^user_id=/) user = substr(pair[i], 9)
            }
            if (request == $(NF - 2) && user == $NF) right++
            else wrong++
        }
        END { printf "%d %d %d %d\n", right, wrong, none, total }
    ' "$1"
}

# The loop server's lines read
#   [request_id=r1] payment: charging for tea of request r1
# and are counted the same way, on request_id alone.
count_loop() { # log
    awk '
        {
            total++
            if ($0 !~ /^\[[^]]*\] .* of request [^ ]+$/) { wrong++; next }
            prefix = substr($0, 2, index($0, "]") - 2)
            if (prefix == "") { none++; next }
            if (prefix == "request_id=" $NF) right++
            else wrong++
        }
        END { printf "%d %d %d %d\n", right, wrong, none, total }
    ' "$1"
}

# Prints the verdict line for a run and checks it against what is expected:
# "some-wrong", "none" (no line has ids) or "all-right".  LINES (default
# lines_per_run) and COUNT (default count) for the other servers.
verdict() { # name title expected
    local right wrong none total ok=0 lines_per_run=${LINES:-$lines_per_run}
    read -r right wrong none total < <("${COUNT:-count}" "$logs/$1")
    printf '%-22s %2d of %d log lines carry their own request'"'"'s ids' \
        "$2:" "$right" "$total"
    printf ' (%d another request'"'"'s, %d none)\n' "$wrong" "$none"
    if [ "$total" -eq "$lines_per_run" ]; then
        case $3 in
        some-wrong) [ "$wrong" -gt 0 ] && ok=1 ;;
        none) [ "$none" -eq "$total" ] && ok=1 ;;
        all-right) [ "$right" -eq "$total" ] && ok=1 ;;
        esac
    fi
    if [ "$ok" -ne 1 ]; then
        echo "demo: unexpected verdict for \"$2\" (expected $3, $lines_per_run lines)" >&2
        status=1
    fi
}

run global "global variable" "$build/examples/server_global"
run plain "ctxvar, no runtime" "$build/examples/server_ctxvar"
run ctxrun "ctxvar under ctxrun" "$build/ctxrun" -- "$build/examples/server_ctxvar"

verdict global "global variable" some-wrong
verdict plain "ctxvar, no runtime" none
verdict ctxrun "ctxvar under ctxrun" all-right

# 4 orders x (request, stock, payment, reply).
if [ -x "$build/examples/loop_server" ]; then
    run loop_plain "libevent, no runtime" "$build/examples/loop_server"
    run loop_ctxrun "libevent under ctxrun" "$build/ctxrun" -- "$build/examples/loop_server"
    LINES=16 COUNT=count_loop verdict loop_plain "libevent, no runtime" none
    LINES=16 COUNT=count_loop verdict loop_ctxrun "libevent under ctxrun" all-right
else
    echo "loop server: not built (libevent's development files are not installed)"
fi
exit $status
