#!/usr/bin/env bats
# request_ids.bats - an example suite for ctxvar's bats helper, testing the
# request_hooks example (examples/request_hooks/) the way you would test a
# program of your own: a server whose three request threads each run a hook
# script with system(); the hook logs with `ctxvar format`.
#
# In your own suite, load the installed helper:
#     load "$(pkg-config --variable=batsdir ctxvar)/ctxvar"
# This file loads the one CTXVAR_BATS_HELPER names instead when it is set,
# so that it runs from a source tree before anything is installed (as
# `make test` runs it, through bats/ctxvar_helper.bats):
#     CTXVAR_BATS_HELPER=$PWD/bats/helper/ctxvar CTXVAR_BATS_BINDIR=$PWD/build \
#         bats examples/bats/request_ids.bats
# The server is taken from the build tree next to this file (make examples).

bats_require_minimum_version 1.5.0

setup() {
    load "${CTXVAR_BATS_HELPER:-$(pkg-config --variable=batsdir ctxvar)/ctxvar}"
    SERVER="$BATS_TEST_DIRNAME/../../build/examples/request_hooks"
    # The server runs "HOOK <request> <user>" with system(): a shell command.
    HOOK="sh $(printf %q "$BATS_TEST_DIRNAME/../request_hooks/hook.sh")"
    # What each line says about itself, whatever its prefix: request, user.
    MARKER='request ([^ ]+) by ([^ ]+)$'
}

@test "every line of every request carries its own request's ids, the hook scripts' lines too" {
    ctxvar_run_with -0 --separate-stderr -- "$SERVER" "$HOOK"
    assert_lines_carry_request_ids "$MARKER" request_id user_id
    [ "${#lines[@]}" -eq 6 ]    # 3 requests: the server's line and the hook's
    [ "$stderr" = "" ]
}

@test "the context the server starts with reaches every request's hook, with the request's own ids" {
    hook=$(ctxvar_child_recorder hook)
    ctxvar_run_with -0 tenant=acme 'note=a b, "c"' \
        traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 \
        -- "$SERVER" "$hook"
    assert_child_received --child hook --first-arg r1 request_id r1
    assert_child_received --child hook --first-arg r1 user_id alice
    assert_child_received --child hook --first-arg r2 request_id r2
    assert_child_received --child hook --first-arg r3 user_id carol
    # Every run of the hook, whichever request started it:
    assert_child_received --child hook tenant acme
    assert_child_received --child hook note 'a b, "c"'
    assert_child_received --child hook traceparent 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
}

@test "without the runtime the server logs no ids, never wrong ones, and its hooks receive none" {
    hook=$(ctxvar_child_recorder hook)
    run -0 "$SERVER" "$hook"
    ctxvar_request_ids_verdict "$MARKER" request_id user_id
    [ "$ctxvar_verdict" = "0 of 3 marked lines carry their own request's ids (0 another request's, 3 none)" ]
    refute_child_received --child hook request_id
}
