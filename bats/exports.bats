#!/usr/bin/env bats
# What the runtime exports: only the interposed functions (threads and their
# joining and detaching, libgomp's
# region and task entry points, SIGEV_THREAD timers and mq_notify, the ways
# to start a process, libuv's and libevent's calls that register callbacks,
# GLib's and APR-util's pools and GLib's idle, timeout and invoke callbacks)
# and the
# API, all unversioned so that binaries of either pthread_create version bind
# to them.  Nothing else is exported, so that no internal name of the runtime
# can collide with a name of the program's (docs/interposing.md, "Symbol
# versions", "Bypasses in glibc >= 2.34" and "One copy, one TLS").

load helpers

# The names the runtime exports on purpose besides ctxvar_*: the interposers.
INTERPOSED="pthread_create thrd_create
    pthread_join pthread_tryjoin_np pthread_timedjoin_np pthread_clockjoin_np pthread_detach
    thrd_join thrd_detach
    GOMP_parallel GOMP_parallel_reductions GOMP_parallel_sections
    GOMP_parallel_loop_static GOMP_parallel_loop_dynamic GOMP_parallel_loop_guided
    GOMP_parallel_loop_runtime GOMP_parallel_loop_nonmonotonic_dynamic
    GOMP_parallel_loop_nonmonotonic_guided GOMP_parallel_loop_nonmonotonic_runtime
    GOMP_parallel_loop_maybe_nonmonotonic_runtime GOMP_teams_reg
    GOMP_task GOMP_taskloop GOMP_taskloop_ull
    timer_create timer_delete mq_notify mq_close
    execve execv execvp execvpe execl execlp execle fexecve
    posix_spawn posix_spawnp system popen
    syslog vsyslog __syslog_chk __vsyslog_chk
    curl_easy_setopt curl_easy_perform curl_easy_reset curl_easy_cleanup curl_easy_duphandle
    curl_multi_add_handle curl_multi_remove_handle curl_multi_info_read curl_multi_cleanup
    uv_queue_work uv_getaddrinfo uv_getnameinfo uv_random
    uv_fs_access uv_fs_chmod uv_fs_chown uv_fs_close uv_fs_closedir uv_fs_copyfile
    uv_fs_fchmod uv_fs_fchown uv_fs_fdatasync uv_fs_fstat uv_fs_fsync uv_fs_ftruncate
    uv_fs_futime uv_fs_lchown uv_fs_link uv_fs_lstat uv_fs_lutime uv_fs_mkdir uv_fs_mkdtemp
    uv_fs_mkstemp uv_fs_open uv_fs_opendir uv_fs_read uv_fs_readdir uv_fs_readlink
    uv_fs_realpath uv_fs_rename uv_fs_rmdir uv_fs_scandir uv_fs_sendfile uv_fs_stat
    uv_fs_statfs uv_fs_symlink uv_fs_unlink uv_fs_utime uv_fs_write
    uv_write uv_write2 uv_shutdown uv_tcp_connect uv_pipe_connect uv_udp_send
    uv_timer_start uv_async_init uv_idle_start uv_prepare_start uv_check_start
    uv_poll_start uv_signal_start uv_signal_start_oneshot uv_listen uv_read_start
    uv_udp_recv_start uv_close
    event_new event_assign event_set event_add event_del event_del_block event_active event_base_once event_base_free
    event_base_free_nofinalize event_free event_debug_unassign event_finalize event_free_finalize event_get_callback
    event_get_callback_arg event_get_assignment
    bufferevent_setcb bufferevent_getcb bufferevent_free
    g_thread_pool_new g_thread_pool_new_full g_thread_pool_push
    g_thread_pool_set_sort_function g_thread_pool_move_to_front g_thread_pool_free
    g_idle_add g_idle_add_full g_idle_add_once g_timeout_add g_timeout_add_full
    g_timeout_add_once g_timeout_add_seconds g_timeout_add_seconds_full
    g_main_context_invoke g_main_context_invoke_full g_source_set_callback
    g_source_remove_by_user_data g_source_remove_by_funcs_user_data g_idle_remove_by_data
    g_main_context_find_source_by_user_data g_main_context_find_source_by_funcs_user_data
    g_task_new g_task_return_pointer g_task_return_int g_task_return_boolean g_task_return_error
    g_task_return_new_error g_task_return_error_if_cancelled g_task_return_value
    apr_thread_pool_push apr_thread_pool_top apr_thread_pool_schedule
    apr_thread_pool_tasks_cancel apr_thread_pool_create
    dlclose"
# And the TLS variable profilers read each thread's context record from.
OTHER_EXPORTS="otel_thread_ctx_v1"

@test "the runtime defines exactly the thread, join, OpenMP, timer, message-queue, process-start, syslog, libcurl, event-loop and library-pool interposers and otel_thread_ctx_v1 besides ctxvar_ names" {
    run -0 nm -D --defined-only "$RUNTIME"
    local line name others="" missing=""
    local -A defined=()
    for line in "${lines[@]}"; do
        name=${line##* }
        defined[$name]=1
        case $name in
            ctxvar_*) ;;
            *) [[ " ${INTERPOSED//$'\n'/ } $OTHER_EXPORTS " == *" $name "* ]] || others+=" $name" ;;
        esac
    done
    for name in $INTERPOSED $OTHER_EXPORTS; do
        [ -n "${defined[$name]:-}" ] || missing+=" $name"
    done
    [ -z "$others" ] || { echo "also exported:$others" >&2; false; }
    [ -z "$missing" ] || { echo "not exported:$missing" >&2; false; }
}

# The names the runtime defines, one a line.
defined_names() {
    nm -D --defined-only "$RUNTIME" | awk '{ print $NF }'
}

@test "the runtime defines both interposers as functions" {
    run -0 nm -D --defined-only "$RUNTIME"
    [[ "$output" == *" T pthread_create"* ]]
    [[ "$output" == *" T thrd_create"* ]]
    run -0 defined_names
    grep -qx pthread_create <<<"$output"
    grep -qx thrd_create <<<"$output"
}

@test "the runtime's definitions carry no symbol version" {
    run -0 nm -D --defined-only "$RUNTIME"
    [[ "$output" != *@* ]]
    # objdump -T: every defined symbol has version Base or none at all.
    run -0 objdump -T "$RUNTIME"
    local versioned
    versioned=$(printf '%s\n' "${lines[@]}" |
        awk '/^[0-9a-f]+ / && $0 !~ /\*UND\*/ {
                 v = $(NF-1)
                 if (v !~ /^[0-9a-f]+$/ && v != "Base") print
             }')
    [ -z "$versioned" ] || { echo "versioned: $versioned" >&2; false; }
}

@test "the runtime exports every function of the API for linked programs, and the binding table" {
    run -0 defined_names
    local fn missing=""
    for fn in ctxvar_named ctxvar_name ctxvar_get ctxvar_set ctxvar_reset \
              ctxvar_token_drop ctxvar_capture ctxvar_retain ctxvar_release \
              ctxvar_swap ctxvar_run ctxvar_ctx_get ctxvar_ctx_count \
              ctxvar_ctx_foreach ctxvar_wrap ctxvar_task_run ctxvar_wrap_ret \
              ctxvar_task_call ctxvar_task_free ctxvar_format \
              ctxvar_runtime_present ctxvar_stats ctxvar_version \
              ctxvar_strerror ctxvar__runtime_v1; do
        grep -qx "$fn" <<<"$output" || missing+=" $fn"
    done
    [ -z "$missing" ] || { echo "missing:$missing" >&2; false; }
}

@test "the Debian symbols file lists exactly what the runtime exports" {
    # dpkg-gensymbols only warns about a symbol the file lacks; a package
    # built then would not say which version a program using it needs.
    run -0 bash -c "nm -D --defined-only '$RUNTIME' | awk '{ print \$NF }' | LC_ALL=C sort"
    local exported=$output
    run -0 bash -c "sed -n 's/^ \([^@]*\)@Base .*/\1/p' '$ROOT/debian/libctxvar1.symbols' | LC_ALL=C sort"
    [ "$output" = "$exported" ] || { diff <(echo "$exported") <(echo "$output") >&2; false; }
}
