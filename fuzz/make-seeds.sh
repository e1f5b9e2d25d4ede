#!/usr/bin/env bash
# Regenerates fuzz/corpus/<target>/ from the interop corpus (interop/corpus.json,
# through interop/otel.js: needs node and `npm ci --prefix interop`) and a
# few hand-written edge cases.  The committed seeds are this script's output;
# `make fuzz` never writes to them (it fuzzes a scratch copy).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
rm -rf "$out" && mkdir -p "$out/baggage_decode" "$out/traceparent" "$out/seed_env"
seed() { # TARGET: stdin becomes a seed of TARGET, named by its SHA-1 as libFuzzer names
    local tmp="$out/$1/.new"
    cat >"$tmp"
    mv "$tmp" "$out/$1/$(sha1sum <"$tmp" | cut -c1-40)"
}
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }

# Baggage: every corpus header, OpenTelemetry's encoding of every corpus
# context, and the headers where the two disagree.
while IFS=$'\t' read -r _ h _; do printf '%s' "$h" | unhex | seed baggage_decode
done < <(node interop/otel.js feed baggage; node interop/otel.js inject-baggage)
for h in 'k=' 'k=,j=1' 'a=x y,q="x",b=x\y,j=1' 'k=%00,j=1' 'k=%FF,c=%C3,j=1' \
         '1k=v,k%20x=v,k!=v,ключ=v,j=1' 'traceparent=x,tracestate=y,j=1' $'\vk=v,j=1\r' \
         '_private=1,k=v' 'k=%e2%82%ac;p=1;q, j = 2 ;r=s' 'k=%4' 'k=%' '%41=1' \
         'k=v;p=%zz' ',,,' '=' 'k==' 'a.b-c_d=%7E%25%2C'; do
    printf '%s' "$h" | seed baggage_decode
done

# traceparent: every corpus value and the disagreements.
t=4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7
while IFS=$'\t' read -r _ h; do printf '%s' "$h" | unhex | seed traceparent
done < <(node interop/otel.js feed traceparent)
for v in " 00-$t-01" "00-$t-01 " "01-$t-01-a"$'\n'"b" "00-$t-010" "02-$t-01-"; do
    printf '%s' "$v" | seed traceparent
done

# Seeding: flag byte (1 BAGGAGE, 2 TRACEPARENT, 4 TRACESTATE), then the
# values separated by NUL bytes.
env_seed() { printf "\\x$1%s\\0%s\\0%s" "$2" "$3" "$4" | seed seed_env; }
env_seed 07 'request_id=42,user_id=u7' "00-$t-01" 'congo=t61rcWkgMzE'
env_seed 07 'service=override' "00-$t-01" ''
env_seed 03 'k=%E2%82%AC;p=1' "01-$t-01-extra" ''
env_seed 06 '' "00-${t^^}-01" 'k=v'
env_seed 06 '' "ff-$t-01" 'k=v'
env_seed 05 'traceparent=x' '' 'k=v'
env_seed 01 ' , k = v ,' '' ''
env_seed 02 '' '' ''
env_seed 07 '' "00-$t-01" 'a=1,b=2'
# A valid later-version TRACEPARENT too long to bind (> 4096 bytes): today
# TRACESTATE is seeded without it (see fuzz/seed_env.c).
env_seed 06 '' "01-$t-01-$(head -c 4100 /dev/zero | tr '\0' a)" 'k=v'
for d in "$out"/*; do echo "$(ls "$d" | wc -l) seeds in $d"; done
