#!/usr/bin/env bats
# The environment: BAGGAGE seeds the main thread, CTXVAR_INHERIT=0 turns
# inheritance off, CTXVAR_DEBUG=1 explains on stderr; and with no runtime the
# API degrades: get gives the fallback, set gives ENOSYS, and BAGGAGE is not
# read (lib/ctxvar.h, section 1 on the header alone and section 8 on the
# environment).

load helpers

@test "without the runtime print_context shows empty contexts and runtime: no" {
    run -0 --separate-stderr "$B/examples/print_context"
    expect_output <<'EOF'
main: 
thread: 
runtime: no
EOF
    expect_no_stderr
}

@test "without the runtime BAGGAGE is ignored and set reports ENOSYS" {
    BAGGAGE='request_id=42' run -0 --separate-stderr "$PROGS/inherit"
    expect_output <<'EOF'
set request_id failed: no ctxvar runtime in this process
set request_id failed: no ctxvar runtime in this process
child: 
set request_id failed: no ctxvar runtime in this process
child after set: 
main: 
EOF
    expect_no_stderr
}

@test "print_context under the runtime with no BAGGAGE shows empty contexts and runtime: yes" {
    run -0 --separate-stderr preloaded "$B/examples/print_context"
    expect_output <<'EOF'
main: 
thread: 
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE seeds the main thread and the threads it starts" {
    BAGGAGE='request_id=42,user_id=u7' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42 user_id=u7
thread: request_id=42 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE seeds print_context too" {
    BAGGAGE='request_id=42' run -0 --separate-stderr preloaded "$B/examples/print_context"
    expect_output <<'EOF'
main: request_id=42
thread: request_id=42
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE values are percent-decoded" {
    BAGGAGE='msg=hello%20world%21,path=%2Fa%2Cb' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: msg="hello world!" path=/a,b
thread: msg="hello world!" path=/a,b
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE member properties after ';' are ignored" {
    BAGGAGE='request_id=42;sampled=1;ttl,user_id=u7' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42 user_id=u7
thread: request_id=42 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE optional whitespace around members, keys and values is ignored" {
    BAGGAGE=' request_id = 42 ,	user_id=u7 ' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42 user_id=u7
thread: request_id=42 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE with a key given twice keeps the last value" {
    BAGGAGE='request_id=1,user_id=u7,request_id=2' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=2 user_id=u7
thread: request_id=2 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "BAGGAGE with an empty value sets the variable to the empty string" {
    BAGGAGE='request_id=,user_id=u7' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id="" user_id=u7
thread: request_id="" user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "malformed BAGGAGE members are skipped and the rest applied" {
    # No '=', a key that is not a variable name, a space inside a key, an
    # empty key.
    BAGGAGE='request_id=42,novalue,9lives=x,bad key=x,=x,user_id=u7' \
        run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42 user_id=u7
thread: request_id=42 user_id=u7
runtime: yes
EOF
    expect_no_stderr
}

@test "a malformed BAGGAGE member without CTXVAR_DEBUG leaves stderr empty" {
    BAGGAGE='request_id=42,9lives=secret' run -0 --separate-stderr preloaded "$PROGS/context"
    expect_no_stderr
}

@test "CTXVAR_DEBUG=1 explains a malformed BAGGAGE member in one stderr line without its value, stdout unchanged" {
    BAGGAGE='request_id=42,9lives=secretvalue' CTXVAR_DEBUG=1 \
        run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42
thread: request_id=42
runtime: yes
EOF
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "${stderr_lines[0]}" == "ctxvar: "?* ]]
    [[ "$stderr" != *secretvalue* ]]
}

@test "CTXVAR_DEBUG=1 with a well-formed BAGGAGE keeps stdout the same" {
    BAGGAGE='request_id=42' CTXVAR_DEBUG=1 run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42
thread: request_id=42
runtime: yes
EOF
    local line
    for line in "${stderr_lines[@]}"; do
        [[ "$line" == "ctxvar: "* ]]
    done
}

@test "CTXVAR_INHERIT=0 starts threads empty and still seeds the main thread" {
    BAGGAGE='request_id=42' CTXVAR_INHERIT=0 run -0 --separate-stderr preloaded "$PROGS/context"
    expect_output <<'EOF'
main: request_id=42
thread: 
runtime: yes
EOF
    expect_no_stderr
}

@test "CTXVAR_INHERIT=0 leaves a thread empty after its creator sets a value" {
    CTXVAR_INHERIT=0 run -0 --separate-stderr preloaded "$PROGS/std_thread"
    expect_output <<'EOF'
child: 
main: request_id=42
EOF
    expect_no_stderr
}

@test "CTXVAR_INHERIT=1 inherits as usual" {
    CTXVAR_INHERIT=1 run -0 --separate-stderr preloaded "$PROGS/std_thread"
    expect_output <<'EOF'
child: request_id=42
main: request_id=42
EOF
    expect_no_stderr
}
