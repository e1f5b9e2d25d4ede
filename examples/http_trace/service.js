// service.js - a Node service instrumented with OpenTelemetry's own SDK
// (the in-memory exporter, the HTTP instrumentation, W3C Trace Context and
// Baggage propagation), standing between the C client and the C backend of
// examples/http_trace.
//
//   node service.js PORTFILE BACKEND_URL
//
// GET /work?r=ID   answers JSON: the baggage the OpenTelemetry API shows in
//                  the request's context, and what the C backend answered
//                  when this service called it (its own client span and
//                  the baggage go with that call, by the same SDK).
// GET /spans       the finished spans: kind, trace id, span id, parent
//                  span id, and for server spans the request id.
// The port (127.0.0.1, chosen by the system) is written to PORTFILE.
'use strict';
const path = require('path');
const modules = path.join(__dirname, '..', '..', 'interop', 'node_modules');
const need = (name) => require(path.join(modules, name));

const api = need('@opentelemetry/api');
const { W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } =
  need('@opentelemetry/core');
const { NodeTracerProvider } = need('@opentelemetry/sdk-trace-node');
const { InMemorySpanExporter, SimpleSpanProcessor } = need('@opentelemetry/sdk-trace-base');
const { registerInstrumentations } = need('@opentelemetry/instrumentation');
const { HttpInstrumentation } = need('@opentelemetry/instrumentation-http');

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register({
  propagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }),
});
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// After the instrumentation, so that it patches this module.
const http = require('http');
const fs = require('fs');

const [portFile, backend] = process.argv.slice(2);

function callBackend(id) {
  return new Promise((resolve, reject) => {
    http.get(`${backend}/callback?r=${id}`, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/spans') {
    const spans = exporter.getFinishedSpans().map((s) => ({
      kind: s.kind === api.SpanKind.SERVER ? 'server' : s.kind === api.SpanKind.CLIENT ? 'client' : 'other',
      trace: s.spanContext().traceId,
      span: s.spanContext().spanId,
      parent: s.parentSpanContext ? s.parentSpanContext.spanId : null,
      request: s.attributes['example.request'] || null,
    }));
    res.end(JSON.stringify(spans));
    return;
  }
  // Marks the server span the instrumentation opened for this request.
  api.trace.getActiveSpan()?.setAttribute('example.request', url.searchParams.get('r'));
  const bag = api.propagation.getBaggage(api.context.active());
  const members = {};
  for (const [k, v] of bag ? bag.getAllEntries() : []) members[k] = v.value;
  let backendSaw;
  try {
    backendSaw = await callBackend(url.searchParams.get('r'));
  } catch (e) {
    backendSaw = 'error: ' + e.message;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ baggage: members, backend: backendSaw }));
});

server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
