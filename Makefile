# ctxvar - context variables for C.  `make demo`, `make test`, `make check`.
#
# Layout: lib/ the header and the context store, shim/ the interposers,
# launcher/ ctxrun, tests/ C tests, bats/ whole-program tests, examples/,
# bench/.  Each directory with build rules has a fragment, included below.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man

CC      ?= cc
CXX     ?= c++
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror
B       := build

# The runtime: hidden visibility plus a version script, so only the API and
# the interposers are exported, unversioned: an unversioned definition
# satisfies binaries that reference pthread_create@GLIBC_2.2.5 (built before
# glibc 2.34) as well as @GLIBC_2.34.  TLS descriptors make the per-thread
# state cheap to reach from a preloaded library without the initial-exec
# model, which would make a dlopen() of the library fail when static TLS is
# short; -z nodelete keeps a dlclose() from unmapping code that threads are
# still running.  See docs/interposing.md, "Symbol versions" and "TLS model
# and -z nodelete".
# -fexceptions lets ctxvar_run restore the caller's context while a C++
# exception, pthread_exit or cancellation unwinds through it.
RUNTIME_CFLAGS := $(WARN) -fPIC -pthread -fvisibility=hidden -fexceptions \
                  -mtls-dialect=gnu2 -D_GNU_SOURCE -DCTXVAR_BUILDING_RUNTIME -Ilib
RUNTIME_LDFLAGS := -shared -pthread -Wl,--version-script=shim/exports.map \
                   -Wl,-z,nodelete -Wl,-z,now -Wl,--no-undefined
RUNTIME_SRCS := $(wildcard lib/*.c shim/*.c)
RUNTIME_HDRS := $(wildcard lib/*.h shim/*.h)

.PHONY: all test check install uninstall clean demo bench soak fault fuzz
all: $(B)/libctxvar.so $(B)/ctxrun

$(B)/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) $(RUNTIME_SRCS) $(RUNTIME_LDFLAGS) -o $@ -ldl

# The fault-injection build, for tests only: never installed.  It exports
# ctxvar_test_fail_allocation(n) and ctxvar_test_allocations() besides the API.
$(B)/fault/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) -DCTXVAR_FAULT_INJECTION $(RUNTIME_SRCS) \
	    $(RUNTIME_LDFLAGS) -o $@ -ldl

include launcher/launcher.mk
include examples/examples.mk
include tests/tests.mk
include bats/bats.mk
include tests/reliability.mk
include bench/bench.mk
include fuzz/fuzz.mk

# One line "N passed, N failed" over every suite; non-zero on any failure.
test: all
	@tests/run-suites.sh $(B)

VERSION := $(shell sed -n 's/^\#define CTXVAR_VERSION "\(.*\)"/\1/p' lib/ctxvar.h)

# ctxrun finds the runtime at <its dir>/../lib, so LIBDIR must be PREFIX/lib
# beside BINDIR = PREFIX/bin (the defaults).  pkg-config gives linked mode
# (-DCTXVAR_LINKED, -lctxvar); its file is written for this PREFIX at each
# install, never kept from an earlier one.  A program that wants the header
# alone needs only -I.
install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 lib/ctxvar.h $(DESTDIR)$(INCDIR)/ctxvar.h
	install -m 755 $(B)/libctxvar.so $(DESTDIR)$(LIBDIR)/libctxvar.so
	install -m 755 $(B)/ctxrun $(DESTDIR)$(BINDIR)/ctxrun
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCDIR@|$(INCDIR)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' lib/ctxvar.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc
	install -m 644 man/ctxrun.1 $(DESTDIR)$(MANDIR)/man1/ctxrun.1
	install -m 644 man/ctxvar.3 $(DESTDIR)$(MANDIR)/man3/ctxvar.3

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/ctxvar.h $(DESTDIR)$(LIBDIR)/libctxvar.so \
	      $(DESTDIR)$(BINDIR)/ctxrun $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc \
	      $(DESTDIR)$(MANDIR)/man1/ctxrun.1 $(DESTDIR)$(MANDIR)/man3/ctxvar.3

clean:
	rm -rf $(B)

# The ctxvar command and the bats helper: their build, install and uninstall.
include launcher/tools.mk
