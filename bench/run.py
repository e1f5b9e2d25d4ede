#!/usr/bin/env python3
"""run.py - the driver of `make bench`: runs the programs of bench/, prints
one Markdown table and writes it to BUILD/bench.md.

    python3 bench/run.py --build build [--quick] [--profile]

Every figure is a median over repeats run after a warm-up, with its spread
(interquartile range, and min-max).  Where a figure has a baseline, the two
are run alternately (A B B A ...) and the ratio is taken per pair, then the
median of those ratios is reported: on a shared, noisy machine a ratio of
neighbours means much more than two absolute times.

Instruction counts come from valgrind --tool=callgrind, which counts the
user-space instructions every thread executes and does not drift with load:
N and 2N cycles are run with and without the runtime, and
((rt(2N) - rt(N)) - (plain(2N) - plain(N))) / N is what the runtime adds to
one cycle, with start-up cost cancelled.

A target that is missed is reported, never a failure; the exit status is
non-zero only when something could not be measured.  --profile also writes
a per-function differential profile of the thread cycle, and callgrind
profiles of the per-call figures, to BUILD/bench/profile/.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CouldNotRun(Exception):
    pass


# ---- running programs --------------------------------------------------------

def run(argv, preload=None, env_extra=None, timeout=300):
    """Runs argv; returns {metric: {round: value}} from its sample lines."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("BAGGAGE", None)
    env.pop("CTXVAR_INHERIT", None)
    env.pop("CTXVAR_OTEL", None)
    if preload:
        env["LD_PRELOAD"] = preload
    if env_extra:
        env.update(env_extra)
    try:
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CouldNotRun("%s: %s" % (" ".join(argv), e))
    if p.returncode != 0:
        raise CouldNotRun("%s exited %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    samples = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "sample":
            samples.setdefault(parts[1], {})[int(parts[2])] = float(parts[3])
    return samples


def merge(into, samples, round_offset=0):
    for metric, rounds in samples.items():
        for r, v in rounds.items():
            into.setdefault(metric, {})[r + round_offset] = v


# ---- statistics --------------------------------------------------------------

class Stat:
    """Median, quartiles and extremes of a list of values."""

    def __init__(self, values):
        self.values = sorted(values)
        if not self.values:
            raise CouldNotRun("no samples")
        self.median = statistics.median(self.values)
        if len(self.values) >= 4:
            q = statistics.quantiles(self.values, n=4, method="inclusive")
            self.q1, self.q3 = q[0], q[2]
        else:
            self.q1, self.q3 = self.values[0], self.values[-1]
        self.min, self.max = self.values[0], self.values[-1]

    def text(self, fmt, unit=""):
        f = lambda v: fmt.format(v)
        return "%s%s (IQR %s–%s; min–max %s–%s; n=%d)" % (
            f(self.median), unit, f(self.q1), f(self.q3), f(self.min), f(self.max),
            len(self.values))


def paired_ratios(samples, a, b):
    """Per-round ratio a/b of two metrics measured in the same rounds."""
    ra, rb = samples.get(a, {}), samples.get(b, {})
    return [ra[r] / rb[r] for r in sorted(ra) if r in rb and rb[r] > 0]


def paired_differences(samples, a, b):
    ra, rb = samples.get(a, {}), samples.get(b, {})
    return [ra[r] - rb[r] for r in sorted(ra) if r in rb]


def verdict(value, target, at_most, good_quartile=None, close_within=0.10):
    """met / close / NOT met.  Close: the median misses, but by at most
    close_within of the target, or its better quartile meets the target."""
    meets = (lambda v: v <= target) if at_most else (lambda v: v >= target)
    if meets(value):
        return "met"
    if good_quartile is not None and meets(good_quartile):
        return "close"
    if abs(value - target) <= close_within * abs(target):
        return "close"
    return "**NOT met**"


def stat_verdict(st, target, at_most, close_within=0.10):
    return verdict(st.median, target, at_most, st.q1 if at_most else st.q3, close_within)


# ---- the machine ---------------------------------------------------------------

def first_line(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    except OSError:
        return "unknown"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = "unknown"
    cc = os.environ.get("CC") or "cc"
    commit = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "lib", "shim"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "cc": first_line([cc, "--version"]),
        "glibc": glibc,
        "python": platform.python_version(),
        "valgrind": first_line(["valgrind", "--version"]) if shutil.which("valgrind") else "absent",
        "commit": commit + (" with uncommitted changes in lib/ or shim/" if dirty.strip() else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---- the figures -------------------------------------------------------------------

def cycle_wall(build, runtime, nvars, pairs, cycles, samples_per_run):
    """Per-pair ratio of the median ns per cycle with and without the runtime."""
    prog = os.path.join(build, "bench", "cycle")
    argv = [prog, str(nvars), "300", str(cycles), str(samples_per_run)]
    plain, preloaded, ratios = [], [], []
    for p in range(pairs):
        order = (None, runtime) if p % 2 == 0 else (runtime, None)
        got = {}
        for pre in order:
            s = run(argv, preload=pre)
            key = "cycle.runtime" if pre else "cycle.plain"
            if key not in s:
                raise CouldNotRun("cycle: the runtime was %s" % ("not bound" if pre else "bound"))
            got[key] = statistics.median(s[key].values())
        plain.append(got["cycle.plain"])
        preloaded.append(got["cycle.runtime"])
        ratios.append(got["cycle.runtime"] / got["cycle.plain"])
    return Stat(plain), Stat(preloaded), Stat(ratios)


def rotated_wall_lists(argv, variants, pairs):
    """Per-round medians (lists, in round order) of runs of argv under each
    of VARIANTS, [(preload, metric)], one run of each per round.  Odd
    rounds run the even round's order backwards, and each pair of rounds
    starts one variant further on: two variants alternate, and three take
    all six orders in six rounds, so that none always runs before another."""
    lists = [[] for _ in variants]
    n = len(variants)
    for p in range(pairs):
        order = [(i + p // 2) % n for i in range(n)]
        if p % 2:
            order.reverse()
        for v in order:
            pre, key = variants[v]
            s = run(argv, preload=pre)
            if key not in s:
                raise CouldNotRun("%s: no %s samples" % (os.path.basename(argv[0]), key))
            lists[v].append(statistics.median(s[key].values()))
    return lists


def wall_lists_with_floor(argv, runtime, floor, metric, pairs, figure, progress):
    """Per-round medians of METRIC without the runtime and with it, and,
    when the bare carrier FLOOR (bench/floor*.c, preloaded instead of the
    runtime) was built, with it in the same rounds: (plain, runtime, floor
    or None)."""
    with_floor = floor is not None and os.path.exists(floor)
    progress("%s, %d alternating %s" % (figure, pairs, "triples" if with_floor else "pairs"))
    variants = [(None, metric + ".plain"), (runtime, metric + ".runtime")]
    if with_floor:
        variants.append((floor, metric + ".plain"))
    lists = rotated_wall_lists(argv, variants, pairs)
    return lists[0], lists[1], lists[2] if with_floor else None


def paired_wall_lists(argv, runtime, metric, pairs):
    """Per-pair medians of METRIC.plain and METRIC.runtime (lists, in pair
    order) from runs of argv without and with the runtime, alternately."""
    return rotated_wall_lists(argv, [(None, metric + ".plain"), (runtime, metric + ".runtime")],
                              pairs)


def paired_wall(argv, runtime, metric, pairs):
    """cycle_wall for any program printing METRIC.plain / METRIC.runtime samples."""
    plain, preloaded = paired_wall_lists(argv, runtime, metric, pairs)
    ratios = [b / a for a, b in zip(plain, preloaded)]
    return Stat(plain), Stat(preloaded), Stat(ratios)


def callgrind_total(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise CouldNotRun("no totals in " + out_file)


def callgrind_per_unit(configs, argv_for, sizes, units=lambda n: n, timeout=300):
    """Instructions per unit of work in each configuration ({key: (preload,
    env_extra)}): callgrind's totals of argv_for(n) for the two sizes n,
    differenced, so that start-up and exit cancel out, over the difference
    in units(n), how many units argv_for(n) runs in all (its warm-up
    included).  CouldNotRun without valgrind."""
    if not shutil.which("valgrind"):
        raise CouldNotRun("valgrind is not installed")
    small, large = sizes
    totals = {}
    with tempfile.TemporaryDirectory(prefix="ctxvar-bench-") as tmp:
        for i, (key, (preload, env)) in enumerate(configs.items()):
            for n in sizes:
                out = os.path.join(tmp, "callgrind.%d.%d" % (i, n))
                run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv_for(n),
                    preload=preload, env_extra=env, timeout=timeout)
                totals[key, n] = callgrind_total(out)
    return {key: (totals[key, large] - totals[key, small]) / float(units(large) - units(small))
            for key in configs}


def callgrind_cycle(build, runtime, nvars, n, tmp, keep=False):
    """Instructions the runtime adds per cycle; the four callgrind files."""
    prog = os.path.join(build, "bench", "cycle")
    totals, files = {}, {}
    for pre in (None, runtime):
        for count in (n, 2 * n):
            out = os.path.join(tmp, "cycle.%d.%s.%d.cg" % (nvars, "rt" if pre else "plain", count))
            run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                 prog, str(nvars), "0", str(count), "1"], preload=pre, timeout=600)
            totals[(bool(pre), count)] = callgrind_total(out)
            files[(bool(pre), count)] = out
    plain = (totals[(False, 2 * n)] - totals[(False, n)]) / n
    added = (totals[(True, 2 * n)] - totals[(True, n)]) / n - plain
    return added, plain, files


def function_costs(cg_file):
    """Exclusive instructions per function, from callgrind_annotate."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--inclusive=no", "--threshold=100",
                          cg_file], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r"^\S*?([^/\s]+):(?=\S)", r"\1:", m.group(2))
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def differential_profile(files, n):
    """Per-function instructions the runtime adds per cycle, largest first."""
    c = {k: function_costs(f) for k, f in files.items()}
    names = set().union(*[set(v) for v in c.values()])
    rows = []
    for name in names:
        g = lambda pre, count: c[(pre, count)].get(name, 0)
        per = ((g(True, 2 * n) - g(True, n)) - (g(False, 2 * n) - g(False, n))) / n
        if abs(per) >= 1:
            rows.append((per, name))
    rows.sort(reverse=True)
    return rows


def otel_paired(argv, runtime, metric, pairs):
    """The runtime with CTXVAR_OTEL=1 against itself without, alternately:
    medians of METRIC per run, and the per-pair ratio on/off."""
    off, on, ratios = [], [], []
    for p in range(pairs):
        got = {}
        for otel in ((False, True) if p % 2 == 0 else (True, False)):
            s = run(argv, preload=runtime, env_extra={"CTXVAR_OTEL": "1"} if otel else None)
            if metric not in s:
                raise CouldNotRun("%s: no %s samples" % (os.path.basename(argv[0]), metric))
            got[otel] = statistics.median(s[metric].values())
        off.append(got[False])
        on.append(got[True])
        ratios.append(got[True] / got[False])
    return Stat(off), Stat(on), Stat(ratios)


def otel_rows(build, runtime, quick, row, skipped, progress):
    """12. What CTXVAR_OTEL=1 (a record per context, the thread's pointer
    kept up to date) costs, against the same runtime with it off."""
    bench = os.path.join(build, "bench")
    pairs = 4 if quick else 10
    for num, figure, argv, metric, unit, fmt, target, limit in (
            ("12a", "`ctxvar_set`+`ctxvar_reset`, 10 variables",
             [os.path.join(bench, "micro"), "setreset", "5" if quick else "9"], "setreset.10",
             " ns", "{:.1f}", "ratio ≤ 2", 2.0),
            ("12b", "`ctxvar_set`+`ctxvar_reset`, 1 variable",
             [os.path.join(bench, "micro"), "setreset", "5" if quick else "9"], "setreset.1",
             " ns", "{:.1f}", "–", None),
            ("12c", "`pthread_create`+`pthread_join` cycle, 10-variable context",
             [os.path.join(bench, "cycle"), "10", "300", "1000", "5"], "cycle.runtime",
             " ns", "{:,.0f}", "ratio ≤ 1.05", 1.05)):
        try:
            progress("%s with CTXVAR_OTEL=1 and without, %d alternating pairs" % (figure, pairs))
            off, on, ratio = otel_paired(argv, runtime, metric, pairs)
            row(num, figure + ", CTXVAR_OTEL=1: the OpenTelemetry thread records",
                "same runtime, CTXVAR_OTEL unset: %s" % off.text(fmt, unit),
                on.text(fmt, unit), ratio.text("{:.3f}", "×"), target,
                stat_verdict(ratio, limit, True, close_within=0.01 if limit and limit < 1.5
                             else 0.10) if limit else "(reported)")
        except CouldNotRun as e:
            skipped(num, figure + ", CTXVAR_OTEL=1", "CTXVAR_OTEL unset", target, str(e))
    # The cycle's wall time moves by more than 5% between neighbouring runs on
    # a busy machine; what the records add to it is counted here instead.
    try:
        n = 250
        progress("thread cycle with CTXVAR_OTEL=1 and without, callgrind %d and %d cycles"
                 % (n, 2 * n))
        per = callgrind_per_unit(
            {False: (runtime, None), True: (runtime, {"CTXVAR_OTEL": "1"})},
            lambda count: [os.path.join(bench, "cycle"), "10", "0", str(count), "1"],
            (n, 2 * n), timeout=600)
        off, on = per[False], per[True]
        row("12d", "`pthread_create`+`pthread_join` cycle, 10-variable context, "
            "CTXVAR_OTEL=1: user-space instructions per cycle (callgrind)",
            "same runtime, CTXVAR_OTEL unset: %s" % format(round(off), ","),
            "%s (%+d)" % (format(round(on), ","), round(on - off)),
            "%.3f×" % (on / off), "ratio ≤ 1.05", verdict(on / off, 1.05, True))
    except CouldNotRun as e:
        skipped("12d", "create+join cycle, CTXVAR_OTEL=1: instructions", "CTXVAR_OTEL unset",
                "ratio ≤ 1.05", str(e))


# ---- the table ---------------------------------------------------------------------

def fmt_ns(v):
    return "{:.1f}".format(v)


# ---- sections that are functions (so that --only can run one alone) ---------

def http_section(build, runtime, quick, row, skipped, progress):
    """11. What CTXVAR_HTTP=1 adds to curl_easy_perform (bench/http.c): the
    same binary with the runtime and a 10-variable context, headers on and
    off (and the program setting the same headers itself), in rotating
    order; the difference is taken per round."""
    prog = os.path.join(build, "bench", "http")
    rounds = 10 if quick else 40
    figure = ("added time per `curl_easy_perform` (GET to 127.0.0.1, keep-alive), "
              "10 variables and a traceparent: `CTXVAR_HTTP=1` against off")
    modes = (("on", {"CTXVAR_HTTP": "1"}), ("off", {"CTXVAR_HTTP": "0"}),
             ("own", {"CTXVAR_HTTP": "0", "BENCH_HTTP_OWN": "1"}))
    try:
        progress("%s, %d rounds" % (figure, rounds))
        per = {m: [] for m, _ in modes}
        added, headers_alone = [], []
        for r in range(rounds):
            got = {}
            for m, env in modes[r % 3:] + modes[:r % 3]:
                s = run([prog, "9", "300"], preload=runtime, env_extra=env)
                key = "perform." + m
                if key not in s:
                    raise CouldNotRun("http: no %s samples" % key)
                got[m] = statistics.median(s[key].values())
                per[m].append(got[m])
            added.append(got["on"] - got["off"])
            headers_alone.append(got["own"] - got["off"])
        a, h = Stat(added), Stat(headers_alone)
        row("11", figure, "off: %s" % Stat(per["off"]).text("{:.2f}", " µs"),
            "on: %s" % Stat(per["on"]).text("{:.2f}", " µs"),
            "+" + a.text("{:.2f}", " µs") + "; the same three headers set by the program "
            "itself: +" + h.text("{:.2f}", " µs"),
            "≤ +2 µs", stat_verdict(a, 2.0, True))
    except CouldNotRun as e:
        skipped("11", figure, "off", "≤ +2 µs", str(e))
    # The wall figure is mostly the headers' own cost, paid the same when the
    # program sets them, and a loopback request's noise is larger than the
    # target; callgrind counts what the runtime itself does per transfer:
    # on against the program setting the same headers, by the difference of
    # two runs of 200 and 400 requests (each after as many to warm up).
    figure = ("instructions the runtime itself adds per `curl_easy_perform`, beyond the "
              "headers' own cost: `CTXVAR_HTTP=1` against the program setting the same "
              "headers (callgrind)")
    try:
        progress(figure)
        # bench/http.c performs n transfers to warm up, then the sample's n.
        per = callgrind_per_unit({m: (runtime, env) for m, env in modes},
                                 lambda n: [prog, "1", str(n)], (200, 400),
                                 units=lambda n: 2 * n)
        row("11b", figure, "off: %s; the program's own headers: %s" % (
            "{:,.0f}".format(per["off"]), "{:,.0f}".format(per["own"])),
            "on: {:,.0f}".format(per["on"]), "{:+,.0f}".format(per["on"] - per["own"]),
            "–", "–")
    except CouldNotRun as e:
        skipped("11b", figure, "–", "–", str(e))


def loops_section(build, runtime, quick, row, skipped, progress):
    """13. Event loops (bench/loops.c, built where libuv's and libevent's
    development files are installed): what the runtime adds per callback,
    against the same binary without it; and the bindings of a program that
    uses neither library."""
    bench = os.path.join(build, "bench")
    prog = os.path.join(bench, "loops")
    # The least a libuv context carrier can do (bench/floor.c), run in the
    # same rounds: where the floor of the libuv rows lies on this machine.
    floor = os.path.join(bench, "floor.so")
    if not os.path.exists(prog):
        skipped("13", "event-loop callbacks", "no runtime", "≤ +60 ns per callback",
                "bench/loops was not built (libuv1-dev, libevent-dev)")
    else:
        pairs = 4 if quick else 12
        # The per-callback target is for one callback; a timer's whole life
        # (start, callback, close) is judged by its ratio alone, whose
        # run-to-run spread (a million timers do not fit any cache) takes
        # twice the pairs to pin down.
        for num, figure, mode, count, target_ns, target_ratio in (
                ("13a", "1,000,000 libuv timer callbacks, each restarting its timer "
                 "(`uv_timer_start` 0 ms) in a 10-variable context: per callback",
                 "uvtimer", "1000000", 60, 1.05),
                ("13a", "a loop running 1,000,000 timers, each initialised, started (0 ms) "
                 "once in a 10-variable context, its empty callback run, then closed: per "
                 "timer", "uvtimers", "1000000", None, 1.05),
                ("13b", "200,000 `uv_queue_work` jobs, 64 in flight, empty job and "
                 "after-work callback: per job", "uvwork", "200000", 60, None),
                # The same jobs with the process on one CPU: on two, the
                # scheduler's interleaving of the loop thread and four pool
                # threads moves the time of a job by more than the target
                # from one run to the next.
                ("13b", "the same jobs, the process on one CPU (`sched_setaffinity`): per job",
                 "uvwork1", "200000", 60, None),
                ("13c", "1,000,000 libevent timer callbacks, each re-adding its event "
                 "(`event_add` 0 s): per callback", "evtimer", "1000000", 60, None)):
            try:
                n_pairs = pairs * 2 if mode == "uvtimers" else pairs
                plain_l, pre_l, floor_l = wall_lists_with_floor(
                    [prog, mode, count, "3"], runtime, floor if mode.startswith("uv") else None,
                    mode, n_pairs, figure, progress)
                plain, pre = Stat(plain_l), Stat(pre_l)
                ratio = Stat([b / a for a, b in zip(plain_l, pre_l) if a > 0])
                added = Stat([b - a for a, b in zip(plain_l, pre_l)])
                row(num, figure + ": added", "same binary, no runtime: %s" % plain.text(
                    "{:,.1f}", " ns"), "%s (%s)" % (pre.text("{:,.1f}", " ns"),
                                                    added.text("{:+,.1f}", " ns")),
                    ratio.text("{:.3f}", "×"),
                    "≤ +%d ns" % target_ns if target_ns else "– (three calls)",
                    stat_verdict(added, target_ns, True) if target_ns else "–")
                if target_ratio:
                    row(num, figure + ": wall ratio", "same binary, no runtime",
                        pre.text("{:,.1f}", " ns"), ratio.text("{:.3f}", "×"),
                        "ratio ≤ %.2f" % target_ratio, stat_verdict(ratio, target_ratio, True))
                if floor_l is not None:
                    row(num, figure + ": the floor, a bare carrier (bench/floor.c) in the "
                        "same rounds", "same binary, no runtime",
                        "%s (%s)" % (Stat(floor_l).text("{:,.1f}", " ns"),
                                     Stat([b - a for a, b in zip(plain_l, floor_l)]).text(
                                         "{:+,.1f}", " ns")),
                        Stat([b / a for a, b in zip(plain_l, floor_l) if a > 0]).text(
                            "{:.3f}", "×"), "–", "–")
            except CouldNotRun as e:
                skipped(num, figure, "no runtime", "≤ +60 ns", str(e))
        loops_instructions(prog, runtime, row, skipped, progress)
    # A program that uses neither library binds none of their symbols: the
    # loader's own account of every binding it makes.
    try:
        progress("bindings of a program that uses no event loop")
        env = dict(os.environ, LD_PRELOAD=runtime, LD_DEBUG="bindings")
        p = subprocess.run([os.path.join(bench, "cycle"), "0", "10", "10", "1"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        total = len(re.findall(r"binding file", p.stderr))
        loop_bindings = len(re.findall(r"symbol `(uv|event|bufferevent)_", p.stderr))
        loaded = "libuv" in p.stderr or "libevent" in p.stderr
        row("13d", "a program that uses no event loop (bench/cycle): loop symbols bound, "
            "loop libraries loaded", "–", "%d of %d bindings; %s" % (
                loop_bindings, total, "loaded" if loaded else "none loaded"),
            "–", "0, none", "met" if loop_bindings == 0 and not loaded else "**NOT met**")
    except (OSError, subprocess.TimeoutExpired) as e:
        skipped("13d", "loop symbols bound", "–", "0", str(e))


def loops_instructions(prog, runtime, row, skipped, progress):
    """13a, counted: what the runtime adds to a timer's whole life in
    instructions (callgrind), free of the wall time's spread: the
    difference of runs of 20,000 and 40,000 timers, with and without it."""
    figure = ("the same loop, instructions per timer (callgrind: runs of 20,000 and "
              "40,000 timers, differenced, warm-ups counted)")
    try:
        progress(figure)
        # bench/loops.c runs n / 10 + 1 timers to warm up, then the round's n.
        per = callgrind_per_unit({False: (None, None), True: (runtime, None)},
                                 lambda n: [prog, "uvtimers", str(n), "1"], (20000, 40000),
                                 units=lambda n: n + n // 10 + 1)
        row("13a", figure, "libuv alone: {:,.0f}".format(per[False]),
            "{:,.0f}".format(per[True]), "{:+,.0f} ({:.2f}×)".format(
                per[True] - per[False], per[True] / per[False]), "–", "–")
    except CouldNotRun as e:
        skipped("13a", figure, "–", "–", str(e))


def glib_section(build, runtime, quick, row, skipped, progress):
    """14. What the runtime adds per GLib pool job and per idle callback
    (bench/glib.c, built where GLib's development files are installed): the
    same binary with and without it, alternately, in batches of 100."""
    bench = os.path.join(build, "bench")
    prog, pairs = os.path.join(bench, "glib"), 4 if quick else 12
    floor = os.path.join(bench, "floor_glib.so") # bench/floor_glib.c: the bare carrier
    for num, figure, prog_args, metric in (
            ("14a", "GLib `g_thread_pool_push` of an empty job to an exclusive 1-thread pool, "
             "10-variable context: per job", ["pool", "100000", "3"], "glibpool"),
            ("14b", "GLib `g_idle_add` of an empty callback, dispatched by the loop: per callback",
             ["idle", "100000", "3"], "idle")):
        try:
            plain_l, pre_l, floor_l = wall_lists_with_floor(
                [prog] + prog_args, runtime, floor, metric, pairs, figure, progress)
            added = Stat([b - a for a, b in zip(plain_l, pre_l)])
            plain, pre = Stat(plain_l), Stat(pre_l)
            row(num, figure + ": added cost", "same binary, no runtime: %s" % plain.text(
                "{:,.0f}", " ns"), pre.text("{:,.0f}", " ns"), added.text("{:+,.0f}", " ns"),
                "≤ +60 ns", stat_verdict(added, 60, True))
            if floor_l is not None:
                row(num, figure + ": the floor, a bare carrier (bench/floor_glib.c) in the "
                    "same rounds", "same binary, no runtime", Stat(floor_l).text(
                        "{:,.0f}", " ns"), Stat([b - a for a, b in zip(plain_l, floor_l)]).text(
                        "{:+,.0f}", " ns"), "–", "–")
        except CouldNotRun as e:
            skipped(num, figure, "no runtime", "≤ +60 ns", str(e))


SECTIONS = {"11": http_section, "12": otel_rows, "13": loops_section, "14": glib_section}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--profile", action="store_true",
                    help="also write callgrind profiles to BUILD/bench/profile/")
    ap.add_argument("--only", metavar="ROWS",
                    help="run only these sections (comma-separated numbers among: %s)"
                    % ", ".join(sorted(SECTIONS)))
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    runtime = os.path.join(build, "libctxvar.so")
    bench = os.path.join(build, "bench")
    quick = args.quick
    rows, notes, failures = [], [], []

    def row(num, figure, baseline, measured, ratio, target, result):
        rows.append((num, figure, baseline, measured, ratio, target, result))

    def skipped(num, figure, baseline, target, why):
        row(num, figure, baseline, "not measured: " + why, "–", target, "**could not run**")
        failures.append("%s %s: %s" % (num, figure, why))

    def progress(what):
        print("bench: " + what, file=sys.stderr, flush=True)

    info = machine()
    if args.only:
        for num in args.only.split(","):
            if num not in SECTIONS:
                raise CouldNotRun("no section %s (--only takes %s)" % (num, ", ".join(sorted(SECTIONS))))
            SECTIONS[num](build, runtime, quick, row, skipped, progress)
        return write_table(args, build, info, rows, notes, failures)
    tmp = tempfile.mkdtemp(prefix="ctxvar-bench-")
    profile_dir = os.path.join(bench, "profile")

    # 1, 2. Thread create+join cycle: wall ratio and added instructions.
    pairs = 6 if quick else 24
    have_valgrind = shutil.which("valgrind") is not None
    cg_n = 1000
    cg_runs = 3  # which hand-over path valgrind's scheduler runs moves one run's figure
    for (wall_num, cg_num), nvars in ((("1a", "1b"), 10), (("2a", "2b"), 0), (("2c", "2d"), 1000)):
        label = "`pthread_create`+`pthread_join` cycle, %s-variable context" % format(nvars, ",")
        try:
            progress("thread cycle, %d variables, %d alternating pairs" % (nvars, pairs))
            plain, pre, ratio = cycle_wall(build, runtime, nvars, pairs, 1000, 5)
            row(wall_num, label + ": wall time",
                "same binary, no runtime: %s" % plain.text("{:,.0f}", " ns"),
                "%s" % pre.text("{:,.0f}", " ns"),
                ratio.text("{:.3f}", "×"), "ratio ≤ 1.02",
                stat_verdict(ratio, 1.02, True, close_within=0.01))
        except CouldNotRun as e:
            skipped(wall_num, label + ": wall time", "no runtime", "ratio ≤ 1.02", str(e))
        if not have_valgrind:
            skipped(cg_num, label + ": instructions added", "no runtime",
                    "≤ 500 / cycle", "valgrind is not installed")
            continue
        try:
            progress("thread cycle, %d variables, callgrind %d and %d cycles, %d runs"
                     % (nvars, cg_n, 2 * cg_n, cg_runs))
            runs = [callgrind_cycle(build, runtime, nvars, cg_n, tmp) for _ in range(cg_runs)]
            runs.sort(key=lambda r: r[0])
            added, plain_ir, files = runs[len(runs) // 2]
            row(cg_num, label + ": user-space instructions the runtime adds (callgrind)",
                "glibc's own cycle: %s instructions" % format(round(plain_ir), ","),
                "%s instructions / cycle (median of %d runs, %s–%s; callgrind, %d vs %d cycles)"
                % (format(round(added), ","), cg_runs, format(round(runs[0][0]), ","),
                   format(round(runs[-1][0]), ","), 2 * cg_n, cg_n),
                "%.2f× glibc's instructions" % ((plain_ir + added) / plain_ir),
                "≤ 500 / cycle", verdict(added, 500, True))
            if args.profile or added > 500:
                prof = differential_profile(files, cg_n)
                os.makedirs(profile_dir, exist_ok=True)
                path = os.path.join(profile_dir, "cycle-%d.txt" % nvars)
                with open(path, "w") as f:
                    f.write("# instructions the runtime adds per create+join cycle, by function "
                            "(exclusive), %d-variable context\n" % nvars)
                    for per, name in prof:
                        f.write("%8.1f  %s\n" % (per, name))
                notes.append("Row %s: where the %s added instructions go, per cycle: %s (full "
                             "list: `%s`)." % (cg_num, format(round(added), ","), ", ".join(
                                 "%s %.0f" % (re.sub(r" \[.*", "", n).split(":")[-1], p)
                                 for p, n in prof[:6]), os.path.relpath(path, ROOT)))
        except CouldNotRun as e:
            skipped(cg_num, label + ": instructions added", "no runtime", "≤ 500 / cycle", str(e))

    # 3-6. Per-call costs, each against its baseline in the same process.
    calls = {}
    try:
        rounds = 9 if quick else 21
        progress("per-call figures, %d rounds" % rounds)
        calls = run([os.path.join(bench, "micro"), "calls", str(rounds)], preload=runtime)
    except CouldNotRun as e:
        failures.append("per-call figures: %s" % e)

    def have(*metrics):
        return all(m in calls for m in metrics)

    if have("get.ctxvar", "get.tls"):
        g, t = Stat(calls["get.ctxvar"].values()), Stat(calls["get.tls"].values())
        r = Stat(paired_ratios(calls, "get.ctxvar", "get.tls"))
        row("3", "`ctxvar_get`, 10-variable context",
            "non-inlined function returning a `__thread` value: %s" % t.text("{:.2f}", " ns"),
            g.text("{:.2f}", " ns"), r.text("{:.2f}", "×"), "≤ 3×", stat_verdict(r, 3, True))
    else:
        skipped("3", "`ctxvar_get`", "`__thread`", "≤ 3×", "micro did not run")

    if have("capture.ctxvar", "capture.atomic"):
        c, a = Stat(calls["capture.ctxvar"].values()), Stat(calls["capture.atomic"].values())
        r = Stat(paired_ratios(calls, "capture.ctxvar", "capture.atomic"))
        row("4", "`ctxvar_capture`+`ctxvar_release`",
            "atomic increment+decrement on a shared counter: %s" % a.text("{:.2f}", " ns"),
            c.text("{:.2f}", " ns"), r.text("{:.2f}", "×"), "≤ 3×", stat_verdict(r, 3, True))
    else:
        skipped("4", "`ctxvar_capture`+`ctxvar_release`", "atomic pair", "≤ 3×", "micro did not run")

    if have("setreset.8"):
        s8 = Stat(calls["setreset.8"].values())
        for n in (1, 8, 64, 1000):
            s = Stat(calls["setreset.%d" % n].values())
            if n == 8:
                row("5", "`ctxvar_set`+`ctxvar_reset`, 8 variables", "–",
                    s.text("{:.1f}", " ns"), "–", "≤ 100 ns", stat_verdict(s, 100, True))
            else:
                r = Stat(paired_ratios(calls, "setreset.%d" % n, "setreset.8"))
                target, result = "–", "(reported)"
                if n == 1000:
                    target, result = "growth 8 → 1,000 ≤ 3×", stat_verdict(r, 3, True)
                row("5", "`ctxvar_set`+`ctxvar_reset`, %s variable%s" % (format(n, ","),
                                                                      "" if n == 1 else "s"),
                    "itself at 8: %s" % fmt_ns(s8.median) + " ns",
                    s.text("{:.1f}", " ns"), r.text("{:.2f}", "× the 8-variable cost"),
                    target, result)
    else:
        skipped("5", "`ctxvar_set`+`ctxvar_reset`", "itself at 8", "≤ 100 ns", "micro did not run")

    if have("wrap.ctxvar", "wrap.direct"):
        w, d = Stat(calls["wrap.ctxvar"].values()), Stat(calls["wrap.direct"].values())
        added = Stat(paired_differences(calls, "wrap.ctxvar", "wrap.direct"))
        row("6", "`ctxvar_wrap`+`ctxvar_task_run`, 10-variable context",
            "calling the function directly: %s" % d.text("{:.2f}", " ns"),
            w.text("{:.1f}", " ns"), "added " + added.text("{:.1f}", " ns"), "added ≤ 100 ns",
            stat_verdict(added, 100, True))
    else:
        skipped("6", "`ctxvar_wrap`+`ctxvar_task_run`", "direct call", "added ≤ 100 ns",
                "micro did not run")

    # 7. CPython's contextvars.
    py = shutil.which("python3")
    if not py:
        for what in ("get", "set", "snapshot"):
            row("7", "%s vs CPython" % what, "CPython `contextvars`", "skipped: python3 is absent",
                "–", "≥ 5× faster", "skipped")
    else:
        try:
            # CPython's figures move between processes much more than within
            # one (set+reset took 131-239 ns in six processes here, each
            # steady), so the samples come from several processes.
            processes = 3 if quick else 7
            progress("CPython contextvars, %d processes" % processes)
            pys = {}
            for p in range(processes):
                merge(pys, run([py, os.path.join(ROOT, "bench", "python_contextvars.py"), "3"]),
                      round_offset=3 * p)
            pyver = first_line([py, "--version"])
            for what, ours, theirs, call in (
                    ("get", "get.ctxvar", "py.get", "`ContextVar.get`"),
                    ("set", "setreset.10", "py.setreset", "`ContextVar.set`+`reset`"),
                    ("snapshot", "capture.ctxvar", "py.copy", "`copy_context()`")):
                if ours not in calls:
                    skipped("7", what + " vs CPython", call, "≥ 5× faster", "micro did not run")
                    continue
                o, t = Stat(calls[ours].values()), Stat(pys[theirs].values())
                speedup = t.median / o.median
                row("7", "%s vs CPython (10-variable context; ours: `%s`)" % (what, ours),
                    "%s %s, %d processes: %s" % (pyver, call, processes,
                                                 t.text("{:.1f}", " ns")),
                    o.text("{:.1f}", " ns"),
                    "%.2f× faster (against CPython's quartiles: %.2f–%.2f×)" % (
                        speedup, t.q1 / o.median, t.q3 / o.median),
                    "≥ 5× faster", verdict(speedup, 5, False, t.q3 / o.median))
        except CouldNotRun as e:
            failures.append("CPython comparison: %s" % e)

    # 8. Memory of 10,000 threads alive at once.
    threads = 10000
    limits = []
    soft_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if soft_nproc != resource.RLIM_INFINITY:
        limits.append(soft_nproc)
    try:
        with open("/proc/sys/kernel/threads-max") as f:
            limits.append(int(f.read()))
    except OSError:
        pass
    if limits and min(limits) < threads + 200:
        threads = max(100, min(limits) - 200)
        notes.append("Row 8 ran %d threads, not 10,000: the thread limit (ulimit -u or "
                     "threads-max) is %d." % (threads, min(limits)))
    try:
        mem_pairs = 3 if quick else 5
        progress("%d threads alive, %d alternating pairs" % (threads, mem_pairs))
        heap, rss, heap_base, rss_base = [], [], [], []
        for p in range(mem_pairs):
            got = {}
            for pre in ((None, runtime) if p % 2 == 0 else (runtime, None)):
                merge(got, run([os.path.join(bench, "memory"), str(threads), "100", "64"],
                               preload=pre))
            if got["memory.runtime.inherited"][0] != threads:
                raise CouldNotRun("only %d of %d threads inherited the context"
                                  % (got["memory.runtime.inherited"][0], threads))
            heap.append((got["memory.runtime.heap"][0] - got["memory.plain.heap"][0]) / threads)
            rss.append((got["memory.runtime.rss"][0] - got["memory.plain.rss"][0]) / threads)
            heap_base.append(got["memory.plain.heap"][0] / threads)
            rss_base.append(got["memory.plain.rss"][0] / threads)
        h, r = Stat(heap), Stat(rss)
        worst = max(h.median, r.median)
        row("8", "%s threads alive at once (64 KiB stacks), each inheriting a 100-variable "
            "context: extra bytes per thread" % format(threads, ","),
            "same binary, no runtime: %s B heap, %s B RSS per thread"
            % (format(round(statistics.median(heap_base)), ","),
               format(round(statistics.median(rss_base)), ",")),
            "heap (mallinfo2): %s; RSS: %s" % (h.text("{:,.0f}", " B"), r.text("{:,.0f}", " B")),
            "–", "≤ 256 B / thread (the larger of the two)", verdict(worst, 256, True))
    except (CouldNotRun, KeyError) as e:
        skipped("8", "10,000 threads alive", "no runtime", "≤ 256 B / thread", str(e))

    # 9. Throughput with threads.
    try:
        rounds = 3 if quick else 7
        progress("throughput at 1, 2, 4, 8 threads, %d rounds" % rounds)
        sc = run([os.path.join(bench, "micro"), "scale", str(rounds), "150"], preload=runtime)
        one = Stat(sc["scale.1"].values())
        for t in (1, 2, 4, 8):
            s = Stat(sc["scale.%d" % t].values())
            figure = ("threads each doing get, set+reset, capture+release in a loop "
                      "(10-variable context): %d thread%s" % (t, "" if t == 1 else "s"))
            if t == 1:
                row("9", figure, "–", s.text("{:.2f}", " M iter/s"), "–", "–", "(reported)")
            elif t == 2:
                r = Stat(paired_ratios(sc, "scale.2", "scale.1"))
                row("9", figure, "1 thread: %.2f M iter/s" % one.median,
                    s.text("{:.2f}", " M iter/s"), r.text("{:.2f}", "× 1 thread"),
                    "≥ 1.6× 1 thread", stat_verdict(r, 1.6, False))
            elif t == 4:
                r = Stat(paired_ratios(sc, "scale.4", "scale.1"))
                row("9", figure, "1 thread", s.text("{:.2f}", " M iter/s"),
                    r.text("{:.2f}", "× 1 thread"), "–", "(reported)")
            else:
                r = Stat(paired_ratios(sc, "scale.8", "scale.2"))
                row("9", figure, "2 threads", s.text("{:.2f}", " M iter/s"),
                    r.text("{:.2f}", "× 2 threads"), "≥ 1.0× 2 threads",
                    stat_verdict(r, 1.0, False, close_within=0.05))
    except (CouldNotRun, KeyError) as e:
        skipped("9", "throughput with threads", "1 thread", "2 threads ≥ 1.6×", str(e))

    # 10. Starting a process, and a SIGEV_THREAD timer's life (bench/exec.c).
    prog, pairs = os.path.join(bench, "exec"), 2 if quick else 6
    for num, figure, prog_args, metric, unit in (
            ("10a", "`posix_spawn`+`waitpid` of /bin/true, 500-variable context",
             ["spawn", "500", "5", "100"], "spawn500", " µs"),
            ("10b", "`posix_spawn`+`waitpid` of /bin/true, 2,000-variable context",
             ["spawn", "2000", "5", "100"], "spawn2000", " µs"),
            ("10c", "40,000 `timer_create(SIGEV_THREAD)`+`timer_delete` pairs, 10-variable "
             "context: per pair", ["timers", "40000", "1"], "timers", " µs")):
        try:
            progress("%s, %d alternating pairs" % (figure, pairs))
            plain, pre, ratio = paired_wall([prog] + prog_args, runtime, metric, pairs)
            row(num, figure + ": wall time", "same binary, no runtime: %s" % plain.text(
                "{:,.1f}", unit), pre.text("{:,.1f}", unit), ratio.text("{:.3f}", "×"),
                "ratio ≤ 1.10", stat_verdict(ratio, 1.10, True))
        except CouldNotRun as e:
            skipped(num, figure, "no runtime", "ratio ≤ 1.10", str(e))

    for num in sorted(SECTIONS):
        SECTIONS[num](build, runtime, quick, row, skipped, progress)

    if args.profile:
        try:
            progress("callgrind profile of the per-call figures")
            os.makedirs(profile_dir, exist_ok=True)
            out = os.path.join(tmp, "micro.cg")
            run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                 os.path.join(bench, "micro"), "calls", "1"], preload=runtime, timeout=900)
            path = os.path.join(profile_dir, "calls.txt")
            with open(path, "w") as f:
                f.write(subprocess.run(["callgrind_annotate", "--inclusive=yes", out],
                                       stdout=subprocess.PIPE, text=True).stdout)
            notes.append("Per-call profile (callgrind, inclusive): `%s`."
                         % os.path.relpath(path, ROOT))
        except CouldNotRun as e:
            failures.append("profile: %s" % e)

    shutil.rmtree(tmp, ignore_errors=True)
    return write_table(args, build, info, rows, notes, failures)


def write_table(args, build, info, rows, notes, failures):
    """Prints the Markdown table and writes it to BUILD/bench.md; the exit
    status: 1 when something could not be measured."""
    counts = {"met": 0, "close": 0, "**NOT met**": 0}
    for r in rows:
        if r[6] in counts:
            counts[r[6]] += 1
    lines = [
        "## ctxvar benchmarks",
        "",
        "- Machine: %s, %s cores, %s, %s, glibc %s, Python %s, %s"
        % (info["cpu"], info["cores"], info["kernel"], info["cc"], info["glibc"].replace(
            "glibc ", ""), info["python"], info["valgrind"]),
        "- Date: %s; commit %s" % (info["date"], info["commit"]),
        "- Reproduce: `make bench` (writes `%s/bench.md`; `make bench BENCH_ARGS=--quick` for "
        "fewer repeats, `make bench-profile` for callgrind profiles)" % args.build,
        "- Method: medians over repeats after a warm-up; IQR and min–max give the spread. "
        "Ratios are taken per pair of neighbouring runs (A and B alternate) and their median "
        "is reported. Wall-time rows run the same binary with and without `LD_PRELOAD`; "
        "per-call rows compare batches of about 4 ms run back to back in one process. "
        "Verdict *close*: the median misses the target but its better quartile meets it "
        "(or, for a deterministic figure, it misses by at most 10%).",
        "- Targets: %d met, %d close, %d NOT met%s."
        % (counts["met"], counts["close"], counts["**NOT met**"],
           (", %d could not run" % len(failures)) if failures else ""),
        "",
        "| # | figure | baseline | measured | ratio (same run) | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    if notes or failures:
        lines.append("")
        for n in notes:
            lines.append("- " + n)
        for f in failures:
            lines.append("- Could not run: " + f)
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(build, "bench.md"), "w") as f:
        f.write(text)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CouldNotRun as e:
        print("bench: could not run: %s" % e, file=sys.stderr)
        sys.exit(1)
