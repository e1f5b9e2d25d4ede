# launcher/tools.mk - the tools for scripts and test suites beside ctxrun:
# the ctxvar command (launcher/ctxvar.c, man/ctxvar.1) and the bats helper
# (bats/helper/ctxvar.bash).  Included from the top-level Makefile, which
# defines CC, CFLAGS, WARN, B and the install directories; the rules here
# only add to all, install and uninstall.

# The command is linked with the runtime (see the top of launcher/ctxvar.c
# for why), so it needs the runtime's SONAME, libctxvar.so.1.  Its run path
# holds the two places ctxrun looks for the runtime, in ctxrun's order:
# $ORIGIN, where build/ctxvar finds build/libctxvar.so.1, then
# $ORIGIN/../lib, where PREFIX/bin/ctxvar finds PREFIX/lib/libctxvar.so.1
# (so, as for ctxrun, LIBDIR must be PREFIX/lib beside BINDIR = PREFIX/bin).
# --disable-new-dtags makes it a DT_RPATH, which the loader searches before
# LD_LIBRARY_PATH: the runtime beside the command wins over one an
# environment variable points to.  The Debian package builds it with
# TOOLS_RPATH empty: its runtime is in the loader's own directory, and
# /usr/bin/../lib must not let a stray /usr/lib/libctxvar.so.1 win over it.
TOOLS_CFLAGS  := $(WARN) -Ilib -DCTXVAR_LINKED -pthread
TOOLS_RPATH   := -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib'
TOOLS_LDFLAGS := -L$(B) -lctxvar -pthread $(TOOLS_RPATH)

all: $(B)/ctxvar

$(B)/ctxvar: launcher/ctxvar.c launcher/escape.h lib/w3c.h lib/ctxvar.h $(B)/libctxvar.so \
             $(B)/$(SONAME) launcher/tools.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TOOLS_CFLAGS) $< -o $@ $(LDFLAGS) $(TOOLS_LDFLAGS)

# The bats helper's directory.  Fixed under PREFIX: the pkg-config file
# names it ${prefix}/share/ctxvar/bats (batsdir, lib/ctxvar.pc.in), and the
# helper finds ctxrun and ctxvar at ../../../bin from there.
TOOLS_BATSDIR := $(PREFIX)/share/ctxvar/bats

.PHONY: install-tools uninstall-tools
install: install-tools
uninstall: uninstall-tools

install-tools: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(TOOLS_BATSDIR)
	install -m 755 $(B)/ctxvar $(DESTDIR)$(BINDIR)/ctxvar
	install -m 644 man/ctxvar.1 $(DESTDIR)$(MANDIR)/man1/ctxvar.1
	install -m 644 bats/helper/ctxvar.bash $(DESTDIR)$(TOOLS_BATSDIR)/ctxvar.bash

# The two share/ directories are ctxvar's alone: gone with the helper.
uninstall-tools:
	rm -f $(DESTDIR)$(BINDIR)/ctxvar $(DESTDIR)$(MANDIR)/man1/ctxvar.1 \
	      $(DESTDIR)$(TOOLS_BATSDIR)/ctxvar.bash
	rmdir $(DESTDIR)$(TOOLS_BATSDIR) $(DESTDIR)$(PREFIX)/share/ctxvar 2>/dev/null || true
