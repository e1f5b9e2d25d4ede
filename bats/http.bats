#!/usr/bin/env bats
# libcurl requests carry the calling thread's context in traceparent,
# tracestate and baggage headers under ctxrun --http (CTXVAR_HTTP=1).  A
# local server (bats/programs/http_recorder.py) records every request's
# headers; the tests compare them exactly.

load helpers

TP=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01

setup() {
    LOG="$BATS_TEST_TMPDIR/requests"
    python3 "$ROOT/bats/programs/http_recorder.py" "$BATS_TEST_TMPDIR/port" "$LOG" &
    SERVER=$!
    while [ ! -e "$BATS_TEST_TMPDIR/port" ]; do sleep 0.05; done
    URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")"
}

teardown() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}

# headers_of PATH: the header lines the server recorded for GET PATH.
headers_of() {
    awk -v want="GET $1" '/^GET /{on = ($0 == want); next} on' "$LOG"
}

# expect_request_headers PATH ID: GET PATH carried the client's trace
# headers, with request_id=ID in its baggage, and nothing else.
expect_request_headers() {
    run headers_of "$1"
    expect_output <<EOF2
  traceparent: $TP
  tracestate: vendor=x
  baggage: request_id=$2,tenant=acme
EOF2
}

client() {
    TRACESTATE=vendor=x "$CTXRUN" --http --traceparent "$TP" --set tenant=acme -- \
        "$PROGS/http_client" "$@" 2>/dev/null
}

@test "curl_easy_perform sends traceparent, tracestate and baggage of the calling thread" {
    run -0 client easy "$URL"
    [ "$output" = "/easy: 0" ]
    run headers_of /easy
    expect_output <<EOF2
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
}

@test "a URL without a scheme, which libcurl takes for HTTP, gets the headers too" {
    run -0 client schemeless "127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")"
    [ "$output" = "/schemeless?next=http://x: 0" ]
    run headers_of "/schemeless?next=http://x"
    expect_output <<EOF2
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
}

@test "an ftp:// URL fetched through an HTTP proxy sends the proxy the headers" {
    run -0 client proxied "$URL"
    [ "$output" = "proxied: 0" ]
    run headers_of ftp://example.invalid/proxied
    expect_output <<EOF2
  Proxy-Connection: Keep-Alive
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
}

@test "the runtime takes no pthread key for its per-thread headers: the program gets as many as without it" {
    plain=$("$PROGS/http_client" keys "$URL" 2>/dev/null)
    [[ "$plain" == *"keys: "* ]]
    run -0 client keys "$URL"
    [ "$output" = "$plain" ]
}

@test "a request from a pthread key destructor, after the thread's context is released, carries nothing of it" {
    # A POSIX AIO callback runs on a thread glibc starts itself: its context
    # is released before its pthread key destructors run, and what the
    # thread's last request cached must go with it.
    run -0 client keydtor "$URL"
    expect_output <<'EOF2'
/in-aio-callback: 0
/from-key-destructor: 0
EOF2
    run headers_of /in-aio-callback
    [ "$output" = "  baggage: request_id=r-aio" ]
    run headers_of /from-key-destructor
    [ "$output" = "" ]
}

@test "a child forked while other threads set libcurl options can use libcurl: no lock of ours left held" {
    run -0 client fork "$URL"
    [ "$output" = "children hung: 0 of 100" ]
}

@test "a mail sent over SMTP keeps the program's MIME headers and gets none of ours" {
    # libcurl takes CURLOPT_HTTPHEADER as a MIME message's top-level headers
    # too: trace headers there would be delivered inside the mail.
    local mail_log="$BATS_TEST_TMPDIR/mail" smtp
    python3 "$ROOT/bats/programs/smtp_recorder.py" "$BATS_TEST_TMPDIR/smtp_port" "$mail_log" &
    smtp=$!
    while [ ! -e "$BATS_TEST_TMPDIR/smtp_port" ]; do sleep 0.05; done
    # Twice: libcurl takes "smtp:/" (one slash) for SMTP as well.
    run -0 client mail "smtp://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/smtp_port")/"
    [ "$output" = "mail: 0" ]
    run -0 client mail "smtp:/127.0.0.1:$(cat "$BATS_TEST_TMPDIR/smtp_port")/"
    kill "$smtp"
    wait "$smtp" 2>/dev/null || true
    [ "$output" = "mail: 0" ]
    [ "$(grep -c '^hello' "$mail_log")" = 2 ]
    run grep -ci -E '^(traceparent|tracestate|baggage):' "$mail_log"
    [ "$output" = 0 ]
    grep -q '^X-Mailer: http_client' "$mail_log"
    grep -q '^hello' "$mail_log"
}

@test "without --http, or with an empty context, no header is added" {
    run -0 env TRACESTATE=vendor=x "$CTXRUN" --traceparent "$TP" --set tenant=acme -- "$PROGS/http_client" easy "$URL"
    run -0 env CTXVAR_HTTP=1 LD_PRELOAD="$RUNTIME" "$PROGS/http_client" easy "$URL"
    run cat "$LOG"
    expect_output <<EOF2
GET /easy
GET /easy
EOF2
}

@test "transfers on three threads each carry their own thread's context" {
    run -0 client threads "$URL"
    local t
    for t in t1 t2 t3; do
        expect_request_headers "/$t" "$t"
    done
}

@test "curl_multi_add_handle sends the adding thread's context, and a reused handle the new one" {
    run -0 client multi "$URL"
    [ "${lines[*]}" = "add again: 7 /m1: 0 /m2: 0 /m3: 0" ]
    local m
    for m in m1 m2 m3; do
        expect_request_headers "/$m" "$m"
    done
}

@test "handles left in a multi handle at curl_multi_cleanup, reused, carry their new context; a refused removal leaves the transfer its headers" {
    run -0 client cleanup "$URL"
    expect_output <<'EOF2'
/c3: 0
/c4: 0
remove from another: 2
list after: [X-New: 1]
EOF2
    local c
    for c in c1 c2 c3 c5; do
        expect_request_headers "/$c" "$c"
    done
    run headers_of /c4
    expect_output <<EOF2
  X-New: 1
  traceparent: $TP
  tracestate: vendor=x
  baggage: request_id=c4,tenant=acme
EOF2
}

@test "one thread's requests carry its context as it changes: the same twice, set and reset, inside ctxvar_run and back" {
    # The runtime keeps a thread's last headers while its context is
    # unchanged; every change (a set, its reset, entering and leaving a
    # run) must show in the next request.
    run -0 client changes "$URL"
    [ "${lines[*]}" = "/c1: 0 /c1-again: 0 /c2: 0 /c1-back: 0 /c2-run: 0 /c1-after-run: 0" ]
    local path
    for path in c1:c1 c1-again:c1 c2:c2 c1-back:c1 c2-run:c2 c1-after-run:c1; do
        expect_request_headers "/${path%%:*}" "${path#*:}"
    done
}

@test "a reused handle keeps the program's headers first, its list unchanged, and none of ours once the context is empty" {
    run -0 client reuse "$URL"
    expect_output <<'EOF2'
/a: 0
/b: 0
/empty: 0
list after: [X-Own: 1] [X-Other: 2]
same nodes: 1
EOF2
    run cat "$LOG"
    expect_output <<EOF2
GET /a
  X-Own: 1
  X-Other: 2
  traceparent: $TP
  tracestate: vendor=x
  baggage: request_id=a,tenant=acme
GET /b
  X-Own: 1
  X-Other: 2
  traceparent: $TP
  tracestate: vendor=x
  baggage: request_id=b,tenant=acme
GET /empty
  X-Own: 1
  X-Other: 2
EOF2
}

@test "headers the program set itself, in any case, are neither replaced nor repeated" {
    run -0 client own "$URL"
    [ "${lines[1]}" = "list after: [TraceParent: 00-11111111111111111111111111111111-2222222222222222-00] [BAGGAGE: mine=1]" ]
    run headers_of /own
    expect_output <<'EOF2'
  TraceParent: 00-11111111111111111111111111111111-2222222222222222-00
  BAGGAGE: mine=1
EOF2
    # "tracestate:" in the program's list removes that header: ours stays out.
    run headers_of /removed
    expect_output <<EOF2
  traceparent: $TP
  baggage: tenant=acme
EOF2
}

@test "curl_easy_duphandle gives the copy the program's list, curl_easy_reset forgets it" {
    run -0 client dup "$URL"
    local p
    for p in /original /copy; do
        run headers_of "$p"
        expect_output <<EOF2
  X-Own: 1
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
    done
    run headers_of /after-reset
    expect_output <<EOF2
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
}

# libcurl sends the custom headers of CURLOPT_HTTPHEADER on every request
# of a transfer, to a redirected host too; it holds back from another host
# only Authorization and Cookie (unless CURLOPT_UNRESTRICTED_AUTH), which
# ours are not: ours go exactly where the program's own X-Own goes.
@test "a redirect to another host gets our headers exactly where libcurl sends the program's own" {
    local other="http://localhost:${URL##*:}"
    run -0 client redirect "$URL" "$other"
    run cat "$LOG"
    expect_output <<EOF2
GET /redirect/1?$other/landed
  X-Own: 1
  Authorization: Bearer secret
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
GET /landed
  X-Own: 1
  traceparent: $TP
  tracestate: vendor=x
  baggage: tenant=acme
EOF2
}

@test "a hostile context (4 KiB values, 100 members, bytes to escape, CR LF in tracestate) sends the capped encoding, no injected header, and the request succeeds" {
    run -0 client hostile "$URL"
    [ "${lines[0]}" = "/hostile: 0" ]
    local encoded=${lines[1]#encoded: }
    [ "${#encoded}" -le 8192 ]
    run headers_of /hostile
    [ "${lines[0]}" = "  traceparent: $TP" ]
    [ "${lines[1]}" = "  baggage: $encoded" ]
    [ "${#lines[@]}" = 2 ]   # no tracestate: it held a CR LF, and no X-Injected
    # The encoder's caps, as for a child's BAGGAGE: k000's 4 KiB fits,
    # k001 and k002 would pass 8,192 bytes and are dropped whole, and the
    # escaped short members follow up to 64 members in all.
    local expected i
    expected="k000=$(printf 'v%.0s' $(seq 4096))"
    for i in $(seq 3 65); do
        expected+=$(printf ',k%03d=%%25%%2C%%3B%%20%%22%%5C%%01%%FF' "$i")
    done
    [ "$encoded" = "$expected" ]
}

@test "the runtime needs no libcurl: a program without it never loads it, even with --http" {
    run -0 readelf -d "$RUNTIME"
    [[ "$output" != *libcurl* ]]
    run -0 "$CTXRUN" --http --set tenant=acme -- cat /proc/self/maps
    [[ "$output" == *libctxvar.so* ]]
    [[ "$output" != *libcurl* ]]
}

# HTTP/2 over cleartext with prior knowledge, against nghttp2's own server
# (nghttp2-server), whose -v output lists every header it receives.
@test "an HTTP/2 request (h2c, prior knowledge) carries the headers too" {
    command -v nghttpd >/dev/null || skip "nghttpd (nghttp2-server) is not installed"
    curl-config --features 2>/dev/null | grep -qx HTTP2 || skip "this libcurl has no HTTP/2"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nghttpd --no-tls -v -a 127.0.0.1 "$port" >"$BATS_TEST_TMPDIR/h2.log" 2>&1 &
    local h2=$!
    while ! grep -q "listen 127.0.0.1:$port" "$BATS_TEST_TMPDIR/h2.log"; do
        kill -0 "$h2" || { cat "$BATS_TEST_TMPDIR/h2.log"; false; }
        sleep 0.05
    done
    run -0 client h2 "http://127.0.0.1:$port"
    kill "$h2"; wait "$h2" || true
    expect_output <<'EOF2'
/h2: 0
http version: 2
EOF2
    run sed -n 's/^.*recv (stream_id=1) \(traceparent\|tracestate\|baggage\)/\1/p' "$BATS_TEST_TMPDIR/h2.log"
    expect_output <<EOF2
traceparent: $TP
tracestate: vendor=x
baggage: tenant=acme
EOF2
}
