#!/usr/bin/env bats
# ctxvar.h must never break the build that includes it: a program calling
# every function of the API compiles warning-free, with warnings as errors,
# as C89 (with GNU's __inline__), C99, C11, C17 and C2x, and as C++98
# through C++20, under gcc, g++, clang and clang++, with the warnings strict
# projects turn on, and under TinyCC; and it then behaves the same whichever
# way it was compiled: degraded without the runtime, carried with it.

load helpers

PROGRAM="$ROOT/bats/programs/header_everywhere.c"

# What strict C and C++ projects ask for, beyond -Wall -Wextra.
STRICT=(-Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual
        -Wundef -Wredundant-decls -Wcast-align -Wwrite-strings -Wformat=2 -Wswitch-default
        -Wswitch-enum -Wfloat-equal -Wmissing-declarations)
STRICT_C=(-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wbad-function-cast
          -Wnested-externs)
STRICT_CXX=(-Wold-style-cast -Wzero-as-null-pointer-constant -Wextra-semi)

ABSENT='runtime present: 0
name: (null)
set: 38 (no ctxvar runtime in this process), request_id=(none)
format: 0 ""
captured: 0 variable(s), request_id=(none)
foreach: 0, 0 member(s)
wrapped task: request_id=(none)
returning task: request_id=(none)
returned: its argument
run in the capture: request_id=(none)
swapped in: request_id=(none)
baggage_encode: 0 "", 0 dropped
baggage_current: 0 ""
baggage_decode: 38, user_id=(none)
set_traceparent: 38
accept_headers: 38, tenant_id=(none)
cleared: tenant_id=(none)
in scope: request_id=(none)
after scope: request_id=(none)
stats: no ctxvar runtime in this process
version: the header'"'"'s'

PRESENT='runtime present: 1
name: request_id
set: 0 (success), request_id=42
format: 13 "request_id=42"
captured: 1 variable(s), request_id=42
foreach: 0, 1 member(s)
reset: request_id=(none)
wrapped task: request_id=42
returning task: request_id=(none)
returned: its argument
run in the capture: request_id=42
swapped in: request_id=42
baggage_encode: 13 "request_id=42", 0 dropped
baggage_current: 0 ""
baggage_decode: 0, user_id=7
set_traceparent: 0
accept_headers: 0, tenant_id=acme
cleared: tenant_id=(none)
in scope: request_id=9
after scope: request_id=(none)
stats: 0
version: the header'"'"'s'

# runs_both_ways: the program just built runs plain and under the runtime,
# printing exactly ABSENT and PRESENT, and nothing on stderr.
runs_both_ways() {
    run -0 --separate-stderr "$BATS_TEST_TMPDIR/program"
    expect_output <<<"$ABSENT"
    expect_no_stderr
    run -0 --separate-stderr preloaded "$BATS_TEST_TMPDIR/program"
    expect_output <<<"$PRESENT"
    expect_no_stderr
}

# builds COMPILER LANGUAGE-FLAGS...: compiles the program with the strict
# warnings as errors (the header alone: nothing linked but -pthread), then
# runs_both_ways.
builds() {
    local compiler=$1
    shift
    command -v "$compiler" >/dev/null || skip "$compiler is not installed"
    local extra=("${STRICT_C[@]}") language=()
    case "$compiler" in *++) extra=("${STRICT_CXX[@]}") language=(-x c++) ;; esac
    run -0 "$compiler" "${language[@]}" "$@" "${STRICT[@]}" "${extra[@]}" -I"$ROOT/lib" \
        "$PROGRAM" -pthread -o "$BATS_TEST_TMPDIR/program"
    expect_output <<<""
    runs_both_ways
}

@test "gcc -std=c89 (GNU __inline__, no CTXVAR_SCOPE)" { builds gcc -std=c89; }
@test "gcc -std=gnu89" { builds gcc -std=gnu89; }
@test "gcc -std=c99" { builds gcc -std=c99; }
@test "gcc -std=c11" { builds gcc -std=c11; }
@test "gcc -std=c17" { builds gcc -std=c17; }
@test "gcc -std=c2x" { builds gcc -std=c2x; }
@test "gcc -std=gnu17 -O2 -D_GNU_SOURCE (RTLD_DEFAULT binding)" {
    builds gcc -std=gnu17 -O2 -D_GNU_SOURCE
}
@test "clang -std=c89" { builds clang -std=c89; }
@test "clang -std=c11" { builds clang -std=c11; }
@test "clang -std=c17 -Weverything (less padding and C90 declaration order)" {
    builds clang -std=c17 -Weverything -Wno-padded -Wno-declaration-after-statement
}
@test "clang -std=c11 -fgnuc-version=0 (no __GNUC__: the portable paths, with CTXVAR_SCOPE)" {
    builds clang -std=c11 -fgnuc-version=0
}
@test "g++ -std=c++98" { builds g++ -std=c++98; }
@test "g++ -std=c++11 -Wuseless-cast" { builds g++ -std=c++11 -Wuseless-cast; }
@test "g++ -std=c++17" { builds g++ -std=c++17; }
@test "g++ -std=c++20" { builds g++ -std=c++20; }
@test "clang++ -std=c++98" { builds clang++ -std=c++98; }
@test "clang++ -std=c++17" { builds clang++ -std=c++17; }
@test "clang++ -std=c++20 -Weverything (less padding and C++98 compatibility)" {
    builds clang++ -std=c++20 -Weverything -Wno-padded -Wno-c++98-compat \
        -Wno-c++98-compat-pedantic
}

@test "tcc (TinyCC: no GCC atomics, no cleanup attribute)" {
    command -v tcc >/dev/null || skip "tcc is not installed"
    run -0 tcc -Wall -Werror -I"$ROOT/lib" "$PROGRAM" -pthread -o "$BATS_TEST_TMPDIR/program"
    expect_output <<<""
    runs_both_ways
}

@test "linked mode (-DCTXVAR_LINKED -lctxvar) builds strict as C89 and C++98 and runs carried" {
    for compiler in "gcc -std=c89" "g++ -x c++ -std=c++98"; do
        # shellcheck disable=SC2086
        run -0 $compiler "${STRICT[@]}" -DCTXVAR_LINKED -I"$ROOT/lib" "$PROGRAM" \
            -L"$B" -lctxvar -Wl,-rpath,"$B" -pthread -o "$BATS_TEST_TMPDIR/linked"
        expect_output <<<""
        run -0 --separate-stderr "$BATS_TEST_TMPDIR/linked"
        expect_output <<<"$PRESENT"
        expect_no_stderr
    done
}
