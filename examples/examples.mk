# examples/: programs a user would copy, and `make demo`.
#
# They are built exactly as a user builds them: the header alone
# (-Ilib -pthread), no runtime linked.  The runtime comes at run time, from
# ctxrun or LD_PRELOAD.

EXAMPLES_CFLAGS := $(WARN) -Ilib -pthread
SERVER_DIR      := examples/request_server
SERVER_COMMON   := $(SERVER_DIR)/server.c $(SERVER_DIR)/legacy.c $(SERVER_DIR)/log.c
EXAMPLES        := $(B)/examples/server_ctxvar $(B)/examples/server_global \
                   $(B)/examples/print_context

.PHONY: examples
examples: $(EXAMPLES)
# The bats suites run the examples too (print_context, thread_pool, ...).
test: examples

# The two servers differ in one module: where the request's ids live.
$(B)/examples/server_ctxvar: $(SERVER_COMMON) $(SERVER_DIR)/context_ctxvar.c \
                             $(SERVER_DIR)/server.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

$(B)/examples/server_global: $(SERVER_COMMON) $(SERVER_DIR)/context_global.c \
                             $(SERVER_DIR)/server.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

$(B)/examples/print_context: examples/print_context.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

# Runs the server three ways and checks each run's log lines; non-zero when
# a verdict is not the expected one, so it doubles as a smoke test.
demo: all $(EXAMPLES)
	@examples/demo.sh $(B)

# A classic thread pool (pool.c, no ctxvar in it) and a demo whose submit
# sites wrap their jobs (main.c).
THREAD_POOL_DIR := examples/thread_pool
examples: $(B)/examples/thread_pool
$(B)/examples/thread_pool: $(THREAD_POOL_DIR)/main.c $(THREAD_POOL_DIR)/pool.c \
                           $(THREAD_POOL_DIR)/pool.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

# A request server whose request threads each start child processes, and
# the C child it starts (found next to the server).
PROCESS_SERVER_DIR := examples/process_server
examples: $(B)/examples/process_server $(B)/examples/request_child
$(B)/examples/process_server: $(PROCESS_SERVER_DIR)/server.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@
$(B)/examples/request_child: $(PROCESS_SERVER_DIR)/request_child.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

# A request server that runs a hook script (hook.sh, with the ctxvar
# command) for each request with system() from the request's thread.
examples: $(B)/examples/request_hooks
$(B)/examples/request_hooks: examples/request_hooks/server.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

# Across services (examples/http_trace): a libcurl client, under
# `ctxrun --http`, and a backend that accepts its callers' headers.
HTTP_TRACE_DIR := examples/http_trace
examples: $(B)/examples/http_client $(B)/examples/http_backend
$(B)/examples/http_client: $(HTTP_TRACE_DIR)/client.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@ -lcurl
$(B)/examples/http_backend: $(HTTP_TRACE_DIR)/backend.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@

# A libevent order server whose handlers and deferred work log with
# ctxvar_format, with one ctxvar_set where a request enters; built where
# libevent's development files are installed (make demo says when not).
LOOP_SERVER_FLAGS := $(shell pkg-config --cflags --libs libevent 2>/dev/null)
ifneq ($(LOOP_SERVER_FLAGS),)
examples: $(B)/examples/loop_server
demo: $(B)/examples/loop_server
$(B)/examples/loop_server: examples/loop_server/server.c examples/loop_server/orders.c \
                           examples/loop_server/orders.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@ $(LOOP_SERVER_FLAGS)
endif

# A SIGSEGV handler that logs the crashing thread's request id
# (bats/signals.bats runs it).
examples: $(B)/examples/crash_handler
$(B)/examples/crash_handler: examples/crash_handler/crash_handler.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(EXAMPLES_CFLAGS) $(filter %.c,$^) -o $@
