# tests/tests.mk - the C test suite (tests/runner.c and tests/test-*.c) and
# `make check`.  Included by the top-level Makefile, which defines B, CC,
# CFLAGS, WARN and the RUNTIME_* variables.
#
# The tests are compiled the way a user compiles a program that uses ctxvar:
# the header only, -pthread, nothing linked; the runner preloads the runtime.

TEST_SRCS := $(wildcard tests/*.c)
TEST_HDRS := $(wildcard tests/*.h) lib/ctxvar.h
TEST_CFLAGS := $(WARN) -D_GNU_SOURCE -pthread -Ilib

$(B)/tests/runner: $(TEST_SRCS) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $(TEST_SRCS) -o $@

test: $(B)/tests/runner

# `make check`: the whole C suite again under AddressSanitizer with
# UndefinedBehaviorSanitizer, then under ThreadSanitizer, each with a runtime
# and a runner built with that sanitizer; then cppcheck.  The sanitizer's own
# runtime comes first in LD_PRELOAD, where it must be to intercept
# everything before anything else does (ASan refuses to start otherwise;
# docs/interposing.md, "Sanitizers first in LD_PRELOAD"); the runner drops
# the libctxvar entry for the tests that run without the runtime.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
TSAN_FLAGS := -fsanitize=thread

# $(call sanitized_build,DIR,FLAGS): DIR/libctxvar.so and DIR/tests/runner.
define sanitized_build
$(B)/$(1)/libctxvar.so: $(RUNTIME_SRCS) $(RUNTIME_HDRS) shim/exports.map
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) $$(RUNTIME_CFLAGS) $$(RUNTIME_SRCS) $$(RUNTIME_LDFLAGS) -o $$@ -ldl

$(B)/$(1)/tests/runner: $$(TEST_SRCS) $$(TEST_HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(2) $$(TEST_CFLAGS) $$(TEST_SRCS) -o $$@
endef
$(eval $(call sanitized_build,asan,$(ASAN_FLAGS)))
$(eval $(call sanitized_build,tsan,$(TSAN_FLAGS)))

# cppcheck checks every preprocessor configuration of the runtime's sources.
CPPCHECK_FLAGS := --enable=warning,performance,portability --error-exitcode=1 \
                  --inline-suppr --quiet --std=c11 -Ilib

# Sequential on purpose: the ASan run, then the TSan run, then cppcheck; the
# first failure fails `make check`.
check: check-asan check-tsan check-cppcheck
check-tsan: check-asan
check-cppcheck: check-tsan

check-asan: $(B)/asan/libctxvar.so $(B)/asan/tests/runner
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	CTXVAR_TEST_PRELOAD="$$($(CC) -print-file-name=libasan.so):$(abspath $(B))/asan/libctxvar.so" \
	  $(B)/asan/tests/runner

check-tsan: $(B)/tsan/libctxvar.so $(B)/tsan/tests/runner $(B)/bats/reap_lingering
	TSAN_OPTIONS=halt_on_error=1 \
	CTXVAR_TEST_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(B)/tsan/tests/runner
	# Detached threads that set values in their key destructors, after
	# their start routine: the thread that learns from tgkill that one has
	# gone reads what it wrote last (lib/annotate.h, CTXVAR__TSAN_ACQUIRE).
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(B)/bats/reap_lingering >/dev/null

check-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) lib shim launcher

.PHONY: check-asan check-tsan check-cppcheck
