#!/usr/bin/env bats
# The Debian packages (debian/, packaging/deb.mk): `make deb-check` builds
# libctxvar1, libctxvar-dev and ctxvar-tools from a copy of the tracked
# files, runs lintian on them, installs them with dpkg --root into a
# scratch root and runs ctxrun, ctxvar, programs built with the installed
# header, pkg-config file and libctxvar.a, and the bats helper from there
# (each check in packaging/deb-check.sh asserts exact output).  Here into
# the test's own directory, so build/deb is left as it is.  About 20
# seconds; skipped where the Debian tools are not installed.

load helpers

setup() {
    local tool
    for tool in dpkg-buildpackage dh lintian git; do
        command -v "$tool" >/dev/null ||
            skip "$tool is not installed (Debian: apt-get install dpkg-dev debhelper lintian)"
    done
    git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
        skip "not a git checkout: make deb builds from the files git tracks"
}

@test "make deb-check: the packages build, lintian finds nothing, and they run installed in a scratch root" {
    local deb="$BATS_TEST_TMPDIR/deb" before
    before=$(stat -c '%i %Y.%y' "$RUNTIME")
    # Without the make test's jobserver, which the nested make cannot reach.
    run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" -s deb-check DEB_DIR="$deb"
    [ "${lines[-1]}" = "deb-check: all checks passed" ]
    # No lintian tag at all: no error (which fails deb-check), and no
    # warning or informational tag either.
    [[ "$output" == *$'\n(lintian: no tags)\nok - lintian: no errors on ctxvar_'*$'.changes\n'* ]]
    # Every check ran, the one with the helper under bats included.
    [ "$(grep -c '^ok - ' <<<"$output")" = 27 ]
    [[ "$output" != *"# skip"* ]]
    for p in libctxvar1 libctxvar-dev ctxvar-tools; do
        compgen -G "$deb/${p}_*.deb" >/dev/null || { echo "no $p package in $deb"; false; }
    done
    # The package was built in its own tree: build/libctxvar.so is the file
    # it was, untouched.
    [ "$(stat -c '%i %Y.%y' "$RUNTIME")" = "$before" ]
}
