#!/usr/bin/env bats
# ctxrun, the launcher: options, exit statuses, and exactly what the command
# finds in LD_PRELOAD and BAGGAGE.  The child is a plain tool (printf, env,
# sh) that shows its environment, so most tests need the runtime only as a
# file to be found, not for what it does.

load helpers
bats_require_minimum_version 1.5.0

setup() {
    # ctxrun names the library by its canonical path.
    LIB="$(cd -P "$B" && pwd)/libctxvar.so"
    # What ctxrun adds for it: that path, or where the build made a runtime
    # for each word size, <build>/$LIB/libctxvar.so (bats/multilib.bats).
    ADDED="$LIB"
    if [ -s "$B/launcher-libdirs" ] && [ "$(cat "$B/launcher-libdirs")" != none ]; then
        ADDED="$(cd -P "$B" && pwd)/\$LIB/libctxvar.so"
    fi
    SHOW_PRELOAD=(sh -c 'printf "%s\n" "$LD_PRELOAD"')
    SHOW_BAGGAGE=(sh -c 'printf "%s\n" "${BAGGAGE-(unset)}"')
}

# Tests that get as far as exec need build/libctxvar.so to exist; a stand-in
# inside the repo would be preloaded for real, so wait for the real one.
require_runtime() {
    [ -f "$RUNTIME" ] || skip "build/libctxvar.so is not built"
}

# A fresh canonical directory under the test's scratch space.
scratch_dir() {
    mkdir -p "$BATS_TEST_TMPDIR/$1"
    (cd -P "$BATS_TEST_TMPDIR/$1" && pwd)
}

# --- help, version, usage errors -------------------------------------------

@test "--help prints the usage on stdout and exits 0" {
    run -0 --separate-stderr "$CTXRUN" --help
    [ "${lines[0]}" = "Usage: ctxrun [--set NAME=VALUE]... [--baggage VALUE]... [--traceparent VALUE]" ]
    [ "${lines[1]}" = "              [--syslog] [--http] [--otel] [--] COMMAND [ARG]..." ]
    [[ "$output" == *"--set NAME=VALUE"* ]]
    [[ "$output" == *"  --baggage VALUE      merge the members of a W3C baggage value, already"* ]]
    [[ "$output" == *"  --traceparent VALUE  set TRACEPARENT to a valid W3C traceparent, such as"* ]]
    [[ "$output" == *"  --otel               publish the context to profilers (CTXVAR_OTEL=1):"* ]]
    [[ "$output" == *"--version"* ]]
    [ "$stderr" = "" ]
}

@test "--version prints 'ctxrun (ctxvar) 1.0.0' on stdout and exits 0" {
    run -0 --separate-stderr "$CTXRUN" --version
    [ "$output" = "ctxrun (ctxvar) 1.0.0" ]
    [ "$stderr" = "" ]
}

@test "--version into a full device is reported, not a silent success" {
    run -2 --separate-stderr sh -c '"$1" --version >/dev/full' sh "$CTXRUN"
    [ "$stderr" = "ctxrun: cannot write to stdout: No space left on device" ]
}

@test "a variable name starting with a digit is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --set 1abc=x true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
}

@test "an empty variable name is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --set =x true
    [ "$stderr" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
}

@test "a variable name of 65 bytes is a usage error" {
    name=$(printf 'n%.0s' {1..65})
    run -2 --separate-stderr "$CTXRUN" --set "$name=x" true
    [ "$stderr" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
}

@test "a bad name that may be part of a secret is not shown" {
    run -2 --separate-stderr "$CTXRUN" --set 'c2VjcmV0+dG9rZW4/YWJj==' true
    [ "$stderr" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
    run -2 --separate-stderr "$CTXRUN" --set $'a\nb=1' true
    [ "$stderr" = "ctxrun: --set: invalid variable name (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_'); not shown, as the argument may be a secret" ]
}

@test "--set without '=' is a usage error that does not echo its argument (it may be the value alone)" {
    run -2 --separate-stderr "$CTXRUN" --set s3cr3t-token true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: --set expects NAME=VALUE; its argument has no '='" ]
}

@test "--set of traceparent or tracestate is a usage error: the runtime never reads them from BAGGAGE" {
    for name in traceparent tracestate; do
        run -2 --separate-stderr "$CTXRUN" --set "$name=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" true
        [ "$output" = "" ]
        [ "$stderr" = "ctxrun: --set: '$name' travels in its own variable, not in BAGGAGE (--traceparent; TRACESTATE in the environment)" ]
    done
}

@test "a command that cannot be found is 127 with the system's reason, as the shells say" {
    run -127 --separate-stderr "$CTXRUN" -- /etc/passwd/x
    [ "$stderr" = "ctxrun: /etc/passwd/x: Not a directory" ]
    long=$(head -c 5000 /dev/zero | tr '\0' a)
    run -127 --separate-stderr "$CTXRUN" -- "$long"
    [ "${stderr: -20}" = ": File name too long" ]
}

@test "--set as the last argument is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --set
    [ "$stderr" = "ctxrun: --set expects NAME=VALUE" ]
}

@test "a value longer than 4096 bytes is a usage error that does not echo it" {
    value=$(head -c 4097 /dev/zero | tr '\0' v)
    run -2 --separate-stderr "$CTXRUN" --set "k=$value" true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: value of 'k' is longer than 4096 bytes" ]
}

@test "a value that is not UTF-8 counts once replaced: 1365 bad bytes (4095) arrive, 1366 (4098) are a usage error" {
    require_runtime
    local value
    value=$(head -c 1365 /dev/zero | tr '\0' '\377')
    run -0 --separate-stderr "$CTXRUN" --set "k=$value" -- "$B/ctxvar" get k
    [ "$(printf %s "$output" | wc -c)" -eq 4095 ] # U+FFFD, three bytes, for each
    [ "$(printf %s "$output" | head -c 3 | od -An -tx1 | tr -d ' ')" = efbfbd ]
    run -2 --separate-stderr "$CTXRUN" --set "k=${value}$(printf '\377')" true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: value of 'k' is longer than 4096 bytes once its bytes that are not UTF-8 are replaced" ]
    value=$(printf '%%FF%.0s' {1..1366})
    run -2 --separate-stderr "$CTXRUN" --baggage "k=$value" true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' is longer than 4096 bytes once its bytes that are not UTF-8 are replaced" ]
    run -0 --separate-stderr "$CTXRUN" --baggage "k=${value#%FF}" -- "$B/ctxvar" get k
    [ "$(printf %s "$output" | wc -c)" -eq 4095 ]
}

@test "an unknown option is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --frobnicate true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: unknown option '--frobnicate' (try 'ctxrun --help')" ]
}

@test "no COMMAND at all is a usage error" {
    run -2 --separate-stderr "$CTXRUN"
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: missing COMMAND (try 'ctxrun --help')" ]
}

@test "options and -- without a COMMAND are a usage error" {
    run -2 --separate-stderr "$CTXRUN" --set a=1 --
    [ "$stderr" = "ctxrun: missing COMMAND (try 'ctxrun --help')" ]
}

# --- running the command ----------------------------------------------------

@test "a command that does not exist exits 127" {
    require_runtime
    run -127 --separate-stderr "$CTXRUN" ctxrun-no-such-command
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: ctxrun-no-such-command: No such file or directory" ]
}

@test "a file that is not executable exits 126" {
    require_runtime
    printf 'echo hi\n' > "$BATS_TEST_TMPDIR/script"
    chmod 644 "$BATS_TEST_TMPDIR/script"
    run -126 --separate-stderr "$CTXRUN" "$BATS_TEST_TMPDIR/script"
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: $BATS_TEST_TMPDIR/script: Permission denied" ]
}

@test "the command's exit status becomes ctxrun's" {
    require_runtime
    run -42 "$CTXRUN" sh -c 'exit 42'
    [ "$output" = "" ]
}

@test "arguments after COMMAND are passed on untouched, even ones like --set" {
    require_runtime
    run -0 "$CTXRUN" --set a=1 printf '[%s]\n' --set b=2 -- --help '' 'x  y'
    [ "$output" = "$(printf '[%s]\n' --set b=2 -- --help '' 'x  y')" ]
}

@test "options end at the first non-option" {
    require_runtime
    run -0 --separate-stderr "$CTXRUN" printf '%s\n' --version
    [ "$output" = "--version" ]
}

@test "after -- a word that looks like an option is the COMMAND" {
    require_runtime
    run -127 --separate-stderr "$CTXRUN" -- --version
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: --version: No such file or directory" ]
}

@test "nothing in the environment changes but LD_PRELOAD and BAGGAGE" {
    require_runtime
    run -0 env -i FOO=bar 'SPACED=a b' "$CTXRUN" --set k=v /usr/bin/env
    [ "$output" = "$(printf '%s\n' FOO=bar 'SPACED=a b' "LD_PRELOAD=$ADDED" BAGGAGE=k=v)" ]
}

# --- LD_PRELOAD -------------------------------------------------------------

@test "LD_PRELOAD gets the absolute path of build/libctxvar.so" {
    require_runtime
    run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$ADDED" ]
}

@test "the runtime is appended after an existing LD_PRELOAD entry" {
    require_runtime
    # The first entry does not exist: ld.so complains on stderr, which is
    # not what this test looks at.
    LD_PRELOAD=/nonexistent/libasan.so run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "/nonexistent/libasan.so:$ADDED" ]
}

@test "an empty LD_PRELOAD becomes the runtime alone, without a colon" {
    require_runtime
    LD_PRELOAD= run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$ADDED" ]
}

@test "the runtime is not added to LD_PRELOAD twice" {
    require_runtime
    LD_PRELOAD="$LIB" run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$LIB" ]
}

@test "the runtime preloaded by another name (its SONAME link, a path through ..) is not added again" {
    require_runtime
    local other
    for other in "$(dirname "$LIB")/libctxvar.so.1" "$(dirname "$LIB")/../$(basename "$(dirname "$LIB")")/$(basename "$LIB")"; do
        [ -e "$other" ] || continue
        LD_PRELOAD="$other" run -0 "$CTXRUN" "${SHOW_PRELOAD[@]}"
        [ "$output" = "$other" ] || { echo "$other: $output" >&2; false; }
    done
    # A bare name is looked for in the library path, not here: not taken
    # for the runtime.
    LD_PRELOAD=libnothing.so run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "libnothing.so:$ADDED" ]
}

@test "ctxrun inside ctxrun leaves LD_PRELOAD with one copy of the runtime" {
    require_runtime
    run -0 "$CTXRUN" "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$ADDED" ]
}

@test "a space-separated LD_PRELOAD entry counts as already present" {
    require_runtime
    LD_PRELOAD="/nonexistent/a.so $LIB" run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "/nonexistent/a.so $LIB" ]
}

@test "an entry that only starts with the runtime's path does not count" {
    require_runtime
    LD_PRELOAD="$LIB.old" run -0 --separate-stderr "$CTXRUN" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$LIB.old:$ADDED" ]
}

# --- finding the library ----------------------------------------------------

@test "a symlink to ctxrun in another directory finds the library beside the real file" {
    require_runtime
    bin=$(scratch_dir bin)
    ln -s "$CTXRUN" "$bin/ctxrun"
    run -0 "$bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$ADDED" ]
}

@test "an installed ctxrun finds PREFIX/lib/libctxvar.so, without .." {
    require_runtime
    prefix=$(scratch_dir prefix)
    mkdir "$prefix/bin" "$prefix/lib"
    cp "$CTXRUN" "$prefix/bin/"
    cp "$RUNTIME" "$prefix/lib/"
    run -0 "$prefix/bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$prefix/lib/libctxvar.so" ]
}

# The Debian package's layout: the runtime under its SONAME in the
# multiarch directory, which is what the loader puts for $LIB on Debian.
@test "a packaged ctxrun finds PREFIX/<\$LIB>/libctxvar.so.1 and preloads it as PREFIX/\$LIB/libctxvar.so.1" {
    require_runtime
    local lib
    lib=$(sh "$ROOT/launcher/libdir.sh" "${CC:-cc}" | sed -n 2p)
    [ -n "$lib" ] || skip "the loader's \$LIB expansion cannot be asked here"
    prefix=$(scratch_dir prefix)
    mkdir -p "$prefix/bin" "$prefix/$lib"
    cp "$CTXRUN" "$prefix/bin/"
    # Only the development package has libctxvar.so: ctxrun must not need it.
    cp "$RUNTIME" "$prefix/$lib/libctxvar.so.1"
    run -0 "$prefix/bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$prefix/\$LIB/libctxvar.so.1" ]
    run -0 --separate-stderr "$prefix/bin/ctxrun" --set request_id=42 -- "$B/examples/print_context"
    expect_output <<'EOF2'
main: request_id=42
thread: request_id=42
runtime: yes
EOF2
    expect_no_stderr
    # Named by its plain path already, it is not added again.
    LD_PRELOAD="$prefix/$lib/libctxvar.so.1" run -0 "$prefix/bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$prefix/$lib/libctxvar.so.1" ]
}

@test "../lib is preferred over the packaged layout" {
    require_runtime
    local lib
    lib=$(sh "$ROOT/launcher/libdir.sh" "${CC:-cc}" | sed -n 2p)
    [ -n "$lib" ] || skip "the loader's \$LIB expansion cannot be asked here"
    prefix=$(scratch_dir prefix)
    mkdir -p "$prefix/bin" "$prefix/$lib"
    cp "$CTXRUN" "$prefix/bin/"
    cp "$RUNTIME" "$prefix/$lib/libctxvar.so.1"
    [ -f "$prefix/lib/libctxvar.so" ] || cp "$RUNTIME" "$prefix/lib/libctxvar.so"
    run -0 "$prefix/bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$prefix/lib/libctxvar.so" ]
}

@test "the library next to ctxrun is preferred over ../lib" {
    require_runtime
    prefix=$(scratch_dir prefix)
    mkdir "$prefix/bin" "$prefix/lib"
    cp "$CTXRUN" "$RUNTIME" "$prefix/bin/"
    cp "$RUNTIME" "$prefix/lib/"
    run -0 "$prefix/bin/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "$prefix/bin/libctxvar.so" ]
}

@test "a child that can no longer open the runtime starts without it: no loader error, its context still in BAGGAGE" {
    # The runtime's file removed before the exec (as a chroot or a program
    # that drops its privileges hides it): the loader used to print "cannot
    # be preloaded ... ignored" on the child's stderr.
    require_runtime
    prefix=$(scratch_dir gone)
    cp "$CTXRUN" "$RUNTIME" "$prefix/"
    run -0 --separate-stderr "$prefix/ctxrun" --set request_id=42 -- sh -c "rm -r '$prefix'; exec env"
    expect_no_stderr
    grep -qx 'BAGGAGE=request_id=42' <<<"$output"
    ! grep -q '^LD_PRELOAD=' <<<"$output"
    # Written with $LIB, as ctxrun writes an installed runtime's entry; the
    # program's other entries stay, in their order, another copy of the
    # runtime too (whether it can be opened is the loader's to find out).
    prefix=$(scratch_dir gone2)
    other=$(scratch_dir other)
    lib=$(cut -d' ' -f1 "$B/launcher-libdirs")
    mkdir -p "$prefix/$lib"
    cp "$RUNTIME" "$prefix/$lib/"
    cp "$RUNTIME" "$other/"
    LD_PRELOAD="$prefix/\$LIB/libctxvar.so libm.so.6::$other/libctxvar.so" \
        run -0 --separate-stderr sh -c "rm -r '$prefix'; exec env"
    expect_no_stderr
    grep -qx "LD_PRELOAD=libm.so.6:$other/libctxvar.so" <<<"$output"
    # Where it can be opened, LD_PRELOAD goes through byte for byte.
    LD_PRELOAD="$other/libctxvar.so  libm.so.6" run -0 --separate-stderr sh -c 'exec env'
    grep -qx "LD_PRELOAD=$other/libctxvar.so  libm.so.6" <<<"$output"
}

@test "a chroot without the runtime inside runs its program with no loader error" {
    require_runtime
    [ "$(id -u)" = 0 ] || skip "chroot needs root"
    root=$(scratch_dir root)
    mkdir -p "$root/bin"
    cp /bin/echo "$root/bin/"
    # echo's libraries and loader, at their paths.
    for file in $(ldd /bin/echo | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$file")"
        cp "$file" "$root$file"
    done
    run -0 chroot "$root" /bin/echo plain
    [ "$output" = "plain" ]
    run -0 --separate-stderr "$CTXRUN" --set request_id=42 -- chroot "$root" /bin/echo hi
    [ "$output" = "hi" ]
    expect_no_stderr
}

@test "a libctxvar.so in the current directory is never used" {
    alone=$(scratch_dir alone)
    cwd=$(scratch_dir cwd)
    cp "$CTXRUN" "$alone/"
    mkdir "$cwd/lib"
    touch "$cwd/libctxvar.so" "$cwd/lib/libctxvar.so"
    cd "$cwd"
    run -126 --separate-stderr "$alone/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: cannot find libctxvar.so next to $alone/ctxrun" ]
}

@test "a library path the loader cannot split is refused with 126" {
    dir=$(scratch_dir 'a b')
    cp "$CTXRUN" "$dir/"
    touch "$dir/libctxvar.so"
    run -126 --separate-stderr "$dir/ctxrun" "${SHOW_PRELOAD[@]}"
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: cannot preload '$dir/libctxvar.so': the dynamic loader cannot take a path with ':' or ' '" ]
}

# --- BAGGAGE ----------------------------------------------------------------

@test "without --set an unset BAGGAGE stays unset" {
    require_runtime
    run -0 "$CTXRUN" "${SHOW_BAGGAGE[@]}"
    [ "$output" = "(unset)" ]
}

@test "without --set BAGGAGE is passed on byte for byte" {
    require_runtime
    BAGGAGE=' a = 1 ,,b=%41;p' run -0 --separate-stderr "$CTXRUN" "${SHOW_BAGGAGE[@]}"
    [ "$output" = ' a = 1 ,,b=%41;p' ]
}

@test "--set NAME=VALUE and --set=NAME=VALUE both set BAGGAGE" {
    require_runtime
    run -0 "$CTXRUN" --set request_id=42 --set=user.id=u-7 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "request_id=42,user.id=u-7" ]
}

@test "--set merges into BAGGAGE: other members kept as they are, same key replaced" {
    require_runtime
    BAGGAGE='a=1, user = old ;p=1,b = 2;q' \
        run -0 --separate-stderr "$CTXRUN" --set user=new --set c=3 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "a=1,b = 2;q,user=new,c=3" ]
}

@test "--set into an empty BAGGAGE gives no leading comma" {
    require_runtime
    BAGGAGE= run -0 "$CTXRUN" --set a=1 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "a=1" ]
}

@test "a NAME given twice appears once, with the last value, where it was given last" {
    require_runtime
    run -0 "$CTXRUN" --set k=1 --set j=2 --set k=3 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "j=2,k=3" ]
}

@test "an empty VALUE gives NAME=" {
    require_runtime
    run -0 "$CTXRUN" --set k= "${SHOW_BAGGAGE[@]}"
    [ "$output" = "k=" ]
}

@test "space, comma, semicolon, percent, quote and backslash are percent-encoded" {
    require_runtime
    run -0 "$CTXRUN" --set 'v=a b,c;d%e"f\g' "${SHOW_BAGGAGE[@]}"
    [ "$output" = 'v=a%20b%2Cc%3Bd%25e%22f%5Cg' ]
}

@test "UTF-8, control bytes and DEL are percent-encoded in uppercase hex" {
    require_runtime
    run -0 "$CTXRUN" --set $'v=é\t\x7f\x01' "${SHOW_BAGGAGE[@]}"
    [ "$output" = 'v=%C3%A9%09%7F%01' ]
}

@test "every other printable ASCII byte is passed unencoded" {
    require_runtime
    plain='!#$&'"'"'()*+-./09:<=>?@AZ[]^_`az{|}~'
    run -0 "$CTXRUN" --set "v=$plain" "${SHOW_BAGGAGE[@]}"
    [ "$output" = "v=$plain" ]
}

@test "a value of exactly 4096 bytes is accepted" {
    require_runtime
    value=$(head -c 4096 /dev/zero | tr '\0' v)
    run -0 "$CTXRUN" --set "k=$value" "${SHOW_BAGGAGE[@]}"
    [ "$output" = "k=$value" ]
}

@test "a name of exactly 64 bytes is accepted" {
    require_runtime
    name=_$(printf 'n%.0s' {1..63})
    run -0 "$CTXRUN" --set "$name=x" "${SHOW_BAGGAGE[@]}"
    [ "$output" = "$name=x" ]
}

# --- CTXVAR_DEBUG -----------------------------------------------------------

@test "CTXVAR_DEBUG=1 shows the final LD_PRELOAD and BAGGAGE keys only" {
    require_runtime
    # A missing command keeps the runtime out, so every line is ctxrun's.
    CTXVAR_DEBUG=1 BAGGAGE='old=secret1;p=2,malformed-secret3' \
        run -127 --separate-stderr "$CTXRUN" --set k=secret2 ctxrun-no-such-command
    [ "$output" = "" ]
    [ "$stderr" = "ctxvar: LD_PRELOAD=$ADDED
ctxvar: BAGGAGE keys: old,k
ctxrun: ctxrun-no-such-command: No such file or directory" ]
}

@test "CTXVAR_DEBUG=1 says when BAGGAGE is unset" {
    require_runtime
    CTXVAR_DEBUG=1 run -127 --separate-stderr "$CTXRUN" ctxrun-no-such-command
    [ "$stderr" = "ctxvar: LD_PRELOAD=$ADDED
ctxvar: BAGGAGE unset
ctxrun: ctxrun-no-such-command: No such file or directory" ]
}

@test "CTXVAR_DEBUG=1 output never contains a value, even with the runtime loaded" {
    require_runtime
    CTXVAR_DEBUG=1 BAGGAGE='old=secret1' \
        run -0 --separate-stderr "$CTXRUN" --set k=secret2 --set 'e=sec ret3' true
    [ "$output" = "" ]
    [[ "$stderr" == *"ctxvar: BAGGAGE keys: old,k,e"* ]]
    [[ "$stderr" != *secret* && "$stderr" != *sec%20ret* ]]
}

@test "without CTXVAR_DEBUG=1 ctxrun says nothing" {
    require_runtime
    CTXVAR_DEBUG=0 run -0 --separate-stderr "$CTXRUN" --set k=v true
    [ "$output" = "" ]
    [ "$stderr" = "" ]
}

# --- end to end -------------------------------------------------------------

@test "a value set with ctxrun reaches the program decoded, in main and in a thread" {
    require_runtime
    prog="$B/examples/print_context"
    [ -x "$prog" ] || skip "build/examples/print_context is not built"
    BAGGAGE='other=1' run -0 "$CTXRUN" --set 'v=a b,c;d%e"f\g é' --set k= "$prog"
    [ "$output" = 'main: k="" other=1 v="a b,c;d%e\"f\\g é"
thread: k="" other=1 v="a b,c;d%e\"f\\g é"
runtime: yes' ]
}

# --- --baggage --------------------------------------------------------------

@test "--baggage VALUE and --baggage=VALUE merge their members into BAGGAGE as encoded" {
    require_runtime
    run -0 "$CTXRUN" --baggage 'a=%20x,b=1;p=2' --baggage=c=%C3%A9 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "a=%20x,b=1;p=2,c=%C3%A9" ]
}

@test "--baggage members replace existing BAGGAGE members with the same key" {
    require_runtime
    BAGGAGE='a=old,keep=1, b = old ;p' run -0 "$CTXRUN" --baggage 'b=new,a=new' "${SHOW_BAGGAGE[@]}"
    [ "$output" = "keep=1,b=new,a=new" ]
}

@test "--baggage and --set apply in command-line order, later wins" {
    require_runtime
    run -0 "$CTXRUN" --set k=set1 --baggage 'k=bag,j=1' --set j=set2 "${SHOW_BAGGAGE[@]}"
    [ "$output" = "k=bag,j=set2" ]
    run -0 "$CTXRUN" --baggage 'k=bag' --set 'k=a b' "${SHOW_BAGGAGE[@]}"
    [ "$output" = "k=a%20b" ]
}

@test "--baggage drops blanks around members and empty members" {
    require_runtime
    run -0 "$CTXRUN" --baggage $' a = 1 ;p ,, \t,b=2 ' "${SHOW_BAGGAGE[@]}"
    [ "$output" = "a = 1 ;p,b=2" ]
}

@test "--baggage with no members leaves BAGGAGE as it was" {
    require_runtime
    run -0 "$CTXRUN" --baggage ' , ' "${SHOW_BAGGAGE[@]}"
    [ "$output" = "(unset)" ]
}

@test "--baggage members reach the program decoded" {
    require_runtime
    prog="$B/examples/print_context"
    [ -x "$prog" ] || skip "build/examples/print_context is not built"
    run -0 --separate-stderr "$CTXRUN" --baggage 'note=a%20b%2Cc;p=1,user=%C3%A9' -- "$prog"
    [ "$output" = 'main: note="a b,c" user=é
thread: note="a b,c" user=é
runtime: yes' ]
}

@test "--baggage as the last argument is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --baggage
    [ "$stderr" = "ctxrun: --baggage expects a W3C baggage value" ]
}

@test "a --baggage member without '=' is a usage error that does not echo it" {
    run -2 --separate-stderr "$CTXRUN" --baggage 'a=1,secret' true
    [ "$output" = "" ]
    [ "$stderr" = "ctxrun: --baggage: member 2 has no '=' (KEY=VALUE expected)" ]
}

@test "a --baggage key that is not a variable name is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --baggage '1k=v' true
    [ "$stderr" = "ctxrun: --baggage: invalid variable name '1k' (1 to 64 bytes of [A-Za-z0-9_.-], starting with a letter or '_')" ]
}

@test "traceparent and tracestate are refused as --baggage members" {
    run -2 --separate-stderr "$CTXRUN" --baggage 'traceparent=x' true
    [ "$stderr" = "ctxrun: --baggage: 'traceparent' travels in its own variable, not in BAGGAGE" ]
    run -2 --separate-stderr "$CTXRUN" --baggage 'a=1, tracestate = x' true
    [ "$stderr" = "ctxrun: --baggage: 'tracestate' travels in its own variable, not in BAGGAGE" ]
}

@test "a --baggage value with a byte that must be encoded is a usage error that does not echo it" {
    run -2 --separate-stderr "$CTXRUN" --baggage 'k=sec"ret' true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' holds a byte that must be percent-encoded" ]
    run -2 --separate-stderr "$CTXRUN" --baggage 'k=sec ret' true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' holds a byte that must be percent-encoded" ]
}

@test "a --baggage value with a bad or NUL percent-escape is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --baggage 'k=%4' true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' has a bad percent-escape" ]
    run -2 --separate-stderr "$CTXRUN" --baggage 'k=%zz' true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' has a bad percent-escape" ]
    run -2 --separate-stderr "$CTXRUN" --baggage 'k=a%00b' true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' holds an escaped NUL (%00)" ]
}

@test "a --baggage value over 4096 bytes once decoded is a usage error; 4096 is accepted" {
    require_runtime
    value=$(head -c 4096 /dev/zero | tr '\0' v)
    run -0 "$CTXRUN" --baggage "k=$value" "${SHOW_BAGGAGE[@]}"
    [ "$output" = "k=$value" ]
    run -2 --separate-stderr "$CTXRUN" --baggage "k=${value}%41" true
    [ "$stderr" = "ctxrun: --baggage: value of 'k' is longer than 4096 bytes once decoded" ]
}

# --- --traceparent ------------------------------------------------------------

TP=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
SHOW_TRACE=(sh -c 'printf "%s|%s|%s\n" "${TRACEPARENT-(unset)}" "${TRACESTATE-(unset)}" "${BAGGAGE-(unset)}"')

# expect_bad_traceparent VALUE: ctxrun --traceparent VALUE exits 2 with the
# one-line message, and so does --traceparent=VALUE.
expect_bad_traceparent() {
    local option
    for option in --traceparent "--traceparent=$1"; do
        if [ "$option" = --traceparent ]; then
            run -2 --separate-stderr "$CTXRUN" --traceparent "$1" true
        else
            run -2 --separate-stderr "$CTXRUN" "$option" true
        fi
        [ "$output" = "" ]
        [ "$stderr" = "ctxrun: invalid traceparent '$1' (expected 00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zero)" ]
    done
}

@test "--traceparent VALUE and --traceparent=VALUE set TRACEPARENT, and nothing else" {
    require_runtime
    run -0 "$CTXRUN" --traceparent "$TP" "${SHOW_TRACE[@]}"
    [ "$output" = "$TP|(unset)|(unset)" ]
    run -0 "$CTXRUN" "--traceparent=$TP" "${SHOW_TRACE[@]}"
    [ "$output" = "$TP|(unset)|(unset)" ]
}

@test "--traceparent replaces a TRACEPARENT in the environment and leaves TRACESTATE as it was" {
    require_runtime
    TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-00 TRACESTATE=k=v \
        run -0 "$CTXRUN" --traceparent "$TP" "${SHOW_TRACE[@]}"
    [ "$output" = "$TP|k=v|(unset)" ]
}

@test "the last --traceparent wins" {
    require_runtime
    run -0 "$CTXRUN" --traceparent 00-11111111111111111111111111111111-2222222222222222-00 \
        --traceparent "$TP" "${SHOW_TRACE[@]}"
    [ "$output" = "$TP|(unset)|(unset)" ]
}

@test "a higher version is accepted by its first four fields, with or without more after a '-'" {
    require_runtime
    run -0 "$CTXRUN" --traceparent "01${TP#00}" "${SHOW_TRACE[@]}"
    [ "$output" = "01${TP#00}|(unset)|(unset)" ]
    run -0 "$CTXRUN" --traceparent "cc${TP#00}-what-the-future-holds" "${SHOW_TRACE[@]}"
    [ "$output" = "cc${TP#00}-what-the-future-holds|(unset)|(unset)" ]
}

@test "a traceparent with uppercase hex is a usage error" {
    expect_bad_traceparent 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A
    expect_bad_traceparent "0A${TP#00}"
}

@test "a traceparent with an all-zero trace id is a usage error" {
    expect_bad_traceparent 00-00000000000000000000000000000000-b7ad6b7169203331-01
}

@test "a traceparent with an all-zero parent id is a usage error" {
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01
}

@test "a traceparent of version ff is a usage error" {
    expect_bad_traceparent "ff${TP#00}"
}

@test "a traceparent with fields of the wrong length is a usage error" {
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319cc-b7ad6b7169203331-01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1
    expect_bad_traceparent 0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
    expect_bad_traceparent ''
}

@test "a version 00 traceparent with trailing data is a usage error" {
    expect_bad_traceparent "$TP-00"
    expect_bad_traceparent "${TP}0"
    expect_bad_traceparent "01${TP#00}x"
}

@test "a traceparent with other separators or non-hex is a usage error" {
    expect_bad_traceparent 00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01
    expect_bad_traceparent 00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01
}

@test "an invalid traceparent holding a newline is reported on one line" {
    run -2 --separate-stderr "$CTXRUN" --traceparent $'00-\n' true
    [ "$stderr" = "ctxrun: invalid traceparent '00-\\x0A' (expected 00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zero)" ]
}

@test "--traceparent as the last argument is a usage error" {
    run -2 --separate-stderr "$CTXRUN" --traceparent
    [ "$stderr" = "ctxrun: --traceparent expects a W3C traceparent" ]
}

@test "a traceparent given with ctxrun reaches print_context's main thread and its thread" {
    require_runtime
    prog="$B/examples/print_context"
    [ -x "$prog" ] || skip "build/examples/print_context is not built"
    run -0 --separate-stderr "$CTXRUN" --traceparent "$TP" --set request_id=42 -- "$prog"
    [ "$output" = "main: request_id=42 traceparent=$TP
thread: request_id=42 traceparent=$TP
runtime: yes" ]
    [ "$stderr" = "" ]
}

@test "a traceparent given with ctxrun reaches a child the program starts, with TRACESTATE from the environment" {
    require_runtime
    TRACESTATE=vendor=1 run -0 --separate-stderr "$CTXRUN" --traceparent "$TP" --baggage a=1 -- \
        sh -c 'sh -c '\''printf "%s|%s|%s\n" "$TRACEPARENT" "$TRACESTATE" "$BAGGAGE"'\'
    [ "$output" = "$TP|vendor=1|a=1" ]
}

# --- the rules ctxrun shares with the runtime (lib/w3c.h) -----------------------

# expect_name_rule NAME accepted|refused: the runtime, reading BAGGAGE
# itself, binds NAME, and ctxrun's --set and --baggage take it; or the
# runtime skips it, and ctxrun refuses it with 2.
expect_name_rule() {
    local name=$1 want=$2 prog="$PROGS/context"
    BAGGAGE="$name=v" run -0 preloaded "$prog"
    if [ "$want" = accepted ]; then
        [ "${lines[0]}" = "main: $name=v" ]
        run -0 "$CTXRUN" --set "$name=v" -- "$prog"
        [ "${lines[0]}" = "main: $name=v" ]
        run -0 "$CTXRUN" --baggage "$name=v" -- "$prog"
        [ "${lines[0]}" = "main: $name=v" ]
    else
        [ "${lines[0]}" = "main: " ]
        run -2 "$CTXRUN" --set "$name=v" true
        run -2 "$CTXRUN" --baggage "$name=v" true
    fi
}

@test "ctxrun takes exactly the variable names the runtime binds from BAGGAGE" {
    require_runtime
    local n64 n65
    n64="$(printf 'n%.0s' {1..64})"
    n65="${n64}n"
    for name in a Z _ _private request_id a.b-c_9 x- x. "$n64"; do
        expect_name_rule "$name" accepted
    done
    for name in 9a .a -a 'a b' a/b a:b $'caf\xc3\xa9' @a '[a' '`a' '{a' 'a@' 'a[' 'a`' 'a{' "$n65"; do
        expect_name_rule "$name" refused
    done
}

@test "--baggage refuses traceparent and tracestate, which the runtime skips in BAGGAGE" {
    require_runtime
    for name in traceparent tracestate; do
        BAGGAGE="$name=v" run -0 preloaded "$PROGS/context"
        [ "${lines[0]}" = "main: " ]
        run -2 "$CTXRUN" --baggage "$name=v" true
    done
    for name in traceparentx tracestat; do
        expect_name_rule "$name" accepted
    done
}

# expect_traceparent_rule VALUE accepted|refused: the runtime, reading
# TRACEPARENT itself, takes VALUE, and so does ctxrun's --traceparent; or
# the runtime ignores it, and ctxrun refuses it with 2.
expect_traceparent_rule() {
    local value=$1 want=$2 prog="$PROGS/context"
    TRACEPARENT="$value" run -0 preloaded "$prog"
    if [ "$want" = accepted ]; then
        [ "${lines[0]}" = "main: traceparent=$value" ]
        run -0 "$CTXRUN" --traceparent "$value" -- "$prog"
        [ "${lines[0]}" = "main: traceparent=$value" ]
    else
        [ "${lines[0]}" = "main: " ]
        run -2 "$CTXRUN" --traceparent "$value" true
    fi
}

@test "ctxrun takes exactly the traceparents the runtime takes from TRACEPARENT" {
    require_runtime
    local ids=0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331
    for value in "00-$ids-01" "00-$ids-00" "01-$ids-01" "cc-$ids-01-what-the-future-holds" \
                 "01-$ids-01-" "fe-$ids-ff"; do
        expect_traceparent_rule "$value" accepted
    done
    for value in "ff-$ids-01" "00-$ids-01-" "00-$ids-010" "01-$ids-01x" "0A-$ids-01" \
                 "00-$ids-0A" 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01 \
                 00-00000000000000000000000000000000-b7ad6b7169203331-01 \
                 00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01 \
                 00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01 "00-$ids-1" \
                 "00_${ids/-/_}_01" 00- '' "01-$ids-01-a"$'\r\n'"X-Injected: 1" \
                 "01-$ids-01-a b" "01-$ids-01-a"$'\t'b; do
        expect_traceparent_rule "$value" refused
    done
}

@test "a later-version traceparent of 4096 bytes is taken, one of 4097 is a usage error" {
    require_runtime
    local value
    value="01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-$(printf 'x%.0s' {1..4040})"
    [ "${#value}" -eq 4096 ]
    run -0 "$CTXRUN" --traceparent "$value" "${SHOW_TRACE[@]}"
    [ "$output" = "$value|(unset)|(unset)" ]
    expect_bad_traceparent "${value}x"
}

@test "--syslog and --http set CTXVAR_SYSLOG=1 and CTXVAR_HTTP=1 for the command, and nothing without them" {
    run -0 env -u CTXVAR_SYSLOG -u CTXVAR_HTTP "$CTXRUN" --syslog --http -- sh -c 'env | grep "^CTXVAR_" | sort'
    expect_output <<'EOF2'
CTXVAR_HTTP=1
CTXVAR_SYSLOG=1
EOF2
    run -1 env -u CTXVAR_SYSLOG -u CTXVAR_HTTP "$CTXRUN" -- sh -c 'env | grep "^CTXVAR_"'
    [ "$output" = "" ]
}
