#!/usr/bin/env bats
# Secure execution: in a setuid program the runtime reads its variables with
# secure_getenv, so BAGGAGE from an unprivileged caller seeds nothing, and the
# loader drops an LD_PRELOADed runtime (lib/ctxvar.h, section 8 and "Not
# covered" in section 1; docs/interposing.md, "Secure execution").  Needs
# root, to make setuid-root programs that an unprivileged user (nobody) then
# runs.

load helpers

setup() {
    [ "$(id -u)" = 0 ] || skip "needs root to make a setuid-root program"
    command -v setpriv >/dev/null || skip "setpriv not installed"
    SUID_DIR="$BATS_TEST_TMPDIR/suid"
    mkdir "$SUID_DIR"
    if findmnt -no OPTIONS -T "$SUID_DIR" | grep -qw nosuid; then
        skip "the scratch directory is on a nosuid mount"
    fi
    cp "$RUNTIME" "$SUID_DIR/libctxvar.so"
    # Under its soname too: the name a linked program's loader looks for.
    cp "$RUNTIME" "$SUID_DIR/libctxvar.so.1"
    # Let the unprivileged user reach the scratch programs.
    local dir=$SUID_DIR
    while [ "$dir" != / ] && [ "$dir" != "$(dirname "$BATS_RUN_TMPDIR")" ]; do
        chmod a+x "$dir"
        dir=$(dirname "$dir")
    done
}

# as_nobody COMMAND...: runs COMMAND with the real and effective ids of nobody.
# The linked program's runpath points into the build tree, which nobody may
# not be able to reach (a checkout in a private directory), so a copy of the
# runtime beside the programs comes first for a program that is not
# setuid; a setuid one ignores LD_LIBRARY_PATH and loads it as root.
as_nobody() {
    LD_LIBRARY_PATH="$SUID_DIR" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# install_program NAME SETUID: a copy of $PROGS/NAME in $SUID_DIR, setuid root
# when SETUID is yes.
install_program() {
    cp "$PROGS/$1" "$SUID_DIR/$1"
    if [ "$2" = yes ]; then chmod 4755 "$SUID_DIR/$1"; else chmod 0755 "$SUID_DIR/$1"; fi
}

@test "a linked program run by an unprivileged user reads BAGGAGE" {
    # The control for the next test: same program, same user, no setuid bit.
    install_program linked no
    BAGGAGE='user_id=u7' run -0 --separate-stderr as_nobody "$SUID_DIR/linked"
    expect_output <<'EOF'
runtime: yes
first: request_id=42 user_id=u7
grandchild: request_id=first user_id=u7
second: request_id=42 user_id=u7
main: request_id=42 user_id=u7
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a setuid linked program ignores BAGGAGE from an unprivileged user" {
    install_program linked yes
    BAGGAGE='user_id=u7' run -0 --separate-stderr as_nobody "$SUID_DIR/linked"
    expect_output <<'EOF'
runtime: yes
first: request_id=42
grandchild: request_id=first
second: request_id=42
main: request_id=42
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a linked program run by an unprivileged user honours CTXVAR_INHERIT=0" {
    # The control for the next test.
    install_program linked no
    CTXVAR_INHERIT=0 run -0 --separate-stderr as_nobody "$SUID_DIR/linked"
    expect_output <<'EOF'
runtime: yes
first: 
grandchild: 
second: 
main: request_id=42
threads_inherited: 0
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a setuid linked program ignores CTXVAR_INHERIT=0 from an unprivileged user" {
    install_program linked yes
    CTXVAR_INHERIT=0 run -0 --separate-stderr as_nobody "$SUID_DIR/linked"
    expect_output <<'EOF'
runtime: yes
first: request_id=42
grandchild: request_id=first
second: request_id=42
main: request_id=42
threads_inherited: 3
inherit_failures: 0
EOF
    expect_no_stderr
}

@test "a setuid program run by an unprivileged user does not get the preloaded runtime" {
    install_program context yes
    BAGGAGE='user_id=u7' LD_PRELOAD="$RUNTIME" run -0 --separate-stderr as_nobody "$SUID_DIR/context"
    expect_output <<'EOF'
main: 
thread: 
runtime: no
EOF
}
