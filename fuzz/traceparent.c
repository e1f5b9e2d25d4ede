/* traceparent.c - libFuzzer target for ctxvar__traceparent_valid.
 *
 * The answer must equal reference_valid(), written here from the W3C Trace
 * Context text (https://www.w3.org/TR/trace-context/, section 3.2, and 4.3
 * on versions) independently of
 * lib/baggage.c, for the input itself, for its first 55 bytes, and for the
 * input mapped onto the traceparent template (random bytes rarely look like
 * a traceparent; the mapped ones do, so the valid paths get covered too).
 */
#include "fuzz.h"

/* Each position of a version-00 traceparent: 'h' a lowercase hex digit. */
static const char template_55[] =
    "hh-hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh-hhhhhhhhhhhhhhhh-hh";

static int is_lower_hex(unsigned char c)
{
    return memchr("0123456789abcdef", c, 16) != NULL && c != '\0';
}

static int all_zero(const char *s, size_t n)
{
    return strspn(s, "0") >= n;
}

static int reference_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 55) return 0;
    for (size_t i = 0; i < 55; i++) {
        if (template_55[i] == '-' ? s[i] != '-' : !is_lower_hex((unsigned char)s[i])) return 0;
    }
    if (strncmp(s, "ff", 2) == 0) return 0;          /* version 255 is invalid */
    if (all_zero(s + 3, 32) || all_zero(s + 36, 16)) return 0;
    if (strncmp(s, "00", 2) == 0) return n == 55;    /* version 00: nothing more */
    if (n == 55) return 1;
    if (s[55] != '-') return 0;                      /* later: more fields after '-', */
    for (size_t i = 56; i < n; i++)                  /* of visible ASCII: a header value */
        if (s[i] <= ' ' || s[i] > '~') return 0;
    return 1;
}

static void check(const char *s)
{
    int ours = ctxvar__traceparent_valid(s), reference = reference_valid(s);
    if (ours != reference) {
        fprintf(stderr, "traceparent \"%s\": ctxvar says %d, the reference %d\n", s, ours,
                reference);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_string(data, size);
    check(s);
    if (strlen(s) > 55) {
        char first[56];
        memcpy(first, s, 55);
        first[55] = '\0';
        check(first);
    }
    /* Mapped: byte i becomes what the template wants there, mostly. */
    char *mapped = malloc(size + 1);
    FUZZ_CHECK(mapped != NULL);
    for (size_t i = 0; i < size; i++) {
        unsigned char b = data[i];
        char want = i < 55 ? template_55[i] : (i == 55 ? '-' : 'x');
        if (b >= 0xf0) mapped[i] = (char)(b & 0x7f ? b & 0x7f : 'Z'); /* off-template */
        else if (want == '-') mapped[i] = '-';
        else if (want == 'h') mapped[i] = "0123456789abcdef"[b & 15] ;
        else mapped[i] = (char)(b & 0x7f ? b & 0x7f : '0');
        if (i < 55 && want == 'h' && b < 0x10) mapped[i] = '0';    /* zero ids now and then */
    }
    mapped[size] = '\0';
    check(mapped);
    free(mapped);
    free(s);
    return 0;
}
