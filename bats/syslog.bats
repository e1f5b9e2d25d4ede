#!/usr/bin/env bats
# syslog(3) lines carry the calling thread's context under ctxrun --syslog
# (CTXVAR_SYSLOG=1).  Each test reads both copies of every line: the one
# glibc writes on stderr for LOG_PERROR, and the datagram a socket bound at
# /dev/log receives.  The program runs in a private mount namespace whose
# /dev is a scratch directory holding that socket, so the machine's own
# syslog (if any) sees nothing and the test sees everything.

load helpers

setup() {
    DEV="$BATS_TEST_TMPDIR/dev"
    mkdir -p "$DEV"
    NS=(unshare --mount)
    [ "$(id -u)" = 0 ] || NS+=(--map-root-user)
    "${NS[@]}" sh -c 'mount --bind "$0" /dev' "$DEV" 2>/dev/null ||
        skip "no private mount namespace here (${NS[*]} and mount --bind refused)"
}

# with_dev_log COMMAND...: runs COMMAND with $DEV mounted over /dev, its
# stderr in $BATS_TEST_TMPDIR/err, while a receiver bound at $DEV/log
# writes every datagram, one a line (the timestamp glibc puts after the
# priority taken out), to $BATS_TEST_TMPDIR/dgrams.  Returns when the
# receiver has everything: a last datagram sent after COMMAND ends stops it.
with_dev_log() {
    local ready="$BATS_TEST_TMPDIR/ready"
    rm -f "$ready" "$DEV/log"
    python3 - "$DEV/log" "$BATS_TEST_TMPDIR/dgrams" "$ready" <<'EOF' &
import re, socket, sys
path, out, ready = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(path)
open(ready, "w").close()
# Received first, rewritten after: a receiver slow to empty the queue
# leaves senders blocked in send(), where a program's own signals
# interrupt them and glibc's syslog drops the line.
got = []
while True:
    d = s.recv(1 << 20)
    if d == b"--end--":
        break
    got.append(d)
with open(out, "wb") as f:
    for d in got:
        d = re.sub(rb"^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", rb"\1", d)
        f.write(d + b"\n")
EOF
    local receiver=$!
    while [ ! -e "$ready" ]; do sleep 0.05; done
    local status=0
    "${NS[@]}" sh -c 'mount --bind "$0" /dev && exec "$@"' "$DEV" "$@" \
        2>"$BATS_TEST_TMPDIR/err" || status=$?
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"--end--", sys.argv[1])' "$DEV/log"
    wait "$receiver"
    return "$status"
}

# The lines of syslog_lines' "lines" scenario as the program logs them,
# the context appended by the runtime.
expected_lines() {
    cat <<'EOF'
app: main starts tenant=acme
app: request r1 starts request_id=r1 tenant=acme
app: open failed: Permission denied (errno kept: 13) request_id=r1 tenant=acme
app: through vsyslog: 50% request_id=r1 tenant=acme
app: request r2 starts request_id=r2 tenant=acme
app: open failed: Permission denied (errno kept: 13) request_id=r2 tenant=acme
app: through vsyslog: 50% request_id=r2 tenant=acme
app: only a private variable
app: empty context: No such file or directory
app: value with percent signs note="100%s %n %m" quoted="a b" tenant=acme
app: ends with a newline note="100%s %n %m" quoted="a b" tenant=acme
app: in a trace note="100%s %n %m" quoted="a b" tenant=acme trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 trace_flags=01
EOF
}

# The same lines as the socket gets them: the priority first (LOG_USER is
# 8; info 6, notice 5, warning 4, err 3), and the newline the program put
# at the end of one message kept at its end.
expected_datagrams() {
    local pri=(14 14 11 12 14 11 12 14 14 14 14 13) i=0 line
    while IFS= read -r line; do
        if [ "$i" = 10 ]; then
            printf '<%s>%s\n\n' "${pri[$i]}" "$line"
        else
            printf '<%s>%s\n' "${pri[$i]}" "$line"
        fi
        i=$((i + 1))
    done < <(expected_lines)
}

check_lines() {
    run cat "$BATS_TEST_TMPDIR/err"
    expect_output < <(expected_lines)
    run cat "$BATS_TEST_TMPDIR/dgrams"
    expect_output < <(expected_datagrams)
}

@test "syslog and vsyslog lines end with the calling thread's context, on stderr and at /dev/log" {
    with_dev_log "$CTXRUN" --syslog --set tenant=acme -- "$PROGS/syslog_lines" lines
    check_lines
}

@test "__syslog_chk and __vsyslog_chk (-D_FORTIFY_SOURCE=2) lines end with the context too" {
    run nm -D "$PROGS/syslog_lines_fortified"
    [[ "$output" == *"U __syslog_chk"* && "$output" == *"U __vsyslog_chk"* ]]
    with_dev_log "$CTXRUN" --syslog --set tenant=acme -- "$PROGS/syslog_lines_fortified" lines
    check_lines
}

@test "without --syslog the runtime leaves every syslog line as the program wrote it" {
    with_dev_log "$CTXRUN" --set tenant=acme -- "$PROGS/syslog_lines" lines
    run cat "$BATS_TEST_TMPDIR/err"
    expect_output < <(expected_lines | sed -E 's/ (note=|request_id=|tenant=).*$//')
}

@test "syslog and vsyslog leave errno as glibc does, also when glibc's formatting fails" {
    # The runtime used to put back the errno of the call's start.
    local expected="ordinary line: 0
invalid wide character: EILSEQ
vsyslog, invalid wide character: EILSEQ" program
    for program in syslog_lines syslog_lines_fortified; do
        with_dev_log "$PROGS/$program" errno >"$BATS_TEST_TMPDIR/out"
        [ "$(cat "$BATS_TEST_TMPDIR/out")" = "$expected" ]
        with_dev_log "$CTXRUN" --syslog --set tenant=acme -- "$PROGS/$program" errno \
            >"$BATS_TEST_TMPDIR/out"
        [ "$(cat "$BATS_TEST_TMPDIR/out")" = "$expected" ]
    done
}

@test "CTXVAR_SYSLOG=0 leaves syslog lines unchanged" {
    with_dev_log env CTXVAR_SYSLOG=0 "$CTXRUN" --set tenant=acme -- "$PROGS/syslog_lines" long 10
    run cat "$BATS_TEST_TMPDIR/err"
    [ "$output" = "app: abcdefghij" ]
}

# Around the 1 KiB buffers (glibc's on its stack, ours on ours) and far
# beyond: the whole message and the whole suffix, in both copies.
@test "messages of any length keep every byte and get the whole suffix, never cut or overrun" {
    local n text
    for n in 0 1 990 1000 1005 1006 1007 1008 1010 1011 1012 1013 1018 1019 1020 1023 1024 1025 2047 2048 100000; do
        with_dev_log "$CTXRUN" --syslog --set tenant=acme -- "$PROGS/syslog_lines" long "$n"
        text=$(python3 -c 'import sys; n=int(sys.argv[1]); print("".join(chr(97 + i % 26) for i in range(n)))' "$n")
        run cat "$BATS_TEST_TMPDIR/err"
        [ "$output" = "app: $text tenant=acme" ] || { echo "stderr copy, n=$n: ${#output} bytes"; false; }
        run cat "$BATS_TEST_TMPDIR/dgrams"
        [ "$output" = "<14>app: $text tenant=acme" ] || { echo "datagram, n=$n: ${#output} bytes"; false; }
    done
}

@test "a context of 4 KiB values is appended whole" {
    local big
    big=$(printf 'v%.0s' $(seq 4096))
    with_dev_log "$CTXRUN" --syslog --set a="$big" --set b="$big" -- "$PROGS/syslog_lines" long 3
    run cat "$BATS_TEST_TMPDIR/err"
    [ "$output" = "app: abc a=$big b=$big" ]
    run cat "$BATS_TEST_TMPDIR/dgrams"
    [ "$output" = "<14>app: abc a=$big b=$big" ]
}

@test "a line the program masked out is not formatted: a fortified build's writable %n format goes unrun, as without the runtime" {
    run -0 --separate-stderr "$PROGS/syslog_lines_fortified" masked
    [ "$stderr" = "app: after the masked line" ]
    run -0 --separate-stderr "$CTXRUN" --syslog --set tenant=acme -- "$PROGS/syslog_lines_fortified" masked
    [ "$stderr" = "app: after the masked line tenant=acme" ]
}

@test "syslog from a signal handler that interrupts malloc, with 70 variables set: the runtime allocates nothing glibc would not" {
    # glibc formats a line into 1 KiB on its stack; the runtime's sorted
    # walk of more than 64 variables used to allocate, corrupting the heap
    # the interrupted malloc was changing.
    with_dev_log "$CTXRUN" --syslog -- "$PROGS/syslog_hostile" handler 70 >"$BATS_TEST_TMPDIR/out"
    run cat "$BATS_TEST_TMPDIR/out"
    [ "$output" = "lines logged from the handler: 2000" ]
    run grep -c '^<14>app: tick v000=x v001=x' "$BATS_TEST_TMPDIR/dgrams"
    [ "$output" = 2000 ]
}

@test "threads cancelled inside syslog of a long line leak nothing" {
    # glibc's socket calls are cancellation points; it frees its own
    # buffer on the way out, and the runtime its rendered copy.
    with_dev_log "$CTXRUN" --syslog -- "$PROGS/syslog_hostile" cancel 300 >"$BATS_TEST_TMPDIR/out"
    run cat "$BATS_TEST_TMPDIR/out"
    expect_output <<'EOF2'
threads cancelled inside syslog: 300 of 300
heap grew by a megabyte or more: no
EOF2
}

@test "a message holding a NUL byte goes out as the program wrote it; the next line gets its context" {
    with_dev_log "$CTXRUN" --syslog -- "$PROGS/syslog_hostile" nul
    run python3 -c 'import sys; [print(repr(l)) for l in open(sys.argv[1], "rb").read().split(b"\n") if l]' "$BATS_TEST_TMPDIR/dgrams"
    expect_output <<'EOF2'
b'<14>app: embedded NUL [\x00] after'
b'<14>app: plain request_id=r1'
EOF2
}
