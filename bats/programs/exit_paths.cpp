// exit_paths MODE - code that runs while a thread exits still sees the
// context the thread inherited.  That code runs after the start routine has
// returned or while it unwinds, so the runtime must not release the context
// before it is done (docs/interposing.md, "Thread exit order").
//
// MODE is how the thread ends:
//   return   its start routine returns (joined)
//   exit     it calls pthread_exit (joined)
//   cancel   main cancels it while it blocks in sem_wait (joined)
//   detach   it was created detached and returns; main waits for its key
//            destructor to finish instead of joining
//   exit_in_run    it calls pthread_exit inside ctxvar_run (joined)
//   cancel_in_run  it is canceled inside ctxvar_run (joined)
//
// Inside ctxvar_run the thread sets request_id=inside and shows it; leaving
// the run by unwinding restores the thread's own context before the cleanup
// handler runs.  For joined threads main then prints how many contexts are
// alive beyond those alive before the thread started ("leaked contexts: 0").
//
// glibc runs, in this order: cleanup handlers, C++ thread_local destructors,
// pthread key destructors.  Each prints the context it sees, so the output is
// (for MODE=return):
//   thread: request_id=42
//   cleanup handler: request_id=42
//   thread_local destructor: request_id=42
//   key destructor: request_id=42
//   main: thread returned 7
//   leaked contexts: 0
//   main: request_id=42
#include <pthread.h>
#include <semaphore.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include "show.h"

namespace {

enum class Mode { Return, Exit, Cancel, Detach, ExitInRun, CancelInRun };
Mode mode;
pthread_key_t key;
sem_t ready;        // the thread is about to block (cancel mode)
sem_t never;        // never posted: the thread blocks on it until canceled
sem_t destructed;   // the key destructor has run (detach mode)

struct ThreadLocalReporter {
    int touched = 0;
    ~ThreadLocalReporter() { show("thread_local destructor"); }
};
thread_local ThreadLocalReporter reporter;

void key_destructor(void *value)
{
    (void)value;
    show("key destructor");
    if (mode == Mode::Detach)
        sem_post(&destructed);
}

void cleanup_handler(void *arg)
{
    (void)arg;
    show("cleanup handler");
}

void *inside_run(void *arg)
{
    (void)arg;
    set_or_say("request_id", "inside");
    show("inside run");
    if (mode == Mode::ExitInRun)
        pthread_exit(reinterpret_cast<void *>(static_cast<std::uintptr_t>(22)));
    sem_post(&ready);
    sem_wait(&never);                   // a cancellation point
    return nullptr;
}

void *thread_main(void *arg)
{
    (void)arg;
    reporter.touched = 1;               // constructs this thread's object
    pthread_setspecific(key, &key);     // non-NULL: the destructor will run
    show("thread");
    void *result = reinterpret_cast<void *>(static_cast<std::uintptr_t>(7));
    pthread_cleanup_push(cleanup_handler, nullptr);
    if (mode == Mode::Exit)
        pthread_exit(reinterpret_cast<void *>(static_cast<std::uintptr_t>(22)));
    if (mode == Mode::Cancel) {
        sem_post(&ready);
        sem_wait(&never);               // a cancellation point
    }
    if (mode == Mode::ExitInRun || mode == Mode::CancelInRun)
        ctxvar_run(nullptr, inside_run, nullptr);
    pthread_cleanup_pop(1);
    return result;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: exit_paths return|exit|cancel|detach|"
                             "exit_in_run|cancel_in_run\n");
        return 2;
    }
    if (!std::strcmp(argv[1], "return")) mode = Mode::Return;
    else if (!std::strcmp(argv[1], "exit")) mode = Mode::Exit;
    else if (!std::strcmp(argv[1], "cancel")) mode = Mode::Cancel;
    else if (!std::strcmp(argv[1], "detach")) mode = Mode::Detach;
    else if (!std::strcmp(argv[1], "exit_in_run")) mode = Mode::ExitInRun;
    else if (!std::strcmp(argv[1], "cancel_in_run")) mode = Mode::CancelInRun;
    else return 2;

    sem_init(&ready, 0, 0);
    sem_init(&never, 0, 0);
    sem_init(&destructed, 0, 0);
    pthread_key_create(&key, key_destructor);
    set_or_say("request_id", "42");
    struct ctxvar_stats before = {0, 0, 0}, after = {0, 0, 0};
    ctxvar_stats(&before);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (mode == Mode::Detach)
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, thread_main, nullptr);
    pthread_attr_destroy(&attr);
    if (err) {
        std::printf("pthread_create: %s\n", std::strerror(err));
        return 1;
    }

    void *result = nullptr;
    switch (mode) {
    case Mode::Detach:
        while (sem_wait(&destructed) != 0) {}
        std::printf("main: detached thread finished its destructors\n");
        break;
    case Mode::Cancel:
    case Mode::CancelInRun:
        while (sem_wait(&ready) != 0) {}
        pthread_cancel(thread);
        pthread_join(thread, &result);
        std::printf("main: thread was %s\n",
                    result == PTHREAD_CANCELED ? "canceled" : "not canceled");
        break;
    default:
        pthread_join(thread, &result);
        std::printf("main: thread returned %lu\n",
                    static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(result)));
    }
    if (mode != Mode::Detach) {
        ctxvar_stats(&after);
        std::printf("leaked contexts: %lld\n",
                    static_cast<long long>(after.live_contexts - before.live_contexts));
    }
    show("main");
    return 0;
}
