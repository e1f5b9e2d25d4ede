# fuzz/fuzz.mk - `make fuzz`: the libFuzzer targets for what reads untrusted
# bytes: the baggage decoder, the traceparent check and the seeding from the
# environment.
# Included by the top-level Makefile (B, RUNTIME_HDRS).
#
#   baggage_decode  ctxvar__baggage_decode on any bytes, then encode and
#                   decode again: our own encoding must give the context back
#   traceparent     ctxvar__traceparent_valid against a reference written in
#                   the target
#   seed_env        the runtime's seeding from BAGGAGE/TRACEPARENT/TRACESTATE
#                   (the static context_from_environment, via #include)
#
# The runtime's sources are compiled into each target with
# -DCTXVAR_BUILDING_RUNTIME, so its hidden functions are reachable; nothing
# is added to lib/.  Each target runs FUZZ_SECONDS (default 60) from a
# scratch copy of its seeds in fuzz/corpus/<target>/ (the repository's
# corpus is never written), with AddressSanitizer, UBSan (every report
# fatal) and LeakSanitizer; any crash, report or leak fails `make fuzz` and
# leaves the input in $(B)/fuzz/artifacts/.  Needs clang with libFuzzer
# (Debian: clang and libclang-rt-14-dev).
#
#   make fuzz FUZZ_SECONDS=600     longer runs
#   $(B)/fuzz/baggage_decode INPUT replays one input

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
# -Wno-unused-variable: clang 14 calls a variable used only through
# __attribute__((cleanup)) unused (shim/threads.c's trampolines).
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer -std=c11 -Wall -Wextra -Werror -Wno-unused-variable \
                -pthread -D_GNU_SOURCE -DCTXVAR_BUILDING_RUNTIME -Ilib
FUZZ_TARGETS := baggage_decode traceparent seed_env
FUZZ_BINS    := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
FUZZ_OPTIONS := -detect_leaks=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

# The runtime's lib/ alone: nothing there calls into shim/.
FUZZ_LIB_SRCS := $(wildcard lib/*.c)

$(B)/fuzz/baggage_decode $(B)/fuzz/traceparent: $(B)/fuzz/%: fuzz/%.c fuzz/fuzz.h \
        $(FUZZ_LIB_SRCS) $(RUNTIME_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LIB_SRCS) $< -o $@ -ldl

# seed_env.c includes lib/startup.c itself, to reach its static function.
$(B)/fuzz/seed_env: fuzz/seed_env.c fuzz/fuzz.h $(FUZZ_LIB_SRCS) $(RUNTIME_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter-out lib/startup.c,$(FUZZ_LIB_SRCS)) $< -o $@ -ldl

fuzz-build: $(FUZZ_BINS)

# Per target: max_len covers headers past 8192 bytes (traceparent: past the
# 4096-byte value limit); the dictionary holds baggage's punctuation.
FUZZ_ARGS_baggage_decode := -max_len=10000 -dict=fuzz/baggage.dict
FUZZ_ARGS_traceparent    := -max_len=4200
FUZZ_ARGS_seed_env       := -max_len=10000 -dict=fuzz/baggage.dict

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    work=$(B)/fuzz/work/$$t; rm -rf $$work; mkdir -p $$work $(B)/fuzz/artifacts; \
	    cp fuzz/corpus/$$t/* $$work/; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s from $$(ls $$work | wc -l) seeds"; \
	    args=; case $$t in \
	        baggage_decode) args='$(FUZZ_ARGS_baggage_decode)';; \
	        traceparent) args='$(FUZZ_ARGS_traceparent)';; \
	        seed_env) args='$(FUZZ_ARGS_seed_env)';; esac; \
	    if ! $(B)/fuzz/$$t $(FUZZ_OPTIONS) $$args -max_total_time=$(FUZZ_SECONDS) \
	            -artifact_prefix=$(B)/fuzz/artifacts/$$t- $$work \
	            >$(B)/fuzz/$$t.log 2>&1; then \
	        tail -n 60 $(B)/fuzz/$$t.log; echo "fuzz: $$t FAILED (log: $(B)/fuzz/$$t.log)"; exit 1; \
	    fi; \
	    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss_mb|^Done' \
	        $(B)/fuzz/$$t.log | sed "s/^/fuzz: $$t: /"; \
	    echo "fuzz: $$t: corpus $$(ls fuzz/corpus/$$t | wc -l) -> $$(ls $$work | wc -l) inputs"; \
	done; echo "fuzz: all $(words $(FUZZ_TARGETS)) targets clean"

.PHONY: fuzz-build
