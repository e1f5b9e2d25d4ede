#!/usr/bin/env bats
# Child processes get the context of the thread that started them, not the
# process's (lib/ctxvar.h, sections 6 and 7): BAGGAGE, TRACEPARENT and
# TRACESTATE in the child's environment are that thread's, through every way
# of starting a process, and the parent's own environment never changes.
#
# spawn_requests runs two request threads, r1 and r2, alive at once (a
# barrier), each starting one child while a watcher thread compares the
# parent's environment with a snapshot; the children run concurrently, so
# their lines are sorted before comparing.  spawn_one runs one command from
# the main thread after setting the given variables.  See
# bats/programs/spawn_*.c.

load helpers

TP0=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
TP1=00-0af7651916cd43dd8448eb211c800001-b7ad6b7169200001-01
TP2=00-0af7651916cd43dd8448eb211c800002-b7ad6b7169200002-01
SHOW_TRACE='echo "TRACEPARENT=${TRACEPARENT-(unset)} TRACESTATE=${TRACESTATE-(unset)} BAGGAGE=${BAGGAGE-(unset)}"'

# requests [-e] METHOD [ENV [CHILD]]: spawn_requests under the runtime, the
# parent started with BAGGAGE=from=parent; its output sorted.  The pipeline's
# status is spawn_requests' own.
requests() {
    run -0 --separate-stderr bash -c \
        'set -o pipefail; LD_PRELOAD="$1" BAGGAGE=from=parent "$2" "${@:3}" | sort' \
        bash "$RUNTIME" "$PROGS/spawn_requests" "$@"
}

# The two sh children's lines when each got its own thread's context from
# the process environment (the threads inherited from=parent from the main
# thread, which BAGGAGE seeded).
expect_own_ids_sh() {
    expect_output <<EOF
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 sh: BAGGAGE=from=parent,request_id=r1,user_id=alice TRACEPARENT=$TP1 TRACESTATE=vendor=r1 KEEP=(unset)
r2 sh: BAGGAGE=from=parent,request_id=r2,user_id=bob TRACEPARENT=$TP2 TRACESTATE=vendor=r2 KEEP=(unset)
EOF
    expect_no_stderr
}

# The C child's lines, the same for every way of starting it.
expect_own_ids_c() {
    expect_output <<EOF
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 context: from=parent request_id=r1 traceparent=$TP1 tracestate="vendor=r1" user_id=alice
r1 env: BAGGAGE=from=parent,request_id=r1,user_id=alice TRACEPARENT=$TP1 TRACESTATE=vendor=r1
r2 context: from=parent request_id=r2 traceparent=$TP2 tracestate="vendor=r2" user_id=bob
r2 env: BAGGAGE=from=parent,request_id=r2,user_id=bob TRACEPARENT=$TP2 TRACESTATE=vendor=r2
EOF
    expect_no_stderr
}

# --- two concurrent requests: every way of starting a process --------------

@test "posix_spawn from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests posix_spawn
    expect_own_ids_sh
}

@test "posix_spawnp from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests posix_spawnp
    expect_own_ids_sh
}

@test "system from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests system
    expect_own_ids_sh
}

@test "popen from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests popen
    expect_own_ids_sh
}

@test "fork then execv from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests fork_execv
    expect_own_ids_sh
}

@test "fork then execvp from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests fork_execvp
    expect_own_ids_sh
}

@test "fork then execve(environ) from two concurrent request threads: each child gets its own thread's ids" {
    requests fork_execve
    expect_own_ids_sh
}

@test "execle passing environ from two concurrent request threads: each child gets its own thread's ids" {
    requests execle process
    expect_own_ids_sh
}

@test "vfork then execve from two concurrent request threads: each child gets its own thread's ids, parent environment unchanged" {
    requests vfork_execve
    expect_own_ids_sh
}

@test "a preloaded C child sees its own request's context, decoded by its own runtime (spawn, fork and vfork then exec)" {
    for method in posix_spawn posix_spawnp fork_execv fork_execvp execle vfork_execve; do
        requests "$method" process "$PROGS/spawn_child"
        expect_own_ids_c
    done
}

# The shell that system() and popen() start is itself preloaded (LD_PRELOAD
# is inherited); the program it runs must still get the request's ids, not
# the ones the shell's own runtime was seeded with.
@test "a preloaded C child run by system() sees its own request's context, not the process's" {
    requests system process "$PROGS/spawn_child"
    expect_own_ids_c
}

@test "a preloaded C child run by popen() sees its own request's context, not the process's" {
    requests popen process "$PROGS/spawn_child"
    expect_own_ids_c
}

@test "an external program run by system() gets the calling thread's BAGGAGE, as a shell builtin does" {
    BAGGAGE=from=parent run -0 --separate-stderr preloaded "$PROGS/spawn_one" system \
        'echo "builtin: $BAGGAGE"; /usr/bin/printenv BAGGAGE' a=1
    expect_output <<'EOF'
dropped: 0
builtin: a=1,from=parent
a=1,from=parent
status: 0
EOF
    expect_no_stderr
}

# --- explicit envp ----------------------------------------------------------

# The rule (lib/childenv.c): an entry whose value differs from the one the
# process was started with was put there by the program, and is passed on
# as it is; one equal to it stands for the inherited context, and is
# replaced by the thread's.  spawn_requests' "with" envp holds values of
# its own (stale=1), not the process's (from=parent).
@test "an explicit envp's own BAGGAGE, TRACEPARENT and TRACESTATE are passed on unchanged, not replaced by the thread's" {
    for method in execle posix_spawn posix_spawnp fork_execve vfork_execve; do
        requests "$method" with
        expect_output <<'EOF'
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
r2 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
EOF
        expect_no_stderr
    done
}

@test "an explicit envp holding the start-up BAGGAGE, TRACEPARENT and TRACESTATE gets the thread's instead" {
    for method in posix_spawn posix_spawnp fork_execve fork_execle fork_execvpe fork_fexecve vfork_execve; do
        BAGGAGE=from=parent TRACEPARENT=$TP0 TRACESTATE=ts=0 run -0 --separate-stderr preloaded \
            "$PROGS/spawn_env" "$method" copy "$SHOW_TRACE" request_id=r1 "traceparent=$TP1"
        expect_output <<EOF
TRACEPARENT=$TP1 TRACESTATE=ts=0 BAGGAGE=from=parent,request_id=r1
status: 0
EOF
        expect_no_stderr
    done
}

@test "an explicit envp without BAGGAGE, TRACEPARENT or TRACESTATE gets none added" {
    for method in execle posix_spawn posix_spawnp fork_execve vfork_execve; do
        requests "$method" without
        expect_output <<'EOF'
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 sh: BAGGAGE=(unset) TRACEPARENT=(unset) TRACESTATE=(unset) KEEP=1
r2 sh: BAGGAGE=(unset) TRACEPARENT=(unset) TRACESTATE=(unset) KEEP=1
EOF
        expect_no_stderr
    done
}

@test "a NULL envp is an empty environment and gets nothing added, also when environ is NULL after clearenv" {
    local method
    for method in fork_execve fork_execvpe fork_execle vfork_execve posix_spawn posix_spawnp; do
        run -0 --separate-stderr preloaded "$PROGS/spawn_env" "$method" null \
            'echo "BAGGAGE=${BAGGAGE-unset}"' request_id=r1 clearenv
        expect_output <<'EOF'
BAGGAGE=unset
status: 0
EOF
        expect_no_stderr
    done
}

@test "an explicit envp's own BAGGAGE, TRACEPARENT and TRACESTATE are passed on unchanged from a thread with an empty context" {
    requests -e execle with
    expect_output <<'EOF'
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
r2 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
EOF
    expect_no_stderr
}

# --- what the program put in the environment itself -----------------------

@test "env BAGGAGE=... TRACEPARENT=... COMMAND under the runtime gives COMMAND those values, not the runtime's" {
    for start in '' 'BAGGAGE=from=parent'; do
        run -0 --separate-stderr env -u TRACEPARENT -u TRACESTATE $start LD_PRELOAD="$RUNTIME" \
            env BAGGAGE=k=v TRACEPARENT=$TP0 TRACESTATE=ts=1 sh -c "$SHOW_TRACE"
        expect_output <<EOF
TRACEPARENT=$TP0 TRACESTATE=ts=1 BAGGAGE=k=v
EOF
        expect_no_stderr
    done
}

# The child's lines as spawn_env prints them for METHOD: popen describes
# its stream first, system the parent's signals last.
spawn_env_expects() {
    local method=$1 lines=$2
    [ "$method" != popen:r ] || lines="stream: fifo, cloexec=0"$'\n'"$lines"
    [ "$method" != system ] || lines+=$'\n''parent after: SIGINT default, SIGQUIT default, SIGCHLD unblocked, SIGUSR1 unblocked'
    printf '%s\n' "$lines"
}

@test "BAGGAGE, TRACEPARENT and TRACESTATE the program setenv()s before starting a child win over the thread's context" {
    for method in posix_spawn posix_spawnp fork_execve fork_execv fork_execvp fork_execl \
                  fork_execlp fork_execle fork_execvpe fork_fexecve vfork_execve system popen:r; do
        BAGGAGE=from=parent TRACEPARENT=$TP0 run -0 --separate-stderr preloaded "$PROGS/spawn_env" \
            "$method" environ "$SHOW_TRACE" request_id=r1 "traceparent=$TP1" tracestate=vendor=r1 \
            BAGGAGE=mine=1 TRACEPARENT=$TP2 TRACESTATE=mine=2
        spawn_env_expects "$method" "TRACEPARENT=$TP2 TRACESTATE=mine=2 BAGGAGE=mine=1
status: 0" | expect_output
        expect_no_stderr
    done
}

@test "a variable the program set back to its start-up value, or unset, carries the thread's context again" {
    BAGGAGE=from=parent TRACEPARENT=$TP0 TRACESTATE=ts=0 run -0 --separate-stderr preloaded \
        "$PROGS/spawn_env" posix_spawn environ "$SHOW_TRACE" request_id=r1 "traceparent=$TP1" \
        BAGGAGE=from=parent -TRACEPARENT -TRACESTATE
    expect_output <<EOF
TRACEPARENT=$TP1 TRACESTATE=ts=0 BAGGAGE=from=parent,request_id=r1
status: 0
EOF
    expect_no_stderr
}

# --- pass-through programs ----------------------------------------------------

# A program that starts its command without touching the context (timeout,
# nice, env, xargs) must give it BAGGAGE, TRACEPARENT and TRACESTATE as it
# got them, byte for byte, whatever the runtime would have made of them:
# here a property, a malformed and a private member, and an uppercase
# traceparent the runtime does not accept.
@test "timeout, nice, env and xargs under the runtime pass BAGGAGE, TRACEPARENT and TRACESTATE on byte for byte" {
    local bag='b=2;p=1,a=1,1bad=3' tp=00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01
    local expected="TRACEPARENT=$tp TRACESTATE=k=v BAGGAGE=$bag" tool
    for tool in "timeout 5" "nice -n 1" "env" "xargs"; do
        run -0 --separate-stderr env BAGGAGE="$bag" TRACEPARENT=$tp TRACESTATE=k=v \
            LD_PRELOAD="$RUNTIME" $tool sh -c "$SHOW_TRACE" </dev/null
        [ "$output" = "$expected" ] || { echo "$tool: $output" >&2; false; }
        expect_no_stderr
        run -0 --separate-stderr env BAGGAGE="$bag" TRACEPARENT=$tp TRACESTATE=k=v \
            "$CTXRUN" -- $tool sh -c "$SHOW_TRACE" </dev/null
        [ "$output" = "$expected" ] || { echo "ctxrun $tool: $output" >&2; false; }
        expect_no_stderr
    done
}

# --- an empty context, private names, CTXVAR_EXPORT=0 ----------------------

@test "a thread with an empty context starts a child without BAGGAGE though the process was started with one" {
    for method in posix_spawn posix_spawnp system popen fork_execv fork_execvp execle vfork_execve; do
        requests -e "$method"
        expect_output <<EOF
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 sh: BAGGAGE=from=parent,request_id=r1,user_id=alice TRACEPARENT=$TP1 TRACESTATE=vendor=r1 KEEP=(unset)
r2 sh: BAGGAGE=(unset) TRACEPARENT=(unset) TRACESTATE=(unset) KEEP=(unset)
EOF
        expect_no_stderr
    done
}

@test "a preloaded C child of a thread with an empty context starts empty" {
    requests -e posix_spawn process "$PROGS/spawn_child"
    expect_output <<EOF
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent
r1 context: from=parent request_id=r1 traceparent=$TP1 tracestate="vendor=r1" user_id=alice
r1 env: BAGGAGE=from=parent,request_id=r1,user_id=alice TRACEPARENT=$TP1 TRACESTATE=vendor=r1
r2 context: 
r2 env: BAGGAGE=(unset) TRACEPARENT=(unset) TRACESTATE=(unset)
EOF
    expect_no_stderr
}

@test "variables whose names start with '_' are never exported" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn \
        'echo "${BAGGAGE-(unset)}"' _token=secret a=1 _b=2 z=3
    expect_output <<'EOF'
dropped: 0
a=1,z=3
status: 0
EOF
    expect_no_stderr
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" system \
        'echo "${BAGGAGE-(unset)}"' _token=secret a=1
    expect_output <<'EOF'
dropped: 0
a=1
status: 0
EOF
}

@test "a BAGGAGE at load that names a private variable is never passed on byte for byte: children get the encoding, without it" {
    local bag tool
    for bag in 'b=2;p=1,a=1,_priv=4' 'a=1, _priv=a b,b=2' '_priv=4,a=1,b=2'; do
        for tool in "timeout 5" "env"; do
            run -0 --separate-stderr env BAGGAGE="$bag" TRACEPARENT=$TP0 TRACESTATE=k=v \
                LD_PRELOAD="$RUNTIME" $tool sh -c "$SHOW_TRACE" </dev/null
            [ "$output" = "TRACEPARENT=$TP0 TRACESTATE=k=v BAGGAGE=a=1,b=2" ] ||
                { echo "$bag, $tool: $output" >&2; false; }
            expect_no_stderr
        done
    done
    # ctxrun gives its COMMAND what it was asked to, and the runtime in
    # COMMAND keeps the private variable from COMMAND's own children.
    run -0 --separate-stderr "$CTXRUN" --set _token=s3cret --set a=1 -- \
        sh -c 'echo "own: $BAGGAGE"; env | grep "^BAGGAGE="'
    expect_output <<'EOF'
own: _token=s3cret,a=1
BAGGAGE=a=1
EOF
    expect_no_stderr
}

@test "a context of only private variables exports no BAGGAGE at all" {
    for method in posix_spawn system popen; do
        run -0 --separate-stderr preloaded "$PROGS/spawn_one" "$method" \
            'echo "x${BAGGAGE-(unset)}"' _token=secret
        [ "${lines[1]#read: }" = "x(unset)" ]
        expect_no_stderr
    done
}

@test "CTXVAR_EXPORT=0: children get the parent's environment unchanged" {
    for method in posix_spawn posix_spawnp system popen fork_execv fork_execvp execle vfork_execve; do
        run -0 --separate-stderr bash -c \
            'set -o pipefail; LD_PRELOAD="$1" CTXVAR_EXPORT=0 BAGGAGE=from=parent TRACEPARENT="$2" TRACESTATE=ts=1 "$3" "$4" | sort' \
            bash "$RUNTIME" "$TP0" "$PROGS/spawn_requests" "$method"
        expect_output <<EOF
parent: environment unchanged, BAGGAGE=from=parent, main: from=parent traceparent=$TP0 tracestate="ts=1"
r1 sh: BAGGAGE=from=parent TRACEPARENT=$TP0 TRACESTATE=ts=1 KEEP=(unset)
r2 sh: BAGGAGE=from=parent TRACEPARENT=$TP0 TRACESTATE=ts=1 KEEP=(unset)
EOF
        expect_no_stderr
    done
}

@test "CTXVAR_EXPORT=0 leaves an explicit envp as the program built it" {
    run -0 --separate-stderr bash -c \
        'set -o pipefail; LD_PRELOAD="$1" CTXVAR_EXPORT=0 "$2" execle with | sort' \
        bash "$RUNTIME" "$PROGS/spawn_requests"
    expect_output <<'EOF'
parent: environment unchanged, BAGGAGE=(unset), main: 
r1 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
r2 sh: BAGGAGE=stale=1 TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=stale=1 KEEP=1
EOF
    expect_no_stderr
}

# --- traceparent and tracestate ----------------------------------------------

@test "a traceparent set with ctxvar_set_traceparent reaches the child as TRACEPARENT, never in BAGGAGE" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn "$SHOW_TRACE" \
        "traceparent=$TP0" a=1
    expect_output <<EOF
dropped: 0
TRACEPARENT=$TP0 TRACESTATE=(unset) BAGGAGE=a=1
status: 0
EOF
    expect_no_stderr
}

@test "tracestate reaches the child as TRACESTATE with a valid traceparent" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" system "$SHOW_TRACE" \
        "traceparent=$TP0" 'tracestate=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'
    expect_output <<EOF
dropped: 0
TRACEPARENT=$TP0 TRACESTATE=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 BAGGAGE=(unset)
status: 0
EOF
    expect_no_stderr
}

@test "tracestate without a traceparent is not exported" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn "$SHOW_TRACE" tracestate=k=v
    expect_output <<'EOF'
dropped: 0
TRACEPARENT=(unset) TRACESTATE=(unset) BAGGAGE=(unset)
status: 0
EOF
    expect_no_stderr
}

@test "an invalid traceparent bound with plain ctxvar_set is not exported, nor its tracestate" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" popen "$SHOW_TRACE" \
        '!traceparent=00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01' tracestate=k=v
    expect_output <<'EOF'
dropped: 0
read: TRACEPARENT=(unset) TRACESTATE=(unset) BAGGAGE=(unset)
status: 0
EOF
    expect_no_stderr
}

@test "ctxvar_set_traceparent refuses an uppercase traceparent with EINVAL, and nothing is exported" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn "$SHOW_TRACE" \
        'traceparent=00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01'
    expect_output <<EOF
set traceparent refused: $(printf '%s' "${lines[0]#set traceparent refused: }")
dropped: 0
TRACEPARENT=(unset) TRACESTATE=(unset) BAGGAGE=(unset)
status: 0
EOF
    [[ "${lines[0]}" == "set traceparent refused: invalid argument"* ]]
}

@test "a valid TRACEPARENT at load seeds the main thread with TRACESTATE" {
    TRACEPARENT=$TP0 TRACESTATE='k=v' run -0 --separate-stderr preloaded "$B/examples/print_context"
    expect_output <<EOF
main: traceparent=$TP0 tracestate="k=v"
thread: traceparent=$TP0 tracestate="k=v"
runtime: yes
EOF
    expect_no_stderr
}

@test "an invalid TRACEPARENT at load is ignored, with its TRACESTATE: the main thread has neither" {
    for tp in 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01 \
              00-00000000000000000000000000000000-b7ad6b7169203331-01 \
              00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01 \
              ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 \
              "$TP0-extra" bad ''; do
        BAGGAGE=a=1 TRACEPARENT=$tp TRACESTATE='k=v' run -0 --separate-stderr preloaded "$B/examples/print_context"
        expect_output <<'EOF'
main: a=1
thread: a=1
runtime: yes
EOF
        expect_no_stderr
    done
}

@test "an invalid TRACESTATE at load is ignored, the TRACEPARENT kept; once the thread has a context of its own, it is not exported" {
    local ts
    for ts in 'K=v' 'k=' 'k=v w=x' $'k=v\tw'; do
        TRACEPARENT=$TP0 TRACESTATE=$ts run -0 --separate-stderr preloaded "$B/examples/print_context"
        expect_output <<EOF
main: traceparent=$TP0
thread: traceparent=$TP0
runtime: yes
EOF
        expect_no_stderr
        TRACEPARENT=$TP0 TRACESTATE=$ts run -0 --separate-stderr preloaded \
            "$PROGS/spawn_one" posix_spawn "$SHOW_TRACE" a=1
        expect_output <<EOF
dropped: 0
TRACEPARENT=$TP0 TRACESTATE=(unset) BAGGAGE=a=1
status: 0
EOF
        expect_no_stderr
    done
}

@test "a valid TRACEPARENT at load reaches the children of the main thread" {
    TRACEPARENT=$TP0 TRACESTATE='k=v' run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn "$SHOW_TRACE"
    expect_output <<EOF
dropped: 0
TRACEPARENT=$TP0 TRACESTATE=k=v BAGGAGE=(unset)
status: 0
EOF
    expect_no_stderr
}

@test "an invalid TRACEPARENT at load passes on byte for byte with its TRACESTATE while the context is the one from start-up" {
    TRACEPARENT=bad TRACESTATE='k=v' run -0 --separate-stderr preloaded "$PROGS/spawn_one" system "$SHOW_TRACE"
    expect_output <<'EOF'
dropped: 0
TRACEPARENT=bad TRACESTATE=k=v BAGGAGE=(unset)
status: 0
EOF
    expect_no_stderr
}

@test "an invalid TRACEPARENT at load is not exported, nor its TRACESTATE, once the thread has a context of its own" {
    TRACEPARENT=bad TRACESTATE='k=v' run -0 --separate-stderr preloaded "$PROGS/spawn_one" system "$SHOW_TRACE" a=1
    expect_output <<'EOF'
dropped: 0
TRACEPARENT=(unset) TRACESTATE=(unset) BAGGAGE=a=1
status: 0
EOF
    expect_no_stderr
}

# --- limits ---------------------------------------------------------------

@test "a context of 70 members exports the first 64 in name order and drops the rest whole" {
    members=()
    for i in $(seq -w 1 70); do members+=("m$i=v$i"); done
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn 'echo "$BAGGAGE"' "${members[@]}"
    expected=$(IFS=,; echo "${members[*]:0:64}")
    expect_output <<EOF
dropped: 6
$expected
status: 0
EOF
    expect_no_stderr
}

@test "members beyond 8192 encoded bytes are dropped whole, and a later one that fits is kept" {
    a=$(head -c 4000 /dev/zero | tr '\0' a)
    b=$(head -c 4000 /dev/zero | tr '\0' b)
    c=$(head -c 300 /dev/zero | tr '\0' c)
    # "a=..." is 4002 bytes, ",b=..." 4003 more (8005); ",c=..." (303) would
    # pass 8192, so it goes whole; ",d=x" (4) still fits.
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" system 'echo "$BAGGAGE"' \
        "a=$a" "b=$b" "c=$c" d=x
    expect_output <<EOF
dropped: 1
a=$a,b=$b,d=x
status: 0
EOF
    expect_no_stderr
}

@test "a baggage of exactly 8192 encoded bytes is exported whole" {
    a=$(head -c 4000 /dev/zero | tr '\0' a)
    b=$(head -c 4000 /dev/zero | tr '\0' b)
    c=$(head -c 184 /dev/zero | tr '\0' c)
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" popen 'echo "${#BAGGAGE}"' \
        "a=$a" "b=$b" "c=$c"
    expect_output <<'EOF'
dropped: 0
read: 8192
status: 0
EOF
    expect_no_stderr
}

@test "the 8192-byte limit counts encoded bytes: a space takes three" {
    v=$(head -c 2731 /dev/zero | tr '\0' ' ')
    # "k=" and 2731 times "%20" is 8195 bytes: over the limit, dropped whole.
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" posix_spawn 'echo "${BAGGAGE-(unset)}"' \
        "k=$v" z=1
    expect_output <<'EOF'
dropped: 1
z=1
status: 0
EOF
    expect_no_stderr
}

# --- system and popen stay what they were -----------------------------------

@test "system returns the command's exit status unchanged under the runtime" {
    for ctx in _private=1 a=1; do
        run -0 --separate-stderr preloaded "$PROGS/spawn_one" system 'exit 7' "$ctx"
        expect_output <<'EOF'
dropped: 0
status: 7
EOF
        expect_no_stderr
    done
}

@test "a command holding single quotes runs as written under system, popen and posix_spawn" {
    cmd="printf '%s|%s\n' 'it'\''s' \"\$0\"; exit 3"
    for method in system popen posix_spawn; do
        run_recorded "$method.plain" "$PROGS/spawn_one" "$method" "$cmd"
        run_recorded "$method.runtime" preloaded "$PROGS/spawn_one" "$method" "$cmd" "v=it's"
        expect_same_run "$method.plain" "$method.runtime"
    done
    run -0 cat "$BATS_TEST_TMPDIR/popen.runtime.out"
    expect_output <<'EOF'
dropped: 0
read: it's|sh
status: 3
EOF
}

@test "a value with quotes, \$ and backquotes reaches the shell of system intact, not expanded" {
    run -0 --separate-stderr preloaded "$PROGS/spawn_one" system 'echo "$BAGGAGE"' "v=it's \"x\" \$HOME \`id\`"
    expect_output <<'EOF'
dropped: 0
v=it's%20%22x%22%20$HOME%20`id`
status: 0
EOF
    expect_no_stderr
}

@test "a popen stream's buffer is the pipe's block size, as glibc's: a program's writes reach the shell at the same points" {
    local expected='w: buffer 4096, pending after 5000 bytes: 904
r: buffer 4096, read: hi
status: 0 0'
    run -0 --separate-stderr "$PROGS/popen_buffer"
    [ "$output" = "$expected" ]
    run -0 --separate-stderr preloaded "$PROGS/popen_buffer"
    [ "$output" = "$expected" ]
    expect_no_stderr
}

@test "popen and pclose with a cancellation request pending return, as glibc's do, and leave no lock held for later popen and fork" {
    local expected='worker: popen and pclose returned, status 3, cancellation still pending
main popen: main ok
main fork: child exited 7'
    run -0 --separate-stderr "$PROGS/popen_cancel"
    [ "$output" = "$expected" ]
    run -0 --separate-stderr preloaded "$PROGS/popen_cancel"
    [ "$output" = "$expected" ]
    expect_no_stderr
}

@test "popen returns the command's output and pclose its status unchanged" {
    run_recorded plain "$PROGS/spawn_one" popen 'printf "a\nb\n"; exit 5'
    run_recorded runtime preloaded "$PROGS/spawn_one" popen 'printf "a\nb\n"; exit 5' k=v
    expect_same_run plain runtime
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
dropped: 0
read: a
read: b
status: 5
EOF
}

# --- system and popen: the context in the environment, never in argv ----------

# system() and popen() used to prefix the command with
# "export BAGGAGE='...'; ", so every local user saw the context in the
# shell's argv (ps, /proc/PID/cmdline).  The shell reads its own cmdline
# while it runs.
SHOW_CMDLINE='tr "\0" "|" < /proc/$$/cmdline; echo; echo "env: ${BAGGAGE-(unset)}"'

@test "the shell system() and popen() start has the command as written in its argv, and the context only in its environment" {
    for method in system popen:r; do
        run -0 --separate-stderr preloaded "$PROGS/spawn_env" "$method" environ "$SHOW_CMDLINE" \
            session_token=s3cr3t
        spawn_env_expects "$method" "sh|-c|$SHOW_CMDLINE|
env: session_token=s3cr3t
status: 0" | expect_output
        expect_no_stderr
    done
}

# Each pair: without the runtime, and under it with a context; the same
# stdout, stderr and status (bats/helpers.bash, expect_same_run).  fd 3 is
# bats' own and closed for the program, whose children list their fds.
same_with_and_without_runtime() {
    run_recorded plain "$PROGS/spawn_env" "$@" 3>&-
    run_recorded runtime preloaded "$PROGS/spawn_env" "$@" request_id=r1 3>&-
    expect_same_run plain runtime
}

@test "system returns what it returns without the runtime: exit statuses, 127 for a missing command, a signal" {
    for cmd in 'exit 0' 'exit 7' 'no_such_command_anywhere' 'kill -9 $$' 'echo out; echo err >&2; exit 3'; do
        same_with_and_without_runtime system environ "$cmd"
    done
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
out
status: 3
parent after: SIGINT default, SIGQUIT default, SIGCHLD unblocked, SIGUSR1 unblocked
EOF
}

@test "system ignores SIGINT and SIGQUIT while it waits; the shell gets them at their default and the caller's mask, as without the runtime" {
    # Builtins only: a forked grep could read the shell's mask while the
    # shell blocks every signal around its own fork.
    local cmd='while read -r line; do case $line in SigBlk*|SigIgn*) echo "$line" >&2;; esac; done < /proc/$$/status; kill -INT $PPID; kill -QUIT $PPID; echo survived'
    for opts in "" -i -b "-i -b"; do
        same_with_and_without_runtime $opts system environ "$cmd"
    done
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
survived
status: 0
parent after: SIGINT ignored, SIGQUIT default, SIGCHLD unblocked, SIGUSR1 blocked
EOF
}

@test "a thread cancelled in system() has its shell killed and the signals restored, as without the runtime" {
    run_recorded plain "$PROGS/exec_system_cancel"
    run_recorded runtime preloaded "$PROGS/exec_system_cancel"
    expect_same_run plain runtime
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
thread cancelled: yes
SIGINT default, SIGQUIT default
done
EOF
}

@test "system(NULL) says there is a shell, as without the runtime" {
    same_with_and_without_runtime system_null environ -
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    [ "$output" = "system(NULL): 1" ]
}

@test "popen streams read and write, and pclose and fclose return the shell's status, as without the runtime" {
    local method cmd
    for method in popen:r popen:re popen:er fclose:r; do
        for cmd in 'printf "a\nb\n"; exit 5' 'kill -9 $$' 'exit 0'; do
            same_with_and_without_runtime "$method" environ "$cmd"
        done
    done
    run -0 cat "$BATS_TEST_TMPDIR/plain.out"
    expect_output <<'EOF'
stream: fifo, cloexec=0
status: 0
EOF
    same_with_and_without_runtime popen:re environ 'printf "a\nb\n"; exit 5'
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
stream: fifo, cloexec=1
a
b
status: 5
EOF
    for method in popen:w popen:we fclose:w; do
        for cmd in 'cat; exit 2' 'read l; echo "got: $l"; exit 4'; do
            same_with_and_without_runtime "$method" environ "$cmd"
        done
    done
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
stream: fifo, cloexec=0
got: line from the parent
status: 4
EOF
}

@test "popen with a mode other than r or w (and e) fails with EINVAL, as without the runtime" {
    for mode in rw wr x '' re+; do
        same_with_and_without_runtime "popen:$mode" environ 'exit 0'
        run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
        [ "$output" = "popen failed, errno: Invalid argument" ]
    done
}

@test "a popen child does not inherit the pipe of another popen stream still open, as without the runtime" {
    local cmd='for f in /proc/$$/fd/*; do [ "$(readlink "$f")" != "$FIRST_PIPE" ] || echo "has $FIRST_PIPE"; done; echo checked'
    same_with_and_without_runtime popen_two environ "$cmd"
    run -0 cat "$BATS_TEST_TMPDIR/runtime.out"
    expect_output <<'EOF'
stream: fifo, cloexec=0
checked
status: 0
first: status: 0
EOF
}

# The child's environment is built in a mapping of its own, never on the
# caller's stack, so neither a thread's stack size nor the environment's
# size matters (more in bats/exec_hostile.bats).
@test "posix_spawn from a thread with a 64 KiB stack exports its context" {
    run -0 --separate-stderr preloaded "$PROGS/small_stack_spawn" 10
    expect_output <<'EOF2'
request_id=r1
status: 0
EOF2
    expect_no_stderr
}

@test "posix_spawn from a thread with a 64 KiB stack and 12,000 environment entries exports its context" {
    run -0 --separate-stderr preloaded "$PROGS/small_stack_spawn" 12000
    expect_output <<'EOF2'
request_id=r1
status: 0
EOF2
    expect_no_stderr
}
