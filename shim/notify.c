/* notify.c - SIGEV_THREAD notifications run in their creator's context.
 *
 * timer_create and mq_notify with SIGEV_THREAD make glibc call a function on
 * a thread of its own, started without pthread_create, so no
 * context would reach it.  We register a trampoline instead, with a record
 * {function, value, snapshot} as its value: each notification runs the
 * caller's function with the caller's value, in the snapshot taken when the
 * timer or notification was created.  Later changes in the creator are not
 * seen, as with threads.
 *
 * Lifetime.  A record must outlive every notification that may still be on
 * its way, and POSIX leaves open whether one can arrive after timer_delete.
 * So timer_delete, a replaced or cancelled mq_notify, and mq_close retire the
 * record rather than free it; retired records are freed, with their
 * snapshot, once they have been retired for RETIRE_SECONDS.  A notification
 * can be later still (its thread held by a debugger, a frozen cgroup, a
 * loaded machine): so it carries a handle, a slot's index and generation,
 * not the record's address.  A slot keeps the program's function and value
 * until it is reused (oldest freed first): a late notification whose record
 * is gone runs them without the snapshot, as glibc would run them; one
 * whose slot went to another timer since is dropped (a debug line says
 * so).  Live records
 * are found by a hash of their timer or queue, and retired ones wait in
 * retirement order, so each call costs O(1) however many timers the program
 * makes and deletes.  The registry takes a mutex, on these calls only, and
 * pthread_atfork keeps a forked child from finding it held by a thread it
 * does not have.
 *
 * Not covered: POSIX AIO (aio_read, aio_write, lio_listio) and
 * getaddrinfo_a notifications; their SIGEV_THREAD callbacks start empty.
 * timer_create@GLIBC_2.2.5, the pre-2004 timer ABI, is not supported: our
 * unversioned definition forwards to the current one.
 */
#include <errno.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime.h"
#include "sigsafe.h"

#define RETIRE_SECONDS 2
#define BUCKETS 256

enum notify_kind { NOTIFY_TIMER, NOTIFY_MQ };

struct notify {
    struct ctxvar__callback cb;     /* fn: the program's notify function */
    union sigval value;             /* the program's value */
    enum notify_kind kind;
    uintptr_t id;                   /* the timer_t or mqd_t, as a number */
    uintptr_t slot;                 /* its slot's index */
    struct timespec retired_at;
    struct notify *next;            /* in its bucket, or in the retired queue */
};

/* ---- Slots: what a notification's value names -------------------------------
 *
 * Chunks of slots, allocated as needed and never freed (a late notification
 * may read one at any time); under registry_lock.  A handle is the slot's
 * index in its low SLOT_BITS bits and the slot's generation above them. */
#define SLOT_BITS 20
#define SLOT_CHUNK 1024
#define SLOT_CHUNKS ((1u << SLOT_BITS) / SLOT_CHUNK)

struct slot {
    uintptr_t generation;           /* of its current or last record */
    struct notify *n;               /* the record, until it is freed */
    void (*fn)(union sigval);       /* the program's, until the slot is reused */
    union sigval value;
    uintptr_t next_free;            /* 1 + the next free slot's index, or 0 */
};

static struct slot *slot_chunks[SLOT_CHUNKS];
static uintptr_t slots_made, free_first, free_last; /* free_*: 1 + index, or 0 */

/* Taken by the fork handlers, with its phase (lib/sigsafe.h): it is held
 * while retired records are freed, and a program may fork from a signal
 * handler that interrupted that. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
#define FORK_STATE ctxvar__fork_locks[CTXVAR__FORK_LOCK_NOTIFY]
static struct notify *live[BUCKETS];                /* by (kind, id) */
static struct notify *retired_oldest, *retired_newest;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_registry(void) { ctxvar__phased_lock(&registry_lock, &FORK_STATE.phase); }
static void unlock_registry(void) { ctxvar__phased_unlock(&registry_lock, &FORK_STATE.phase); }
static void before_fork(void)
{
    FORK_STATE.forked_holding = !ctxvar__fork_prepare_lock(&registry_lock, FORK_STATE.phase);
}
static void after_fork_in_parent(void)
{
    if (!FORK_STATE.forked_holding) pthread_mutex_unlock(&registry_lock);
}
static void after_fork_in_child(void) { ctxvar__fork_child_reset(&registry_lock); }
static void register_atfork(void) { pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); }

static uintptr_t timer_id(timer_t timer)
{
    uintptr_t id = 0;
    memcpy(&id, &timer, sizeof timer < sizeof id ? sizeof timer : sizeof id);
    return id;
}

static struct notify **bucket(enum notify_kind kind, uintptr_t id)
{
    return &live[(id * 2 + (uintptr_t)kind) % BUCKETS];
}

static struct slot *slot_at(uintptr_t index)
{
    struct slot *chunk = slot_chunks[index / SLOT_CHUNK];
    return chunk ? &chunk[index % SLOT_CHUNK] : NULL;
}

/* With the lock held: a slot for n, the oldest freed first; its handle, or
 * 0 when there is none (out of memory, or all 2^20 in use). */
static uintptr_t slot_take(struct notify *n, void (*fn)(union sigval), union sigval value)
{
    uintptr_t index;
    if (free_first) {
        index = free_first - 1;
        free_first = slot_at(index)->next_free;
        if (!free_first) free_last = 0;
    } else {
        if (slots_made == (uintptr_t)SLOT_CHUNK * SLOT_CHUNKS) return 0;
        index = slots_made;
        if (!slot_chunks[index / SLOT_CHUNK]) {
            struct slot *chunk = calloc(SLOT_CHUNK, sizeof *chunk);
            if (!chunk) return 0;
            slot_chunks[index / SLOT_CHUNK] = chunk;
        }
        slots_made++;
    }
    struct slot *slot = slot_at(index);
    slot->generation++;
    slot->n = n;
    slot->fn = fn;
    slot->value = value;
    slot->next_free = 0;
    n->slot = index;
    uintptr_t handle = (slot->generation << SLOT_BITS | index) + 1; /* never 0 */
    return handle;
}

/* With the lock held: n's slot forgets n (keeping the program's function
 * and value for a late notification) and waits, last in line, for reuse. */
static void slot_release(const struct notify *n)
{
    struct slot *slot = slot_at(n->slot);
    slot->n = NULL;
    if (free_last) slot_at(free_last - 1)->next_free = n->slot + 1;
    else free_first = n->slot + 1;
    free_last = n->slot + 1;
}

static void call_notify(const struct ctxvar__callback *cb, void *value)
{
    ((void (*)(union sigval))cb->fn)(*(union sigval *)value);
}

static void lock_registry(void);
static void unlock_registry(void);

static void run_notification(union sigval ours)
{
    uintptr_t handle = (uintptr_t)ours.sival_ptr - 1, index = handle & ((1u << SLOT_BITS) - 1);
    uintptr_t generation = handle >> SLOT_BITS;
    struct ctxvar__callback cb = {0};
    union sigval value = {0};
    int found = 0;
    lock_registry();
    const struct slot *slot = index < slots_made ? slot_at(index) : NULL;
    /* Generations compared in the bits the handle has room for. */
    uintptr_t mask = ~(uintptr_t)0 >> SLOT_BITS;
    if (slot && (slot->generation & mask) == generation) {
        found = 1;
        value = slot->value;
        if (slot->n) {
            cb = slot->n->cb;
            cb.context = ctxvar_retain(cb.context); /* the record may go once unlocked */
        } else {
            cb.fn = (void (*)(void))slot->fn; /* its record freed: no snapshot */
        }
    }
    unlock_registry();
    if (!found) {
        ctxvar__debug("SIGEV_THREAD: a notification came after its timer or queue was long gone; "
                      "dropped");
        return;
    }
    ctxvar__callback_invoke_owned(&cb, call_notify, &value);
}

/* A record for sev (SIGEV_THREAD), and in *ours the sigevent to pass on
 * instead; NULL when we cannot (out of memory, or deferring). */
static struct notify *prepare(const struct sigevent *sev, enum notify_kind kind,
                              struct sigevent *ours)
{
    if (!sev || sev->sigev_notify != SIGEV_THREAD) return NULL;
    struct notify *n = ctxvar__callback_new(sizeof *n, (void (*)(void))sev->sigev_notify_function,
                                            NULL, "SIGEV_THREAD");
    if (!n) return NULL;
    n->value = sev->sigev_value;
    n->kind = kind;
    n->next = NULL;
    pthread_once(&atfork_once, register_atfork);
    lock_registry();
    uintptr_t handle = slot_take(n, sev->sigev_notify_function, sev->sigev_value);
    unlock_registry();
    if (!handle) {
        ctxvar__callback_free(&n->cb);
        return NULL;
    }
    *ours = *sev;
    ours->sigev_notify_function = run_notification;
    ours->sigev_value.sival_ptr = (void *)handle;
    return n;
}

/* A record that never reached the registry (the real call failed). */
static void discard(struct notify *n)
{
    lock_registry();
    slot_release(n);
    unlock_registry();
    ctxvar__callback_free(&n->cb);
}

/* With the lock held: frees the records retired long enough ago, oldest
 * first, stopping at the first that is not. */
static void sweep_retired(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    while (retired_oldest && now.tv_sec - retired_oldest->retired_at.tv_sec > RETIRE_SECONDS) {
        struct notify *old = retired_oldest;
        retired_oldest = old->next;
        if (!retired_oldest) retired_newest = NULL;
        slot_release(old);
        ctxvar__callback_free(&old->cb);
    }
}

/* With the lock held: moves the live record of (kind, id) to the retired
 * queue. */
static void retire(enum notify_kind kind, uintptr_t id)
{
    for (struct notify **link = bucket(kind, id); *link; link = &(*link)->next) {
        struct notify *n = *link;
        if (n->kind != kind || n->id != id) continue;
        *link = n->next;
        clock_gettime(CLOCK_MONOTONIC, &n->retired_at);
        n->next = NULL;
        if (retired_newest) retired_newest->next = n;
        else retired_oldest = n;
        retired_newest = n;
        return;
    }
}

/* Registers `add` (or nothing) for (kind, id), retiring what it replaces:
 * a timer id is new at each timer_create, while a queue has one
 * notification at a time. */
static void registry_update(struct notify *add, enum notify_kind kind, uintptr_t id)
{
    pthread_once(&atfork_once, register_atfork);
    lock_registry();
    sweep_retired();
    if (!add || kind == NOTIFY_MQ) retire(kind, id);
    if (add) {
        add->id = id;
        add->next = *bucket(kind, id);
        *bucket(kind, id) = add;
    }
    unlock_registry();
}

CTXVAR__EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *timer)
{
    __typeof__(&timer_create) next = CTXVAR__NEXT(timer_create);
    struct sigevent ours;
    int saved_errno = errno;
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    struct notify *n = prepare(sev, NOTIFY_TIMER, &ours);
    errno = saved_errno;
    if (!n) return next(clock, sev, timer);
    int r = next(clock, &ours, timer);
    saved_errno = errno;
    if (r == 0) registry_update(n, NOTIFY_TIMER, timer_id(*timer));
    else discard(n);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int timer_delete(timer_t timer)
{
    __typeof__(&timer_delete) next = CTXVAR__NEXT(timer_delete);
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    int r = next(timer), saved_errno = errno;
    if (r == 0) registry_update(NULL, NOTIFY_TIMER, timer_id(timer));
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int mq_notify(mqd_t mq, const struct sigevent *sev)
{
    __typeof__(&mq_notify) next = CTXVAR__NEXT(mq_notify);
    struct sigevent ours;
    int saved_errno = errno;
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    struct notify *n = prepare(sev, NOTIFY_MQ, &ours);
    errno = saved_errno;
    int r = next(mq, n ? &ours : sev);
    saved_errno = errno;
    if (r == 0) registry_update(n, NOTIFY_MQ, (uintptr_t)mq); /* replaces or cancels the old one */
    else if (n) discard(n);
    errno = saved_errno;
    return r;
}

CTXVAR__EXPORT int mq_close(mqd_t mq)
{
    __typeof__(&mq_close) next = CTXVAR__NEXT(mq_close);
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    int r = next(mq), saved_errno = errno;
    if (r == 0) registry_update(NULL, NOTIFY_MQ, (uintptr_t)mq);
    errno = saved_errno;
    return r;
}
