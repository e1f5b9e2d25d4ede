/* otel_process.c - the OpenTelemetry process context: one mapping a reader
 * outside the process finds by its name, and the protobuf message it points
 * at, which says what this process is and how to read its threads' records
 * (lib/otel.c).
 *
 * THE MAPPING
 *
 * Made with memfd_create("OTEL_CTX", MFD_CLOEXEC | MFD_ALLOW_SEALING |
 * MFD_NOEXEC_SEAL) (again without MFD_NOEXEC_SEAL, which kernels before
 * 6.3 refuse), sized with ftruncate, mapped read-write and private, the
 * descriptor closed at once; where memfd is refused, an anonymous private
 * mapping.  madvise(MADV_DONTFORK) keeps it out of children: a forked child
 * is another process and publishes its own.  prctl(PR_SET_VMA,
 * PR_SET_VMA_ANON_NAME, ..., "OTEL_CTX") names it (that fails harmlessly
 * for the memfd mapping, which is named by its file; an anonymous mapping
 * that cannot be named cannot be found, and publication fails).  Readers
 * look in /proc/<pid>/maps for a name starting with "/memfd:OTEL_CTX",
 * "[anon:OTEL_CTX]" or "[anon_shmem:OTEL_CTX]".
 *
 * The header, native byte order, 32 bytes:
 *
 *     offset  0  char   signature[8]      "OTEL_CTX", no NUL
 *             8  uint32 version           2
 *            12  uint32 payload_size
 *            16  uint64 published_at_ns   CLOCK_BOOTTIME; 0 while updating;
 *                                         each publication a larger value
 *            24  uint64 payload           its address in this process
 *
 * Publishing writes everything but the time, a full fence, then the time,
 * and names the mapping last: a profiler watches that prctl and reads at
 * once, a few times, then not until it next looks.  An update writes 0
 * to the time, a fence, the new pointer and size, a fence, a new time,
 * and names the mapping again.  A reader reads the
 * time (0: retry), the rest, the payload, then the time again: unchanged
 * means what it read is whole.  So the old payload may be freed once the
 * new time is written.  One writer at a time: the key map's lock
 * (lib/otel.c) is held around every publication.
 *
 * THE PAYLOAD
 *
 * opentelemetry.proto.processcontext.v1development.ProcessContext, with
 * the common OTLP messages (field numbers in brackets):
 *
 *     ProcessContext { Resource resource [1]; repeated KeyValue attributes [2]; }
 *     Resource       { repeated KeyValue attributes [1]; }
 *     KeyValue       { string key [1]; AnyValue value [2]; }
 *     AnyValue       { oneof { string string_value [1]; ...;
 *                              ArrayValue array_value [5]; } }
 *     ArrayValue     { repeated AnyValue values [1]; }
 *
 * Resource attributes: service.name, chosen as OpenTelemetry's SDKs choose
 * it (OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES,
 * percent-decoded, else "unknown_service:" and the program's name), and
 * service.instance.id (the one OTEL_RESOURCE_ATTRIBUTES gives, else a
 * random UUID; new in each forked child), then every other attribute
 * OTEL_RESOURCE_ATTRIBUTES gives, as an SDK's resource would hold them.
 * Protobuf's strings are UTF-8, and a strict reader refuses the whole
 * message for one that is not: what is not UTF-8 becomes U+FFFD.
 * Attributes: threadlocal.schema_version, the version of the thread
 * record's layout ("tlsdesc_v1_dev", the name the layout has been
 * published under), and threadlocal.attribute_key_map, the key map.
 * Every message here is length-delimited fields only, so the encoder is a
 * tag byte, a varint length and the bytes, with each length computed
 * before it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "otel.h"
#include "runtime.h"
#include "w3c.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif

#define SCHEMA_VERSION "tlsdesc_v1_dev"

struct header {
    char signature[8];
    uint32_t version;
    uint32_t payload_size;
    uint64_t published_at_ns;
    uint64_t payload;
};
_Static_assert(sizeof(struct header) == 32, "the header is 32 bytes");

static struct header *mapping;
static size_t mapping_size;
/* Whether this process made `mapping`.  A child made without the fork
 * handlers (glibc's _Fork, the fork or clone system call made directly)
 * still holds the parent's address, which is not mapped in it.  A page of
 * our own, which the kernel gives every forked child zeroed
 * (MADV_WIPEONFORK), says so: 1 in the process that wrote it.  Not the
 * process id, which a vfork child (sharing the parent's memory, where it
 * must change nothing) does not share, and which a sandbox may refuse to
 * tell (getpid answering -1).  Where the kernel has no MADV_WIPEONFORK
 * (before 4.14), the process id does it, read from /proc where getpid is
 * refused. */
static volatile unsigned char *made_here;
static pid_t made_by;

static void mark_made_here(void)
{
    if (!made_here) {
        long page = sysconf(_SC_PAGESIZE);
        size_t size = page > 0 ? (size_t)page : 4096;
        void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED && madvise(m, size, MADV_WIPEONFORK) == 0) made_here = m;
        else if (m != MAP_FAILED) munmap(m, size);
    }
    if (made_here) *made_here = 1;
    made_by = ctxvar__pid();
}

/* 1 in a process that did not make `mapping`, forked from the one that did. */
static int forked_unnoticed(void)
{
    return made_here ? *made_here == 0 : ctxvar__pid() != made_by;
}
static char *payload;
static uint64_t last_published;
static char instance_id[256];

/* ---- Encoding ----------------------------------------------------------------- */

struct out {
    uint8_t *p;
    size_t n;
};

static size_t varint_size(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

/* A whole length-delimited field of `len` bytes: tag, length, bytes. */
static size_t field_size(size_t len) { return 1 + varint_size(len) + len; }

static void put_head(struct out *o, uint8_t tag, size_t len)
{
    o->p[o->n++] = tag;
    for (; len >= 0x80; len >>= 7) o->p[o->n++] = (uint8_t)(len | 0x80);
    o->p[o->n++] = (uint8_t)len;
}

static void put_string(struct out *o, uint8_t tag, const char *s)
{
    size_t len = strlen(s);
    put_head(o, tag, len);
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

/* Tags: (field number << 3) | 2, length-delimited. */
enum { TAG1 = 0x0a, TAG2 = 0x12, TAG5 = 0x2a };

/* A KeyValue whose value is the string `value`: its size, and the field. */
static size_t kv_string_size(const char *key, const char *value)
{
    return field_size(strlen(key)) + field_size(field_size(strlen(value)));
}

static void put_kv_string(struct out *o, uint8_t tag, const char *key, const char *value)
{
    put_head(o, tag, kv_string_size(key, value));
    put_string(o, TAG1, key);
    put_head(o, TAG2, field_size(strlen(value)));
    put_string(o, TAG1, value);
}

/* The ArrayValue of the key map's names. */
static size_t key_map_array_size(unsigned keys)
{
    size_t n = 0;
    for (unsigned i = 0; i < keys; i++)
        n += field_size(field_size(strlen(ctxvar__otel_key_name(i))));
    return n;
}

static size_t kv_key_map_size(const char *key, unsigned keys)
{
    return field_size(strlen(key)) + field_size(field_size(key_map_array_size(keys)));
}

static void put_kv_key_map(struct out *o, uint8_t tag, const char *key, unsigned keys)
{
    size_t array = key_map_array_size(keys);
    put_head(o, tag, kv_key_map_size(key, keys));
    put_string(o, TAG1, key);
    put_head(o, TAG2, field_size(array));
    put_head(o, TAG5, array);
    for (unsigned i = 0; i < keys; i++) {
        const char *name = ctxvar__otel_key_name(i);
        put_head(o, TAG1, field_size(strlen(name)));
        put_string(o, TAG1, name);
    }
}

/* service.name, chosen once per process (see the top). */
static char service[512];

/* Appends s[0..n) to service from *len, what is not UTF-8 as U+FFFD, as
 * much as fits whole. */
static void service_put(size_t *len, const char *s, size_t n)
{
    size_t used; /* room kept for the NUL */
    *len += ctxvar__w3c_put_repaired(service + *len, sizeof service - 1 - *len,
                                     (const unsigned char *)s, n, &used);
}

/* Percent-decodes [begin, end) into out (room for `room` bytes), cut to
 * fit; the length, or -1 for a bad escape (or an escaped NUL). */
static long percent_decode(const char *begin, const char *end, char *out, size_t room)
{
    size_t n = 0;
    for (const char *c = begin; c < end; c++) {
        char byte = *c;
        if (byte == '%') {
            int hi = end - c >= 3 ? ctxvar__w3c_hex_value((unsigned char)c[1]) : -1;
            int lo = hi >= 0 ? ctxvar__w3c_hex_value((unsigned char)c[2]) : -1;
            if (lo < 0 || (hi | lo) == 0) return -1;
            byte = (char)(hi << 4 | lo);
            c += 2;
        }
        if (n < room) out[n++] = byte;
    }
    return (long)n;
}

/* What OTEL_RESOURCE_ATTRIBUTES gives, read once: key=value pairs
 * separated by ',', keys and values percent-encoded as in W3C Baggage.  As
 * OpenTelemetry's resource SDK says, the variable is discarded whole for
 * any error (a member without '=', a bad escape, an escaped NUL); the last
 * of a key given twice wins.  service.name and service.instance.id go to
 * their own places; every other pair is published as a resource attribute
 * too (service.version, deployment.environment.name ...), as an SDK's
 * resource holds it: "key\0value\0" in `given`, what is not UTF-8 as
 * U+FFFD, values cut to 511 bytes, keys longer than 255 bytes left out, 64
 * pairs and 4 KiB at most. */
enum { GIVEN_ROOM = 4096, GIVEN_PAIRS = 64, GIVEN_KEY = 256, GIVEN_VALUE = 512 };
static char given[GIVEN_ROOM];
static size_t given_len;
static char given_service[sizeof service], given_instance_id[sizeof instance_id];

/* s[0..n) into out (room bytes), repaired, cut to whole characters, and a
 * NUL; its length. */
static size_t repaired(char *out, size_t room, const char *s, size_t n)
{
    size_t used = 0;
    size_t len = ctxvar__w3c_put_repaired(out, room - 1, (const unsigned char *)s, n, &used);
    out[len] = '\0';
    return len;
}

/* The length of the pair in buf[0..len) whose key is `key`, from *at; 0
 * when there is none. */
static size_t find_pair(const char *buf, size_t len, const char *key, size_t *at)
{
    for (size_t here = 0; here < len;) {
        size_t key_len = strlen(buf + here);
        size_t next = here + key_len + 1 + strlen(buf + here + key_len + 1) + 1;
        if (strcmp(buf + here, key) == 0) {
            *at = here;
            return next - here;
        }
        here = next;
    }
    return 0;
}

/* 0 with what the variable gives in the given_ places, -1 (nothing kept)
 * for an error. */
static int read_resource_attributes(const char *list)
{
    /* Decoded values are read twice as long as kept, so that a value is
     * cut on a character boundary, after its repair, never inside one. */
    char key[GIVEN_KEY + 1], value[2 * GIVEN_VALUE];
    char fixed_key[3 * GIVEN_KEY], fixed_value[GIVEN_VALUE];
    char pairs[GIVEN_ROOM], service_value[sizeof given_service];
    char instance_value[sizeof given_instance_id];
    size_t pairs_len = 0;
    unsigned count = 0;
    service_value[0] = instance_value[0] = '\0';
    for (const char *p = list; p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && ctxvar__w3c_is_ows(*b)) b++;
        while (e > b && ctxvar__w3c_is_ows(e[-1])) e--;
        p = *end ? end + 1 : NULL;
        if (b == e) continue;
        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (!eq) return -1;
        const char *key_end = eq, *v = eq + 1;
        while (key_end > b && ctxvar__w3c_is_ows(key_end[-1])) key_end--;
        while (v < e && ctxvar__w3c_is_ows(*v)) v++;
        long key_len = percent_decode(b, key_end, key, sizeof key);
        long value_len = percent_decode(v, e, value, sizeof value);
        if (key_len < 0 || value_len < 0) return -1;
        if (key_len == 0 || key_len > GIVEN_KEY - 1) continue;
        size_t fixed_len = repaired(fixed_value, sizeof fixed_value, value, (size_t)value_len);
        if (key_len == 12 && memcmp(key, "service.name", 12) == 0) {
            memcpy(service_value, fixed_value, fixed_len + 1);
            continue;
        }
        if (key_len == 19 && memcmp(key, "service.instance.id", 19) == 0) {
            repaired(instance_value, sizeof instance_value, value, (size_t)value_len);
            continue;
        }
        /* Whole: 255 bytes repaired take 765 at most. */
        size_t fixed_key_len = repaired(fixed_key, sizeof fixed_key, key, (size_t)key_len);
        /* A key given again loses its earlier pair: the last wins, and
         * takes the last place.  A pair beyond the limits is left out (and
         * a key whose last pair is, with it: an earlier value, which an
         * SDK reading the variable would not report, is never shown). */
        size_t old_at = 0, old_len = find_pair(pairs, pairs_len, fixed_key, &old_at);
        if (old_len) {
            memmove(pairs + old_at, pairs + old_at + old_len, pairs_len - old_at - old_len);
            pairs_len -= old_len;
            count--;
        }
        if (count == GIVEN_PAIRS || fixed_key_len + fixed_len + 2 > sizeof pairs - pairs_len)
            continue;
        memcpy(pairs + pairs_len, fixed_key, fixed_key_len + 1);
        pairs_len += fixed_key_len + 1;
        memcpy(pairs + pairs_len, fixed_value, fixed_len + 1);
        pairs_len += fixed_len + 1;
        count++;
    }
    if (pairs_len > 0) memcpy(given, pairs, pairs_len);
    given_len = pairs_len;
    memcpy(given_service, service_value, strlen(service_value) + 1);
    memcpy(given_instance_id, instance_value, strlen(instance_value) + 1);
    return 0;
}

static void choose_service_name(void)
{
    size_t len = 0;
    const char *attributes = secure_getenv("OTEL_RESOURCE_ATTRIBUTES");
    if (attributes) (void)read_resource_attributes(attributes);
    const char *name = secure_getenv("OTEL_SERVICE_NAME");
    if (name && *name) {
        service_put(&len, name, strlen(name));
        service[len] = '\0';
        return;
    }
    if (given_service[0]) {
        memcpy(service, given_service, sizeof service);
        return;
    }
    service_put(&len, "unknown_service", 15);
    const char *program = program_invocation_short_name;
    if (program && *program) {
        service_put(&len, ":", 1);
        service_put(&len, program, strlen(program));
    }
    service[len] = '\0';
}

/* Calls visit(key, value, arg) for each pair of `given`, in order. */
static void visit_given(void (*visit)(const char *key, const char *value, void *arg), void *arg)
{
    for (size_t at = 0; at < given_len;) {
        const char *key = given + at;
        const char *value = key + strlen(key) + 1;
        visit(key, value, arg);
        at = (size_t)(value - given) + strlen(value) + 1;
    }
}

static void add_given_size(const char *key, const char *value, void *size)
{
    *(size_t *)size += field_size(kv_string_size(key, value));
}

static void put_given(const char *key, const char *value, void *o)
{
    put_kv_string(o, TAG1, key, value);
}

/* The ProcessContext message, in memory of its own; NULL when out of memory. */
static char *encode(size_t *size)
{
    if (!service[0]) choose_service_name();
    unsigned keys = ctxvar__otel_key_count();
    size_t resource = field_size(kv_string_size("service.name", service)) +
                      field_size(kv_string_size("service.instance.id", instance_id));
    visit_given(add_given_size, &resource);
    size_t total = field_size(resource) +
                   field_size(kv_string_size("threadlocal.schema_version", SCHEMA_VERSION)) +
                   field_size(kv_key_map_size("threadlocal.attribute_key_map", keys));
    struct out o = {ctxvar__alloc(total), 0};
    if (!o.p) return NULL;
    put_head(&o, TAG1, resource);
    put_kv_string(&o, TAG1, "service.name", service);
    put_kv_string(&o, TAG1, "service.instance.id", instance_id);
    visit_given(put_given, &o);
    put_kv_string(&o, TAG2, "threadlocal.schema_version", SCHEMA_VERSION);
    put_kv_key_map(&o, TAG2, "threadlocal.attribute_key_map", keys);
    *size = o.n;
    return (char *)o.p;
}

/* ---- Publishing --------------------------------------------------------------- */

/* The one OTEL_RESOURCE_ATTRIBUTES gives, as an SDK takes it; else, and
 * in a forked child (another instance, though it inherits the variable), a
 * version 4 UUID, lowercase, from getrandom (the clock and our addresses
 * when the kernel has no entropy to give yet: unique is what matters). */
static void make_instance_id(int forked)
{
    if (!service[0]) choose_service_name(); /* reads the variable */
    if (!forked && given_instance_id[0]) {
        memcpy(instance_id, given_instance_id, sizeof instance_id);
        return;
    }
    uint8_t u[16];
    if (getrandom(u, sizeof u, GRND_NONBLOCK) != (ssize_t)sizeof u) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t mix[2] = {(uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30),
                           (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)u};
        memcpy(u, mix, sizeof u);
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *p = instance_id;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 15];
    }
    *p = '\0';
}

/* CLOCK_BOOTTIME in nanoseconds, larger than any time published before. */
static uint64_t next_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (now <= last_published) now = last_published + 1;
    return last_published = now;
}

static int name_mapping(void)
{
    return prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)mapping, mapping_size,
                 (unsigned long)"OTEL_CTX");
}

/* A new mapping in `mapping`, not named yet: 0, or -1.  *from_memfd
 * tells whether readers can already find it by its file's name. */
static int map(int *from_memfd)
{
    long page = sysconf(_SC_PAGESIZE);
    mapping_size = page > 0 ? (size_t)page : 4096;
    void *m = MAP_FAILED;
    int fd = memfd_create("OTEL_CTX", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
    if (fd < 0) fd = memfd_create("OTEL_CTX", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd >= 0) {
        if (ftruncate(fd, (off_t)mapping_size) == 0)
            m = mmap(NULL, mapping_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        close(fd);
    }
    *from_memfd = m != MAP_FAILED;
    if (!*from_memfd)
        m = mmap(NULL, mapping_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -1;
    mapping = m;
    mark_made_here();
    (void)madvise(m, mapping_size, MADV_DONTFORK);
    return 0;
}

void ctxvar__otel_process_forget(void)
{
    mapping = NULL;
    payload = NULL; /* the parent's copy, in the child's memory: left */
}

int ctxvar__otel_process_publish(int forked)
{
    int saved_errno = errno;
    if (forked) {
        mapping = NULL; /* the parent's, not mapped here */
        free(payload);
        payload = NULL;
    }
    make_instance_id(forked);
    size_t size = 0;
    int from_memfd = 0;
    char *message = encode(&size);
    if (!message || map(&from_memfd) != 0) {
        free(message);
        errno = saved_errno;
        return -1;
    }
    payload = message;
    memcpy(mapping->signature, "OTEL_CTX", 8);
    mapping->version = 2;
    mapping->payload_size = (uint32_t)size;
    mapping->payload = (uint64_t)(uintptr_t)payload;
    atomic_thread_fence(memory_order_seq_cst);
    __atomic_store_n(&mapping->published_at_ns, next_time(), __ATOMIC_RELAXED);
    /* Named last: a profiler watches the naming prctl and reads the
     * mapping at once, a few times, then not again until it next looks. */
    if (name_mapping() != 0 && !from_memfd) {
        /* Anonymous and unnamed: no reader could ever find it. */
        munmap(mapping, mapping_size);
        mapping = NULL;
        payload = NULL;
        free(message);
        errno = saved_errno;
        return -1;
    }
    errno = saved_errno;
    return 0;
}

int ctxvar__otel_process_update(void)
{
    /* A child that no fork handler told: it publishes its own, as a
     * forked child does (lib/otel.c), instead of writing to the parent's
     * mapping, which it does not have. */
    if (mapping && forked_unnoticed()) return ctxvar__otel_process_publish(1);
    int saved_errno = errno;
    size_t size = 0;
    char *message = mapping ? encode(&size) : NULL;
    if (!message) {
        /* Readers keep the key map they have; records show no new key. */
        if (mapping) ctxvar__debug("otel: out of memory republishing the key map");
        errno = saved_errno;
        return -1;
    }
    char *old = payload;
    __atomic_store_n(&mapping->published_at_ns, 0, __ATOMIC_RELAXED);
    atomic_thread_fence(memory_order_seq_cst);
    payload = message;
    mapping->payload = (uint64_t)(uintptr_t)payload;
    mapping->payload_size = (uint32_t)size;
    atomic_thread_fence(memory_order_seq_cst);
    __atomic_store_n(&mapping->published_at_ns, next_time(), __ATOMIC_RELAXED);
    (void)name_mapping();
    free(old);
    errno = saved_errno;
    return 0;
}
