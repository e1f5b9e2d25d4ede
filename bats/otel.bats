#!/usr/bin/env bats
# OpenTelemetry process context and thread context records (CTXVAR_OTEL=1,
# `ctxrun --otel`), read from outside the process the way a profiler reads
# them: gdb printing each thread's otel_thread_ctx_v1, and
# tests/otel_reader.py, which finds the OTEL_CTX mapping in /proc/PID/maps,
# follows the publication protocol, decodes the protobuf payload itself and
# reads each thread's record from /proc/PID/mem.  The program,
# bats/programs/otel_threads.c, gives each thread its context a different
# way, then blocks every thread, so that readers see stopped threads.

load helpers

READER="$ROOT/tests/otel_reader.py"
PROG="$PROGS/otel_threads"
TP_MAIN=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
MAIN_IDS="trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331 trace_flags=01"
SET_IDS="trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 trace_flags=00"

setup() {
    command -v gdb >/dev/null || skip "gdb not installed"
    command -v python3 >/dev/null || skip "python3 not installed"
    PIDS=()
}

teardown() {
    local pid
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

# start_program COMMAND...: runs COMMAND in the background, its stdout in
# $OUT and stderr in $ERR, and waits (up to 60 s) until it printed "ready"
# or, for the fork case, "child" and "parent".
start_program() {
    OUT=$BATS_TEST_TMPDIR/prog.out
    ERR=$BATS_TEST_TMPDIR/prog.err
    "$@" >"$OUT" 2>"$ERR" &
    PIDS+=($!)
    disown "$!" # killed in teardown, without the shell's "Killed" line
    local tries=0
    until grep -q '^ready$' "$OUT" ||
          { grep -q '^child ' "$OUT" && grep -q '^parent ' "$OUT"; }; do
        tries=$((tries + 1))
        if [ "$tries" -gt 1200 ]; then
            echo "the program did not get ready:" >&2
            cat "$OUT" "$ERR" >&2
            return 1
        fi
        sleep 0.05
    done
    local pid
    for pid in $(awk '$1 == "child" { print $2 }' "$OUT"); do PIDS+=("$pid"); done
}

# tid_of LABEL: the thread id the program printed for LABEL.
tid_of() {
    awk -v l="$1" '$1 == l { print $2 }' "$OUT"
}

main_pid() { tid_of main; }

# with_labels [LABEL...]: stdin with "thread TID:" replaced by "thread
# LABEL:" for each LABEL the program printed (otel_threads' by default).
with_labels() {
    local script="" label labels=("$@")
    [ "${#labels[@]}" -gt 0 ] || labels=(main set empty run task long gone)
    for label in "${labels[@]}"; do
        script+="s/^thread $(tid_of "$label"):/thread $label:/;"
    done
    sed "$script"
}

start_threads_with_otel() {
    start_program "$CTXRUN" --otel --set request_id=r0 --set user_id=alice \
        --traceparent "$TP_MAIN" -- "$PROG"
}

xs() { printf 'x%.0s' $(seq "$1"); }

@test "readelf shows otel_thread_ctx_v1 as a TLS symbol of the runtime, reached through TLS descriptors" {
    run -0 readelf --dyn-syms -W "$RUNTIME"
    grep -Eq '^ *[0-9]+: [0-9a-f]+ +8 TLS +GLOBAL DEFAULT +[0-9]+ otel_thread_ctx_v1$' <<<"$output" ||
        { echo "$output" | grep otel >&2; false; }
    run -0 readelf -rW "$RUNTIME"
    grep -Eq 'R_X86_64_TLSDESC +0+ otel_thread_ctx_v1' <<<"$output" ||
        { echo "$output" | grep -i tls >&2; false; }
}

@test "ctxrun --otel sets CTXVAR_OTEL=1 for the command" {
    run -0 "$CTXRUN" --otel -- sh -c 'echo "CTXVAR_OTEL=$CTXVAR_OTEL"'
    [ "$output" = "CTXVAR_OTEL=1" ]
}

@test "an outside reader decodes the process context: service name, instance id, schema version, key map" {
    start_threads_with_otel
    run -0 python3 "$READER" "$(main_pid)"
    [ "${#lines[@]}" = 4 ]
    [ "${lines[0]}" = "service.name=unknown_service:otel_threads" ]
    [[ "${lines[1]}" =~ ^service\.instance\.id=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ "${lines[2]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
    # Keys in the order they first appeared: main's two at load, then the
    # threads' (which raced each other); never the private _secret.
    local map=${lines[3]#threadlocal.attribute_key_map=}
    [ "${map%%,*}" = request_id ]
    local rest=${map#request_id,}
    [ "${rest%%,*}" = user_id ]
    [ "$(tr , '\n' <<<"${rest#user_id,}" | LC_ALL=C sort | paste -sd,)" = \
      "a_big,b_big,c_big,d_after,job,tenant" ]
}

@test "OTEL_SERVICE_NAME names the service in the process context" {
    start_program env OTEL_SERVICE_NAME=checkout "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=checkout" ]
}

@test "with no OTEL_SERVICE_NAME, service.name in OTEL_RESOURCE_ATTRIBUTES names the service, percent-decoded" {
    start_program env OTEL_RESOURCE_ATTRIBUTES='deployment.environment=prod, service.name = pay%20ments ,k=v' \
        "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=pay ments" ]
}

@test "OTEL_RESOURCE_ATTRIBUTES: keys are percent-decoded too, and a value with an error is discarded whole" {
    local attributes expected
    for attributes in 'service%2Ename=encoded-key' 'service.name=bad%zz' 'service.name=bad%' \
                      'k,service.name=x' 'service.name=%00'; do
        start_program env OTEL_RESOURCE_ATTRIBUTES="$attributes" "$CTXRUN" --otel -- "$PROG"
        run -0 python3 "$READER" "$(main_pid)"
        expected=unknown_service:otel_threads
        [ "$attributes" = 'service%2Ename=encoded-key' ] && expected=encoded-key
        [ "${lines[0]}" = "service.name=$expected" ] || { echo "$attributes: ${lines[0]}" >&2; false; }
        kill "${PIDS[-1]}"
    done
}

@test "the other attributes OTEL_RESOURCE_ATTRIBUTES gives are resource attributes too, with its service.instance.id, the last of a key winning" {
    start_program env OTEL_SERVICE_NAME=checkout \
        OTEL_RESOURCE_ATTRIBUTES='service.instance.id=fixed-id,service.version=1.2, deployment.environment.name = prod,k=1,euro=%E2%82%AC,bad=%FF,k=2' \
        "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=checkout" ]
    [ "${lines[1]}" = "service.instance.id=fixed-id" ]
    [ "${lines[2]}" = "service.version=1.2" ]
    [ "${lines[3]}" = "deployment.environment.name=prod" ]
    [ "${lines[4]}" = "euro=€" ]
    [ "${lines[5]}" = "bad=$(printf '\357\277\275')" ]
    [ "${lines[6]}" = "k=2" ]
    [ "${lines[7]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
    # 64 keys at most; a key given again replaces its pair even then, and
    # takes the last place; values are cut on a character boundary.
    local many="a=1,a=2," euros="" i
    for i in $(seq 0 69); do many+="k$i=v,"; done
    for i in $(seq 300); do euros+="%E2%82%AC"; done
    start_program env OTEL_RESOURCE_ATTRIBUTES="${many}a=3,e=$euros" "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[2]}" = "k0=v" ]
    [ "${lines[64]}" = "k62=v" ]
    [ "${lines[65]}" = "a=3" ]
    [ "${lines[66]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
    # A key given again whose last pair cannot fit is left out whole: its
    # earlier value, which the service no longer reports, is not shown.
    local full="a=1," long
    long=$(printf 'x%.0s' $(seq 500))
    for i in $(seq 0 7); do full+="b$i=$long,"; done
    start_program env OTEL_RESOURCE_ATTRIBUTES="${full}a=$long" "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[2]}" = "b0=$long" ]
    [ "${lines[9]}" = "b7=$long" ]
    [ "${lines[10]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
    start_program env OTEL_RESOURCE_ATTRIBUTES="e=$euros" "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[2]}" = "e=$(for i in $(seq 170); do printf '€'; done)" ]
    # An error anywhere discards the variable whole, as the SDKs do.
    start_program env OTEL_RESOURCE_ATTRIBUTES='service.version=1.2,bad=%zz' "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=unknown_service:otel_threads" ]
    [[ "${lines[1]}" == service.instance.id=*-4* ]]
    [ "${lines[2]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
}

@test "a forked child gets an instance id of its own, also where OTEL_RESOURCE_ATTRIBUTES gives one" {
    start_program env OTEL_RESOURCE_ATTRIBUTES='service.instance.id=fixed-id,service.version=1.2' \
        "$CTXRUN" --otel -- "$PROG" fork
    run -0 python3 "$READER" "$(tid_of parent)"
    [ "${lines[1]}" = "service.instance.id=fixed-id" ]
    run -0 python3 "$READER" "$(tid_of child)"
    [[ "${lines[1]}" =~ ^service\.instance\.id=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ "${lines[2]}" = "service.version=1.2" ]
}

@test "OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES" {
    start_program env OTEL_SERVICE_NAME=checkout OTEL_RESOURCE_ATTRIBUTES=service.name=other \
        "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=checkout" ]
}

@test "a service name that is not UTF-8 is published with U+FFFD, which a strict protobuf reader takes" {
    start_program env OTEL_SERVICE_NAME=$'svc\xff' "$CTXRUN" --otel -- "$PROG"
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[0]}" = "service.name=svc$(printf '\357\277\275')" ]
}

@test "an outside reader finds each stopped thread's trace id, span id, flags and attributes" {
    start_threads_with_otel
    run -0 python3 "$READER" --threads "$(main_pid)"
    output=$(printf '%s\n' "${lines[@]:4}" | with_labels | LC_ALL=C sort)
    expect_output <<EOF
thread empty: none
thread gone: $MAIN_IDS request_id=r0 user_id=alice
thread long: $MAIN_IDS a_big=$(xs 255) b_big=$(xs 255) c_big=$(xs 96)
thread main: $MAIN_IDS request_id=r0 user_id=alice
thread run: $MAIN_IDS request_id=r0 tenant=acme$(printf '\357\277\275') user_id=alice
thread set: $SET_IDS request_id=r1 user_id=alice
thread task: $MAIN_IDS job=j7 request_id=r0 user_id=alice
EOF
}

# gdb_bytes HEX...: the bytes as gdb's print/x shows an array of them.
gdb_bytes() {
    local hex=$* out="" i
    hex=${hex// /}
    for ((i = 0; i < ${#hex}; i += 2)); do out+="${out:+, }0x$(printf '%x' "0x${hex:i:2}")"; done
    printf '{%s}' "$out"
}

@test "gdb prints each thread's record: trace id, span id, flags and key-indexed attributes" {
    start_threads_with_otel
    # What a reader without our debug information can do: the symbol's
    # address in each thread's TLS, the pointer there, the bytes it points at.
    cat >"$BATS_TEST_TMPDIR/record.gdb" <<'EOF'
set print repeats unlimited
set print elements unlimited
define otel_record
  set $r = *(unsigned char **)&otel_thread_ctx_v1
  if $r == 0
    printf "none\n"
  else
    output/x *$r@28
    printf " "
    output/x *($r + 28)@(*(unsigned short *)($r + 26))
    printf "\n"
  end
end
thread apply all otel_record
EOF
    run -0 timeout 120 gdb -nx -batch -p "$(main_pid)" -x "$BATS_TEST_TMPDIR/record.gdb"
    local shown
    shown=$(awk '/^Thread [0-9]+ \(Thread 0x[0-9a-f]+ \(LWP [0-9]+\)/ {
                     match($0, /LWP [0-9]+/); tid = substr($0, RSTART + 4, RLENGTH - 4); next }
                 tid != "" && /^(none|\{)/ { print "thread " tid ": " $0; tid = "" }' <<<"$output" |
            with_labels | grep -E '^thread (main|set|empty|gone):' | LC_ALL=C sort)
    # request_id is key 0 and user_id key 1: main's record, at load, made them.
    local main_header set_header attrs_r0 attrs_r1
    main_header=$(gdb_bytes 0af7651916cd43dd8448eb211c80319c b7ad6b7169203331 01 01 0b00)
    set_header=$(gdb_bytes 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 01 00 0b00)
    attrs_r0=$(gdb_bytes 00 02 "$(printf r0 | od -An -tx1)" 01 05 "$(printf alice | od -An -tx1)")
    attrs_r1=$(gdb_bytes 00 02 "$(printf r1 | od -An -tx1)" 01 05 "$(printf alice | od -An -tx1)")
    output=$shown
    expect_output <<EOF
thread empty: none
thread gone: $main_header $attrs_r0
thread main: $main_header $attrs_r0
thread set: $set_header $attrs_r1
EOF
}

@test "the mapping is named only once its header is whole: a profiler reads it as the naming prctl returns" {
    # prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, address, size, name): the
    # address is the third argument, in %rdx at the system call's entry.
    cat >"$BATS_TEST_TMPDIR/order.gdb" <<'EOF'
set pagination off
set environment CTXVAR_OTEL=1
catch syscall prctl
condition 1 $rdi == 0x53564d41
run
printf "at the naming prctl: signature %s, time %s\n", (*(unsigned long long *)$rdx == 0x5854435f4c45544fULL) ? "OTEL_CTX" : "missing", (*(unsigned long long *)($rdx + 16) != 0) ? "set" : "0"
kill
quit
EOF
    run -0 timeout 120 gdb -nx -batch -ex "set environment LD_PRELOAD=$RUNTIME" \
        -x "$BATS_TEST_TMPDIR/order.gdb" "$B/examples/print_context"
    grep -qx "at the naming prctl: signature OTEL_CTX, time set" <<<"$output" || { echo "$output" >&2; false; }
}

@test "a record never uses a key index before the published key map holds it" {
    # gdb holds thread A inside the republication its new key started
    # (the first one, main's request_id at load, is let through), and runs
    # thread B alone: B sets the same variable.  B may wait for A (it does
    # now: gdb interrupts it after 3 s) but must not point at a record
    # whose entry has index 1 while the map is [request_id].  It did.
    cat >"$BATS_TEST_TMPDIR/race.gdb" <<'EOF'
set pagination off
set breakpoint pending on
set environment CTXVAR_OTEL=1
break ctxvar__otel_process_update
break b_done
ignore 1 1
run
set scheduler-locking on
thread 3
delete 1
python
import threading
threading.Timer(3.0, lambda: gdb.post_event(lambda: gdb.execute("interrupt"))).start()
end
continue
thread 3
set $r = *(unsigned char **)&otel_thread_ctx_v1
printf "B's attributes: "
output/x *($r + 28)@(*(unsigned short *)($r + 26))
printf "\n"
kill
quit
EOF
    run -0 timeout 120 gdb -nx -batch -ex "set environment LD_PRELOAD=$RUNTIME" \
        -x "$BATS_TEST_TMPDIR/race.gdb" "$PROGS/otel_key_race"
    # request_id=r0 alone: key 0, 2 bytes.
    grep -qx "B's attributes: {0x0, 0x2, 0x72, 0x30}" <<<"$output" || { echo "$output" >&2; false; }
}

@test "with CTXVAR_DEBUG=1 a cut record names the variables concerned, never a value" {
    start_program env CTXVAR_DEBUG=1 "$CTXRUN" --otel --set request_id=r0 --set user_id=alice -- "$PROG"
    grep -qx 'ctxvar: otel: a thread context record shows 0 of 6 variables whole; cut: a_big, b_big, c_big; left out: d_after, request_id, user_id' "$ERR" ||
        { cat "$ERR" >&2; false; }
    ! grep -Eq 'xxxx|alice|r0' "$ERR"
}

@test "a program with its own otel_thread_ctx_v1, in the executable or in a library it links, keeps its pointer, and the runtime publishes no process context" {
    local prog
    for prog in otel_sdk_writer otel_sdk_linked; do
        run -0 --separate-stderr env CTXVAR_DEBUG=1 "$CTXRUN" --otel -- "$PROGS/$prog"
        expect_output <<'EOF'
pointer after ctxvar_set: the program's
pointer in a new thread after ctxvar_set: the program's
OTEL_CTX mappings: 0
EOF
        # (ctxrun's own CTXVAR_DEBUG lines come first.)
        grep -qx "ctxvar: otel: another OpenTelemetry thread or process context writer is in the process; this runtime publishes none" <<<"$stderr"
    done
}

@test "a path holding OTEL_CTX (a program's directory) is no process context: the runtime still publishes" {
    mkdir -p "$BATS_TEST_TMPDIR/OTEL_CTX_tools"
    cp "$(command -v grep)" "$BATS_TEST_TMPDIR/OTEL_CTX_tools/grep"
    CTXVAR_OTEL=1 run -0 --separate-stderr preloaded "$BATS_TEST_TMPDIR/OTEL_CTX_tools/grep" -c \
        '/memfd:OTEL_CTX\|\[anon:OTEL_CTX\]' /proc/self/maps
    [ "$output" = 1 ]
}

@test "a process context published before the runtime's start-up is the only one: the runtime publishes none" {
    # Constructors run in reverse load order: the second library first.
    LD_PRELOAD="$RUNTIME:$PROGS/otel_other_context.so" CTXVAR_OTEL=1 CTXVAR_DEBUG=1 \
        run -0 --separate-stderr grep -c OTEL_CTX /proc/self/maps
    [ "$output" = 1 ]
    [ "$stderr" = "ctxvar: otel: another OpenTelemetry thread or process context writer is in the process; this runtime publishes none" ]
    CTXVAR_OTEL=1 run -0 --separate-stderr preloaded grep -c OTEL_CTX /proc/self/maps
    [ "$output" = 1 ]
}

@test "without CTXVAR_OTEL there is no mapping and every thread's pointer stays NULL" {
    start_program "$CTXRUN" --set request_id=r0 --traceparent "$TP_MAIN" -- "$PROG"
    ! grep -q OTEL_CTX "/proc/$(main_pid)/maps"
    run -1 --separate-stderr python3 "$READER" "$(main_pid)"
    [ "$stderr" = "otel_reader: process $(main_pid) has no OTEL_CTX mapping" ]
    run -0 timeout 120 gdb -nx -batch -p "$(main_pid)" \
        -ex 'thread apply all -c print/x *(unsigned long *)&otel_thread_ctx_v1'
    [ "$(grep -Ec '^\$[0-9]+ = 0x0$' <<<"$output")" = 7 ] || { echo "$output" >&2; false; }
    ! grep -Eq '^\$[0-9]+ = 0x[1-9a-f]' <<<"$output"
}

@test "a forked child publishes its own process context, and the parent's mapping is not in it" {
    start_program "$CTXRUN" --otel -- "$PROG" fork
    local parent child
    parent=$(tid_of parent)
    child=$(tid_of child)
    [ "$(grep -c OTEL_CTX "/proc/$parent/maps")" = 1 ]
    [ "$(grep -c OTEL_CTX "/proc/$child/maps")" = 1 ]
    # Different memfds: the child's mapping is a new one, not the parent's.
    [ "$(awk '/OTEL_CTX/ { print $5 }' "/proc/$parent/maps")" != \
      "$(awk '/OTEL_CTX/ { print $5 }' "/proc/$child/maps")" ]
    run -0 python3 "$READER" "$parent"
    local parent_lines=("${lines[@]}")
    run -0 python3 "$READER" "$child"
    [ "${lines[0]}" = "service.name=unknown_service:otel_threads" ]
    [ "${lines[2]}" = "threadlocal.schema_version=tlsdesc_v1_dev" ]
    [[ "${lines[1]}" == service.instance.id=* ]]
    [ "${lines[1]}" != "${parent_lines[1]}" ]
}

@test "a child of the fork system call made directly, which runs no fork handler, publishes its own process context at its first new variable" {
    start_program "$CTXRUN" --otel -- "$PROG" rawfork
    local parent child
    parent=$(tid_of parent)
    child=$(tid_of child)
    # Alive: the child wrote nothing to the parent's mapping, not mapped in it.
    kill -0 "$child"
    [ "$(grep -c OTEL_CTX "/proc/$child/maps")" = 1 ]
    [ "$(awk '/OTEL_CTX/ { print $5 }' "/proc/$parent/maps")" != \
      "$(awk '/OTEL_CTX/ { print $5 }' "/proc/$child/maps")" ]
    run -0 python3 "$READER" "$parent"
    local parent_lines=("${lines[@]}")
    run -0 python3 "$READER" --threads "$child"
    [ "${lines[0]}" = "service.name=unknown_service:otel_threads" ]
    [ "${lines[1]}" != "${parent_lines[1]}" ]
    [ "${lines[3]}" = "threadlocal.attribute_key_map=child_key" ]
    [ "${lines[4]}" = "thread $child: child_key=new" ]
}

@test "a process whose sandbox refuses getpid keeps its one process context as its key map grows" {
    # A forked child is told by a page the kernel zeroes in children, not by
    # its process id: getpid answering -1 made the runtime take the process
    # for a child of itself and publish a second mapping.
    start_program "$CTXRUN" --otel -- "$PROG" getpid
    [ "$(head -1 "$OUT")" = "mappings: 1" ]
    run -0 python3 "$READER" "$(main_pid)"
    [ "${lines[3]}" = "threadlocal.attribute_key_map=after_filter" ]
}

@test "OpenMP team threads stopped inside a region show the region's context, not what they inherited" {
    start_program "$CTXRUN" --otel -- "$PROGS/otel_omp"
    local script="" n tid
    while read -r _ n tid; do script+="s/^thread $tid:/thread team$n:/;"; done < <(grep '^team ' "$OUT")
    run -0 python3 "$READER" --threads "$(awk '$1 == "team" && $2 == 0 { print $3 }' "$OUT")"
    output=$(printf '%s\n' "${lines[@]:4}" | sed "$script" | LC_ALL=C sort)
    expect_output <<'EOF2'
thread team0: request_id=B
thread team1: request_id=B
thread team2: request_id=B
thread team3: request_id=B
EOF2
}

# glib_threads_read: starts loops_glib's "own" scenario under ctxrun --otel
# (with the environment given as arguments) and reads every thread, each
# named by its label; GLib's other pool threads read as "other".  The
# program's thread started at g_usleep with a number for argument (no
# GThread to read) must have been joined.
glib_threads_read() {
    [ -x "$PROGS/loops_glib" ] || skip "loops_glib not built (GLib's development files missing)"
    start_program env "$@" "$CTXRUN" --otel -- "$PROGS/loops_glib" own
    grep -qx 'g_usleep as a start routine: joined' "$OUT"
    run -0 python3 "$READER" --threads "$(main_pid)"
    output=$(printf '%s\n' "${lines[@]:4}" | with_labels main gmain gdbus pool mine loop |
        sed 's/^thread [0-9]*:/thread other:/' | LC_ALL=C sort -u)
}

@test "threads GLib starts for itself (its worker gmain, GDBus's gdbus, pool threads) start with no context; g_thread_new of the program's function, or of g_main_loop_run, inherits" {
    glib_threads_read
    expect_output <<'EOF'
thread gdbus: none
thread gmain: none
thread loop: request_id=own
thread main: request_id=own
thread mine: request_id=own
thread other: none
thread pool: none
EOF
}

@test "under CTXVAR_LOOPS=0 GLib's own threads inherit, as every thread does" {
    glib_threads_read CTXVAR_LOOPS=0
    expect_output <<'EOF'
thread gdbus: request_id=own
thread gmain: request_id=own
thread loop: request_id=own
thread main: request_id=own
thread mine: request_id=own
thread other: request_id=own
thread pool: request_id=own
EOF
}
