#!/usr/bin/env bats
# Transparency: a host program is never hurt.  Real threaded programs give
# the same stdout, stderr and exit status plainly and under ctxrun, and
# pthread_create returns what the real one returns (style.md 6; shim
# pitfalls 4 and 5).

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

@test "the runtime writes nothing to stdout even with CTXVAR_DEBUG=1" {
    run -0 --separate-stderr "$PROGS/create_result"
    local plain=$output
    BAGGAGE='request_id=1,9bad=x' CTXVAR_DEBUG=1 run -0 --separate-stderr preloaded "$PROGS/create_result"
    [ "$output" = "$plain" ]
}

@test "programs behave the same plainly and under ctxrun: create_result" {
    expect_transparent create_result "$PROGS/create_result"
}
