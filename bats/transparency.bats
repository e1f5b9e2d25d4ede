#!/usr/bin/env bats
# Transparency: a host program is never hurt.  Real threaded programs give
# the same stdout, stderr and exit status plainly and under ctxrun, and
# pthread_create returns what the real one returns.  The program never asked
# for the runtime, so the runtime must not abort, exit, write to stdout or
# change any call's result, attributes or errno; when it cannot do its part,
# the real call still happens and ctxvar_stats counts it
# (docs/interposing.md, "Snapshot in the parent before the real call" and
# "attr and return value untouched").

load helpers

# make_input FILE LINES: deterministic text (about 5 MB for 100000 lines),
# compressible but not trivially, in pseudo-random order (an LCG, so every
# run makes the same bytes).  The compressors below cut it into 1 MiB blocks
# so that both of their threads get work.
make_input() {
    awk -v n="$2" 'BEGIN {
        x = 12345
        for (i = 0; i < n; i++) {
            x = (x * 1103515245 + 12345) % 2147483648
            printf "%010d line %d of the generated input %x\n", x, i, x
        }
    }' >"$1"
}

@test "xz -T2 compresses and decompresses the same bytes under ctxrun" {
    command -v xz >/dev/null || skip "xz not installed"
    make_input "$BATS_TEST_TMPDIR/input" 100000
    cd "$BATS_TEST_TMPDIR"
    expect_transparent compress xz -T2 -6 --block-size=1MiB -c input
    cmp compress.plain.out compress.ctxrun.out
    expect_transparent decompress xz -T2 -dc compress.ctxrun.out
    cmp decompress.ctxrun.out input
}

@test "zstd -T2 compresses and decompresses the same bytes under ctxrun" {
    command -v zstd >/dev/null || skip "zstd not installed"
    make_input "$BATS_TEST_TMPDIR/input" 100000
    cd "$BATS_TEST_TMPDIR"
    expect_transparent compress zstd -T2 -B1MiB -q -c input
    expect_transparent decompress zstd -T2 -q -dc compress.ctxrun.out
    cmp decompress.ctxrun.out input
}

@test "sort --parallel=2 sorts the same under ctxrun" {
    make_input "$BATS_TEST_TMPDIR/input" 100000
    cd "$BATS_TEST_TMPDIR"
    expect_transparent sort env LC_ALL=C sort --parallel=2 -S 1M input
    LC_ALL=C sort input | cmp - sort.ctxrun.out
}

@test "python3 threading and ThreadPoolExecutor compute the same under ctxrun" {
    command -v python3 >/dev/null || skip "python3 not installed"
    cat >"$BATS_TEST_TMPDIR/work.py" <<'EOF'
import concurrent.futures, hashlib, sys, threading

def digest(n):
    return hashlib.sha256(str(n).encode() * 1000).hexdigest()[:12]

with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    print(" ".join(pool.map(digest, range(40))))

total = 0
lock = threading.Lock()
def add(k):
    global total
    for i in range(20000):
        with lock:
            total += i * k
threads = [threading.Thread(target=add, args=(k,)) for k in range(1, 5)]
for t in threads: t.start()
for t in threads: t.join()
print("total", total)
print("done", file=sys.stderr)
sys.exit(3)
EOF
    cd "$BATS_TEST_TMPDIR"
    run_recorded plain python3 work.py
    run_recorded ctxrun "$CTXRUN" --set request_id=1 -- python3 work.py
    expect_same_run plain ctxrun
    [ "$(cat plain.status)" = 3 ]
    [ "$(tail -n 1 plain.out)" = "total 1999900000" ]
    [ "$(cat plain.err)" = done ]
}

@test "a Java program with threads prints the same under ctxrun" {
    command -v javac >/dev/null || skip "javac not installed"
    command -v java >/dev/null || skip "java not installed"
    mkdir -p "$BATS_TEST_TMPDIR/java"
    cat >"$BATS_TEST_TMPDIR/java/Threads.java" <<'EOF'
import java.util.concurrent.*;
import java.util.*;

public class Threads {
    public static void main(String[] args) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Long>> parts = new ArrayList<>();
        for (int p = 0; p < 8; p++) {
            final long from = p * 100000L;
            parts.add(pool.submit(() -> {
                long sum = 0;
                for (long i = from; i < from + 100000L; i++) sum += i * i % 7919;
                return sum;
            }));
        }
        long total = 0;
        for (Future<Long> f : parts) total += f.get();
        pool.shutdown();
        Thread t = new Thread(() -> System.out.println("thread ran"));
        t.start();
        t.join();
        System.out.println("total " + total);
        System.exit(5);
    }
}
EOF
    cd "$BATS_TEST_TMPDIR/java"
    run -0 javac Threads.java
    run_recorded plain java -cp . Threads
    run_recorded ctxrun "$CTXRUN" --set request_id=1 -- java -cp . Threads
    expect_same_run plain ctxrun
    [ "$(cat "$BATS_TEST_TMPDIR/plain.status")" = 5 ]
    [ "$(head -n 1 "$BATS_TEST_TMPDIR/plain.out")" = "thread ran" ]
}

@test "pthread_create results, errno, thread results and attributes are the same with the runtime" {
    run -0 --separate-stderr "$PROGS/create_result"
    expect_output <<'EOF'
huge stack: EAGAIN
empty cpu set: EINVAL
errno after a failed call: EDOM
errno after a successful call: EDOM
return value: 4660
pthread_exit value: 22
detach state seen by the thread: detached
guard size seen by the thread: 65536
EOF
    local plain=$output
    BAGGAGE='request_id=1' run -0 --separate-stderr preloaded "$PROGS/create_result"
    [ "$output" = "$plain" ]
    expect_no_stderr
}

@test "a thread that unmaps the memory pthread_create stored its id in, before the call returns, does not crash the creator" {
    # The runtime used to read the id back from that memory after the call.
    run "$PROGS/own_id_freed"
    [ "$status" -ne 2 ] || skip "this process may not create SCHED_FIFO threads"
    [ "$status" -eq 0 ]
    [ "$output" = "100 threads ran" ]
    run -0 --separate-stderr preloaded "$PROGS/own_id_freed"
    [ "$output" = "100 threads ran" ]
    expect_no_stderr
}

@test "the runtime writes nothing to stdout even with CTXVAR_DEBUG=1" {
    run -0 --separate-stderr "$PROGS/create_result"
    local plain=$output
    BAGGAGE='request_id=1,9bad=x' CTXVAR_DEBUG=1 run -0 --separate-stderr preloaded "$PROGS/create_result"
    [ "$output" = "$plain" ]
}

@test "programs behave the same plainly and under ctxrun: create_result" {
    expect_transparent create_result "$PROGS/create_result"
}

# ---- More runtimes' threads, and a debugger --------------------------------

@test "node with worker_threads and libuv's fs and crypto pool prints the same under ctxrun" {
    command -v node >/dev/null || skip "node not installed"
    cat >"$BATS_TEST_TMPDIR/work.js" <<'EOF2'
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const fs = require('fs');
if (!isMainThread) {
    let h = 0;
    for (let i = 0; i < 200000; i++) h = (h * 31 + i * workerData) >>> 0;
    parentPort.postMessage(h);
} else {
    (async () => {
        const results = await Promise.all([1, 2, 3, 4].map(n => new Promise((ok, ko) => {
            const w = new Worker(__filename, { workerData: n });
            w.on('message', ok); w.on('error', ko);
        })));
        console.log('workers', results.join(' '));
        // libuv's thread pool: pbkdf2 and fs calls run on it.
        const keys = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(n => new Promise((ok, ko) =>
            crypto.pbkdf2('secret' + n, 'salt', 2000, 16, 'sha256',
                          (e, k) => e ? ko(e) : ok(k.toString('hex'))))));
        console.log('pbkdf2', keys.join(' '));
        const files = [];
        for (let i = 0; i < 16; i++) {
            const name = 'file' + i;
            await fs.promises.writeFile(name, 'x'.repeat(1000 * (i + 1)));
            files.push(fs.promises.readFile(name).then(b => b.length));
        }
        console.log('fs', (await Promise.all(files)).join(' '));
        console.error('done');
        process.exitCode = 4;
    })();
}
EOF2
    cd "$BATS_TEST_TMPDIR"
    run_recorded plain node work.js
    run_recorded ctxrun "$CTXRUN" --set request_id=1 -- node work.js
    expect_same_run plain ctxrun
    [ "$(cat plain.status)" = 4 ]
    [ "$(sed -n 's/^fs //p' plain.out)" = "1000 2000 3000 4000 5000 6000 7000 8000 9000 10000 11000 12000 13000 14000 15000 16000" ]
    [ "$(cat plain.err)" = done ]
}

@test "perl ithreads with a shared queue compute the same under ctxrun" {
    command -v perl >/dev/null || skip "perl not installed"
    perl -Mthreads -e 1 2>/dev/null || skip "this perl is built without ithreads"
    cat >"$BATS_TEST_TMPDIR/work.pl" <<'EOF2'
use strict; use warnings; use threads; use threads::shared; use Thread::Queue;
my $q = Thread::Queue->new(1 .. 200);
my $total :shared = 0;
my @workers = map { threads->create(sub {
    while (defined(my $n = $q->dequeue_nb)) { my $s = 0; $s += $_ * $n for 1 .. 500; lock($total); $total += $s; }
    return threads->tid;
}) } 1 .. 4;
my @tids = sort { $a <=> $b } map { $_->join } @workers;
print "tids @tids\ntotal $total\n";
print STDERR "done\n";
exit 6;
EOF2
    cd "$BATS_TEST_TMPDIR"
    run_recorded plain perl work.pl
    run_recorded ctxrun "$CTXRUN" --set request_id=1 -- perl work.pl
    expect_same_run plain ctxrun
    [ "$(cat plain.status)" = 6 ]
    [ "$(cat plain.out)" = "tids 1 2 3 4
total 2517525000" ]
}

@test "an OpenMP program built with gcc -fopenmp computes the same under ctxrun" {
    command -v gcc >/dev/null || skip "gcc not installed"
    cat >"$BATS_TEST_TMPDIR/omp.c" <<'EOF2'
#include <omp.h>
#include <stdio.h>
int main(void)
{
    long sum = 0, hist[4] = {0};
    #pragma omp parallel for reduction(+:sum) schedule(dynamic, 64) num_threads(4)
    for (long i = 0; i < 1000000; i++) sum += i % 977;
    #pragma omp parallel num_threads(4)
    {
        #pragma omp single
        for (int t = 0; t < 64; t++) {
            #pragma omp task
            { long v = 0; for (int i = 0; i < 1000; i++) v += i * t;
              #pragma omp atomic
              hist[t % 4] += v; }
        }
    }
    long sections = 0;
    #pragma omp parallel sections reduction(+:sections)
    {
        #pragma omp section
        sections += 1;
        #pragma omp section
        sections += 2;
    }
    printf("sum %ld\nhist %ld %ld %ld %ld\nsections %ld\n", sum, hist[0], hist[1], hist[2], hist[3], sections);
    fprintf(stderr, "done\n");
    return 9;
}
EOF2
    cd "$BATS_TEST_TMPDIR"
    gcc -O2 -fopenmp omp.c -o omp || skip "gcc cannot build OpenMP programs here"
    run_recorded plain ./omp
    run_recorded ctxrun "$CTXRUN" --set request_id=1 -- ./omp
    expect_same_run plain ctxrun
    [ "$(cat plain.status)" = 9 ]
    [ "$(cat plain.err)" = done ]
    [ "$(cat plain.out)" = "sum 487881504
hist 239760000 247752000 255744000 263736000
sections 3" ]
}

@test "gdb attaches to a preloaded running program, lists its threads, detaches, and the program finishes right" {
    command -v gdb >/dev/null || skip "gdb not installed"
    [ "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)" -le 1 ] ||
        skip "kernel.yama.ptrace_scope forbids attaching"
    cd "$BATS_TEST_TMPDIR"
    cat >attach.c <<'EOF2'
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "ctxvar.h"
/* Two threads wait for the file "release" (the test creates it after gdb
 * has attached and detached), then print their context. */
static void *worker(void *name) {
    char buf[128];
    for (int i = 0; i < 3000 && access("release", F_OK) != 0; i++) usleep(10000);
    ctxvar_format(buf, sizeof buf);
    printf("%s: %s\n", (const char *)name, buf);
    return NULL;
}
int main(void) {
    pthread_t t[2];
    ctxvar_set(ctxvar_named("job"), "7", NULL);
    pthread_create(&t[0], NULL, worker, "first");
    pthread_create(&t[1], NULL, worker, "second");
    FILE *f = fopen("ready", "w");
    fclose(f);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    printf("main: %s\n", ctxvar_get(ctxvar_named("request_id"), "-"));
    return 0;
}
EOF2
    gcc -std=gnu11 -Wall -Werror -I"$ROOT/lib" -pthread attach.c -o attach
    "$CTXRUN" --set request_id=1 -- ./attach >attach.out 2>attach.err &
    local pid=$!
    local i
    for i in $(seq 1 500); do [ -e ready ] && break; sleep 0.01; done
    [ -e ready ]
    grep -q "$RUNTIME" "/proc/$pid/maps"
    run -0 timeout 60 gdb -nx -batch -p "$pid" -ex 'info threads' -ex detach
    local gdb_output=$output
    touch release
    wait "$pid"
    [ "$(grep -Ec '^[* ] +[0-9]+ +Thread 0x' <<<"$gdb_output")" = 3 ] || { echo "$gdb_output" >&2; false; }
    grep -q "^\[Inferior 1 (process $pid) detached\]$" <<<"$gdb_output"
    [ "$(sort attach.out)" = "first: job=7 request_id=1
main: 1
second: job=7 request_id=1" ]
    [ ! -s attach.err ]
}
