#!/usr/bin/env bash
# run.sh - one command: a C client whose three threads each call a Node
# service (OpenTelemetry SDK) over libcurl, each in its own request
# context, under `ctxrun --http`; the service calls a C backend that joins
# the trace with ctxvar_accept_headers.  Builds what it needs, installs the
# OpenTelemetry packages into interop/node_modules when missing, prints
# every hop and a verdict.  Exit status 0 when all three requests held.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
b=build
B="$root/$b"
make -s -C "$root" "$b/ctxrun" "$b/libctxvar.so" "$b/examples/http_backend" "$b/examples/http_client" >&2
[ -d "$root/interop/node_modules/@opentelemetry/instrumentation-http" ] ||
    npm ci --prefix "$root/interop" --no-audit --no-fund --loglevel=error >&2

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
wait_for() { while [ ! -s "$1" ]; do sleep 0.05; done; }

"$B/ctxrun" -- "$B/examples/http_backend" "$work/backend.port" &
pids+=($!)
wait_for "$work/backend.port"
node "$here/service.js" "$work/service.port" "http://127.0.0.1:$(cat "$work/backend.port")" &
pids+=($!)
wait_for "$work/service.port"
service="http://127.0.0.1:$(cat "$work/service.port")"

traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
# HTTP_TRACE_WITHOUT_HTTP=1 leaves --http out: the control run, in which
# nothing reaches Node (bats/http_otel.bats shows the verdict then fails).
http=--http
[ -z "${HTTP_TRACE_WITHOUT_HTTP:-}" ] || http=
echo "\$ ctxrun $http --traceparent $traceparent --set tenant=acme -- client $service" >&2
"$B/ctxrun" $http --traceparent "$traceparent" --set tenant=acme -- \
    "$B/examples/http_client" "$service" >"$work/client.out"
curl -s "$service/spans" >"$work/spans.json"
[ -z "${HTTP_TRACE_KEEP:-}" ] || cp "$work/spans.json" "$work/client.out" "$HTTP_TRACE_KEEP"
python3 "$here/check.py" "$traceparent" "$work/client.out" "$work/spans.json"
