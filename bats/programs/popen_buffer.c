/* popen_buffer - a popen stream's buffer, which decides when a program's
 * writes reach the shell: the runtime builds its own popen streams and
 * must size them as glibc does (the pipe's st_blksize).
 *
 * Output, with and without the runtime:
 *   w: buffer 4096, pending after 5000 bytes: 904
 *   r: buffer 4096, read: hi
 *   status: 0 0
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

int main(void)
{
    FILE *w = popen("cat >/dev/null", "w");
    if (!w) return 1;
    char bytes[5000];
    memset(bytes, 'x', sizeof bytes);
    fwrite(bytes, 1, sizeof bytes, w);
    printf("w: buffer %zu, pending after 5000 bytes: %zu\n", __fbufsize(w), __fpending(w));
    FILE *r = popen("echo hi", "r");
    if (!r) return 1;
    char line[16] = "";
    if (!fgets(line, sizeof line, r)) return 1;
    line[strcspn(line, "\n")] = '\0';
    printf("r: buffer %zu, read: %s\n", __fbufsize(r), line);
    int ws = pclose(w), rs = pclose(r);
    printf("status: %d %d\n", ws, rs);
    return 0;
}
