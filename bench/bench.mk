# bench/: `make bench`, the benchmark suite behind the Performance table of
# README.md: every figure against a baseline measured in the same process or
# the same run.
#
# The programs are built the way a user builds one: the header alone,
# -Ilib -pthread -O2, nothing linked; bench/run.py runs them with and without
# the runtime preloaded, prints one Markdown table and writes it to
# $(B)/bench.md.  A missed target is reported, not a failure: `make bench`
# fails only when something could not be measured.
#
#   make bench                     the whole suite, about 2 minutes
#   make bench BENCH_ARGS=--quick  fewer repeats, for trying a change
#   make bench-profile             the quick suite plus callgrind profiles, in
#                                  $(B)/bench/profile/*.txt
#   make bench BENCH_ARGS=--only=otel
#                                  only rows 11: CTXVAR_OTEL=1 against unset

BENCH_DIR      := $(B)/bench
BENCH_CFLAGS   := $(WARN) -O2 -g -pthread -Ilib
BENCH_PROGRAMS := $(addprefix $(BENCH_DIR)/, cycle micro memory exec http)
BENCH_ARGS     ?=

$(BENCH_DIR)/%: bench/%.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@

# libcurl requests with CTXVAR_HTTP=1 (bench/http.c) link libcurl.
$(BENCH_DIR)/http: bench/http.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@ -lcurl

# The GLib rows (bench/glib.c): built against Debian's GLib, as a GLib
# program is.
BENCH_PROGRAMS += $(BENCH_DIR)/glib
$(BENCH_DIR)/glib: bench/glib.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $$(pkg-config --cflags glib-2.0) $< -o $@ $$(pkg-config --libs glib-2.0)
# The least a carrier for those GLib calls can do (bench/floor_glib.c),
# preloaded by run.py beside the runtime.
BENCH_PROGRAMS += $(BENCH_DIR)/floor_glib.so
$(BENCH_DIR)/floor_glib.so: bench/floor_glib.c bench/floor.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -D_GNU_SOURCE -fPIC -shared $$(pkg-config --cflags glib-2.0) $< -o $@

.PHONY: bench-programs bench-profile
bench-programs: $(BENCH_PROGRAMS)

bench: $(B)/libctxvar.so $(BENCH_PROGRAMS)
	python3 bench/run.py --build $(B) $(BENCH_ARGS)

bench-profile: $(B)/libctxvar.so $(BENCH_PROGRAMS)
	python3 bench/run.py --build $(B) --quick --profile

# bench/loops.c, the event-loop rows: built with Debian's libuv and libevent
# where their development files are installed (run.py says when not).
# `python3 bench/run.py --only 13` runs those rows alone.
BENCH_LOOPS_FLAGS := $(shell pkg-config --cflags --libs libuv libevent 2>/dev/null)
ifneq ($(BENCH_LOOPS_FLAGS),)
bench-programs: $(BENCH_DIR)/loops
bench bench-profile: $(BENCH_DIR)/loops
$(BENCH_DIR)/loops: bench/loops.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -D_GNU_SOURCE $< -o $@ $(BENCH_LOOPS_FLAGS)
# The least a libuv context carrier can do (bench/floor.c), preloaded by
# run.py beside the runtime: where the floor of the libuv rows lies.
bench-programs: $(BENCH_DIR)/floor.so
bench bench-profile: $(BENCH_DIR)/floor.so
$(BENCH_DIR)/floor.so: bench/floor.c bench/floor.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -D_GNU_SOURCE -fPIC -shared $< -o $@ $(shell pkg-config --cflags libuv)
endif
