# tests/reliability.mk - fault injection, stress and soak, and the valgrind
# step of `make check`.  Included by the top-level Makefile (B, CC,
# CFLAGS, WARN).  The programs compile like a user's: the header alone,
# -pthread; they run with the runtime preloaded.  The bats suites
# bats/reliability_*.bats run the short versions in `make test`.
#
#   make fault   every allocation of every scenario failed in turn (about a
#                second), with the total of faults injected
#   make soak    the long versions: 1,000,000 thread lifecycles, the model
#                test with 8 threads x 2,000,000 operations on 5 seeds,
#                1,000 fork rounds
#   make check   also runs the stress programs under valgrind (check-valgrind)
#                and under helgrind and DRD (check-helgrind, check-drd)

REL_DIR := $(B)/reliability
REL_CC  := $(CC) $(CFLAGS) $(WARN) -Ilib -pthread
REL_PROGRAMS := $(addprefix $(REL_DIR)/, fault_driver libarm_at_load.so lifecycle model fork_storm \
                                        handover4)

$(REL_DIR)/fault_driver: tests/fault/driver.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(REL_CC) $< -o $@

# The library-loop records (GLib pools, sources and tasks, APR-util pools) under
# every allocation failure: built against the Debian libraries, as a user
# builds a GLib or APR program.
REL_PROGRAMS += $(REL_DIR)/fault_glib_apr
$(REL_DIR)/fault_glib_apr: tests/fault/glib_apr.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(REL_CC) $$(pkg-config --cflags gio-2.0 apr-1 apr-util-1) $< -o $@ \
	    $$(pkg-config --libs gio-2.0 apr-util-1 apr-1) -ldl

$(REL_DIR)/libarm_at_load.so: tests/fault/arm_at_load.c
	@mkdir -p $(@D)
	$(REL_CC) -fPIC -shared $< -o $@

# Optimised whatever CFLAGS: the soak runs a million cycles.
$(REL_DIR)/%: tests/stress/%.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(REL_CC) -O2 $< -o $@

.PHONY: reliability-programs check-valgrind check-helgrind check-drd
reliability-programs: $(REL_PROGRAMS) $(B)/fault/libctxvar.so
test: reliability-programs

REL_RUNTIME := $(abspath $(B))/libctxvar.so
REL_FAULT_PRELOAD := $(abspath $(B))/fault/libctxvar.so

fault: reliability-programs
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(REL_DIR)/fault_driver all
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(REL_DIR)/fault_glib_apr all
	tests/fault/seed-walk.sh $(B)

SOAK_CYCLES ?= 1000000
soak: all reliability-programs
	LD_PRELOAD=$(REL_RUNTIME) $(REL_DIR)/lifecycle $(SOAK_CYCLES)
	for seed in 1 2 3 4 5; do \
	    LD_PRELOAD=$(REL_RUNTIME) $(REL_DIR)/model $$seed 8 2000000 || exit 1; done
	LD_PRELOAD=$(REL_RUNTIME) $(REL_DIR)/fork_storm 1000 8 4

# Zero bytes definitely lost, no memory error, in the stress programs (short)
# and in the fault driver (every error path).  valgrind keeps the
# LD_PRELOAD it is given for the program it runs.
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
check: check-valgrind
check-valgrind: $(B)/libctxvar.so reliability-programs
	LD_PRELOAD=$(REL_RUNTIME) $(VALGRIND) $(REL_DIR)/lifecycle 600
	LD_PRELOAD=$(REL_RUNTIME) $(VALGRIND) $(REL_DIR)/handover4
	# The fault-injection build, with no fault armed, is the portable one:
	# exit records go through the table of lib/handover.c.
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(VALGRIND) $(REL_DIR)/handover4
	LD_PRELOAD=$(REL_RUNTIME) $(VALGRIND) $(REL_DIR)/model 1 4 3000
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(VALGRIND) $(REL_DIR)/fault_driver all
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(VALGRIND) $(REL_DIR)/fault_glib_apr all
	# Forked children end by exec (fork_storm.c says why); the contexts
	# threads held are released in the child (release_other_threads in
	# lib/registry.c); the parent is leak-checked.
	LD_PRELOAD=$(REL_RUNTIME) $(VALGRIND) $(REL_DIR)/fork_storm 3 4 2

# No data race, by helgrind and by DRD (each understands the other's
# happens-before requests, lib/annotate.h), in programs that are clean under
# both without the runtime: handover4 is run without it first, so that a
# report with it is the runtime's, not glibc's or valgrind's.  valgrind's
# default suppressions cover glibc; none of ours is needed.  lifecycle and
# model need the runtime; short versions of `make soak`'s runs.
RACE_CHECK = valgrind -q --tool=$(1) --error-exitcode=1
check: check-helgrind check-drd
check-helgrind check-drd: check-%: $(B)/libctxvar.so reliability-programs $(B)/bats/three_threads
	$(call RACE_CHECK,$*) $(REL_DIR)/handover4
	# Two threads making the first call of an interposed function at once.
	$(call RACE_CHECK,$*) $(B)/bats/three_threads >/dev/null
	LD_PRELOAD=$(REL_RUNTIME) $(call RACE_CHECK,$*) $(B)/bats/three_threads >/dev/null
	LD_PRELOAD=$(REL_RUNTIME) $(call RACE_CHECK,$*) $(REL_DIR)/handover4
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(call RACE_CHECK,$*) $(REL_DIR)/handover4
	LD_PRELOAD=$(REL_RUNTIME) $(call RACE_CHECK,$*) $(REL_DIR)/lifecycle 60
	LD_PRELOAD=$(REL_RUNTIME) $(call RACE_CHECK,$*) $(REL_DIR)/model 1 4 2000

# The event-loop records (shim/libuv*.c, shim/libevent*.c, lib/keyed.c):
# tests/fault/loops.c, built with Debian's libuv and libevent where their
# development files are installed.  `make fault` fails each allocation of
# each registration in turn; `make check` runs it with no fault under
# valgrind, ASan+UBSan and TSan, and the bats loop programs under TSan
# (APR-util's pool workers free the records its pushers made: TSan checks
# their way home, lib/refcache.c; GLib synchronises through futexes TSan
# cannot see, so its programs are not run under it).
LOOPS_FAULT_FLAGS := $(shell pkg-config --cflags --libs libuv libevent 2>/dev/null)
ifneq ($(LOOPS_FAULT_FLAGS),)
reliability-programs: $(REL_DIR)/loops_fault
$(REL_DIR)/loops_fault: tests/fault/loops.c lib/ctxvar.h
	@mkdir -p $(@D)
	$(REL_CC) $< -o $@ $(LOOPS_FAULT_FLAGS) -ldl

fault: fault-loops
.PHONY: fault-loops check-loops
fault-loops: reliability-programs
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(REL_DIR)/loops_fault all

check: check-loops
check-valgrind: check-loops-valgrind
.PHONY: check-loops-valgrind
check-loops-valgrind: $(B)/libctxvar.so reliability-programs
	LD_PRELOAD=$(REL_RUNTIME) $(VALGRIND) $(REL_DIR)/loops_fault plain
	LD_PRELOAD=$(REL_FAULT_PRELOAD) $(VALGRIND) $(REL_DIR)/loops_fault all

# The sanitizer's runtime first in LD_PRELOAD, as for the C suite
# (tests/tests.mk).
check-loops: $(B)/asan/libctxvar.so $(B)/tsan/libctxvar.so reliability-programs bats-programs
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so):$(abspath $(B))/asan/libctxvar.so" \
	  $(REL_DIR)/loops_fault plain
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(REL_DIR)/loops_fault plain
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_uv requests 4 6 >/dev/null
	# Pool jobs that change the context their record lends them, and a
	# fork while one runs.
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so):$(abspath $(B))/asan/libctxvar.so" \
	  $(BATS_DIR)/loops_uv jobchanges >/dev/null
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_uv jobchanges >/dev/null
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_event requests 4 5 >/dev/null
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_apr tasks >/dev/null
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_apr cancel >/dev/null
	# libevent events added, activated and deleted by several threads at once.
	for mode in adddel finalizedel delactive activate activatenew finalizerfree looponce \
	            looponceunlocked firstuse; do \
	  LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	    $(BATS_DIR)/loops_event_threads $$mode >/dev/null || exit 1; done
	# A fork once every GLib index is in use: its handler holds their locks.
	LD_PRELOAD="$$($(CC) -print-file-name=libtsan.so):$(abspath $(B))/tsan/libctxvar.so" \
	  $(BATS_DIR)/loops_glib fork >/dev/null
endif
