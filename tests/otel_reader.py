#!/usr/bin/env python3
"""otel_reader.py - reads a running process's OpenTelemetry process context
and thread context records from outside it, the way a profiler does, to
check what the runtime publishes (bats/otel.bats).  It shares no code with
the writer (lib/otel.c, lib/otel_process.c): layouts and protocol are
restated here from the formats themselves.

    otel_reader.py PID             the process context
    otel_reader.py --threads PID   and each thread's record

Process context: the mapping whose name in /proc/PID/maps starts with
"/memfd:OTEL_CTX", "[anon:OTEL_CTX]" or "[anon_shmem:OTEL_CTX]" holds a
32-byte header (signature "OTEL_CTX", u32 version 2, u32 payload size, u64
publication time, 0 while being updated, u64 payload address).  The reading
protocol: read the time (0: try again), the header, the payload, then the
time again; a different time means an update came between, so read again.
The payload is a protobuf ProcessContext {Resource resource = 1; repeated
KeyValue attributes = 2}, decoded here by hand.

Thread records: the address of each thread's TLS variable otel_thread_ctx_v1
is what gdb is for (it finds TLS blocks through libthread_db); gdb prints
the pointer and detaches, and the record it points at (28 bytes: trace id,
span id, valid, flags, u16 attrs_data_size; then entries {u8 key index, u8
length, value}) is read from /proc/PID/mem and decoded with the key map.
The threads must stay put while read: the test program blocks them.

Output, one line per fact:

    service.name=NAME
    service.instance.id=UUID
    threadlocal.schema_version=VERSION
    threadlocal.attribute_key_map=KEY,KEY,...
    thread TID: trace_id=HEX span_id=HEX trace_flags=HEX KEY=VALUE ...
    thread TID: none

Exit status 1 with a message on stderr when there is no process context.
"""
import re
import struct
import subprocess
import sys
import time

PREFIXES = ("/memfd:OTEL_CTX", "[anon:OTEL_CTX]", "[anon_shmem:OTEL_CTX]")


def find_mapping(pid):
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            name = fields[5].strip() if len(fields) > 5 else ""
            if name.startswith(PREFIXES):
                return int(fields[0].split("-")[0], 16)
    return None


def read_process_context(pid, mem):
    address = find_mapping(pid)
    if address is None:
        raise LookupError(f"process {pid} has no OTEL_CTX mapping")
    for _ in range(1000):
        mem.seek(address)
        header = mem.read(32)
        signature, version, size, published, payload = struct.unpack("=8sIIQQ", header)
        if signature != b"OTEL_CTX":
            raise ValueError(f"bad signature {signature!r}")
        if version != 2:
            raise ValueError(f"unknown version {version}")
        if published == 0:
            time.sleep(0.001)
            continue
        mem.seek(payload)
        message = mem.read(size)
        mem.seek(address + 16)
        (again,) = struct.unpack("=Q", mem.read(8))
        if again == published:
            return message
    raise TimeoutError("the process context kept changing")


# ---- protobuf, by hand -------------------------------------------------------


def varint(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def fields(data):
    """(field number, wire type, value) of each field of a message."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            length, i = varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def any_value(data):
    """An AnyValue: a str, bool, int, float or list."""
    for number, _, value in fields(data):
        if number == 1:
            return value.decode()
        if number == 2:
            return bool(value)
        if number == 3:
            return value - (1 << 64) if value >= 1 << 63 else value
        if number == 4:
            return struct.unpack("<d", value)[0]
        if number == 5:
            return [any_value(v) for n, _, v in fields(value) if n == 1]
    return None


def key_value(data):
    key, value = None, None
    for number, _, v in fields(data):
        if number == 1:
            key = v.decode()
        elif number == 2:
            value = any_value(v)
    return key, value


def process_context(message):
    """(resource attributes, attributes), each a list of (key, value)."""
    resource, attributes = [], []
    for number, _, value in fields(message):
        if number == 1:
            resource += [key_value(v) for n, _, v in fields(value) if n == 1]
        elif number == 2:
            attributes.append(key_value(value))
    return resource, attributes


# ---- thread records ----------------------------------------------------------


def thread_pointers(pid):
    """{tid: address of the record or 0}, asked of gdb."""
    out = subprocess.run(
        ["gdb", "-nx", "-batch", "-p", str(pid), "-ex",
         "thread apply all -c print/x (unsigned long)otel_thread_ctx_v1"],
        capture_output=True, text=True, timeout=120).stdout
    pointers, tid = {}, None
    for line in out.splitlines():
        m = re.match(r"Thread \d+ \(Thread 0x[0-9a-f]+ \(LWP (\d+)\)", line)
        if m:
            tid = int(m.group(1))
            continue
        m = re.match(r"\$\d+ = (0x[0-9a-f]+|0)$", line)
        if m and tid is not None:
            pointers[tid] = int(m.group(1), 16)
            tid = None
    return pointers


def record(mem, address, key_map):
    mem.seek(address)
    trace_id, span_id, valid, flags, size = struct.unpack("=16s8sBBH", mem.read(28))
    if valid != 1:
        return "invalid"
    attrs = mem.read(size)
    shown = {}
    i = 0
    while i + 2 <= len(attrs):
        index, length = attrs[i], attrs[i + 1]
        if i + 2 + length > len(attrs):
            break  # an incomplete entry ends the record
        name = key_map[index] if index < len(key_map) else f"#{index}"
        shown[name] = attrs[i + 2:i + 2 + length].decode()  # the last one wins
        i += 2 + length
    parts = []
    if any(trace_id):
        parts.append(f"trace_id={trace_id.hex()}")
    if any(span_id):
        parts.append(f"span_id={span_id.hex()}")
    if any(trace_id) or any(span_id):
        parts.append(f"trace_flags={flags:02x}")
    parts += [f"{k}={v}" for k, v in shown.items()]
    return " ".join(parts)


def main(argv):
    threads = "--threads" in argv
    args = [a for a in argv if a != "--threads"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    pid = int(args[0])
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        try:
            message = read_process_context(pid, mem)
        except (LookupError, ValueError, TimeoutError) as e:
            print(f"otel_reader: {e}", file=sys.stderr)
            return 1
        resource, attributes = process_context(message)
        key_map = []
        for key, value in resource + attributes:
            if isinstance(value, list):
                if key == "threadlocal.attribute_key_map":
                    key_map = value
                value = ",".join(str(v) for v in value)
            print(f"{key}={value}")
        if threads:
            for tid, address in sorted(thread_pointers(pid).items()):
                shown = record(mem, address, key_map) if address else "none"
                print(f"thread {tid}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
