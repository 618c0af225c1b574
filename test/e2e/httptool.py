#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""HTTP helpers for the end-to-end tests (standard library only; not a test itself).

  httptool.py record LISTEN_HOST LISTEN_PORT UP_HOST UP_PORT DIR MAX
      Transparent TCP relay that also saves the first MAX complete requests it relays
      (client to upstream), byte for byte, as DIR/req-NNNN.bin. Runs until killed.
  httptool.py replay HOST PORT MAX_ROUNDS SECONDS FILE...
      Sends every FILE once per round on keep-alive connections, for up to MAX_ROUNDS
      rounds or until SECONDS have passed, and prints a JSON summary: the rounds done,
      per kind (init, data, poll, other) the HTTP status counts, and the body lengths
      of 200 answers to INIT.
  httptool.py probe HOST PORT KIND
      Sends one hostile request and prints the status code of the answer (or "closed"
      / "reset" when there is none). KIND: garbage, bigheader, bigcl, bigurl, manyheaders.
  httptool.py slowloris HOST PORT N SECONDS
      Opens N connections, each sends a partial request header and then one more header
      byte per second. After SECONDS prints JSON: how many were accepted, got a 503, were
      closed by the server (and after how long), and are still open.
  httptool.py bodyflood HOST PORT N SIZE SECONDS
      Opens N connections, each sends a POST header with Content-Length SIZE and then
      SIZE - 1 body bytes (never the last one), holds them for SECONDS and prints JSON:
      how many sent their whole partial body, got a 503, or were reset.
  httptool.py lockout HOST PORT SRC_PREFIX NSRC KIND N SECONDS
      Lockout attempts without a key from the source addresses SRC_PREFIX2 ..
      SRC_PREFIX(NSRC+1) in turn, for SECONDS. KIND idle: N keep-alive connections that
      each send one GET and stay open after the answer; slow: N connections that
      announce a 2 MiB body, send 1 MiB and then a byte every 2 s; both reopened
      about a second after the server closes them. KIND flood: N new connections a second that send nothing.
      Prints JSON: connections opened, answered, closed by the server, refused with
      503, failed to connect, and the most held open at once.
  httptool.py relayhold SOCKET N SECONDS
      Opens N connections to a relay socket of `httun server --fcgi-socket`, each sends
      a valid HELLO and then nothing, reopened when the server closes them, for SECONDS.
      Prints JSON: connections opened, greeted with the server's HELLO (answered),
      closed by the server, refused at connect.
"""
import asyncio
import json
import os
import random
import selectors
import socket
import sys
import threading
import time


def read_response(sock):
    """Reads one HTTP response; returns (status, body) or raises ConnectionError."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in body")
        rest += chunk
    return status, rest[:length]


def split_request(buf):
    """If buf starts with a complete request, returns its length, else 0."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    total = end + 4 + length
    return total if len(buf) >= total else 0


def cmd_record(lhost, lport, uhost, uport, outdir, maxn):
    maxn = int(maxn)
    counter = [0]
    lock = threading.Lock()
    lst = socket.create_server((lhost, int(lport)), reuse_port=False)

    def pump_down(up, down):
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                down.sendall(data)
        except OSError:
            pass
        for s in (up, down):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pump_up(down, up):
        buf = b""
        try:
            while True:
                data = down.recv(65536)
                if not data:
                    break
                up.sendall(data)
                buf += data
                while True:
                    n = split_request(buf)
                    if not n:
                        break
                    with lock:
                        idx = counter[0]
                        counter[0] += 1
                    if idx < maxn:
                        path = os.path.join(outdir, "req-%04d.bin" % idx)
                        with open(path + ".tmp", "wb") as f:
                            f.write(buf[:n])
                        os.rename(path + ".tmp", path)
                    buf = buf[n:]
        except OSError:
            pass
        for s in (up, down):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    while True:
        down, _ = lst.accept()
        try:
            up = socket.create_connection((uhost, int(uport)))
        except OSError:
            down.close()
            continue
        for s in (up, down):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump_up, args=(down, up), daemon=True).start()
        threading.Thread(target=pump_down, args=(up, down), daemon=True).start()


def classify(req):
    head, _, body = req.partition(b"\r\n\r\n")
    method = head.split(b" ", 1)[0]
    if method == b"GET":
        return "poll"
    if method == b"POST" and body[:1] == b"\x01":
        return "init"
    if method == b"POST" and body[:1] == b"\x03":
        return "data"
    return "other"


def cmd_replay(host, port, max_rounds, seconds, *files):
    reqs = []
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        reqs.append((classify(data), data))
    summary = {}
    init_body_lens = {}
    sock = None
    rounds = 0
    deadline = time.monotonic() + float(seconds)
    while rounds < int(max_rounds) and time.monotonic() < deadline:
        rounds += 1
        for kind, data in reqs:
            for attempt in range(2):
                if sock is None:
                    sock = socket.create_connection((host, int(port)), timeout=5)
                try:
                    sock.sendall(data)
                    status, body = read_response(sock)
                    break
                except (ConnectionError, OSError):
                    sock.close()
                    sock = None
                    status, body = "error", b""
            key = str(status)
            summary.setdefault(kind, {}).setdefault(key, 0)
            summary[kind][key] += 1
            if kind == "init" and status == 200:
                k = str(len(body))
                init_body_lens[k] = init_body_lens.get(k, 0) + 1
    summary["init_200_body_lengths"] = init_body_lens
    summary["rounds"] = rounds
    print(json.dumps(summary, sort_keys=True))


def hostile_request(kind):
    if kind == "garbage":
        return bytes(range(256)) * 16 + b"\r\n\r\n"
    if kind == "bigheader":  # one 64 KiB header value
        return b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
    if kind == "manyheaders":  # 1000 small header lines
        lines = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
        return b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"
    if kind == "bigcl":  # 10^15 bytes announced, a few sent
        return (b"POST /aaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 1000000000000000\r\n\r\n" + b"\x03" * 100)
    if kind == "bigurl":  # a 100 KiB request target
        return b"GET /" + b"a" * (100 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    raise SystemExit("unknown probe kind " + kind)


def cmd_probe(host, port, kind):
    data = hostile_request(kind)
    sock = socket.create_connection((host, int(port)), timeout=10)
    result = None
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may answer and stop reading before all of it is sent
        try:
            result = str(read_response(sock)[0])
        except ConnectionResetError:
            result = "reset"
        except ConnectionError:
            result = "closed"
        except socket.timeout:
            result = "timeout"
    finally:
        sock.close()
    print(result)


def cmd_slowloris(host, port, n, seconds):
    n, seconds = int(n), float(seconds)
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    conns = {}
    refused = 0
    for i in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            refused += 1
            continue
        s.setblocking(False)
        try:
            s.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            pass
        conns[s] = {"open": True, "buf": b"", "closed_at": None}
        sel.register(s, selectors.EVENT_READ)
    opened = len(conns)
    next_tick = time.monotonic() + 1
    while time.monotonic() - start < seconds:
        timeout = max(0, min(next_tick, start + seconds) - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.fileobj
            st = conns[s]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                st["buf"] += data
                continue
            st["open"] = False
            st["closed_at"] = time.monotonic() - start
            sel.unregister(s)
        if time.monotonic() >= next_tick:
            next_tick += 1
            for s, st in conns.items():
                if st["open"]:
                    try:
                        s.send(b"X")  # one more byte of a header name, never finished
                    except OSError:
                        pass
    got503 = sum(1 for st in conns.values() if st["buf"].startswith(b"HTTP/1.1 503"))
    other_answer = sum(1 for st in conns.values()
                       if st["buf"] and not st["buf"].startswith(b"HTTP/1.1 503"))
    closed = [st["closed_at"] for st in conns.values() if not st["open"]]
    closed_quiet = [st["closed_at"] for st in conns.values()
                    if not st["open"] and not st["buf"]]
    print(json.dumps({
        "connect_failed": refused,
        "opened": opened,
        "got503": got503,
        "other_answer": other_answer,
        "closed": len(closed),
        "closed_without_answer": len(closed_quiet),
        "first_quiet_close_s": round(min(closed_quiet), 1) if closed_quiet else None,
        "last_quiet_close_s": round(max(closed_quiet), 1) if closed_quiet else None,
        "still_open": sum(1 for st in conns.values() if st["open"]),
    }, sort_keys=True))
    for s in conns:
        s.close()


def cmd_bodyflood(host, port, n, size, seconds):
    n, size = int(n), int(size)
    head = (b"POST /AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    body = b"\x03" * (size - 1)
    socks, sent, got503, reset = [], 0, 0, 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=10)
            socks.append(s)
            s.sendall(head + body)
            sent += 1
        except OSError:
            reset += 1
    time.sleep(float(seconds))
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(64).startswith(b"HTTP/1.1 503"):
                got503 += 1
        except OSError:
            pass
        s.close()
    print(json.dumps({"sent": sent, "got503": got503, "reset": reset}, sort_keys=True))


class Tally:
    def __init__(self):
        self.opened = self.answered = self.closed = self.got503 = 0
        self.failed = self.held = self.most_held = 0

    def hold(self, d):
        self.held += d
        self.most_held = max(self.most_held, self.held)

    def json(self):
        return {"opened": self.opened, "answered": self.answered, "closed": self.closed,
                "got503": self.got503, "connect_failed": self.failed,
                "most_held": self.most_held}


async def lockout_conn(host, port, src, first, then, tally, end):
    """One attacking connection, reopened while time is left: sends first, then one
    byte of then every 2 s (if any), and counts what the server does with it."""
    loop = asyncio.get_running_loop()
    while loop.time() < end:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                host, port, local_addr=(src, 0)), 5)
        except (OSError, asyncio.TimeoutError):
            tally.failed += 1
            await asyncio.sleep(0.2)
            continue
        tally.opened += 1
        tally.hold(1)
        try:
            w.write(first)
            got = b""
            pos = 0
            while loop.time() < end:
                try:
                    data = await asyncio.wait_for(r.read(4096), 2)
                except asyncio.TimeoutError:
                    if then and pos < len(then):
                        w.write(then[pos:pos + 1])
                        pos += 1
                    continue
                if not data:
                    tally.closed += 1
                    break
                if not got:
                    tally.answered += 1
                    if data.startswith(b"HTTP/1.1 503"):
                        tally.got503 += 1
                got += data
        except OSError:
            tally.closed += 1
        finally:
            tally.hold(-1)
            w.close()
        # About a second before trying again, at random so that retries do not come in
        # bursts: churn of our own would give the server connections to evict that
        # never completed a request.
        await asyncio.sleep(random.uniform(0.5, 1.5))


async def lockout_flood(host, port, srcs, per_s, tally, end):
    loop = asyncio.get_running_loop()
    held, i = [], 0
    while loop.time() < end:
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection(
                host, port, local_addr=(srcs[i % len(srcs)], 0)), 5)
            tally.opened += 1
            held.append(w)
        except (OSError, asyncio.TimeoutError):
            tally.failed += 1
        i += 1
        if len(held) > 200:  # keep our own descriptors bounded; the server sees churn
            held.pop(0).close()
        await asyncio.sleep(1 / per_s)
    for w in held:
        w.close()


async def lockout(host, port, prefix, nsrc, kind, n, seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    srcs = ["%s%d" % (prefix, 2 + i) for i in range(nsrc)]
    tally = Tally()
    jobs = []
    if kind == "flood":
        jobs.append(lockout_flood(host, port, srcs, n, tally, end))
    for i in range(int(n) if kind != "flood" else 0):
        if kind == "idle":
            first, then = b"GET /idle-%d HTTP/1.1\r\nHost: x\r\n\r\n" % i, b""
        else:
            first = (b"POST /AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n" % (2 << 20)) + b"\x03" * (1 << 20)
            then = b"\x03" * 64
        jobs.append(lockout_conn(host, port, srcs[i % nsrc], first, then, tally, end))
    await asyncio.gather(*jobs)
    print(json.dumps(tally.json(), sort_keys=True))


def cmd_lockout(host, port, prefix, nsrc, kind, n, seconds):
    if kind not in ("idle", "slow", "flood"):
        raise SystemExit("lockout: KIND is idle, slow or flood")
    asyncio.run(lockout(host, int(port), prefix, int(nsrc), kind, float(n), float(seconds)))


async def relayhold(path, n, seconds):
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    # HELLO: type 1, reserved, id 0, length 4; version 1, reserved 0 (docs/PROTOCOL.md 9).
    hello = bytes([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0])
    tally = Tally()

    async def one():
        while loop.time() < end:
            try:
                r, w = await asyncio.open_unix_connection(path)
            except OSError:
                tally.failed += 1
                await asyncio.sleep(0.2)
                continue
            tally.opened += 1
            tally.hold(1)
            try:
                w.write(hello)
                greeted = False
                while loop.time() < end:
                    try:
                        data = await asyncio.wait_for(r.read(4096), 1)
                    except asyncio.TimeoutError:
                        continue
                    if not data:
                        tally.closed += 1
                        break
                    if not greeted and data[:1] == b"\x01":  # the server's HELLO
                        greeted = True
                        tally.answered += 1
            except OSError:
                tally.closed += 1
            finally:
                tally.hold(-1)
                w.close()
            await asyncio.sleep(0.05)

    await asyncio.gather(*(one() for _ in range(n)))
    print(json.dumps(tally.json(), sort_keys=True))


def cmd_relayhold(path, n, seconds):
    asyncio.run(relayhold(path, int(n), float(seconds)))


def main():
    cmds = {"record": cmd_record, "replay": cmd_replay, "probe": cmd_probe,
            "slowloris": cmd_slowloris, "bodyflood": cmd_bodyflood,
            "lockout": cmd_lockout, "relayhold": cmd_relayhold}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
