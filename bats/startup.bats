#!/usr/bin/env bats
# The runtime reads its settings and the main thread's context when they can
# be read: a thread started from a program's .preinit_array uses the runtime
# before libc has set environ, when every variable reads as unset
# (lib/startup.c).

load helpers

@test "a program whose .preinit_array starts a thread still gets BAGGAGE in main" {
    BAGGAGE=request_id=7 run -0 --separate-stderr preloaded "$PROGS/preinit_thread"
    expect_output <<'EOF'
main: request_id=7
thread: request_id=set-in-main
child: BAGGAGE=request_id=set-in-main
EOF
}

@test "a program whose .preinit_array starts a thread still honours CTXVAR_INHERIT=0" {
    BAGGAGE=request_id=7 CTXVAR_INHERIT=0 run -0 --separate-stderr preloaded "$PROGS/preinit_thread"
    expect_output <<'EOF'
main: request_id=7
thread: request_id=-
child: BAGGAGE=request_id=set-in-main
EOF
}

@test "a program whose .preinit_array starts a thread still honours CTXVAR_EXPORT=0" {
    BAGGAGE=request_id=7 CTXVAR_EXPORT=0 run -0 --separate-stderr preloaded "$PROGS/preinit_thread"
    expect_output <<'EOF'
main: request_id=7
thread: request_id=set-in-main
child: BAGGAGE=request_id=7
EOF
}
