#!/usr/bin/env python3
"""http_recorder.py PORTFILE LOG - an HTTP/1.1 server on 127.0.0.1 (a free
port, written to PORTFILE) that appends every request it receives to LOG:
"GET /path" then one line per header, in the order received, except the
ones every libcurl request carries (Host, User-Agent, Accept).  /redirect/N
answers 302 to the URL in the query string; everything else 200 "ok".
For bats/http.bats."""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

port_file, log_path = sys.argv[1:3]
lock = threading.Lock()
SKIP = {"host", "user-agent", "accept"}


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        lines = ["GET " + self.path]
        lines += ["  %s: %s" % (k, v) for k, v in self.headers.items() if k.lower() not in SKIP]
        with lock, open(log_path, "a") as log:
            log.write("\n".join(lines) + "\n")
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.split("?", 1)[1]))
            body = b""
        else:
            self.send_response(200)
            body = b"ok"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
