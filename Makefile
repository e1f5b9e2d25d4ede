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
# The SONAME is what a program linked with -lctxvar records as its
# dependency (DT_NEEDED), so libctxvar.so.1 is the file the loader looks
# for at run time; libctxvar.so stays the name the linker, LD_PRELOAD and
# ctxrun use.  The 1 changes only when a program linked against this
# version could no longer run with a newer one.
SONAME := libctxvar.so.1
RUNTIME_LDFLAGS := -shared -pthread -Wl,--version-script=shim/exports.map \
                   -Wl,-z,nodelete -Wl,-z,now -Wl,--no-undefined -Wl,-soname,$(SONAME)
RUNTIME_SRCS := $(wildcard lib/*.c shim/*.c)
# The headers, and what the build found installed (below).
RUNTIME_HDRS := $(wildcard lib/*.h shim/*.h) $(B)/runtime-features

.PHONY: all test check install uninstall clean demo bench soak fault fuzz
all: $(B)/libctxvar.so $(B)/$(SONAME) $(B)/libctxvar.a $(B)/ctxrun

$(B)/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map $(B)/runtime-soname
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) $(RUNTIME_SRCS) $(RUNTIME_LDFLAGS) $(LDFLAGS) -o $@ -ldl

# The SONAME the runtime was linked with, rewritten only when it changes, so
# that a build tree from before (or another) SONAME relinks the runtime and
# what links to it.
$(B)/runtime-soname: FORCE
	@mkdir -p $(@D)
	@echo '$(SONAME)' | cmp -s - $@ || echo '$(SONAME)' >$@

# Which optional headers the compiler finds: libuv's and libevent's (their
# interposers, shim/loops.h) and valgrind's (lib/annotate.h), for each
# runtime built (the 32-bit one's may be installed apart: libevent's
# configuration header is per architecture).  The sources test for them
# with __has_include, which no dependency list records, so the answers are
# kept here, rewritten only when they change: installing libuv1-dev after a
# build rebuilds the runtime with its interposers at the next make, instead
# of leaving the runtime without them.
probe_features = $(CC) $(1) $(CFLAGS) -D_GNU_SOURCE -Ilib -Ishim -E -dM -include shim/loops.h \
    -include lib/annotate.h -x c /dev/null 2>/dev/null | \
    grep -E '^\#define (CTXVAR_WITH_[A-Z]+|CTXVAR__ANNOTATIONS) ' | sort $(if $(1),| sed 's/^/$(1) /')
$(B)/runtime-features: FORCE
	@mkdir -p $(@D)
	@{ $(call probe_features,); $(if $(MULTILIB),$(call probe_features,-m32);) } | \
	    { cat >$@.new; cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@; }

# The name programs linked with -Lbuild -lctxvar ask the loader for (the
# ctxvar command, through its $ORIGIN run path), as a link: the file stays
# build/libctxvar.so, so a process that preloads that path and also needs
# the SONAME maps one runtime.
$(B)/$(SONAME): $(B)/libctxvar.so
	ln -sfn libctxvar.so $@

# The 32-bit runtime.  LD_PRELOAD is inherited, so a 32-bit program started
# by ctxrun, or by a preloaded 64-bit program, is handed the runtime too; a
# 64-bit build/libctxvar.so makes its loader print "wrong ELF class ...
# ignored" on the program's stderr.  Where $(CC) -m32 links a program, a
# 32-bit runtime is built as well, and each loader picks its own through
# the $LIB token: $(B)/<64-bit $LIB>/libctxvar.so (a link to
# $(B)/libctxvar.so, which stays where users and tests expect it) and
# $(B)/<32-bit $LIB>/libctxvar.so, and ctxrun then preloads
# <dir>/$LIB/libctxvar.so, unexpanded.  What $LIB expands to is asked of
# each loader (launcher/libdir.sh): it is not the multiarch triplet
# everywhere (Debian's 32-bit loader from gcc-multilib says lib32).  No
# 32-bit runtime when either loader cannot be asked (a program of that size
# does not run here), when both give the same directory, or when the 32-bit
# one is plain "lib", under PREFIX the home of the 64-bit runtime.
# M32_TOOLCHAIN alone says that -m32 programs can be built (the tests need
# it to build theirs).
LIBDIR_PROBE   := $(shell sh launcher/libdir.sh $(CC))
LIBDIR_PROBE32 := $(shell sh launcher/libdir.sh $(CC) -m32)
M32_TOOLCHAIN  := $(word 1,$(LIBDIR_PROBE32))
LIB64          := $(word 2,$(LIBDIR_PROBE))
LIB32          := $(word 2,$(LIBDIR_PROBE32))
MULTILIB       := $(if $(and $(LIB64),$(LIB32)),$(if $(filter-out $(LIB64) lib,$(LIB32)),yes))
# "../" once per component of a directory name: from $(B)/$(LIB64) (or
# PREFIX/$(LIB64)) back up to $(B) (or PREFIX).
empty :=
space := $(empty) $(empty)
updirs = $(subst $(space),,$(foreach d,$(subst /, ,$(1)),../))

ifeq ($(MULTILIB),yes)
all: $(B)/$(LIB64)/libctxvar.so $(B)/$(LIB32)/libctxvar.so

# A symbolic link, not a copy: the loader recognises one file under two
# names and loads it once, so an LD_PRELOAD that names the runtime both ways
# still gives a 64-bit process one runtime.
$(B)/$(LIB64)/libctxvar.so: $(B)/libctxvar.so
	@mkdir -p $(@D)
	ln -sfn $(call updirs,$(LIB64))libctxvar.so $@

# -Wno-psabi: GCC notes, for -m32, that the alignment of _Atomic long long
# members changed in GCC 11.1; the structures concerned are the runtime's
# own and never cross a boundary to code built by another compiler.
$(B)/$(LIB32)/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map $(B)/runtime-soname
	@mkdir -p $(@D)
	$(CC) -m32 $(CFLAGS) $(RUNTIME_CFLAGS) -Wno-psabi $(RUNTIME_SRCS) \
	    $(RUNTIME_LDFLAGS) -o $@ -ldl
endif

# The fault-injection build, for tests only: never installed.  It exports
# ctxvar_test_fail_allocation(n) and ctxvar_test_allocations() besides the API.
$(B)/fault/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) -DCTXVAR_FAULT_INJECTION $(RUNTIME_SRCS) \
	    $(RUNTIME_LDFLAGS) -o $@ -ldl

# The static archive, for programs linked with -static, which ignore
# LD_PRELOAD: the same sources built with CTXVAR_STATIC_WRAP (the functions
# we stand in front of are reached as the linker's __real_NAME) and
# CTXVAR_PORTABLE (no thread-pointer shortcuts, which assume a shared
# library's TLS), the interposers renamed __wrap_NAME in each object for
# the names shim/wrapped.h lists, OpenMP's left out (libgomp.a defines the
# same entry points), and so are the outlets' (syslog, libcurl): they add to
# what a program sends out and are asked for at run time (ctxrun --syslog).  A program links it with -Wl,--wrap=NAME for each:
# `pkg-config --static --libs ctxvar` says so.
WRAPPED := $(shell sed -n 's/^ *X(\([a-z_0-9]*\)).*/\1/p' shim/wrapped.h)
comma := ,
WRAP_LDFLAGS := $(addprefix -Wl$(comma)--wrap=,$(WRAPPED))
# The event-loop and library-pool interposers are left out too: a static
# program binds its GLib, APR, libuv or libevent at link time, and no
# dynamic search would find them.
STATIC_SRCS := $(filter-out shim/openmp.c shim/syslog.c shim/curl.c shim/libuv%.c shim/libevent%.c \
                           shim/glib%.c shim/apr.c,$(RUNTIME_SRCS))
STATIC_OBJS := $(patsubst %.c,$(B)/static/%.o,$(STATIC_SRCS))

$(B)/static/%.o: %.c $(RUNTIME_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(RUNTIME_CFLAGS) -DCTXVAR_STATIC_WRAP -DCTXVAR_PORTABLE -c $< -o $@
	objcopy $(foreach name,$(WRAPPED),--redefine-sym $(name)=__wrap_$(name)) $@

$(B)/libctxvar.a: $(STATIC_OBJS)
	rm -f $@
	ar rcs $@ $^

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
# beside BINDIR = PREFIX/bin (the defaults), or PREFIX/<the loader's $LIB>
# (lib/x86_64-linux-gnu on Debian), where the Debian package puts it.  The
# runtime is installed under its SONAME, libctxvar.so.1, the file programs
# linked with -lctxvar load, with libctxvar.so a link to it for the linker,
# LD_PRELOAD and ctxrun.  pkg-config gives linked mode (-DCTXVAR_LINKED,
# -lctxvar); its file is written for this PREFIX at each install, never
# kept from an earlier one.  A program that wants the header alone needs
# only -I.  PC_RPATH: the run path pkg-config's --libs adds, so that a
# program finds a runtime installed outside the loader's own directories;
# empty where LIBDIR is one of them (the Debian package).
# With a 32-bit runtime (MULTILIB), the installed ctxrun preloads
# PREFIX/$LIB/libctxvar.so: the 32-bit runtime goes to PREFIX/$(LIB32), and
# PREFIX/$(LIB64) gets a link to LIBDIR/libctxvar.so (relative, so a staged
# DESTDIR tree can be moved), unless $(LIB64) is LIBDIR's own "lib".
PC_RPATH ?= -Wl,-rpath,$${libdir}
LIB64_LINK := $(if $(filter $(PREFIX)/lib,$(LIBDIR)),$(call updirs,$(LIB64))lib,$(LIBDIR))/libctxvar.so
install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 lib/ctxvar.h $(DESTDIR)$(INCDIR)/ctxvar.h
	install -m 755 $(B)/libctxvar.so $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libctxvar.so
	install -m 644 $(B)/libctxvar.a $(DESTDIR)$(LIBDIR)/libctxvar.a
	install -m 755 $(B)/ctxrun $(DESTDIR)$(BINDIR)/ctxrun
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCDIR@|$(INCDIR)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@WRAP_LDFLAGS@|$(WRAP_LDFLAGS)|' \
	    -e 's|@PC_RPATH@ |$(if $(PC_RPATH),$(PC_RPATH) )|' \
	    lib/ctxvar.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc
	install -m 644 man/ctxrun.1 $(DESTDIR)$(MANDIR)/man1/ctxrun.1
	install -m 644 man/ctxvar.3 $(DESTDIR)$(MANDIR)/man3/ctxvar.3
ifeq ($(MULTILIB),yes)
	install -d $(DESTDIR)$(PREFIX)/$(LIB32)
	install -m 755 $(B)/$(LIB32)/libctxvar.so $(DESTDIR)$(PREFIX)/$(LIB32)/libctxvar.so
ifneq ($(PREFIX)/$(LIB64),$(LIBDIR))
	install -d $(DESTDIR)$(PREFIX)/$(LIB64)
	ln -sfn $(LIB64_LINK) $(DESTDIR)$(PREFIX)/$(LIB64)/libctxvar.so
endif
endif

# The $LIB directories themselves stay: they may be shared with other
# software (PREFIX=/usr/local, say).
uninstall:
	rm -f $(DESTDIR)$(INCDIR)/ctxvar.h $(DESTDIR)$(LIBDIR)/libctxvar.so $(DESTDIR)$(LIBDIR)/libctxvar.a \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(BINDIR)/ctxrun $(DESTDIR)$(LIBDIR)/pkgconfig/ctxvar.pc \
	      $(DESTDIR)$(MANDIR)/man1/ctxrun.1 $(DESTDIR)$(MANDIR)/man3/ctxvar.3
ifeq ($(MULTILIB),yes)
	rm -f $(DESTDIR)$(PREFIX)/$(LIB32)/libctxvar.so
ifneq ($(PREFIX)/$(LIB64),$(LIBDIR))
	rm -f $(DESTDIR)$(PREFIX)/$(LIB64)/libctxvar.so
endif
endif

clean:
	rm -rf $(B)

# The ctxvar command and the bats helper: their build, install and uninstall.
include launcher/tools.mk

# The Debian packages: make deb, make deb-check.
include packaging/deb.mk
