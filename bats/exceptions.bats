#!/usr/bin/env bats
# A C++ exception thrown by the program's function passes through the
# runtime's frames (ctxvar_run, a wrapped task) to the program's catch, and
# the caller's context is back when it gets there.  A program may carry its
# own copy of the unwinder (g++ -static-libgcc -static-libstdc++): the
# runtime's frames then meet an unwinder that is not the one the runtime
# was linked with, which must not abort the process (lib/frames.c,
# "Leaving a frame on every way out").

load helpers

expected_exception_output() {
    cat <<'EOF'
run: caught boom: request_id=outer
task: caught boom: request_id=outer
nested inner caught: request_id=middle
nested outer caught boom: request_id=outer
live_contexts=1
EOF
}

@test "an exception through ctxvar_run and a task is caught with the context restored (shared libgcc)" {
    run -0 --separate-stderr preloaded "$PROGS/exception_shared"
    expected_exception_output | expect_output
}

@test "an exception through ctxvar_run and a task is caught with the context restored (-static-libgcc)" {
    run -0 --separate-stderr preloaded "$PROGS/exception_static_libgcc"
    expected_exception_output | expect_output
}

@test "an exception through ctxvar_run and a task is caught with the context restored (-static-libgcc -static-libstdc++)" {
    run -0 --separate-stderr preloaded "$PROGS/exception_static_both"
    expected_exception_output | expect_output
}
