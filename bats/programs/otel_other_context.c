/* otel_other_context.so - preloaded before the runtime, publishes an
 * OpenTelemetry process context mapping from its constructor, as another
 * agent in the process would.  The runtime must then publish none: one per
 * process. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((constructor)) static void publish(void)
{
    int fd = memfd_create("OTEL_CTX", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return;
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m != MAP_FAILED) memcpy(m, "OTEL_CTX", 8);
}
