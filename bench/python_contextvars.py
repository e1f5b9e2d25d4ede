"""CPython's contextvars on this machine, for the comparison row of make bench.

    python3 bench/python_contextvars.py REPEATS

Prints, in bench.h's format ("sample <metric> <round> <ns per op>"),
ContextVar.get, ContextVar.set + ContextVar.reset and copy_context, each in a
context of 10 variables like the C figures it is compared with.  Each timing
has the cost of timeit's own loop (an empty statement, timed in the same
round) subtracted, which makes CPython look faster, not slower.
"""
import contextvars
import sys
import timeit

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
VARS = [contextvars.ContextVar("bench_v%04d" % k) for k in range(10)]
for k, var in enumerate(VARS):
    var.set("value-%d" % k)

STATEMENTS = {
    "py.get": "v.get()",
    "py.setreset": "v.reset(v.set('value-a'))",
    "py.copy": "copy_context()",
    "py.empty": "pass",
}
NAMESPACE = {"v": VARS[9], "copy_context": contextvars.copy_context}


def per_op_ns(statement, number):
    return timeit.Timer(statement, globals=NAMESPACE).timeit(number) / number * 1e9


def main():
    number = 200000
    for statement in STATEMENTS.values():  # warm-up
        per_op_ns(statement, number // 4)
    for r in range(ROUNDS):
        empty = per_op_ns("pass", number)
        for metric, statement in STATEMENTS.items():
            if metric == "py.empty":
                print("sample %s %d %.4f" % (metric, r, empty))
                continue
            print("sample %s %d %.4f" % (metric, r, per_op_ns(statement, number) - empty))


if __name__ == "__main__":
    main()
