#!/usr/bin/env bats
# End to end with OpenTelemetry's own Node SDK (interop/package.json): a C
# client's three threads, each in its own context, call a Node service
# under `ctxrun --http`; the service's spans and baggage API show the
# caller's trace and members, and the C backend it calls joins the Node
# service's trace with ctxvar_accept_headers.  examples/http_trace/run.sh
# does the work and checks every hop; this compares its output exactly.

load helpers

setup() {
    command -v node >/dev/null || skip "node is not installed"
    if [ ! -d "$ROOT/interop/node_modules/@opentelemetry/instrumentation-http" ]; then
        npm ci --prefix "$ROOT/interop" --no-audit --no-fund --loglevel=error >&2
    fi
}

@test "each C thread's trace and baggage reach Node's spans and baggage API, and Node's reach the C backend" {
    run -0 --separate-stderr "$ROOT/examples/http_trace/run.sh"
    expect_output <<'EOF2'
r1: Node's baggage API shows request_id=r1 tenant=acme user=alice
r1: Node's server span: trace = the caller's, parent = the C thread's span
r1: the C backend accepted request_id=r1 tenant=acme user=alice, trace = the caller's, parent = the client span of Node's server span
r2: Node's baggage API shows request_id=r2 tenant=acme user=bob
r2: Node's server span: trace = the caller's, parent = the C thread's span
r2: the C backend accepted request_id=r2 tenant=acme user=bob, trace = the caller's, parent = the client span of Node's server span
r3: Node's baggage API shows request_id=r3 tenant=acme user=carol
r3: Node's server span: trace = the caller's, parent = the C thread's span
r3: the C backend accepted request_id=r3 tenant=acme user=carol, trace = the caller's, parent = the client span of Node's server span
verdict: 3 of 3 requests carried their own context from C through Node to C
EOF2
}

@test "without --http Node sees no caller: new traces, no baggage, and the check says so" {
    HTTP_TRACE_WITHOUT_HTTP=1 run -1 --separate-stderr "$ROOT/examples/http_trace/run.sh"
    [ "${lines[0]}" = "r1: Node's baggage API shows " ]
    [ "${lines[9]}" = "verdict: 0 of 3 requests carried their own context from C through Node to C" ]
}
