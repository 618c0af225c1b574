#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Summarise the raw files bench/run.sh wrote: medians, ratios, a markdown table on
stdout and the whole result (raw numbers included) as JSON.

  report.py RAW_DIR OUT_JSON [--meta KEY=VALUE ...]

RAW_DIR/<path>/ holds: status ("ok" or why not measured), r<N>.ping.txt (ping output),
r<N>.iperf.json (iperf3 -J), r<N>.stream.json (tcpstream.py), r<N>.<kind>.cpu
("<ticks> <ticks per second>"), mem_idle and mem_peak ("<role> <pid> <KiB>" lines),
tun_tx ("<device> <tx_packets> <tx_dropped>" of the client's TUN, whole session).
Standard library only.
"""
import json
import math
import os
import re
import statistics
import sys

PATHS = ["direct", "relay", "openvpn-tcp", "httptunnel", "httun-ip", "httun-l7"]
LABELS = {
    "direct": "direct veth",
    "relay": "bare relay (AES-256-GCM/UDP)",
    "openvpn-tcp": "OpenVPN over TCP",
    "httptunnel": "GNU httptunnel",
    "httun-ip": "httun IP",
    "httun-l7": "httun L7",
}
RTT_RE = re.compile(r"time=([0-9.]+) ms")


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, q):
    """Nearest-rank percentile."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def runs_of(d, suffix):
    out = []
    for name in os.listdir(d):
        m = re.fullmatch(r"r(\d+)\." + re.escape(suffix), name)
        if m:
            out.append((int(m.group(1)), os.path.join(d, name)))
    return [p for _, p in sorted(out)]


def read_ping(f):
    with open(f) as fh:
        text = fh.read()
    rtts = [float(x) for x in RTT_RE.findall(text)]
    sent = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    return {
        "samples": len(rtts),
        "sent": int(sent.group(1)) if sent else None,
        "received": int(sent.group(2)) if sent else None,
        "median_ms": median(rtts),
        "p99_ms": percentile(rtts, 99),
    }


def read_iperf(f):
    try:
        with open(f) as fh:
            j = json.load(fh)
        s = j["end"]["sum_received"]
        return {
            "bits_per_second": s["bits_per_second"],
            "bytes": s["bytes"],
            "retransmits": j["end"]["sum_sent"].get("retransmits"),
        }
    except (OSError, ValueError, KeyError):
        return {"bits_per_second": None, "bytes": None, "error": "no iperf3 result"}


def read_stream(f):
    try:
        with open(f) as fh:
            line = fh.read().strip().splitlines()[-1]
        j = json.loads(line)
        return {"bits_per_second": j["bits_per_second"], "bytes": j["bytes"]}
    except (OSError, ValueError, KeyError, IndexError):
        return {"bits_per_second": None, "bytes": None, "error": "no tcpstream result"}


def read_cpu(f, nbytes):
    """CPU seconds per GB (1e9 bytes) moved, from a '<ticks> <hz>' file."""
    if not os.path.exists(f) or not nbytes:
        return None
    with open(f) as fh:
        ticks, hz = fh.read().split()
    return int(ticks) / int(hz) / (nbytes / 1e9)


def read_mem(f):
    out = {}
    if os.path.exists(f):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 3 and parts[2].isdigit():
                    out[parts[0]] = int(parts[2])
    return out


def summarise_path(d):
    with open(os.path.join(d, "status")) as fh:
        status = fh.read().strip()
    r = {"status": status}
    pings = [read_ping(f) for f in runs_of(d, "ping.txt")]
    if pings:
        r["rtt"] = {
            "runs": pings,
            "median_ms": median([p["median_ms"] for p in pings]),
            "p99_ms": median([p["p99_ms"] for p in pings]),
        }
    for kind, reader in (("iperf", read_iperf), ("stream", read_stream)):
        files = runs_of(d, kind + ".json")
        if not files:
            continue
        rs = []
        for f in files:
            x = reader(f)
            x["cpu_s_per_gb"] = read_cpu(f[: -len(".json")] + ".cpu", x.get("bytes"))
            rs.append(x)
        r["tcp" if kind == "iperf" else "stream"] = {
            "runs": rs,
            "median_bps": median([x["bits_per_second"] for x in rs]),
            "cpu_s_per_gb_median": median([x["cpu_s_per_gb"] for x in rs]),
        }
    tun_tx = os.path.join(d, "tun_tx")
    if os.path.exists(tun_tx):
        with open(tun_tx) as fh:
            parts = fh.read().split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            pk, dr = int(parts[1]), int(parts[2])
            r["client_tun_tx"] = {
                "device": parts[0],
                "packets": pk,
                "dropped": dr,
                "dropped_pct": 100 * dr / (pk + dr) if pk + dr else None,
            }
    idle = read_mem(os.path.join(d, "mem_idle"))
    peak = read_mem(os.path.join(d, "mem_peak"))
    if idle or peak:
        r["memory_kib"] = {
            role: {"idle_rss": idle.get(role), "peak_rss": peak.get(role)}
            for role in sorted(set(idle) | set(peak))
        }
    return r


def ratio(a, b):
    return a / b if a is not None and b else None


def add_ratios(res):
    def get(path, *keys):
        x = res.get(path, {})
        for k in keys:
            if not isinstance(x, dict):
                return None
            x = x.get(k)
        return x

    d_tcp = get("direct", "tcp", "median_bps")
    o_tcp = get("openvpn-tcp", "tcp", "median_bps")
    d_str = get("direct", "stream", "median_bps")
    h_str = get("httptunnel", "stream", "median_bps")
    d_rtt = get("direct", "rtt", "median_ms")
    for path, r in res.items():
        rt = {}
        tcp = get(path, "tcp", "median_bps")
        st = get(path, "stream", "median_bps")
        rt["tcp_vs_direct"] = ratio(tcp, d_tcp)
        rt["tcp_vs_openvpn_tcp"] = ratio(tcp, o_tcp)
        rt["stream_vs_direct"] = ratio(st, d_str)
        rt["stream_vs_httptunnel"] = ratio(st, h_str)
        r["ratios"] = {k: v for k, v in rt.items() if v is not None}
        rtt = get(path, "rtt", "median_ms")
        if rtt is not None and d_rtt is not None and path != "direct":
            r["added_rtt_median_ms"] = rtt - d_rtt


def fmt(x, spec, none="-"):
    return none if x is None else format(x, spec)


def mbit(bps):
    return None if bps is None else bps / 1e6


def table(res):
    lines = [
        "| path | TCP Mbit/s (iperf3) | vs direct | vs OpenVPN-TCP | 1-conn Mbit/s "
        "| vs httptunnel | RTT median ms | RTT p99 ms | added RTT ms | CPU s/GB "
        "| idle RSS KiB (client/server) | peak RSS KiB (client/server) | TUN drops % |",
        "|" + "---|" * 13,
    ]
    for path in PATHS:
        r = res.get(path)
        if r is None:
            continue
        if r["status"] != "ok":
            lines.append(f"| {LABELS[path]} | {r['status']} |" + " |" * 11)
            continue
        tcp, st, rtt = r.get("tcp", {}), r.get("stream", {}), r.get("rtt", {})
        ra = r.get("ratios", {})
        cpu = tcp.get("cpu_s_per_gb_median")
        if cpu is None:
            cpu = st.get("cpu_s_per_gb_median")
        mem = r.get("memory_kib", {})

        def roles(key):
            vals = [mem.get(x, {}).get(key) for x in ("client", "server")]
            return "-" if all(v is None for v in vals) else "/".join(fmt(v, "d") for v in vals)

        lines.append(
            "| "
            + " | ".join(
                [
                    LABELS[path],
                    fmt(mbit(tcp.get("median_bps")), ".0f"),
                    fmt(ra.get("tcp_vs_direct"), ".3f"),
                    fmt(ra.get("tcp_vs_openvpn_tcp"), ".2f"),
                    fmt(mbit(st.get("median_bps")), ".0f"),
                    fmt(ra.get("stream_vs_httptunnel"), ".2f"),
                    fmt(rtt.get("median_ms"), ".3f"),
                    fmt(rtt.get("p99_ms"), ".3f"),
                    fmt(r.get("added_rtt_median_ms"), ".3f"),
                    fmt(cpu, ".2f"),
                    roles("idle_rss"),
                    roles("peak_rss"),
                    fmt(r.get("client_tun_tx", {}).get("dropped_pct"), ".2f"),
                ]
            )
            + " |"
        )
    lines.append("")
    lines.append("Raw per run (Mbit/s; RTT median/p99 ms):")
    lines.append("")
    for path in PATHS:
        r = res.get(path)
        if r is None or r["status"] != "ok":
            continue
        parts = []
        for key, name in (("tcp", "iperf3"), ("stream", "1-conn")):
            if key in r:
                parts.append(
                    name
                    + " "
                    + ", ".join(fmt(mbit(x["bits_per_second"]), ".0f") for x in r[key]["runs"])
                )
        if "rtt" in r:
            parts.append(
                "RTT "
                + ", ".join(
                    fmt(p["median_ms"], ".3f") + "/" + fmt(p["p99_ms"], ".3f")
                    for p in r["rtt"]["runs"]
                )
            )
        lines.append(f"- {LABELS[path]}: " + "; ".join(parts))
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    raw, out = args[0], args[1]
    meta = {}
    if len(args) > 2:
        if args[2] != "--meta":
            sys.stderr.write(__doc__)
            sys.exit(2)
        for kv in args[3:]:
            k, _, v = kv.partition("=")
            meta[k] = int(v) if v.isdigit() else v
    res = {p: summarise_path(os.path.join(raw, p)) for p in PATHS if os.path.isdir(os.path.join(raw, p))}
    add_ratios(res)
    md = table(res)
    doc = {"meta": meta, "paths": res, "markdown": md}
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, out)
    print(md)


if __name__ == "__main__":
    main()
