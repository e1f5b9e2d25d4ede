/* libglib-9.so built twice (bats/bats.mk): with `start` a function of its
 * own (static), given a GThread-like struct, and with `start` exported,
 * given a number; both at the same place in the file.  swap_glib loads
 * one, unloads it and loads the other, at the same address: what the
 * runtime learnt of the first must not hold for the second. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#ifdef START_EXPORTED
#define START_VISIBILITY __attribute__((visibility("default")))
#else
#define START_VISIBILITY static
#endif

START_VISIBILITY __attribute__((noinline, used)) void *start(void *p)
{
    __asm__ volatile("" ::: "memory");
    return p;
}

struct fake_thread {
    void *(*func)(void *);
    void *data;
};

int start_a_thread(void)
{
    static struct fake_thread own = {start, NULL};
    pthread_t t;
    void *arg = &own;
#ifdef START_EXPORTED
    arg = (void *)(uintptr_t)1000;
#endif
    int r = pthread_create(&t, NULL, start, arg);
    if (r == 0) r = pthread_join(t, NULL);
    return r;
}
