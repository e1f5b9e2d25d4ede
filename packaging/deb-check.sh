#!/usr/bin/env bash
# deb-check.sh DEBDIR - checks the Debian packages `make deb` left in DEBDIR
# (run from the top of the source tree, by `make deb-check`):
#
#   1. lintian on the .changes (so on all three packages): any error fails;
#   2. the three packages installed with dpkg --root into DEBDIR/root, with
#      their dependencies checked by dpkg itself;
#   3. from the installed paths: each package's exact file list; ctxrun
#      running a program with the installed runtime preloaded; the ctxvar
#      command; a program compiled against the installed header and
#      pkg-config file (linked, and -static with libctxvar.a); the Depends a
#      program linked with -lctxvar gets from the installed symbols file;
#      pkg-config's batsdir and the helper there, run by bats when bats is
#      installed.
#
# Prints "ok - WHAT" for each check; on the first failure prints what was
# expected and what came instead, and exits 1.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DEBDIR" >&2; exit 2; }
debdir=$(cd -P "$1" && pwd)
version=$(dpkg-parsechangelog -l debian/changelog -SVersion)
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ours=(libctxvar1 libctxvar-dev ctxvar-tools)
debs=()
for p in "${ours[@]}"; do debs+=("$debdir/${p}_${version}_${arch}.deb"); done
changes="$debdir/ctxvar_${version}_${arch}.changes"
check="$debdir/check"
rm -rf "$check"
mkdir -p "$check"

fail() {
    echo "deb-check: FAIL: $*" >&2
    exit 1
}

# expect WHAT ACTUAL EXPECTED
expect() {
    if [ "$2" != "$3" ]; then
        printf 'deb-check: FAIL: %s\n--- expected:\n%s\n--- got:\n%s\n' "$1" "$3" "$2" >&2
        exit 1
    fi
    echo "ok - $1"
}

# --- 1. lintian ---------------------------------------------------------------
# Errors fail; warnings and the rest are printed for the reader.  As root,
# lintian says that it is not recommended; that line is not a finding.
lintian_out=$(lintian --fail-on error --display-info "$changes" 2>&1) || {
    printf '%s\n' "$lintian_out" >&2
    fail "lintian reports errors on $changes"
}
lintian_out=$(grep -v '^running with root privileges is not recommended!$' <<<"$lintian_out" || true)
printf '%s\n' "${lintian_out:-(lintian: no tags)}"
echo "ok - lintian: no errors on $(basename "$changes")"

# --- 2. install into a scratch root ---------------------------------------------
# dpkg checks every Depends before it configures a package.  The scratch
# root's status records the host's own packages for the dependencies that
# are not ours (libc6, libgcc-s1, at their installed versions): those are
# the libraries the installed programs run with below, so the versions the
# packages require are checked against the ones really present, with no
# --force-depends.
root="$debdir/root"
rm -rf "$root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
root=$(cd -P "$root" && pwd)
status="$root/var/lib/dpkg/status"
: >"$status"
seeded=" "
for deb in "${debs[@]}"; do
    depends=$(dpkg-deb -f "$deb" Depends Pre-Depends | sed -n 's/^[A-Za-z-]*: //p' | tr ',|' '\n\n')
    while read -r name _; do
        name=${name%:any}
        [ -n "$name" ] || continue
        case " ${ours[*]} $seeded" in *" $name "*) continue ;; esac
        # Multi-Arch: same packages are recorded as NAME:ARCH.
        for query in "$name:$arch" "$name"; do
            if dpkg-query -W -f='${Status}' "$query" 2>/dev/null | grep -qx 'install ok installed'; then
                dpkg-query -W -f='Package: ${Package}\nStatus: ${Status}\nPriority: ${Priority}\nMaintainer: ${Maintainer}\nArchitecture: ${Architecture}\nMulti-Arch: ${Multi-Arch}\nVersion: ${Version}\nDescription: ${binary:Summary}\n\n' \
                    "$query" | sed '/^[A-Za-z-]*: $/d' >>"$status"
                list=$name
                [ "$(dpkg-query -W -f='${Multi-Arch}' "$query")" != same ] || list="$name:$arch"
                : >"$root/var/lib/dpkg/info/$list.list"
                seeded+="$name "
                break
            fi
        done
    done <<<"$depends"
done
# --log: dpkg writes to the host's /var/log/dpkg.log otherwise.
# --force-not-root: dpkg refuses to run without root privileges even when,
# as here, it only writes into a directory of the user's own; root needs it
# not (CI).  It is the only force.
forces=()
[ "$(id -u)" = 0 ] || forces+=(--force-not-root)
dpkg --root="$root" --log="$root/var/log/dpkg.log" "${forces[@]}" -i "${debs[@]}" >"$check/dpkg.out" 2>&1 || {
    cat "$check/dpkg.out" >&2
    fail "dpkg --root=$root -i ${debs[*]}"
}
expect "dpkg installed and configured the three packages, every dependency met" \
    "$(dpkg-query --root="$root" -W -f='${Package} ${Version} ${Status}\n' "${ours[@]}")" \
    "$(printf '%s\n' "ctxvar-tools $version install ok installed" "libctxvar-dev $version install ok installed" \
                     "libctxvar1 $version install ok installed")"

# --- 3. what each package holds ---------------------------------------------------
files_of() { dpkg-query --root="$root" -L "$1" | grep -v '^/\.$' | sort; }
expect "libctxvar1 holds the runtime under its SONAME and nothing of the development package" \
    "$(files_of libctxvar1)" "$(sort <<EOF
/usr
/usr/lib
/usr/lib/$ma
/usr/lib/$ma/libctxvar.so.1
/usr/share
/usr/share/doc
/usr/share/doc/libctxvar1
/usr/share/doc/libctxvar1/changelog.gz
/usr/share/doc/libctxvar1/copyright
EOF
)"
expect "libctxvar-dev holds the header, the link, the static library, the pkg-config file and ctxvar(3)" \
    "$(files_of libctxvar-dev)" "$(sort <<EOF
/usr
/usr/include
/usr/include/ctxvar.h
/usr/lib
/usr/lib/$ma
/usr/lib/$ma/libctxvar.a
/usr/lib/$ma/libctxvar.so
/usr/lib/$ma/pkgconfig
/usr/lib/$ma/pkgconfig/ctxvar.pc
/usr/share
/usr/share/doc
/usr/share/doc/libctxvar-dev
/usr/share/doc/libctxvar-dev/changelog.gz
/usr/share/doc/libctxvar-dev/copyright
/usr/share/man
/usr/share/man/man3
/usr/share/man/man3/ctxvar.3.gz
EOF
)"
expect "ctxvar-tools holds ctxrun, ctxvar, the bats helper and their manual pages" \
    "$(files_of ctxvar-tools)" "$(sort <<EOF
/usr
/usr/bin
/usr/bin/ctxrun
/usr/bin/ctxvar
/usr/share
/usr/share/ctxvar
/usr/share/ctxvar/bats
/usr/share/ctxvar/bats/ctxvar.bash
/usr/share/doc
/usr/share/doc/ctxvar-tools
/usr/share/doc/ctxvar-tools/changelog.gz
/usr/share/doc/ctxvar-tools/copyright
/usr/share/man
/usr/share/man/man1
/usr/share/man/man1/ctxrun.1.gz
/usr/share/man/man1/ctxvar.1.gz
EOF
)"
expect "libctxvar.so is the development link to libctxvar.so.1" \
    "$(readlink "$root/usr/lib/$ma/libctxvar.so")" "libctxvar.so.1"
expect "the runtime's SONAME is libctxvar.so.1" \
    "$(readelf -d "$root/usr/lib/$ma/libctxvar.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" "libctxvar.so.1"
for page in man1/ctxrun.1 man1/ctxvar.1 man3/ctxvar.3; do
    gzip -dc "$root/usr/share/man/$page.gz" | cmp -s - "man/${page#man?/}" ||
        fail "/usr/share/man/$page.gz is not man/${page#man?/}"
done
echo "ok - the installed manual pages are the tree's"
cmp -s "$root/usr/share/ctxvar/bats/ctxvar.bash" bats/helper/ctxvar.bash ||
    fail "/usr/share/ctxvar/bats/ctxvar.bash is not bats/helper/ctxvar.bash"
echo "ok - the installed bats helper is the tree's"

# Only ours: a dependency on a package of another name is libc's, checked by
# dpkg above.
ours_in() { dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/^ *//' | grep '^libctxvar' || true; }
expect "ctxvar-tools depends on the runtime of its own version" \
    "$(ours_in "${debs[2]}")" "libctxvar1 (= $version)"
expect "libctxvar-dev depends on the runtime of its own version" \
    "$(ours_in "${debs[1]}")" "libctxvar1 (= $version)"
expect "libctxvar1 depends on no package of ours" "$(ours_in "${debs[0]}")" ""

# --- 4. ctxrun and ctxvar from the installed paths ----------------------------------
# needs FILE: its libctxvar dependencies and any run path, one a line.
needs() {
    readelf -d "$1" | sed -n -e 's/.*(NEEDED).*\[\(libctxvar.*\)\]/NEEDED \1/p' \
                             -e 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\1 \2/p'
}
cc -std=c11 -Wall -Wextra -Werror -pthread -I"$root/usr/include" examples/print_context.c \
    -o "$check/print_context"
expect "the installed ctxrun runs a program with the installed runtime and --set request_id=42" \
    "$("$root/usr/bin/ctxrun" --set request_id=42 -- "$check/print_context" 2>"$check/stderr")" \
    "$(printf '%s\n' 'main: request_id=42' 'thread: request_id=42' 'runtime: yes')"
expect "... and writes nothing on stderr" "$(cat "$check/stderr")" ""
expect "the installed ctxrun preloads <root>/usr/\$LIB/libctxvar.so.1" \
    "$("$root/usr/bin/ctxrun" sh -c 'printf "%s\n" "$LD_PRELOAD"')" "$root/usr/\$LIB/libctxvar.so.1"
expect "which the loader finds at <root>/usr/lib/$ma/libctxvar.so.1" \
    "$(LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD="$root/usr/\$LIB/libctxvar.so.1" "$check/print_context" |
        sed -n 's|^[[:space:]]*[^[:space:]]*/libctxvar\.so\.1 => \([^ ]*\) .*|\1|p')" \
    "$root/usr/lib/$ma/libctxvar.so.1"

expect "the installed ctxvar needs libctxvar.so.1, with no run path" \
    "$(needs "$root/usr/bin/ctxvar")" \
    "NEEDED libctxvar.so.1"
expect "the installed ctxvar run by the installed ctxrun formats the context" \
    "$("$root/usr/bin/ctxrun" --set request_id=42 --set note='a b' -- "$root/usr/bin/ctxvar" format)" \
    'note="a b" request_id=42'
expect "the installed ctxvar with the installed runtime in its library path reads BAGGAGE" \
    "$(BAGGAGE='request_id=7,note=a%20b' LD_LIBRARY_PATH="$root/usr/lib/$ma" "$root/usr/bin/ctxvar" get note)" \
    "a b"

# --- 5. a program built with the installed header and pkg-config file -------------
# PKG_CONFIG_SYSROOT_DIR puts the root in front of the file's own /usr paths.
export PKG_CONFIG_LIBDIR="$root/usr/lib/$ma/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
read -r -a pc_flags <<<"$(pkg-config --cflags --libs ctxvar)"
expect "pkg-config --cflags --libs ctxvar" "${pc_flags[*]}" \
    "-I$root/usr/include -DCTXVAR_LINKED -L$root/usr/lib/$ma -lctxvar -pthread"
cc -std=c11 -Wall -Wextra -Werror examples/print_context.c "${pc_flags[@]}" -o "$check/linked"
expect "a program linked with pkg-config's flags needs libctxvar.so.1, with no run path" \
    "$(needs "$check/linked")" \
    "NEEDED libctxvar.so.1"
expect "it runs with the installed runtime, no LD_PRELOAD, and its thread inherits" \
    "$(BAGGAGE=request_id=7 LD_LIBRARY_PATH="$root/usr/lib/$ma" "$check/linked")" \
    "$(printf '%s\n' 'main: request_id=7' 'thread: request_id=7' 'runtime: yes')"

# What a package of such a program would depend on: dpkg-shlibdeps reads the
# symbols file of the package build directory the library is found in
# (-S), here one made of the installed libctxvar1's own control files.
pkgdir="$check/libctxvar1-installed"
mkdir -p "$pkgdir/DEBIAN" "$pkgdir/usr/lib/$ma" "$check/shlibdeps/debian"
cp "$root/var/lib/dpkg/info/libctxvar1:$arch.symbols" "$root/var/lib/dpkg/info/libctxvar1:$arch.shlibs" \
    "$pkgdir/DEBIAN/"
mv "$pkgdir/DEBIAN/libctxvar1:$arch.symbols" "$pkgdir/DEBIAN/symbols"
mv "$pkgdir/DEBIAN/libctxvar1:$arch.shlibs" "$pkgdir/DEBIAN/shlibs"
cp "$root/usr/lib/$ma/libctxvar.so.1" "$pkgdir/usr/lib/$ma/"
printf 'Source: user\n\nPackage: user\nArchitecture: any\n' >"$check/shlibdeps/debian/control"
deps=$(cd "$check/shlibdeps" && dpkg-shlibdeps -S"$pkgdir" -O "$check/linked" 2>"$check/shlibdeps.err") || {
    cat "$check/shlibdeps.err" >&2
    fail "dpkg-shlibdeps -S$pkgdir -O $check/linked"
}
expect "a program linked with -lctxvar gets Depends: libctxvar1 (>= $version) from the symbols file" \
    "$(sed -n 's/^shlibs:Depends=//p' <<<"$deps" | tr ',' '\n' | sed 's/^ *//' | grep '^libctxvar' || true)" \
    "libctxvar1 (>= $version)"

read -r -a static_flags <<<"$(pkg-config --static --cflags --libs ctxvar)"
cc -static -std=c11 bats/programs/static_inherit.c "${static_flags[@]}" -o "$check/static_inherit"
expect "a -static program linked with the installed libctxvar.a: threads inherit, children get the context" \
    "$(BAGGAGE=request_id=7 "$check/static_inherit")" "$(cat <<'EOF'
runtime present: 1
main: request_id=7
pthread: request_id=42
thrd: request_id=42
threads inherited: 2, live contexts back: yes
child: BAGGAGE=request_id=42
EOF
)"

# --- 6. the bats helper ------------------------------------------------------------
unset PKG_CONFIG_SYSROOT_DIR
expect "pkg-config --variable=batsdir ctxvar, as installed" \
    "$(pkg-config --variable=batsdir ctxvar)" "/usr/share/ctxvar/bats"
expect "... which, in the root, holds the helper" \
    "$(PKG_CONFIG_SYSROOT_DIR="$root" pkg-config --variable=batsdir ctxvar)" "$root/usr/share/ctxvar/bats"
unset PKG_CONFIG_LIBDIR
if command -v bats >/dev/null; then
    cat >"$check/helper.bats" <<'EOF'
bats_require_minimum_version 1.5.0
setup() { load "$HELPER_DIR/ctxvar"; }
@test "the installed helper runs the installed tools" {
    ctxvar_run_with -0 request_id=42 -- sh -c 'command -v ctxvar; printf "%s\n" "$LD_PRELOAD"; ctxvar format'
    printf '%s\n' "$output" >"$HELPER_OUT"
}
EOF
    env -u CTXVAR_BATS_BINDIR -u CTXVAR_BATS_HELPER HELPER_DIR="$root/usr/share/ctxvar/bats" \
        HELPER_OUT="$check/helper.out" bats "$check/helper.bats" >"$check/helper.tap" 2>&1 || {
        cat "$check/helper.tap" >&2
        fail "bats with the installed helper"
    }
    expect "the installed helper runs the installed ctxrun and ctxvar" "$(cat "$check/helper.out")" \
        "$(printf '%s\n' "$root/usr/bin/ctxvar" "$root/usr/\$LIB/libctxvar.so.1" 'request_id=42')"
else
    echo "ok - # skip the helper under bats: bats is not installed"
fi
echo "deb-check: all checks passed"
