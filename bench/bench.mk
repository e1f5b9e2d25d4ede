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

BENCH_DIR      := $(B)/bench
BENCH_CFLAGS   := $(WARN) -O2 -g -pthread -Ilib
BENCH_PROGRAMS := $(addprefix $(BENCH_DIR)/, cycle micro memory exec)
BENCH_ARGS     ?=

$(BENCH_DIR)/%: bench/%.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@

# The GLib rows (bench/glib.c): built against Debian's GLib, as a GLib
# program is.
BENCH_PROGRAMS += $(BENCH_DIR)/glib
$(BENCH_DIR)/glib: bench/glib.c bench/bench.h lib/ctxvar.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $$(pkg-config --cflags glib-2.0) $< -o $@ $$(pkg-config --libs glib-2.0)

.PHONY: bench-programs bench-profile
bench-programs: $(BENCH_PROGRAMS)

bench: $(B)/libctxvar.so $(BENCH_PROGRAMS)
	python3 bench/run.py --build $(B) $(BENCH_ARGS)

bench-profile: $(B)/libctxvar.so $(BENCH_PROGRAMS)
	python3 bench/run.py --build $(B) --quick --profile
