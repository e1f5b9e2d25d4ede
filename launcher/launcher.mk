# launcher/ - ctxrun, the command-line launcher (see man/ctxrun.1).
# Included from the top-level Makefile, which defines CC, CFLAGS, WARN and B,
# and, where it builds a 32-bit runtime too (MULTILIB), LIB64 and LIB32: the
# loaders' expansions of $LIB, which ctxrun needs to check that both
# runtimes are there before it preloads <dir>/$LIB/libctxvar.so.
# _GNU_SOURCE for secure_getenv: CTXVAR_DEBUG is read the way the runtime
# reads it.  -Ilib for w3c.h, the baggage and traceparent rules ctxrun shares
# with the runtime, and ctxvar.h behind it (the limits and CTXVAR_VERSION).

LAUNCHER_CFLAGS := $(WARN) -D_GNU_SOURCE -Ilib
# LIB64, the 64-bit (the build's own word size) loader's $LIB, is also
# where the Debian package puts the runtime (its multiarch directory), so
# that ctxrun looks for it at <prefix>/LIB64/libctxvar.so.1.
ifneq ($(LIB64),)
LAUNCHER_CFLAGS += -DCTXRUN_HOST_LIB='"$(LIB64)"'
endif
ifeq ($(MULTILIB),yes)
LAUNCHER_CFLAGS += -DCTXRUN_LIB64='"$(LIB64)"' -DCTXRUN_LIB32='"$(LIB32)"'
endif

# The directories ctxrun was built for, rewritten only when they change
# (gcc-multilib installed or removed since the last build), so that ctxrun
# is rebuilt then and only then.
LAUNCHER_LIBDIRS := $(if $(filter yes,$(MULTILIB)),$(LIB64) $(LIB32),none)
$(B)/launcher-libdirs: FORCE
	@mkdir -p $(@D)
	@echo '$(LAUNCHER_LIBDIRS)' | cmp -s - $@ || echo '$(LAUNCHER_LIBDIRS)' >$@
.PHONY: FORCE
FORCE:

$(B)/ctxrun: launcher/ctxrun.c launcher/escape.h lib/w3c.h lib/ctxvar.h launcher/launcher.mk $(B)/launcher-libdirs
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LAUNCHER_CFLAGS) $< -o $@ $(LDFLAGS)
