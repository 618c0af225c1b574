#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""One-connection TCP throughput, for carriers that forward a single TCP connection at a
time (GNU httptunnel, httun L7 forwards) where iperf3 cannot work: iperf3 opens a control
connection and a data connection at once.

  tcpstream.py recv ADDR PORT          serve one measurement per connection, forever
  tcpstream.py send ADDR PORT SECONDS  send for SECONDS, print a JSON result line

The sender streams zero bytes for SECONDS, then one 0x01 byte as the end mark (no
half-close: httptunnel tears the whole tunnel down on it). The receiver counts bytes from
the first byte to the end mark and answers with "<bytes> <seconds>\\n"; the sender prints
{"bytes": .., "seconds": .., "bits_per_second": ..} measured at the receiver.
"""
import json
import socket
import sys
import time

CHUNK = 256 * 1024
END = b"\x01"


def serve(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    buf = bytearray(CHUNK)
    while True:
        conn, _ = ls.accept()
        with conn:
            total = 0
            start = None
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                if start is None:
                    start = time.monotonic()
                total += n
                if buf.find(END, 0, n) >= 0:
                    break
            elapsed = time.monotonic() - start if start is not None else 0.0
            try:
                conn.sendall(f"{total} {elapsed:.6f}\n".encode())
            except OSError:
                pass


def send(addr, port, seconds):
    s = socket.create_connection((addr, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b"\0" * CHUNK
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(data)
    s.sendall(END)
    s.settimeout(60)
    reply = b""
    while not reply.endswith(b"\n"):
        part = s.recv(64)
        if not part:
            break
        reply += part
    s.close()
    total, elapsed = reply.split()
    total, elapsed = int(total), float(elapsed)
    bps = total * 8 / elapsed if elapsed > 0 else 0.0
    print(json.dumps({"bytes": total, "seconds": elapsed, "bits_per_second": bps}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "recv":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
