# launcher/ - ctxrun, the command-line launcher (see man/ctxrun.1).
# Included from the top-level Makefile, which defines CC, CFLAGS, WARN and B.
# _GNU_SOURCE for secure_getenv: CTXVAR_DEBUG is read the way the runtime
# reads it.  -Ilib for w3c.h, the baggage and traceparent rules ctxrun shares
# with the runtime, and ctxvar.h behind it (the limits and CTXVAR_VERSION).

LAUNCHER_CFLAGS := $(WARN) -D_GNU_SOURCE -Ilib

$(B)/ctxrun: launcher/ctxrun.c lib/w3c.h lib/ctxvar.h launcher/launcher.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LAUNCHER_CFLAGS) $< -o $@ $(LDFLAGS)
