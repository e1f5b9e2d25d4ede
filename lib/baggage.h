/* baggage.h - W3C Baggage (https://www.w3.org/TR/baggage/) and the
 * traceparent header of W3C Trace Context. */
#ifndef CTXVAR_BAGGAGE_H
#define CTXVAR_BAGGAGE_H

#include "store.h"
#include "w3c.h"

/* Decodes a baggage header value and binds each well-formed member on top of
 * `base` (borrowed), giving a new reference in *out.  Members are separated
 * by ','; whitespace around members, keys and values is ignored; a value is
 * percent-decoded; properties after ';' are dropped.  A member is skipped,
 * with a diagnostic under CTXVAR_DEBUG=1, when it has no '=', its key is not
 * a valid variable name, its value holds a byte outside baggage-octet (bytes
 * >= 0x80 pass, for UTF-8), a bad %-escape or an escaped NUL, or decodes to
 * more than 4096 bytes, or its key is traceparent or tracestate.  An empty
 * member is skipped silently.  The last of a repeated key wins.  Returns 0
 * and the number of members skipped, or ENOMEM with *out untouched. */
int ctxvar__baggage_decode(const char *header, const ctxvar_ctx *base,
                           ctxvar_ctx **out, size_t *skipped) CTXVAR__HIDDEN;

/* Encodes c as a baggage value into buf (snprintf semantics: returns the
 * whole length, writes a NUL-terminated prefix when size > 0).  Members in
 * name order; values percent-encoded down to baggage-octets ('%' too, and
 * every byte >= 0x80: UTF-8 survives as its escaped bytes).  Left out:
 * traceparent, tracestate and names starting with '_' (private).  At most
 * CTXVAR_BAGGAGE_MAX_MEMBERS members and CTXVAR_BAGGAGE_MAX_BYTES bytes:
 * members that do not fit are dropped whole and counted in *dropped. */
size_t ctxvar__baggage_encode(const ctxvar_ctx *c, char *buf, size_t size,
                              size_t *dropped) CTXVAR__HIDDEN;

/* The same, allocating nothing: sorts in scratch (room pointers) or, for a
 * larger context, walks it.  For the exec paths. */
size_t ctxvar__baggage_encode_in(const ctxvar_ctx *c, char *buf, size_t size, size_t *dropped,
                                 const ctxvar__binding **scratch, size_t room) CTXVAR__HIDDEN;

/* The names the runtime's other files and the fuzz targets call; the rules
 * themselves are in w3c.h. */
static inline int ctxvar__is_trace_header(const char *name, size_t len)
{
    return ctxvar__w3c_is_trace_header(name, len);
}

static inline int ctxvar__traceparent_valid(const char *v)
{
    return ctxvar__w3c_traceparent_valid(v);
}

static inline int ctxvar__tracestate_valid(const char *v)
{
    return ctxvar__w3c_tracestate_valid(v);
}

#endif
