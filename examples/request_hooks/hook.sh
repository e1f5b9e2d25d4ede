#!/bin/sh
# hook.sh REQUEST USER - a request's hook, run by server.c with system()
# from the request's thread.  It is told the request and user only so that
# the line can be checked; its ids come from the context it received, read
# by `ctxvar format` (the logfmt line ctxvar_format gives in C).  A real
# hook would write: logger "$(ctxvar format) rotated the log"
echo "[$(ctxvar format)] hook rotated the log of request $1 by $2"
