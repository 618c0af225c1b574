#!/usr/bin/env python3
# Helpers for test/e2e/l7_forward.sh: small TCP servers and clients that check every byte.
# Not a test on its own (the .py is not picked up by CTest).
import asyncio
import hashlib
import os
import socket
import sys


def pattern(seed, n):
    """n deterministic pseudo-random bytes for connection `seed`."""
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d:%d" % (seed, block)).digest() * 64
        block += 1
    return bytes(out[:n])


async def echo_handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def halfclose_handle(reader, writer):
    # Read everything up to the client's FIN, then answer: the digest and 300 KB more.
    data = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    writer.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + pattern(7, 300000))
    await writer.drain()
    writer.close()


async def serve(kind, host, port, countfile=None):
    if kind == "count":
        async def handle(reader, writer):
            with open(countfile, "a") as f:
                f.write("accept\n")
            writer.close()
    else:
        handle = echo_handle if kind == "echo" else halfclose_handle
    srv = await asyncio.start_server(handle, host, port, backlog=256)
    if countfile is not None:
        open(countfile, "a").close()
    async with srv:
        await srv.serve_forever()


async def echo_one(port, seed, size):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = pattern(seed, size)

    async def send():
        for i in range(0, size, 32768):
            writer.write(payload[i:i + 32768])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.ensure_future(send())
    got = bytearray()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        got += chunk
    await sender
    writer.close()
    return bytes(got) == payload


async def echo_many(port, n, size):
    results = await asyncio.wait_for(
        asyncio.gather(*(echo_one(port, s, size) for s in range(n)), return_exceptions=True),
        timeout=240)
    bad = [i for i, r in enumerate(results) if r is not True]
    for i in bad:
        print("connection %d: %r" % (i, results[i]), file=sys.stderr)
    print("%d of %d connections intact" % (n - len(bad), n))
    return not bad


def halfclose_client(port):
    payload = pattern(3, 200000)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    want = hashlib.sha256(payload).hexdigest().encode() + b"\n" + pattern(7, 300000)
    print("half-close: got %d bytes, want %d" % (len(got), len(want)))
    return bytes(got) == want


def closed_client(port):
    """Connect to a forward whose target is refused: the connection must end, no data."""
    s = None
    try:
        # The forward accepts at once; a reset can come back before connect() returns.
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"hello")
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    if s:
        s.close()
    return data == b""


def stall_client(port, seconds, outfile):
    """Send into an echo forward and never read: the tunnel must push back, not buffer."""
    import time
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setblocking(False)
    chunk = pattern(9, 65536)
    sent = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.05)
        with open(outfile + ".tmp", "w") as f:
            f.write("%d\n" % sent)
        os.replace(outfile + ".tmp", outfile)  # the test reads it meanwhile
    s.close()
    return True


def main():
    cmd = sys.argv[1]
    if cmd in ("echo-server", "halfclose-server", "count-server"):
        kind = cmd.split("-")[0]
        asyncio.run(serve(kind, sys.argv[2], int(sys.argv[3]),
                          sys.argv[4] if len(sys.argv) > 4 else None))
        return 0
    if cmd == "echo-client":
        return 0 if asyncio.run(echo_many(int(sys.argv[2]), int(sys.argv[3]),
                                          int(sys.argv[4]))) else 1
    if cmd == "halfclose-client":
        return 0 if halfclose_client(int(sys.argv[2])) else 1
    if cmd == "closed-client":
        return 0 if closed_client(int(sys.argv[2])) else 1
    if cmd == "stall-client":
        return 0 if stall_client(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]) else 1
    if cmd == "pattern":
        sys.stdout.buffer.write(pattern(int(sys.argv[2]), int(sys.argv[3])))
        return 0
    print("unknown command", cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
