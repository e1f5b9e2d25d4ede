# launcher/ - ctxrun, the command-line launcher (see man/ctxrun.1).
# Included from the top-level Makefile, which defines CC, CFLAGS, WARN and B.
# _GNU_SOURCE for secure_getenv: CTXVAR_DEBUG is read the way the runtime
# reads it (shim-pitfalls item 11).

LAUNCHER_CFLAGS := $(WARN) -D_GNU_SOURCE

$(B)/ctxrun: launcher/ctxrun.c launcher/launcher.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LAUNCHER_CFLAGS) $< -o $@ $(LDFLAGS)
