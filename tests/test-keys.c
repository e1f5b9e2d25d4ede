/* test-keys.c - the runtime takes none of the process's pthread keys: a
 * program that creates keys until failure gets as many as without it,
 * however it used the runtime first. */
#include <limits.h>
#include <pthread.h>

#include "test.h"

static void *set_and_end(void *arg)
{
    ctxvar_set(ctxvar_named("worker"), "w1", NULL);
    return arg;
}

static void noop_destructor(void *p) { (void)p; }

TEST_IMPL(program_gets_every_pthread_key_after_using_the_runtime)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    test_skip("the sanitizer's own runtime takes a pthread key for its thread exit");
#endif
    ctxvar_set(ctxvar_named("request_id"), "r1", NULL); /* the main thread registers */
    pthread_t joined, detached;
    CHECK_PT(pthread_create(&joined, NULL, set_and_end, NULL));
    CHECK_PT(pthread_create(&detached, NULL, set_and_end, NULL));
    CHECK_PT(pthread_detach(detached));
    CHECK_PT(pthread_join(joined, NULL));
    int created = 0;
    pthread_key_t key;
    while (pthread_key_create(&key, noop_destructor) == 0) created++;
    ASSERT_INT(PTHREAD_KEYS_MAX, created);
}
