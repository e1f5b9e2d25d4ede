/* libotel_sdk.so - the thread-context variable of an OpenTelemetry SDK in
 * a library the program links (bats/programs/otel_sdk_writer.c built with
 * SDK_IN_LIBRARY): the runtime, preloaded before it, must see it. */
__attribute__((visibility("default"))) __thread void *otel_thread_ctx_v1;
