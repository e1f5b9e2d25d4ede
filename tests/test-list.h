/* test-list.h - every C test, declared once, with the mode it runs in.
 *
 *   TEST(name, mode, env)
 *     name  test_<name> is defined with TEST_IMPL(name) in tests/test-*.c
 *     mode  RUNTIME     libctxvar.so preloaded (LD_PRELOAD, see runner.c)
 *           NO_RUNTIME  no runtime in the process: the degraded API
 *     env   NULL, or "NAME=VALUE" lines separated by "\n", set before the
 *           test's process starts: the runtime reads BAGGAGE, CTXVAR_INHERIT
 *           and CTXVAR_DEBUG once, at load.
 *
 * No include guard: runner.c includes this twice, with two meanings of
 * TEST (a declaration, then a table row).  To add a test: write it, then add
 * its line here.
 */

/* Names: test-names.c */
TEST(named_accepts_valid_names, RUNTIME, NULL)
TEST(named_accepts_64_bytes_rejects_65, RUNTIME, NULL)
TEST(named_rejects_invalid_names, RUNTIME, NULL)
TEST(named_returns_same_pointer_for_same_name, RUNTIME, NULL)
TEST(named_same_pointer_from_two_threads, RUNTIME, NULL)
TEST(name_returns_name_and_null_for_null, RUNTIME, NULL)
TEST(two_translation_units_share_one_store, RUNTIME, NULL)
TEST(runtime_present_when_preloaded, RUNTIME, NULL)

/* get / set / errno: test-vars.c */
TEST(get_unset_returns_fallback, RUNTIME, NULL)
TEST(get_null_var_returns_fallback, RUNTIME, NULL)
TEST(set_then_get_returns_value, RUNTIME, NULL)
TEST(set_copies_value, RUNTIME, NULL)
TEST(set_empty_string_is_set_not_unset, RUNTIME, NULL)
TEST(set_null_value_unsets, RUNTIME, NULL)
TEST(set_other_variables_untouched, RUNTIME, NULL)
TEST(set_value_of_4096_bytes_ok, RUNTIME, NULL)
TEST(set_value_of_4097_bytes_is_e2big_and_unchanged, RUNTIME, NULL)
TEST(set_null_var_is_einval, RUNTIME, NULL)
TEST(errno_unchanged_by_every_call, RUNTIME, NULL)
TEST(get_string_stable_until_own_change, RUNTIME, NULL)

/* Tokens: test-tokens.c */
TEST(reset_restores_previous_value, RUNTIME, NULL)
TEST(reset_restores_unset, RUNTIME, NULL)
TEST(reset_of_unset_restores_value, RUNTIME, NULL)
TEST(reset_leaves_other_variables_untouched, RUNTIME, NULL)
TEST(reset_tokens_in_reverse_order_unwinds, RUNTIME, NULL)
TEST(reset_twice_is_ealready, RUNTIME, NULL)
TEST(reset_after_drop_is_ealready, RUNTIME, NULL)
TEST(reset_never_filled_token_is_einval, RUNTIME, NULL)
TEST(reset_null_token_is_einval, RUNTIME, NULL)
TEST(reset_from_other_thread_is_einval, RUNTIME, NULL)
TEST(reset_inside_run_of_token_from_outside_is_einval, RUNTIME, NULL)
TEST(reset_after_run_of_token_from_inside_is_einval, RUNTIME, NULL)
TEST(reset_after_swap_of_token_from_before_is_einval, RUNTIME, NULL)
TEST(reset_after_swap_back_of_token_from_swap_is_einval, RUNTIME, NULL)
TEST(reset_after_swap_and_swap_back_of_token_from_before_works, RUNTIME, NULL)
TEST(scope_around_swap_and_swap_back_still_resets, RUNTIME, NULL)
TEST(token_drop_harmless_on_null_unfilled_and_used, RUNTIME, NULL)
TEST(live_contexts_back_to_baseline_after_reset, RUNTIME, NULL)
TEST(live_contexts_back_to_baseline_after_drop, RUNTIME, NULL)
TEST(versions_kept_alive_by_borrowing_are_bounded, RUNTIME, NULL)

/* CTXVAR_SCOPE: test-scope.c */
TEST(scope_value_inside_restored_after_end, RUNTIME, NULL)
TEST(scope_restores_unset, RUNTIME, NULL)
TEST(scope_break_leaves_block_only, RUNTIME, NULL)
TEST(scope_continue_leaves_block_and_resets, RUNTIME, NULL)
TEST(scope_return_restores, RUNTIME, NULL)
TEST(scope_goto_out_restores, RUNTIME, NULL)
TEST(scope_nested_restores_each_level, RUNTIME, NULL)
TEST(scope_leaves_later_changes_to_other_variables, RUNTIME, NULL)
TEST(scope_with_failing_set_still_runs_block, RUNTIME, NULL)

/* Snapshots: test-snapshots.c */
TEST(capture_of_empty_context_is_null, RUNTIME, NULL)
TEST(capture_is_a_reference_not_a_copy, RUNTIME, NULL)
TEST(retain_release_counting, RUNTIME, NULL)
TEST(snapshot_unchanged_by_later_sets, RUNTIME, NULL)
TEST(ctx_get_fallback_for_null_ctx_and_var, RUNTIME, NULL)
TEST(ctx_count_counts_variables, RUNTIME, NULL)
TEST(foreach_visits_in_ascending_byte_order, RUNTIME, NULL)
TEST(foreach_many_variables_in_order, RUNTIME, NULL)
TEST(foreach_stops_at_nonzero_and_returns_it, RUNTIME, NULL)
TEST(foreach_on_null_visits_nothing, RUNTIME, NULL)
TEST(swap_returns_previous_and_transfers_ownership, RUNTIME, NULL)
TEST(swap_null_clears_context, RUNTIME, NULL)
TEST(run_restores_callers_context_whatever_fn_did, RUNTIME, NULL)
TEST(run_does_not_consume_ctx, RUNTIME, NULL)
TEST(run_with_null_runs_in_empty_context, RUNTIME, NULL)
TEST(run_returns_fn_result, RUNTIME, NULL)
TEST(run_nested_restores_each_level, RUNTIME, NULL)
TEST(live_contexts_zero_for_empty_process, RUNTIME, NULL)

/* Inheritance: test-threads.c */
TEST(pthread_child_sees_context_at_create_only, RUNTIME, NULL)
TEST(thrd_child_sees_context_at_create_only, RUNTIME, NULL)
TEST(child_of_empty_context_starts_empty, RUNTIME, NULL)
TEST(grandchild_inherits_through_child, RUNTIME, NULL)
TEST(child_inherits_context_of_200_variables, RUNTIME, NULL)
TEST(threads_inherited_counts_each_thread, RUNTIME, NULL)
TEST(more_threads_alive_than_start_slots_all_inherit, RUNTIME, NULL)
TEST(thrd_create_counts_and_returns_result, RUNTIME, NULL)
TEST(pthread_create_result_and_attr_untouched, RUNTIME, NULL)
TEST(failed_pthread_create_returns_error_and_leaks_nothing, RUNTIME, NULL)
TEST(inherit_off_child_starts_empty, RUNTIME, "CTXVAR_INHERIT=0")
TEST(concurrent_creators_each_pass_their_own_context, RUNTIME, NULL)

/* Thread exit: test-exit.c */
TEST(thread_return_releases_context, RUNTIME, NULL)
TEST(thread_pthread_exit_releases_context, RUNTIME, NULL)
TEST(thread_thrd_exit_releases_context, RUNTIME, NULL)
TEST(thread_cancellation_releases_context, RUNTIME, NULL)
TEST(detached_thread_releases_context, RUNTIME, NULL)
TEST(self_detached_thread_releases_context, RUNTIME, NULL)
TEST(thread_pthread_exit_inside_run_releases_context, RUNTIME, NULL)
TEST(thread_cancelled_inside_run_releases_context, RUNTIME, NULL)
TEST(key_destructor_sees_inherited_context_after_return, RUNTIME, NULL)
TEST(key_destructor_sees_inherited_context_after_pthread_exit, RUNTIME, NULL)
TEST(key_destructor_in_later_round_sees_context, RUNTIME, NULL)
TEST(tss_destructor_sees_threads_own_context_after_thrd_exit, RUNTIME, NULL)
TEST(cleanup_handler_and_key_destructor_see_context_on_cancel, RUNTIME, NULL)
TEST(many_threads_leave_live_contexts_at_baseline, RUNTIME, NULL)

/* Release at join: test-join.c */
TEST(pthread_join_releases_what_the_thread_held, RUNTIME, NULL)
TEST(pthread_tryjoin_np_releases_what_the_thread_held, RUNTIME, NULL)
TEST(pthread_timedjoin_np_releases_what_the_thread_held, RUNTIME, NULL)
TEST(pthread_clockjoin_np_releases_what_the_thread_held, RUNTIME, NULL)
TEST(thrd_join_releases_what_the_thread_held, RUNTIME, NULL)
TEST(failed_tryjoin_and_timedjoin_release_nothing, RUNTIME, NULL)
TEST(key_destructor_sets_after_the_start_routine_and_join_releases_it, RUNTIME, NULL)
TEST(detach_after_the_start_routine_ended_releases_context, RUNTIME, NULL)
TEST(thrd_detach_after_the_start_routine_ended_releases_context, RUNTIME, NULL)
TEST(detach_while_running_releases_context_at_exit, RUNTIME, NULL)
TEST(thread_detaching_itself_in_its_key_destructor_releases_context, RUNTIME, NULL)
TEST(fork_child_releases_what_ended_and_running_threads_held, RUNTIME, NULL)
TEST(creator_joining_a_reused_thread_id_releases_the_new_threads_record, RUNTIME, NULL)
TEST(a_thread_joined_by_another_than_its_creator_releases_what_it_held, RUNTIME, NULL)
TEST(a_creator_joining_an_earlier_thread_releases_what_it_held, RUNTIME, NULL)

/* Thread pools: test-tasks.c */
TEST(wrap_captures_context_at_wrap_time, RUNTIME, NULL)
TEST(task_run_in_same_thread_restores_context, RUNTIME, NULL)
TEST(task_call_returns_fn_result, RUNTIME, NULL)
TEST(task_run_frees_task_and_snapshot, RUNTIME, NULL)
TEST(task_free_discards_without_running, RUNTIME, NULL)
TEST(wrap_of_empty_context_runs_in_empty_context, RUNTIME, NULL)
TEST(wrap_null_fn_returns_null, RUNTIME, NULL)
TEST(pool_tasks_run_in_their_submitters_context, RUNTIME, NULL)
TEST(stale_rule_applies_to_base_frame_when_first_task_runs_inside_run, RUNTIME, NULL)

/* Logs: test-format.c */
TEST(format_empty_context_is_empty_string, RUNTIME, NULL)
TEST(format_pairs_in_name_order_one_space_apart, RUNTIME, NULL)
TEST(format_plain_values_unquoted, RUNTIME, NULL)
TEST(format_empty_value_quoted, RUNTIME, NULL)
TEST(format_space_equals_quote_are_quoted, RUNTIME, NULL)
TEST(format_backslash_alone_not_quoted, RUNTIME, NULL)
TEST(format_backslash_escaped_inside_quotes, RUNTIME, NULL)
TEST(format_control_escapes, RUNTIME, NULL)
TEST(format_utf8_bytes_raw, RUNTIME, NULL)
TEST(format_sizes_like_snprintf, RUNTIME, NULL)
TEST(format_short_buffer_cuts_quoted_text, RUNTIME, NULL)
TEST(format_large_context, RUNTIME, NULL)
TEST(format_max_value_fully_escaped, RUNTIME, NULL)

/* Runtime: test-runtime.c */
TEST(stats_null_is_einval, RUNTIME, NULL)
TEST(stats_fields_fresh_process, RUNTIME, NULL)
TEST(version_is_1_0_0, RUNTIME, NULL)
TEST(strerror_has_a_message_for_every_code, RUNTIME, NULL)
TEST(debug_explains_refused_calls_on_stderr, RUNTIME, "CTXVAR_DEBUG=1")
TEST(no_diagnostics_without_debug, RUNTIME, NULL)

/* fork: test-fork.c */
TEST(fork_child_keeps_forking_threads_context, RUNTIME, NULL)
TEST(fork_while_threads_use_runtime_child_usable, RUNTIME, NULL)

/* BAGGAGE: test-baggage.c */
TEST(baggage_seeds_main_thread, RUNTIME, "BAGGAGE=request_id=42,user_id=alice")
TEST(baggage_context_inherited_by_threads, RUNTIME, "BAGGAGE=request_id=42,user_id=alice")
TEST(baggage_values_percent_decoded, RUNTIME, "BAGGAGE=a=x%20y%2C,b=%41%3d%25,c=caf%C3%A9")
TEST(baggage_properties_dropped, RUNTIME, "BAGGAGE=a=1;p=2,b=2;p1;p2=x")
TEST(baggage_whitespace_trimmed, RUNTIME, "BAGGAGE= a = 1 ,b=2 ;p=3 ,\tc\t=\t3\t")
TEST(baggage_malformed_members_skipped, RUNTIME,
     "BAGGAGE=bad key=1,=x,noequals,1abc=2,a=%zz,ok=yes,,b=%4,last=1")
TEST(baggage_last_repeated_key_wins, RUNTIME, "BAGGAGE=a=1,b=x,a=2")
TEST(baggage_empty_value_sets_empty_string, RUNTIME, "BAGGAGE=a=,b=1")
TEST(baggage_with_debug_still_applies_good_members, RUNTIME,
     "BAGGAGE=a=1,noequals\nCTXVAR_DEBUG=1")
TEST(baggage_empty_seeds_nothing, RUNTIME, "BAGGAGE=")

/* The rules ctxrun and the runtime share (lib/w3c.h): test-w3c.c */
TEST(w3c_name_rule_is_what_ctxvar_named_accepts, RUNTIME, NULL)
TEST(w3c_name_rule_every_byte, RUNTIME, NULL)
TEST(w3c_traceparent_rule_is_what_set_traceparent_accepts, RUNTIME, NULL)
TEST(w3c_traceparent_rule_has_no_length_limit, RUNTIME, NULL)
TEST(w3c_tracestate_rule_is_what_accept_headers_keeps, RUNTIME, NULL)
TEST(w3c_tracestate_limits, RUNTIME, NULL)
TEST(w3c_encoder_drops_a_value_that_would_decode_too_long, RUNTIME, NULL)
TEST(w3c_baggage_octets_are_exactly_w3cs, RUNTIME, NULL)
TEST(w3c_baggage_octets_are_what_the_decoder_takes_raw, RUNTIME, NULL)
TEST(w3c_encoder_escapes_all_but_baggage_octets, RUNTIME, NULL)
TEST(w3c_hex_digits_either_case, RUNTIME, NULL)
TEST(w3c_ows_is_space_and_tab, RUNTIME, NULL)
TEST(w3c_trace_headers_are_never_baggage_members, RUNTIME, NULL)

/* No runtime: test-noruntime.c */
TEST(noruntime_runtime_present_is_0, NO_RUNTIME, NULL)
TEST(noruntime_named_returns_null, NO_RUNTIME, NULL)
TEST(noruntime_get_returns_fallback, NO_RUNTIME, NULL)
TEST(noruntime_set_is_enosys_whatever_the_arguments, NO_RUNTIME, NULL)
TEST(noruntime_reset_is_enosys, NO_RUNTIME, NULL)
TEST(noruntime_snapshots_are_empty, NO_RUNTIME, NULL)
TEST(noruntime_run_calls_fn_and_returns_result, NO_RUNTIME, NULL)
TEST(noruntime_task_helpers_call_the_function, NO_RUNTIME, NULL)
TEST(noruntime_format_writes_empty_string, NO_RUNTIME, NULL)
TEST(noruntime_stats_is_enosys_and_zeroed, NO_RUNTIME, NULL)
TEST(noruntime_version_and_strerror, NO_RUNTIME, NULL)
TEST(noruntime_threads_and_scope_still_work, NO_RUNTIME, NULL)
TEST(noruntime_ignores_baggage, NO_RUNTIME, "BAGGAGE=a=1")

/* No thread waits on another for its context (test-priority.c). */
TEST(higher_priority_fifo_child_of_fifo_creator_on_one_cpu_inherits_without_hanging, RUNTIME, NULL)
TEST(fifo_child_of_other_creator_on_one_cpu_inherits_without_waiting, RUNTIME, NULL)

/* Bounds on what a thread holds (test-bounds.c). */
TEST(replacing_a_4kb_value_5000_times_keeps_live_contexts_and_heap_bounded, RUNTIME, NULL)

/* The runtime takes no pthread key (test-keys.c). */
TEST(program_gets_every_pthread_key_after_using_the_runtime, RUNTIME, NULL)
TEST(balanced_sequences_return_live_contexts_to_baseline, RUNTIME, NULL)

/* ctxvar_accept_headers: test-headers.c */
TEST(accept_headers_sets_trace_and_members_and_reset_restores, RUNTIME, NULL)
TEST(accept_headers_replaces_the_thread_trace_and_keeps_tracestate_only_with_traceparent, RUNTIME, NULL)
TEST(accept_headers_all_null_clears_the_trace_only, RUNTIME, NULL)
TEST(accept_headers_skips_malformed_members, RUNTIME, NULL)
TEST(accept_headers_bad_input_gives_exact_errors_and_changes_nothing, RUNTIME, NULL)
TEST(accept_headers_token_from_another_thread_is_einval, RUNTIME, NULL)
TEST(noruntime_accept_headers_is_enosys, NO_RUNTIME, NULL)
/* OpenTelemetry thread context records, CTXVAR_OTEL=1 (test-otel.c). */
TEST(otel_pointer_follows_set_and_reset, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_context_of_private_variables_only_points_at_null, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_pointer_follows_scope_swap_and_clear, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_pointer_follows_run_and_task_and_is_restored, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_new_thread_starts_pointing_at_its_creators_record, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_timer_notification_points_at_its_creators_record, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_values_cut_to_255_bytes_and_612_in_name_order, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_cut_keeps_utf8_characters_whole, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_balanced_changes_free_their_records, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_records_match_the_context_after_20000_random_changes, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_threads_racing_to_build_one_record_share_it, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_key_map_holds_256_keys_and_later_variables_are_left_out, RUNTIME, "CTXVAR_OTEL=1")
TEST(otel_off_leaves_the_pointer_null_and_publishes_nothing, RUNTIME, NULL)

/* Signal handlers that interrupt the runtime in the same thread (test-signals.c). */
TEST(handler_at_every_instruction_of_capture_and_release_sees_the_context_and_leaks_nothing, RUNTIME, NULL)
TEST(handler_at_every_instruction_of_set_and_reset_sees_before_or_after_and_leaks_nothing, RUNTIME, NULL)
TEST(handler_at_every_instruction_of_swap_and_swap_back_leaks_nothing, RUNTIME, NULL)
TEST(handler_at_every_instruction_of_run_and_task_run_leaks_nothing, RUNTIME, NULL)
TEST(handler_at_every_instruction_of_format_and_clear_leaks_nothing, RUNTIME, NULL)
TEST(handler_at_every_instruction_of_malloc_and_free_formats_100_variables_exactly, RUNTIME,
     "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
TEST(handlers_at_high_rate_during_capture_release_and_set_reset_leak_nothing, RUNTIME, NULL)
