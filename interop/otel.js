#!/usr/bin/env node
// otel.js - OpenTelemetry's side of the interop test (bats/interop.bats).
//
// Every header here is made and read by OpenTelemetry's own propagators,
// W3CBaggagePropagator and W3CTraceContextPropagator from @opentelemetry/core,
// through @opentelemetry/api's context and propagation API; this file only
// builds their input and prints their output.  interop/codec.c is ctxvar's
// side and speaks the same line formats:
//
//   fed lines    NAME<TAB>HEX[<TAB>HEX...]    (HEX: the bytes of one string)
//   header lines NAME<TAB>HEX-OF-HEADER[<TAB>anything]
//   results      NAME: CANONICAL
//
// CANONICAL for a context is its members in byte order of key, one space
// apart, each key="value" with the value JSON-escaped (the key too when it
// is not made of [A-Za-z0-9_.-]); "(empty)" for no members.  For a
// traceparent: "valid TRACE-ID PARENT-ID FLAGS" or "invalid".
//
// Commands:
//   feed contexts|baggage|traceparent  corpus cases as fed lines for codec
//   expect contexts-ctxvar|contexts-otel|baggage|traceparent
//                                      what the other side must print
//   inject-baggage                     corpus contexts -> header lines
//   inject-traceparent                 corpus spans -> header lines
//   inject-baggage-args KEY VALUE...   OpenTelemetry's header for that context
//   inject-traceparent-args TRACE-ID SPAN-ID FLAGS
//                                      OpenTelemetry's traceparent for that span
//   extract-baggage [HEADER...]        header lines on stdin (or arguments,
//                                      named "arg") -> results
//   extract-traceparent [VALUE...]     the same for traceparent
'use strict';

const fs = require('fs');
const path = require('path');
const api = require('@opentelemetry/api');
const core = require('@opentelemetry/core');

const { context, propagation, trace, defaultTextMapGetter, defaultTextMapSetter } = api;
const baggagePropagator = new core.W3CBaggagePropagator();
const tracePropagator = new core.W3CTraceContextPropagator();

const corpus = JSON.parse(fs.readFileSync(path.join(__dirname, 'corpus.json'), 'utf8'));

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
const unhex = (h) => Buffer.from(h, 'hex').toString('utf8');

// [key, value] or [key, unit, count]; or a 'repeat' block.
function members(c) {
    if (c.repeat) {
        const { count, prefix, value } = c.repeat;
        const width = String(count - 1).length;
        return Array.from({ length: count }, (_, i) =>
            [prefix + String(i).padStart(width, '0'), value]);
    }
    return c.members.map(([k, unit, count]) => [k, count === undefined ? unit : unit.repeat(count)]);
}

function header(c) {
    if (c.header_repeat) {
        const { count, prefix } = c.header_repeat;
        const width = String(count - 1).length;
        return Array.from({ length: count },
            (_, i) => `${prefix}${String(i).padStart(width, '0')}=x`).join(',');
    }
    const [unit, count] = c.header_tail || ['', 0];
    return c.header + unit.repeat(count);
}

function expectedBaggage(c) {
    if (c.header_repeat) {
        const { count, prefix } = c.header_repeat;
        const width = String(count - 1).length;
        return Array.from({ length: count },
            (_, i) => [prefix + String(i).padStart(width, '0'), 'x']);
    }
    return c.expect;
}

function canonical(pairs) {
    if (pairs.length === 0) return '(empty)';
    const sorted = [...pairs].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    return sorted.map(([k, v]) =>
        `${/^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ');
}

// Header lines from stdin, or the arguments as cases named "arg".
function headerLines(args) {
    if (args.length) return args.map((a) => ['arg', a]);
    const text = fs.readFileSync(0, 'utf8');
    return text.split('\n').filter((l) => l !== '').map((l) => {
        const [name, h] = l.split('\t');
        return [name, unhex(h)];
    });
}

function extractBaggage(value) {
    const carrier = { baggage: value };
    const ctx = baggagePropagator.extract(context.active(), carrier, defaultTextMapGetter);
    const bag = propagation.getBaggage(ctx);
    return canonical(bag ? bag.getAllEntries().map(([k, e]) => [k, e.value]) : []);
}

function extractTraceparent(value) {
    const ctx = tracePropagator.extract(context.active(), { traceparent: value }, defaultTextMapGetter);
    const span = trace.getSpanContext(ctx);
    if (!span) return 'invalid';
    return `valid ${span.traceId} ${span.spanId} ${span.traceFlags.toString(16).padStart(2, '0')}`;
}

function injectBaggage(pairs) {
    const bag = propagation.createBaggage(Object.fromEntries(pairs.map(([k, v]) => [k, { value: v }])));
    const carrier = {};
    baggagePropagator.inject(propagation.setBaggage(context.active(), bag), carrier, defaultTextMapSetter);
    return carrier.baggage === undefined ? '' : carrier.baggage;
}

function injectTraceparent(s) {
    const span = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.flags, isRemote: false };
    const carrier = {};
    tracePropagator.inject(trace.setSpanContext(context.active(), span), carrier, defaultTextMapSetter);
    return carrier.traceparent === undefined ? '' : carrier.traceparent;
}

const without = (pairs, keys) => pairs.filter(([k]) => !(keys || []).includes(k));

const out = [];
const [command, ...args] = process.argv.slice(2);
switch (`${command} ${command === 'feed' || command === 'expect' ? args[0] : ''}`.trim()) {
case 'feed contexts':
    for (const c of corpus.contexts)
        out.push([c.name, ...members(c).flat().map(hex)].join('\t'));
    break;
case 'feed baggage':
    for (const c of corpus.baggage) out.push(`${c.name}\t${hex(header(c))}`);
    break;
case 'feed traceparent':
    for (const c of corpus.traceparent) out.push(`${c.name}\t${hex(c.value)}`);
    break;
case 'expect contexts-ctxvar': // what ctxvar's encoding carries
    for (const c of corpus.contexts)
        out.push(`${c.name}: ${canonical(without(without(members(c), c.both_drop), c.ctxvar_omits))}`);
    break;
case 'expect contexts-otel': // what OpenTelemetry's encoding carries
    for (const c of corpus.contexts)
        out.push(`${c.name}: ${canonical(without(members(c), c.both_drop))}`);
    break;
case 'expect baggage':
    for (const c of corpus.baggage) out.push(`${c.name}: ${canonical(expectedBaggage(c))}`);
    break;
case 'expect traceparent':
    for (const c of corpus.traceparent)
        out.push(`${c.name}: ${c.valid ? `valid ${c.valid.join(' ')}` : 'invalid'}`);
    break;
case 'inject-baggage':
    for (const c of corpus.contexts) out.push(`${c.name}\t${hex(injectBaggage(members(c)))}`);
    break;
case 'inject-traceparent':
    for (const s of corpus.spans) out.push(`${s.name}\t${hex(injectTraceparent(s))}`);
    break;
case 'expect spans':
    for (const s of corpus.spans)
        out.push(`${s.name}: valid ${s.traceId} ${s.spanId} ${s.flags.toString(16).padStart(2, '0')}`);
    break;
case 'inject-traceparent-args':
    out.push(injectTraceparent({ traceId: args[0], spanId: args[1], flags: Number(args[2]) }));
    break;
case 'inject-baggage-args': {
    const pairs = [];
    for (let i = 0; i + 1 < args.length; i += 2) pairs.push([args[i], args[i + 1]]);
    out.push(injectBaggage(pairs));
    break;
}
case 'extract-baggage':
    for (const [name, h] of headerLines(args)) out.push(`${name}: ${extractBaggage(h)}`);
    break;
case 'extract-traceparent':
    for (const [name, v] of headerLines(args)) out.push(`${name}: ${extractTraceparent(v)}`);
    break;
default:
    process.stderr.write(`otel.js: unknown command: ${process.argv.slice(2).join(' ')}\n`);
    process.exit(2);
}
process.stdout.write(out.map((l) => l + '\n').join(''));
