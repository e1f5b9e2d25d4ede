/* curl.c - with CTXVAR_HTTP=1, a request a program makes with libcurl (but
 * a mail's) carries the context of the thread that started the transfer in
 * traceparent, tracestate and baggage headers: the same values a child
 * process started from that thread would get in TRACEPARENT, TRACESTATE and
 * BAGGAGE (lib/headers.c, on lib/baggage.c's encoder: name order, 64
 * members and 8,192 bytes at most, '_'-private names never).
 *
 * WHERE.  A transfer starts in curl_easy_perform (the calling thread) or in
 * curl_multi_add_handle (the thread that adds it).  There the handle gets,
 * for that transfer only, a header list of our own: the program's list
 * (CURLOPT_HTTPHEADER, remembered from curl_easy_setopt) node by node, its
 * strings borrowed, then our headers, each left out when the program's list
 * names that header itself, in any case (with a value, or "name:" to remove
 * it, or "name;" to send it empty): a program that sets its own traceparent
 * keeps it, alone.  The program's list is never modified or freed.  When
 * the transfer is over the program's own list is set back: after
 * curl_easy_perform, or when the handle leaves the multi handle
 * (curl_multi_remove_handle), is reported done (curl_multi_info_read), or
 * is let go with the multi handle (curl_multi_cleanup, which detaches its
 * easy handles without removing them: the next transfer of one must get
 * the context of its own start, not keep the list of the last).
 * curl_easy_reset forgets the program's list with the rest of the options,
 * curl_easy_duphandle gives the copy the program's list (never ours), and
 * curl_easy_cleanup drops what we kept.  libcurl itself decides where
 * custom headers go, on redirects too; ours go wherever the program's do.
 *
 * libcurl calls curl_multi_add_handle, curl_multi_remove_handle and
 * curl_multi_info_read through its own PLT from inside curl_easy_perform,
 * so those interposers run within ours: a handle that already carries our
 * list is left alone, and ending a transfer twice does nothing the second
 * time.
 *
 * An empty context (or one with nothing exportable) sends no header, and
 * then the handle is not touched.  When we cannot do our part (out of
 * memory, libcurl refusing the option) the transfer goes on as the program
 * set it up, with a CTXVAR_DEBUG line.
 *
 * LAZY.  Nothing here links libcurl: its types and the one option number
 * are libcurl's stable ABI (soname 4), declared below, and every libcurl
 * function is found with CTXVAR__NEXT when a program that links libcurl
 * calls ours.  A program without libcurl never loads it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime.h"

/* ---- libcurl's ABI ------------------------------------------------------------ */

/* The library, when the search after us does not find it (a plugin that
 * dlopen()ed it RTLD_LOCAL): its soname since libcurl 7.16. */
#define CURL_SONAME "libcurl.so.4"

typedef struct ctxvar__curl CURL;
typedef struct ctxvar__curlm CURLM;
struct curl_slist {
    char *data;
    struct curl_slist *next;
};
typedef int CURLcode;  /* an enum in curl.h: int-sized */
typedef int CURLMcode;
typedef int CURLoption;
typedef struct {
    int msg; /* CURLMSG_DONE is 1 */
    CURL *easy_handle;
    union {
        void *whatever;
        CURLcode result;
    } data;
} CURLMsg;

enum {
    CURLOPTTYPE_OBJECTPOINT = 10000,
    CURLOPTTYPE_FUNCTIONPOINT = 20000,
    CURLOPTTYPE_OFF_T = 30000,
    CURLOPT_URL = CURLOPTTYPE_OBJECTPOINT + 2,
    CURLOPT_HTTPHEADER = CURLOPTTYPE_OBJECTPOINT + 23,
    CURLOPT_DEFAULT_PROTOCOL = CURLOPTTYPE_OBJECTPOINT + 238,
    CURLOPT_CURLU = CURLOPTTYPE_OBJECTPOINT + 282,
    CURLUPART_SCHEME = 1,
    CURLMSG_DONE = 1,
};

CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...);
CURLcode curl_easy_perform(CURL *h);
void curl_easy_reset(CURL *h);
void curl_easy_cleanup(CURL *h);
CURL *curl_easy_duphandle(CURL *h);
CURLMcode curl_multi_add_handle(CURLM *m, CURL *h);
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h);
CURLMsg *curl_multi_info_read(CURLM *m, int *msgs_in_queue);
CURLMcode curl_multi_cleanup(CURLM *m);
int curl_url_get(void *url, int what, char **part, unsigned flags);
void curl_free(void *p);

/* ---- What we keep per handle -------------------------------------------------- */

/* What a handle's URL says of its protocol: libcurl takes CURLOPT_HTTPHEADER
 * for the MIME headers of SMTP and IMAP messages too, where trace headers
 * would end up inside the mail, so ours are left out of those transfers.
 * Every other one gets them, and libcurl decides where custom headers go,
 * as it does for the program's (to an HTTP proxy for an ftp:// URL, say;
 * nowhere for plain FTP). */
enum url_kind {
    URL_UNSET,        /* no URL seen yet */
    URL_MAIL,         /* scheme smtp, smtps, imap or imaps */
    URL_OTHER,        /* any other scheme */
    URL_GUESS_MAIL,   /* no scheme; libcurl's guess from the host: SMTP or IMAP */
    URL_GUESS_OTHER,  /* no scheme; libcurl's guess from the host: another */
};
enum default_protocol { DEFAULT_UNSET, DEFAULT_MAIL, DEFAULT_OTHER };

/* A handle whose URL or header list the program set, or to which we gave
 * ours. */
struct handle {
    CURL *curl;
    struct curl_slist *program;   /* the program's CURLOPT_HTTPHEADER (borrowed) */
    struct curl_slist *ours;      /* set for the current transfer, or NULL */
    CURLM *multi;                 /* the multi handle it was added to, or NULL */
    unsigned long orphaned;       /* the curl_multi_cleanup call letting it go, or 0 */
    void *url_handle;             /* the program's CURLOPT_CURLU (borrowed), or NULL */
    unsigned char url;            /* enum url_kind of CURLOPT_URL */
    unsigned char default_protocol; /* enum default_protocol: CURLOPT_DEFAULT_PROTOCOL */
    struct handle *next;
};

enum { BUCKETS = 256 };
static struct handle *buckets[BUCKETS];
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under handles_lock: how many handles have `multi` set (so that a
 * curl_multi_cleanup, which libcurl also makes inside every
 * curl_easy_cleanup, walks the table only when one may be in it), and the
 * number of the last curl_multi_cleanup that found some. */
static unsigned long handles_in_multi, cleanups;

static void set_multi(struct handle *h, CURLM *m)
{
    handles_in_multi += (m != NULL) - (h->multi != NULL);
    h->multi = m;
}

/* A fork while another thread holds handles_lock would leave the child's
 * held for good, and its first libcurl call waiting forever: the lock is
 * taken around fork (registered on its first use). */
static pthread_once_t handles_atfork_once = PTHREAD_ONCE_INIT;
static void handles_before_fork(void) { pthread_mutex_lock(&handles_lock); }
static void handles_after_fork_in_parent(void) { pthread_mutex_unlock(&handles_lock); }
static void handles_after_fork_in_child(void) { pthread_mutex_init(&handles_lock, NULL); }
static void handles_register_atfork(void)
{
    pthread_atfork(handles_before_fork, handles_after_fork_in_parent, handles_after_fork_in_child);
}

static void lock_handles(void)
{
    pthread_once(&handles_atfork_once, handles_register_atfork);
    pthread_mutex_lock(&handles_lock);
}

static struct handle **slot_of(CURL *curl)
{
    uintptr_t k = (uintptr_t)curl;
    return &buckets[(k >> 4 ^ k >> 12) % BUCKETS];
}

/* The record of curl, or NULL; with `create`, a new one (NULL when out of
 * memory).  Under handles_lock. */
static struct handle *find(CURL *curl, int create)
{
    struct handle **slot = slot_of(curl);
    for (struct handle *h = *slot; h; h = h->next)
        if (h->curl == curl) return h;
    if (!create) return NULL;
    struct handle *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->curl = curl;
    h->next = *slot;
    *slot = h;
    return h;
}

/* Takes curl's record out of the table (the caller frees it with
 * handle_free), or NULL. */
static struct handle *take(CURL *curl)
{
    for (struct handle **p = slot_of(curl); *p; p = &(*p)->next) {
        if ((*p)->curl != curl) continue;
        struct handle *h = *p;
        *p = h->next;
        set_multi(h, NULL);
        return h;
    }
    return NULL;
}

static void handle_free(struct handle *h)
{
    if (!h) return;
    free(h->ours);
    free(h);
}

static void forget(CURL *curl) { handle_free(take(curl)); }

/* ---- The protocol ---------------------------------------------------------------- */

static int is_mail_scheme(const char *scheme, size_t len)
{
    static const char *const mail[] = {"smtp", "smtps", "imap", "imaps"};
    for (size_t i = 0; i < sizeof mail / sizeof mail[0]; i++)
        if (len == strlen(mail[i]) && strncasecmp(scheme, mail[i], len) == 0) return 1;
    return 0;
}

/* What CURLOPT_URL's text says, as libcurl reads it: a scheme is a letter
 * then letters, digits, '+', '-' or '.', then ":/" (one slash will do), at
 * the very start; without one, libcurl uses CURLOPT_DEFAULT_PROTOCOL if set,
 * else guesses from the host's first label (after any "user@"). */
static enum url_kind url_kind_of(const char *url)
{
    if (!url) return URL_UNSET;
    if ((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')) {
        size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
        if (url[n] == ':' && url[n + 1] == '/') return is_mail_scheme(url, n) ? URL_MAIL : URL_OTHER;
    }
    const char *host = url, *at = strchr(url, '@'), *path = strpbrk(url, "/?#");
    if (at && (!path || at < path)) host = at + 1;
    return strncasecmp(host, "smtp.", 5) == 0 || strncasecmp(host, "imap.", 5) == 0
               ? URL_GUESS_MAIL
               : URL_GUESS_OTHER;
}

/* 1 when curl's transfer is a mail's, as far as its options say.  Under
 * handles_lock. */
static int transfer_is_mail(const struct handle *h)
{
    if (!h) return 0;
    if (h->url_handle) {
        int (*get)(void *, int, char **, unsigned) = CTXVAR__NEXT_IN(curl_url_get, CURL_SONAME);
        void (*release)(void *) = CTXVAR__NEXT_IN(curl_free, CURL_SONAME);
        char *scheme = NULL;
        int mail = get && release && get(h->url_handle, CURLUPART_SCHEME, &scheme, 0) == 0 &&
                   scheme && is_mail_scheme(scheme, strlen(scheme));
        if (scheme && release) release(scheme);
        return mail;
    }
    switch (h->url) {
    case URL_MAIL: return 1;
    case URL_GUESS_MAIL:
    case URL_GUESS_OTHER:
        if (h->default_protocol != DEFAULT_UNSET) return h->default_protocol == DEFAULT_MAIL;
        return h->url == URL_GUESS_MAIL;
    default: return 0;
    }
}

/* ---- The list for one transfer ---------------------------------------------- */

/* 1 when the program's entry names the header `name` (len bytes): "Name:
 * value", "Name:" or "Name;", in any case. */
static int names_header(const char *entry, const char *name, size_t len)
{
    if (!entry) return 0;
    while (*entry == ' ' || *entry == '\t') entry++;
    return strncasecmp(entry, name, len) == 0 && (entry[len] == ':' || entry[len] == ';');
}

static int program_sets(const struct curl_slist *list, const char *name, size_t len)
{
    for (; list; list = list->next)
        if (names_header(list->data, name, len)) return 1;
    return 0;
}

/* A new list: the program's nodes (their strings borrowed), then our
 * headers that the program did not set.  One block, freed with free();
 * NULL when there is nothing to add (or no memory: said). */
static struct curl_slist *list_for_transfer(const struct curl_slist *program)
{
    /* The thread's last headers when its context has not changed since. */
    struct ctxvar__trace_headers own;
    const struct ctxvar__trace_headers *th = ctxvar__trace_headers_cached();
    if (!th) {
        if (ctxvar__trace_headers_current(&own) != 0) {
            ctxvar__debug("http: no memory for the trace headers; the request goes without them");
            return NULL;
        }
        th = &own;
    }
    const char *names[3] = {"traceparent", "tracestate", "baggage"};
    const char *values[3] = {th->traceparent, th->tracestate, th->baggage};
    size_t lens[3] = {th->traceparent_len, th->tracestate_len, th->baggage_len};
    size_t nodes = 0, text = 0;
    int send[3];
    for (const struct curl_slist *p = program; p; p = p->next) nodes++;
    for (int i = 0; i < 3; i++) {
        send[i] = values[i] && !program_sets(program, names[i], strlen(names[i]));
        /* A tracestate belongs to its traceparent: none of ours with the
         * program's. */
        if (i == 1 && values[0] && !send[0]) send[i] = 0;
        if (send[i]) {
            nodes++;
            text += strlen(names[i]) + 2 + lens[i] + 1;
        }
    }
    struct curl_slist *list = NULL;
    if (send[0] || send[1] || send[2]) {
        list = malloc(nodes * sizeof *list + text);
        if (!list) ctxvar__debug("http: no memory for the header list; the request goes without "
                                 "the trace headers");
    }
    if (list) {
        char *out = (char *)(list + nodes);
        size_t n = 0;
        for (const struct curl_slist *p = program; p; p = p->next) list[n++].data = p->data;
        for (int i = 0; i < 3; i++) {
            if (!send[i]) continue;
            list[n++].data = out;
            size_t name_len = strlen(names[i]);
            memcpy(out, names[i], name_len);
            memcpy(out + name_len, ": ", 2);
            memcpy(out + name_len + 2, values[i], lens[i]);
            out += name_len + 2 + lens[i];
            *out++ = '\0';
        }
        for (size_t i = 0; i < nodes; i++) list[i].next = i + 1 < nodes ? &list[i + 1] : NULL;
    }
    if (th == &own) ctxvar__trace_headers_free(&own);
    return list;
}

static CURLcode set_list(CURL *curl, struct curl_slist *list)
{
    __typeof__(&curl_easy_setopt) real = CTXVAR__NEXT_IN(curl_easy_setopt, CURL_SONAME);
    return real ? real(curl, CURLOPT_HTTPHEADER, list) : 0;
}

/* Before a transfer starts on curl: our list in place of the program's, if
 * there is anything to add and none is in place already (curl_easy_perform
 * adds the handle to a multi handle of its own).  1 when this call put one
 * in place. */
static int begin_transfer(CURL *curl)
{
    int installed = 0;
    if (!curl || !ctxvar__http_enabled()) return 0;
    lock_handles();
    struct handle *h = find(curl, 0);
    if (h && h->ours) {
        pthread_mutex_unlock(&handles_lock);
        return 0;
    }
    if (transfer_is_mail(h)) {
        pthread_mutex_unlock(&handles_lock);
        return 0;
    }
    const struct curl_slist *program = h ? h->program : NULL;
    struct curl_slist *list = list_for_transfer(program);
    if (list && !h && !(h = find(curl, 1))) {
        ctxvar__debug("http: no memory to track a handle; the request goes without the trace "
                      "headers");
        free(list);
        list = NULL;
    }
    if (list) {
        if (set_list(curl, list) == 0) {
            h->ours = list;
            installed = 1;
        } else {
            ctxvar__debug("http: libcurl refused the header list; the request goes without "
                          "the trace headers");
            free(list);
        }
    }
    pthread_mutex_unlock(&handles_lock);
    return installed;
}

/* After it: the program's list back, and, when the handle has left the
 * multi handle `left` (NULL: it has not), no multi handle noted.
 * Idempotent. */
static void end_transfer(CURL *curl, CURLM *left)
{
    if (!curl || !ctxvar__http_enabled()) return;
    lock_handles();
    struct handle *h = find(curl, 0);
    if (h && h->ours) {
        set_list(curl, h->program);
        free(h->ours);
        h->ours = NULL;
    }
    if (h && left && h->multi == left) set_multi(h, NULL);
    pthread_mutex_unlock(&handles_lock);
}

/* ---- The interposers ------------------------------------------------------------ */

/* What curl_easy_setopt set that decides our headers: the program's list,
 * and what says the protocol.  Strings are read now (libcurl copies
 * them); a URL handle is asked at each transfer (the program may change
 * it). */
static void remember(CURL *curl, CURLoption option, void *v)
{
    int saved_errno = errno;
    lock_handles();
    struct handle *h = find(curl, 1);
    if (!h) {
        ctxvar__debug("http: no memory to note a handle's option; its transfers are taken "
                      "for what its other options say");
    } else if (option == CURLOPT_HTTPHEADER) {
        h->program = v;
    } else if (option == CURLOPT_URL) {
        h->url = (unsigned char)url_kind_of(v);
    } else if (option == CURLOPT_CURLU) {
        h->url_handle = v;
    } else {
        h->default_protocol = !v                              ? DEFAULT_UNSET
                              : is_mail_scheme(v, strlen(v)) ? DEFAULT_MAIL
                                                             : DEFAULT_OTHER;
    }
    pthread_mutex_unlock(&handles_lock);
    errno = saved_errno;
}

CTXVAR__EXPORT CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    __typeof__(&curl_easy_setopt) real = CTXVAR__NEXT_IN(curl_easy_setopt, CURL_SONAME);
    va_list ap;
    va_start(ap, option);
    /* The argument's type follows from the option number, as libcurl reads
     * it: a long, a curl_off_t (64 bits, two slots on i386), or a pointer. */
    CURLcode r;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        r = real ? real(curl, option, v) : 0;
    } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_OFF_T + 10000) {
        long long v = va_arg(ap, long long);
        r = real ? real(curl, option, v) : 0;
    } else {
        void *v = va_arg(ap, void *);
        r = real ? real(curl, option, v) : 0;
        if ((option == CURLOPT_HTTPHEADER || option == CURLOPT_URL || option == CURLOPT_CURLU ||
             option == CURLOPT_DEFAULT_PROTOCOL) &&
            r == 0 && ctxvar__http_enabled())
            remember(curl, option, v);
    }
    va_end(ap);
    return r;
}

CTXVAR__EXPORT CURLcode curl_easy_perform(CURL *curl)
{
    __typeof__(&curl_easy_perform) real = CTXVAR__NEXT_IN(curl_easy_perform, CURL_SONAME);
    int saved_errno = errno;
    /* A handle that carries our list already is in a multi handle, whose
     * transfer keeps it (libcurl refuses to perform it: CURLE_FAILED_INIT). */
    int installed = begin_transfer(curl);
    errno = saved_errno;
    CURLcode r = real ? real(curl) : 0;
    if (installed) {
        saved_errno = errno;
        end_transfer(curl, NULL);
        errno = saved_errno;
    }
    return r;
}

CTXVAR__EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *curl)
{
    __typeof__(&curl_multi_add_handle) real = CTXVAR__NEXT_IN(curl_multi_add_handle, CURL_SONAME);
    int saved_errno = errno;
    int installed = begin_transfer(curl);
    errno = saved_errno;
    CURLMcode r = real ? real(m, curl) : 0;
    saved_errno = errno;
    if (r != 0 && installed) {
        /* Not added: nothing will end this transfer.  (A handle already
         * added, CURLM_ADDED_ALREADY, keeps the list its transfer uses.) */
        end_transfer(curl, NULL);
    } else if (r == 0 && curl && ctxvar__http_enabled()) {
        lock_handles();
        struct handle *h = find(curl, 0);
        if (h) set_multi(h, m);
        pthread_mutex_unlock(&handles_lock);
    }
    errno = saved_errno;
    return r;
}

/* Only a removal libcurl made ends the transfer: a handle given with
 * another multi handle than its own (CURLM_BAD_EASY_HANDLE) is still
 * running there, with our list. */
CTXVAR__EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *curl)
{
    __typeof__(&curl_multi_remove_handle) real = CTXVAR__NEXT_IN(curl_multi_remove_handle, CURL_SONAME);
    CURLMcode r = real ? real(m, curl) : 0;
    int saved_errno = errno;
    if (r == 0) end_transfer(curl, m);
    errno = saved_errno;
    return r;
}

/* libcurl detaches the easy handles still in m without removing them: their
 * transfers end here.  The handles are marked with this call's number
 * before m goes (once it has, another thread's curl_multi_init may get
 * its address) and given the program's lists back after, when libcurl has
 * done with their transfers; a cleanup libcurl refuses
 * (CURLM_RECURSIVE_API_CALL, from inside one of its callbacks) leaves them
 * in m, running, with our lists. */
CTXVAR__EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
    __typeof__(&curl_multi_cleanup) real = CTXVAR__NEXT_IN(curl_multi_cleanup, CURL_SONAME);
    int saved_errno = errno;
    unsigned long mark = 0;
    if (m && ctxvar__http_enabled()) {
        lock_handles();
        for (int b = 0; handles_in_multi && b < BUCKETS; b++)
            for (struct handle *h = buckets[b]; h; h = h->next)
                if (h->multi == m) {
                    if (!mark) mark = ++cleanups;
                    h->orphaned = mark;
                }
        pthread_mutex_unlock(&handles_lock);
    }
    errno = saved_errno;
    CURLMcode r = real ? real(m) : 0;
    if (mark) {
        saved_errno = errno;
        lock_handles();
        for (int b = 0; b < BUCKETS; b++)
            for (struct handle *h = buckets[b]; h; h = h->next) {
                if (h->orphaned != mark) continue;
                h->orphaned = 0;
                if (r != 0) continue;
                set_multi(h, NULL);
                if (h->ours) {
                    set_list(h->curl, h->program);
                    free(h->ours);
                    h->ours = NULL;
                }
            }
        pthread_mutex_unlock(&handles_lock);
        errno = saved_errno;
    }
    return r;
}

CTXVAR__EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *msgs_in_queue)
{
    __typeof__(&curl_multi_info_read) real = CTXVAR__NEXT_IN(curl_multi_info_read, CURL_SONAME);
    CURLMsg *msg = real ? real(m, msgs_in_queue) : NULL;
    if (msg && msg->msg == CURLMSG_DONE) {
        int saved_errno = errno;
        end_transfer(msg->easy_handle, NULL);
        errno = saved_errno;
    }
    return msg;
}

CTXVAR__EXPORT void curl_easy_reset(CURL *curl)
{
    __typeof__(&curl_easy_reset) real = CTXVAR__NEXT_IN(curl_easy_reset, CURL_SONAME);
    if (real) real(curl);
    int saved_errno = errno;
    lock_handles();
    forget(curl); /* the options are gone, the program's list with them */
    pthread_mutex_unlock(&handles_lock);
    errno = saved_errno;
}

CTXVAR__EXPORT void curl_easy_cleanup(CURL *curl)
{
    __typeof__(&curl_easy_cleanup) real = CTXVAR__NEXT_IN(curl_easy_cleanup, CURL_SONAME);
    /* Out of the table before the handle is freed: once it is, another
     * thread's curl_easy_init may get the same address and record it. */
    int saved_errno = errno;
    lock_handles();
    struct handle *h = take(curl);
    pthread_mutex_unlock(&handles_lock);
    errno = saved_errno;
    if (real) real(curl);
    saved_errno = errno;
    handle_free(h);
    errno = saved_errno;
}

CTXVAR__EXPORT CURL *curl_easy_duphandle(CURL *curl)
{
    __typeof__(&curl_easy_duphandle) real = CTXVAR__NEXT_IN(curl_easy_duphandle, CURL_SONAME);
    CURL *copy = real ? real(curl) : NULL;
    if (!copy || !ctxvar__http_enabled()) return copy;
    int saved_errno = errno;
    lock_handles();
    struct handle *h = find(curl, 0);
    if (h) {
        struct curl_slist *program = h->program;
        int had_ours = h->ours != NULL;
        struct handle *d = find(copy, 1);
        if (d) {
            d->program = program;
            d->url_handle = h->url_handle;
            d->url = h->url;
            d->default_protocol = h->default_protocol;
        }
        /* A copy made mid-transfer took our list's pointer: it must not
         * keep a list we free when the original's transfer ends. */
        if (had_ours) set_list(copy, program);
    }
    pthread_mutex_unlock(&handles_lock);
    errno = saved_errno;
    return copy;
}
