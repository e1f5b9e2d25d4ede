#!/bin/sh
# libdir.sh CC [FLAG]... - what the dynamic loader puts in place of $LIB for
# a program built by "CC FLAG...", asked of the loader itself.
#
# Prints at most two words: "yes" when CC FLAG... links a program at all,
# then, when that program also runs here, the expansion of $LIB, such as
# "lib/x86_64-linux-gnu".  Nothing at all when no program can be linked.
# Always exits 0: the Makefile reads the words.
#
# ctxrun puts "<dir>/$LIB/libctxvar.so" in LD_PRELOAD so that the loader of
# each process picks the runtime of its own word size, and the build must
# place each runtime where that loader will look.  The expansion is a
# choice each C library build makes (it differs between the 64-bit and the
# 32-bit loader, and between distributions), so it is asked, never assumed:
# with LD_LIBRARY_PATH=/<marker>/$LIB and LD_DEBUG=libs the loader reports
# its library search path with the token expanded, and the last directory
# of that path is the expansion itself (the ones before it are the same
# directory plus hardware-capability subdirectories).
set -u
marker=ctxvar-libdir-probe
dir=$(mktemp -d "${TMPDIR:-/tmp}/ctxvar-libdir.XXXXXX") || exit 0
trap 'rm -rf "$dir"' EXIT HUP INT TERM
printf 'int main(void) { return 0; }\n' >"$dir/probe.c"
"$@" "$dir/probe.c" -o "$dir/probe" >/dev/null 2>&1 || exit 0
echo yes
# A preloaded library of the wrong word size would add a line of its own,
# and LD_DEBUG_OUTPUT would send the report to a file.
env -u LD_PRELOAD -u LD_DEBUG_OUTPUT LD_LIBRARY_PATH="/$marker/\$LIB" LD_DEBUG=libs \
    "$dir/probe" 2>&1 >/dev/null </dev/null |
    sed -n "s|.*/$marker/\([^:[:space:]]*\)[[:space:]]*(LD_LIBRARY_PATH).*|\1|p" |
    head -n 1
exit 0
