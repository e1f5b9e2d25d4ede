#!/usr/bin/env python3
"""check.py TRACEPARENT CLIENT_OUTPUT SPANS_JSON - reads what the C client
printed (the Node service's JSON answer per request) and the spans the
Node service's in-memory exporter finished, checks every hop, and prints
one line per hop and a verdict.  Random span ids the Node SDK made are
shown by role, so the output is the same on every run.  Exit status 1
when a hop does not hold."""
import json
import sys

traceparent, client_path, spans_path = sys.argv[1:]
_, trace_id, caller_span, _ = traceparent.split("-")
spans = json.load(open(spans_path))
servers = [s for s in spans if s["kind"] == "server" and s["request"]]
clients = {s["span"]: s for s in spans if s["kind"] == "client"}
users = {"r1": "alice", "r2": "bob", "r3": "carol"}
good = 0
requests = 0
for line in open(client_path):
    rid, _, answer = line.rstrip("\n").partition(": ")
    requests += 1
    ok = True
    reply = json.loads(answer)
    bag = reply["baggage"]
    want_bag = {"request_id": rid, "tenant": "acme", "user": users[rid]}
    print("%s: Node's baggage API shows %s" % (rid, " ".join("%s=%s" % kv for kv in sorted(bag.items()))))
    ok &= bag == want_bag
    mine = [s for s in servers if s["request"] == rid]
    ok &= len(mine) == 1
    for s in mine:
        print("%s: Node's server span: trace %s, parent %s" % (
            rid, "= the caller's" if s["trace"] == trace_id else s["trace"],
            "= the C thread's span" if s["parent"] == caller_span else s["parent"]))
        ok &= s["trace"] == trace_id and s["parent"] == caller_span
    backend = reply["backend"]
    pairs = dict(p.split("=", 1) for p in backend.split(" ") if "=" in p)
    tp = pairs.pop("traceparent", "--")
    _, b_trace, b_parent, _ = (tp.split("-") + ["", "", "", ""])[:4]
    # The backend's parent must be the client span Node opened for this
    # request's call, a child of this request's server span.
    client = clients.get(b_parent)
    chained = (client is not None and len(mine) == 1 and client["parent"] == mine[0]["span"]
               and client["trace"] == trace_id)
    print("%s: the C backend accepted %s, trace %s, parent %s" % (
        rid, " ".join("%s=%s" % kv for kv in sorted(pairs.items())),
        "= the caller's" if b_trace == trace_id else b_trace,
        "= the client span of Node's server span" if chained else b_parent))
    ok &= pairs == want_bag and b_trace == trace_id and chained
    good += ok
print("verdict: %d of %d requests carried their own context from C through Node to C" % (good, requests))
sys.exit(0 if good == requests == 3 else 1)
