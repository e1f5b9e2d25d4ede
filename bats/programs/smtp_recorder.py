#!/usr/bin/env python3
"""smtp_recorder.py PORT_FILE LOG - the smallest SMTP server libcurl will
send a mail to, on 127.0.0.1: answers every command, and appends each
message's DATA lines (headers and body) to LOG.  Writes its port to
PORT_FILE once listening.  For bats/http.bats."""
import os
import socket
import sys
import threading

port_file, log = sys.argv[1:3]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(8)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
lock = threading.Lock()


def serve(conn):
    with conn, conn.makefile("rb") as lines:
        conn.sendall(b"220 recorder\r\n")
        in_data = False
        for line in lines:
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    conn.sendall(b"250 queued\r\n")
                    continue
                with lock, open(log, "ab") as f:
                    f.write(line)
                continue
            command = line[:4].upper()
            if command == b"DATA":
                in_data = True
                conn.sendall(b"354 go on\r\n")
            elif command == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
