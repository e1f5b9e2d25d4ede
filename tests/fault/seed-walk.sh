#!/usr/bin/env bash
# seed-walk.sh BUILD: walks every allocation the runtime makes while seeding
# the main thread from BAGGAGE at load, failing each in turn (the seeding
# scenario of tests/fault/driver.c, which cannot arm itself before main).
# For each n the main thread must start with the whole BAGGAGE or, when the
# nth allocation was reached, with nothing; no context may be left alive,
# and nothing may appear on stdout or stderr but the report.
# Prints "seed: N faults injected, every one handled"; exit status 1 and a
# description on stderr for each mishandled fault.
set -u
build=$(cd "${1:-build}" && pwd)
driver="$build/reliability/fault_driver"
preload="$build/fault/libctxvar.so:$build/reliability/libarm_at_load.so"
# 24 members: percent-encoded values, a property, optional whitespace, an
# empty value, a repeated key and two malformed members (skipped).
baggage='a=1,b=%20two%20,c=x;prop=1, d = 4 ,e=,f=%C3%A9'
for i in $(seq 1 16); do baggage+=",m$i=value$i"; done
baggage+=',9bad=x,noequals,a=last'
full='a=last b=" two " c=x d=4 e="" f=é m1=value1 m10=value10 m11=value11 m12=value12 m13=value13 m14=value14 m15=value15 m16=value16 m2=value2 m3=value3 m4=value4 m5=value5 m6=value6 m7=value7 m8=value8 m9=value9'
mishandled=0 n=1
while :; do
    out=$(BAGGAGE=$baggage CTXVAR_TEST_FAIL_AT=$n LD_PRELOAD=$preload "$driver" seed-report 2>&1)
    made=$(sed -n 's/^allocations: //p' <<<"$out")
    if [ -z "$made" ]; then
        echo "seed, failing allocation $n: no report: $out" >&2
        exit 1
    fi
    if [ "$made" -ge "$n" ]; then want=''; else want=$full; fi
    expected="allocations: $made
main: $want
live after clearing: 0
inherit_failures: 0"
    if [ "$out" != "$expected" ]; then
        printf 'seed, failing allocation %s: expected\n%s\ngot\n%s\n' "$n" "$expected" "$out" >&2
        mishandled=$((mishandled + 1))
    fi
    [ "$made" -ge "$n" ] || break
    n=$((n + 1))
done
injected=$((n - 1))
if [ "$injected" -eq 0 ]; then
    echo "seed: no allocation was failed: is the arming library preloaded after the runtime?" >&2
    exit 1
fi
if [ "$mishandled" -eq 0 ]; then
    echo "seed: $injected faults injected, every one handled"
else
    echo "seed: $injected faults injected, $mishandled mishandled"
    exit 1
fi
