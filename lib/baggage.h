/* baggage.h - W3C Baggage (https://www.w3.org/TR/baggage/) decoding. */
#ifndef CTXVAR_BAGGAGE_H
#define CTXVAR_BAGGAGE_H

#include "store.h"

/* Decodes a baggage header value and binds each well-formed member on top of
 * `base` (borrowed), giving a new reference in *out.  Members are separated
 * by ','; whitespace around members, keys and values is ignored; a value is
 * percent-decoded; properties after ';' are dropped.  A member is skipped,
 * with a diagnostic under CTXVAR_DEBUG=1, when it has no '=', its key is not
 * a valid variable name, its value holds a byte outside baggage-octet (bytes
 * >= 0x80 pass, for UTF-8), a bad %-escape or an escaped NUL, or decodes to
 * more than 4096 bytes.  An empty member is skipped silently.  The last of a
 * repeated key wins.  Returns 0, or ENOMEM with *out untouched. */
int ctxvar__baggage_decode(const char *header, const ctxvar_ctx *base,
                           ctxvar_ctx **out) CTXVAR__HIDDEN;

#endif
