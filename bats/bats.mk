# bats/bats.mk - the small programs the bats suites run, built into
# $(B)/bats/.  Included by the top-level Makefile (B, CC, CXX, CFLAGS, WARN).
#
# They compile the way a user's program does: the header alone, -pthread,
# nothing linked (except "linked", which tests -DCTXVAR_LINKED -lctxvar).

BATS_DIR := $(B)/bats
BATS_SRC := bats/programs
BATS_CC  := $(CC) $(CFLAGS) $(WARN) -Ilib -I$(BATS_SRC) -pthread
BATS_CXX := $(CXX) $(CFLAGS) -std=c++17 -Wall -Wextra -Werror -Ilib -I$(BATS_SRC) -pthread
BATS_DEPS := lib/ctxvar.h $(BATS_SRC)/show.h

BATS_PROGRAMS := $(addprefix $(BATS_DIR)/, inherit inherit_old std_thread thrd \
    libctor_thread.so ctor_thread libctor_wait.so ctor_wait fake_glib/libglib-9.so \
    fake_glib_ifunc/libglib-9.so fake_glib_high/libglib-9.so fake_glib_static/libglib-9.so \
    fake_glib_exported/libglib-9.so fake_glib_use swap_glib \
    exit_paths process_exit fork_child context three_threads \
    linked static_context create_result own_id_freed tgkill_refused reap_lingering join_zero malloc_thread popen_buffer popen_cancel fork_in_handler pool bypass \
    pool_stress \
    omp_context libomp_plugin.so libomp_cases.so libomp_tracer.so \
    libomp_barrier_tool.so omp_reload notify notify_late spawn_requests spawn_child spawn_one hostile omp_edge \
    dlopen_worker small_stack_spawn syslog_lines syslog_lines_fortified syslog_hostile http_client \
    otel_threads otel_omp otel_sdk_writer libotel_sdk.so otel_sdk_linked otel_other_context.so \
    otel_key_race)

.PHONY: bats-programs
bats-programs: $(BATS_PROGRAMS)
test: $(BATS_PROGRAMS)

$(BATS_DIR)/inherit: $(BATS_SRC)/inherit.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# References pthread_create@GLIBC_2.2.5, like binaries built before 2.34.
$(BATS_DIR)/inherit_old: $(BATS_SRC)/inherit.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -DBATS_OLD_PTHREAD_CREATE $< -o $@

$(BATS_DIR)/std_thread: $(BATS_SRC)/std_thread.cpp $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CXX) $< -o $@

$(BATS_DIR)/thrd: $(BATS_SRC)/thrd.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/otel_sdk_writer: $(BATS_SRC)/otel_sdk_writer.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -Wl,--export-dynamic-symbol=otel_thread_ctx_v1 $< -o $@

$(BATS_DIR)/otel_key_race: $(BATS_SRC)/otel_key_race.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -g $< -o $@

$(BATS_DIR)/libotel_sdk.so: $(BATS_SRC)/otel_sdk_lib.c
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@

$(BATS_DIR)/otel_sdk_linked: $(BATS_SRC)/otel_sdk_writer.c $(BATS_DIR)/libotel_sdk.so $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -DSDK_IN_LIBRARY $< -o $@ -L$(BATS_DIR) -lotel_sdk -Wl,-rpath,'$$ORIGIN'

$(BATS_DIR)/otel_other_context.so: $(BATS_SRC)/otel_other_context.c
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@

$(BATS_DIR)/libctor_thread.so: $(BATS_SRC)/ctor_thread_lib.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@

$(BATS_DIR)/ctor_thread: $(BATS_SRC)/ctor_thread_main.c $(BATS_DIR)/libctor_thread.so $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -L$(BATS_DIR) -lctor_thread -Wl,-rpath,'$$ORIGIN'

$(BATS_DIR)/libctor_wait.so: $(BATS_SRC)/ctor_wait_lib.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@

$(BATS_DIR)/ctor_wait: $(BATS_SRC)/ctor_wait.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl

# A GLib stand-in, five builds of one file name, chosen at run time with
# LD_LIBRARY_PATH: fake_glib.c plain, with an exported IFUNC, and linked
# above its load address; fake_glib_swap.c with its start function static
# and exported, to unload one and load the other.
FAKE_GLIB = $(BATS_DIR)/fake_glib$(1)/libglib-9.so
FAKE_GLIBS := $(call FAKE_GLIB,) $(call FAKE_GLIB,_ifunc) $(call FAKE_GLIB,_high) \
    $(call FAKE_GLIB,_static) $(call FAKE_GLIB,_exported)
$(call FAKE_GLIB,) $(call FAKE_GLIB,_ifunc) $(call FAKE_GLIB,_high): $(BATS_SRC)/fake_glib.c
$(call FAKE_GLIB,_static) $(call FAKE_GLIB,_exported): $(BATS_SRC)/fake_glib_swap.c
$(call FAKE_GLIB,_ifunc): FAKE_GLIB_FLAGS := -DWITH_IFUNC
$(call FAKE_GLIB,_high): FAKE_GLIB_FLAGS := -Wl,-Ttext-segment=0x800000000000
$(call FAKE_GLIB,_exported): FAKE_GLIB_FLAGS := -DSTART_EXPORTED
$(FAKE_GLIBS): $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $(FAKE_GLIB_FLAGS) -fPIC -shared -Wl,-soname,libglib-9.so $(filter %.c,$^) -o $@

$(BATS_DIR)/swap_glib: $(BATS_SRC)/swap_glib.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl

$(BATS_DIR)/fake_glib_use: $(BATS_SRC)/fake_glib_use.c $(BATS_DIR)/fake_glib/libglib-9.so $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -L$(BATS_DIR)/fake_glib -lglib-9

$(BATS_DIR)/exit_paths: $(BATS_SRC)/exit_paths.cpp $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CXX) $< -o $@

$(BATS_DIR)/fork_child: $(BATS_SRC)/fork_child.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/context: $(BATS_SRC)/context.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/pool: $(BATS_SRC)/pool.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/bypass: $(BATS_SRC)/bypass.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/three_threads: $(BATS_SRC)/three_threads.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# Linked mode: calls the runtime directly and needs no LD_PRELOAD.
$(BATS_DIR)/linked: $(BATS_SRC)/three_threads.c $(B)/libctxvar.so $(B)/$(SONAME) $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -DCTXVAR_LINKED $< -o $@ -L$(B) -lctxvar -Wl,-rpath,$(abspath $(B))

# Static: the loader ignores LD_PRELOAD, the runtime never gets in.
$(BATS_DIR)/static_context: $(BATS_SRC)/static_context.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -static $< -o $@

$(BATS_DIR)/create_result: $(BATS_SRC)/create_result.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/own_id_freed: $(BATS_SRC)/own_id_freed.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/tgkill_refused: $(BATS_SRC)/tgkill_refused.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/reap_lingering: $(BATS_SRC)/reap_lingering.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/join_zero: $(BATS_SRC)/join_zero.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/popen_buffer: $(BATS_SRC)/popen_buffer.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/process_exit: $(BATS_SRC)/process_exit.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/notify_late: $(BATS_SRC)/notify_late.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/popen_cancel: $(BATS_SRC)/popen_cancel.c
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/malloc_thread: $(BATS_SRC)/malloc_thread.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/fork_in_handler: $(BATS_SRC)/fork_in_handler.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# 1,000,000 wrapped tasks through a 4-worker pool: optimised whatever CFLAGS.
$(BATS_DIR)/pool_stress: $(BATS_SRC)/pool_stress.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -O2 $< -o $@

# OpenMP, compiled as a user compiles it: gcc -fopenmp, the header alone.
$(BATS_DIR)/libomp_plugin.so: $(BATS_SRC)/omp_plugin.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fopenmp -fPIC -shared $< -o $@

$(BATS_DIR)/libomp_cases.so: $(BATS_SRC)/omp_plugin_cases.c $(B)/libctxvar.so $(B)/$(SONAME) $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fopenmp -fPIC -shared $< -o $@ -L$(B) -lctxvar -Wl,-rpath,$(abspath $(B))

$(BATS_DIR)/libomp_tracer.so: $(BATS_SRC)/omp_tool.c
	@mkdir -p $(@D)
	$(BATS_CC) -DTRACE_REGIONS -fPIC -shared $< -o $@ -ldl

$(BATS_DIR)/libomp_barrier_tool.so: $(BATS_SRC)/omp_tool.c
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@ -ldl

$(BATS_DIR)/omp_reload: $(BATS_SRC)/omp_reload.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl

$(BATS_DIR)/omp_context: $(BATS_SRC)/omp_context.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fopenmp $< -o $@

# SIGEV_THREAD timers and mq_notify.
$(BATS_DIR)/notify: $(BATS_SRC)/notify.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# Child processes started from request threads, and what they get
# (bats/processes.bats).
$(BATS_DIR)/spawn_%: $(BATS_SRC)/spawn_%.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# Names, values and environments past every limit (bats/hostile.bats).
$(BATS_DIR)/hostile: $(BATS_SRC)/hostile.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# OpenMP tasks ctxvar leaves to libgomp (bats/openmp.bats).
$(BATS_DIR)/omp_edge: $(BATS_SRC)/omp_edge.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fopenmp $< -o $@

# The runtime dlopen()ed from a worker thread (bats/loading.bats).
$(BATS_DIR)/dlopen_worker: $(BATS_SRC)/dlopen_worker.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl

# posix_spawn from a thread with a small stack (bats/processes.bats).
$(BATS_DIR)/small_stack_spawn: $(BATS_SRC)/small_stack_spawn.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# A C++ exception through the runtime's frames, in each way a program may
# link its unwinder and C++ library (bats/exceptions.bats).
EXCEPTION_PROGRAMS := $(addprefix $(BATS_DIR)/exception_, shared static_libgcc static_both)
test: $(EXCEPTION_PROGRAMS)
$(BATS_DIR)/exception_shared: $(BATS_SRC)/exception_link.cpp $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CXX) $< -o $@
$(BATS_DIR)/exception_static_libgcc: $(BATS_SRC)/exception_link.cpp $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CXX) -static-libgcc $< -o $@
$(BATS_DIR)/exception_static_both: $(BATS_SRC)/exception_link.cpp $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CXX) -static-libgcc -static-libstdc++ $< -o $@

# Starting processes from small stacks, with large environments and
# contexts, after vfork, and system and popen themselves
# (bats/processes.bats, bats/exec_hostile.bats).  spawn_env and
# spawn_encoding are built by the spawn_% rule above.
EXEC_PROGRAMS := $(addprefix $(BATS_DIR)/, exec_small_stack exec_vfork_loop exec_vfork_threads \
    exec_system_cancel spawn_env spawn_encoding)
bats-programs: $(EXEC_PROGRAMS)
test: $(EXEC_PROGRAMS)

$(BATS_DIR)/exec_%: $(BATS_SRC)/exec_%.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

# A thread started from .preinit_array, before libc sets environ
# (bats/startup.bats).
$(BATS_DIR)/preinit_thread: $(BATS_SRC)/preinit_thread.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@
test: $(BATS_DIR)/preinit_thread

# bats/multilib.bats: a user's 32-bit program (the header alone, -pthread,
# -m32), and a program that execs one of the other word size, built both
# ways (m32_exec 64-bit, m32_exec32 with -m32).  Only where $(CC) -m32 links
# a program (M32_TOOLCHAIN, from the top-level Makefile); without them the
# suite skips.
ifeq ($(M32_TOOLCHAIN),yes)
M32_PROGRAMS := $(addprefix $(BATS_DIR)/, m32_context m32_exec m32_exec32)
bats-programs: $(M32_PROGRAMS)
test: $(M32_PROGRAMS)

$(BATS_DIR)/m32_context: $(BATS_SRC)/m32_context.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -m32 $< -o $@

$(BATS_DIR)/m32_exec: $(BATS_SRC)/m32_exec.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/m32_exec32: $(BATS_SRC)/m32_exec.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -m32 $< -o $@
endif

$(BATS_DIR)/syslog_lines: $(BATS_SRC)/syslog_lines.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -U_FORTIFY_SOURCE $< -o $@

# The same with -D_FORTIFY_SOURCE=2: its calls are __syslog_chk and
# __vsyslog_chk.
$(BATS_DIR)/syslog_lines_fortified: $(BATS_SRC)/syslog_lines.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 $< -o $@

$(BATS_DIR)/syslog_hostile: $(BATS_SRC)/syslog_hostile.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/http_client: $(BATS_SRC)/http_client.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -lcurl

$(BATS_DIR)/otel_threads: $(BATS_SRC)/otel_threads.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@

$(BATS_DIR)/otel_omp: $(BATS_SRC)/otel_omp.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fopenmp $< -o $@

# Event loops from Debian's libuv and libevent, built as a user builds them
# (pkg-config) (bats/loops_libuv.bats, bats/loops_libevent.bats).  Where the
# development packages are missing the suites skip.
LOOPS_UV_FLAGS := $(shell pkg-config --cflags --libs libuv 2>/dev/null)
LOOPS_EVENT_FLAGS := $(shell pkg-config --cflags --libs libevent 2>/dev/null)
ifneq ($(LOOPS_UV_FLAGS),)
LOOPS_PROGRAMS += $(BATS_DIR)/loops_uv $(BATS_DIR)/loops_plugin_main $(BATS_DIR)/libloops_plugin.so \
                  $(BATS_DIR)/uv_read_again $(BATS_DIR)/loops_reload
endif
ifneq ($(LOOPS_EVENT_FLAGS),)
LOOPS_PROGRAMS += $(BATS_DIR)/loops_event $(BATS_DIR)/bufferevent_unlocked $(BATS_DIR)/bufferevent_getcb \
                  $(BATS_DIR)/loops_event_threads \
                  $(BATS_DIR)/libeventhandlers.so $(BATS_DIR)/event_named_main
endif
bats-programs: $(LOOPS_PROGRAMS)
test: $(LOOPS_PROGRAMS)

$(BATS_DIR)/loops_uv: $(BATS_SRC)/loops_uv.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -D_GNU_SOURCE $< -o $@ $(LOOPS_UV_FLAGS)

# Loads the libraries itself (dlopen): libuv's header only.
$(BATS_DIR)/loops_reload: $(BATS_SRC)/loops_reload.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ $(shell pkg-config --cflags libuv) -ldl

$(BATS_DIR)/uv_read_again: $(BATS_SRC)/uv_read_again.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ $(LOOPS_UV_FLAGS)

$(BATS_DIR)/loops_event: $(BATS_SRC)/loops_event.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -D_GNU_SOURCE $< -o $@ $(LOOPS_EVENT_FLAGS)

$(BATS_DIR)/loops_event_threads: $(BATS_SRC)/loops_event_threads.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ $(LOOPS_EVENT_FLAGS) $(shell pkg-config --libs libevent_pthreads 2>/dev/null)

# A program's own library whose name starts like libevent's.
$(BATS_DIR)/libeventhandlers.so: $(BATS_SRC)/event_named_lib.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@ $(LOOPS_EVENT_FLAGS)

$(BATS_DIR)/event_named_main: $(BATS_SRC)/event_named_main.c $(BATS_DIR)/libeventhandlers.so $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -L$(BATS_DIR) -leventhandlers -Wl,-rpath,'$$ORIGIN' $(LOOPS_EVENT_FLAGS)

$(BATS_DIR)/bufferevent_getcb: $(BATS_SRC)/bufferevent_getcb.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ $(LOOPS_EVENT_FLAGS)

$(BATS_DIR)/bufferevent_unlocked: $(BATS_SRC)/bufferevent_unlocked.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ $(LOOPS_EVENT_FLAGS) $(shell pkg-config --libs libevent_pthreads 2>/dev/null)

# A library that is not libevent but exports its names (as libev's
# libevent emulation does), and a program that uses it: the runtime must
# leave them alone (bats/loops_libevent.bats).
IMPOSTOR_PROGRAMS := $(BATS_DIR)/libimpostor_event.so $(BATS_DIR)/impostor_event_main
bats-programs: $(IMPOSTOR_PROGRAMS)
test: $(IMPOSTOR_PROGRAMS)

$(BATS_DIR)/libimpostor_event.so: $(BATS_SRC)/impostor_event.c
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $< -o $@

$(BATS_DIR)/impostor_event_main: $(BATS_SRC)/impostor_event_main.c $(BATS_DIR)/libimpostor_event.so $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -L$(BATS_DIR) -limpostor_event -Wl,-rpath,'$$ORIGIN'

# A plugin that links libuv, dlopen'ed RTLD_LOCAL by a program that does
# not: the runtime finds libuv's functions in the already loaded library.
$(BATS_DIR)/libloops_plugin.so: $(BATS_SRC)/loops_plugin.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -D_GNU_SOURCE -fPIC -shared $< -o $@ $(LOOPS_UV_FLAGS)

$(BATS_DIR)/loops_plugin_main: $(BATS_SRC)/loops_plugin_main.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl

# Event loops and library pools with no change to the program
# (bats/loops_glib.bats, bats/loops_apr.bats): built against the Debian
# libraries, found by pkg-config, as a user builds them.
GLIB_APR_PROGRAMS := $(addprefix $(BATS_DIR)/, loops_glib loops_apr)
bats-programs: $(GLIB_APR_PROGRAMS)
test: $(GLIB_APR_PROGRAMS)

$(BATS_DIR)/loops_glib: $(BATS_SRC)/loops_glib.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $$(pkg-config --cflags gio-2.0) $< -o $@ $$(pkg-config --libs gio-2.0)

$(BATS_DIR)/loops_apr: $(BATS_SRC)/loops_apr.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $$(pkg-config --cflags apr-util-1 apr-1) $< -o $@ $$(pkg-config --libs apr-util-1 apr-1)

# A GLib user loaded as a plugin with RTLD_LOCAL: libglib is then in no
# global scope, and the interposers find it by its soname.
GLIB_PLUGIN_PROGRAMS := $(addprefix $(BATS_DIR)/, libglib_plugin.so glib_dlopen)
bats-programs: $(GLIB_PLUGIN_PROGRAMS)
test: $(GLIB_PLUGIN_PROGRAMS)

$(BATS_DIR)/libglib_plugin.so: $(BATS_SRC)/glib_plugin.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) -fPIC -shared $$(pkg-config --cflags glib-2.0) $< -o $@ $$(pkg-config --libs glib-2.0)

$(BATS_DIR)/glib_dlopen: $(BATS_SRC)/glib_dlopen.c $(BATS_DEPS)
	@mkdir -p $(@D)
	$(BATS_CC) $< -o $@ -ldl
