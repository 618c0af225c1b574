#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Summarise the raw files bench/run.sh wrote: medians, ratios, a markdown table on
stdout and the whole result (raw numbers included) as JSON.

  report.py RAW_DIR OUT_JSON [--meta KEY=VALUE ...]

RAW_DIR/<path>/ holds: status ("ok" or why not measured), r<N>.ping.txt (ping output),
r<N>.iperf.json (iperf3 -J, TCP a -> b), r<N>.iperf_r.json (-R, b -> a),
r<N>.iperf_p4.json (-P 4), r<N>.udp.json (-u), r<N>.ping_load.txt (ping during
r<N>.ping_load.iperf.json), r<N>.stream.json (tcpstream.py), r<N>.<kind>.cpu
("<ticks> <ticks per second>"), mem_idle and mem_peak ("<role> <pid> <KiB>" lines),
tun_tx ("<device> <tx_packets> <tx_dropped>" of the client's TUN, whole session),
sustain ("<phase> <second> <role> <VmRSS KiB>" lines, phase before/during/after/died)
and sustain.iperf.json.
Standard library only.
"""
import json
import math
import os
import re
import statistics
import sys

PATHS = [
    "direct",
    "relay",
    "openvpn-tcp",
    "httptunnel",
    "httun-ip",
    "httun-ip-bp",
    "httun-fcgi",
    "httun-l7",
]
LABELS = {
    "direct": "direct veth",
    "relay": "bare relay (AES-256-GCM/UDP)",
    "openvpn-tcp": "OpenVPN over TCP",
    "httptunnel": "GNU httptunnel",
    "httun-ip": "httun IP",
    "httun-ip-bp": "httun IP, client --busy-poll 50",
    "httun-fcgi": "httun IP via lighttpd FastCGI",
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


def run_no(f):
    """The run number N of a raw file rN.<kind>."""
    return int(re.match(r"r(\d+)\.", os.path.basename(f)).group(1))


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


def load_iperf(f):
    """iperf3 -J output; iperf3 may print a warning line before the JSON (e.g. "UDP
    block size 1400 exceeds TCP MSS"), so parse from the first '{'."""
    with open(f) as fh:
        text = fh.read()
    return json.loads(text[text.index("{") :])


def read_iperf(f):
    try:
        j = load_iperf(f)
        s = j["end"]["sum_received"]
        return {
            "bits_per_second": s["bits_per_second"],
            "bytes": s["bytes"],
            "retransmits": j["end"]["sum_sent"].get("retransmits"),
        }
    except (OSError, ValueError, KeyError):
        return {"bits_per_second": None, "bytes": None, "error": "no iperf3 result"}


def read_udp(f):
    """iperf3 -u -J: the receiver's rate and loss."""
    try:
        j = load_iperf(f)
        r = j["end"]["sum_received"]
        return {
            "bits_per_second": r["bits_per_second"],
            "bytes": r["bytes"],
            "offered_bits_per_second": j["end"]["sum_sent"]["bits_per_second"],
            "lost_percent": r.get("lost_percent", j["end"]["sum"].get("lost_percent")),
        }
    except (OSError, ValueError, KeyError):
        return {"bits_per_second": None, "bytes": None, "error": "no iperf3 UDP result"}


def read_bidir(f):
    """iperf3 --bidir -J: received rate each way."""
    try:
        j = load_iperf(f)
        e = j["end"]
        return {
            "a_to_b_bits_per_second": e["sum_received"]["bits_per_second"],
            "b_to_a_bits_per_second": e["sum_received_bidir_reverse"]["bits_per_second"],
        }
    except (OSError, ValueError, KeyError):
        return {"error": "no iperf3 --bidir result"}


def read_sustain(d):
    f = os.path.join(d, "sustain")
    if not os.path.exists(f):
        return None
    samples = {}
    died = False
    with open(f) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 4:
                continue
            if parts[0] == "died":
                died = True
                continue
            if not parts[3].isdigit():
                continue
            samples.setdefault(parts[2], []).append((parts[0], int(parts[1]), int(parts[3])))
    out = {"died": died}
    for role, xs in sorted(samples.items()):
        during = [k for ph, _, k in xs if ph == "during"]
        before = [k for ph, _, k in xs if ph == "before"]
        after = [k for ph, _, k in xs if ph == "after"]
        first, second = during[: len(during) // 2], during[len(during) // 2 :]
        out[role] = {
            "samples": [{"phase": ph, "second": t, "rss_kib": k} for ph, t, k in xs],
            "before_kib": before[0] if before else None,
            "during_first_kib": during[0] if during else None,
            "during_max_kib": max(during) if during else None,
            "during_last_kib": during[-1] if during else None,
            # growth within the load: RSS swings with the queues from second to second,
            # so compare the maxima of the two halves rather than single samples
            "during_first_half_max_kib": max(first) if first else None,
            "during_second_half_max_kib": max(second) if second else None,
            "after_kib": after[0] if after else None,
        }
    bidir = os.path.join(d, "sustain.iperf.json")
    if os.path.exists(bidir):
        out["iperf3_bidir"] = read_bidir(bidir)
    return out


def read_stream(f):
    try:
        with open(f) as fh:
            line = fh.read().strip().splitlines()[-1]
        j = json.loads(line)
        return {"bits_per_second": j["bits_per_second"], "bytes": j["bytes"]}
    except (OSError, ValueError, KeyError, IndexError):
        return {"bits_per_second": None, "bytes": None, "error": "no tcpstream result"}


def read_cpu(f, nbytes, roles):
    """CPU seconds per GB (1e9 bytes) moved, from a file of '<ticks> <hz>' (all the
    path's processes) and then '<pid> <ticks>' per process: the total, and per process
    by its role (ROLES maps pid to role) when the path has more than two."""
    if not os.path.exists(f) or not nbytes:
        return None, None
    with open(f) as fh:
        lines = [x.split() for x in fh.read().splitlines()]
    ticks, hz = lines[0]
    per_gb = lambda t: int(t) / int(hz) / (nbytes / 1e9)  # noqa: E731
    procs = {roles.get(pid, pid): per_gb(t) for pid, t in lines[1:]}
    return per_gb(ticks), (procs if len(procs) > 2 else None)


def read_roles(f):
    """pid -> role from a mem_idle file."""
    out = {}
    if os.path.exists(f):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 3:
                    out[parts[1]] = parts[0]
    return out


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
    loads = runs_of(d, "ping_load.txt")
    if loads:
        lr = []
        for f in loads:
            x = read_ping(f)
            x["iperf3_bits_per_second"] = read_iperf(f[: -len(".txt")] + ".iperf.json")[
                "bits_per_second"
            ]
            lr.append(x)
        r["rtt_load"] = {
            "runs": lr,
            "median_ms": median([p["median_ms"] for p in lr]),
            "p99_ms": median([p["p99_ms"] for p in lr]),
        }
    roles = read_roles(os.path.join(d, "mem_idle"))
    for kind, key, reader in KINDS:
        files = runs_of(d, kind + ".json")
        if not files:
            continue
        rs = []
        for f in files:
            x = reader(f)
            x["run"] = run_no(f)
            x["cpu_s_per_gb"], procs = read_cpu(f[: -len(".json")] + ".cpu", x.get("bytes"), roles)
            if procs:
                x["cpu_s_per_gb_by_process"] = procs
            rs.append(x)
        r[key] = {
            "runs": rs,
            "median_bps": median([x["bits_per_second"] for x in rs]),
            "cpu_s_per_gb_median": median([x["cpu_s_per_gb"] for x in rs]),
        }
        procs = sorted({p for x in rs for p in x.get("cpu_s_per_gb_by_process", {})})
        if procs:
            r[key]["cpu_s_per_gb_by_process_median"] = {
                p: median([x.get("cpu_s_per_gb_by_process", {}).get(p) for x in rs]) for p in procs
            }
        if kind == "udp":
            r[key]["lost_percent_median"] = median([x.get("lost_percent") for x in rs])
            r[key]["offered_bps_median"] = median([x.get("offered_bits_per_second") for x in rs])
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
    sus = read_sustain(d)
    if sus is not None:
        r["rss_sustained_load"] = sus
    idle = read_mem(os.path.join(d, "mem_idle"))
    peak = read_mem(os.path.join(d, "mem_peak"))
    if idle or peak:
        r["memory_kib"] = {
            role: {"idle_rss": idle.get(role), "peak_rss": peak.get(role)}
            for role in sorted(set(idle) | set(peak))
        }
    return r


# raw file kind, JSON key, reader
KINDS = (
    ("iperf", "tcp", read_iperf),
    ("iperf_r", "tcp_reverse", read_iperf),
    ("iperf_p4", "tcp_p4", read_iperf),
    ("udp", "udp", read_udp),
    ("stream", "stream", read_stream),
)


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
        for key in ("tcp_reverse", "tcp_p4"):
            v = get(path, key, "median_bps")
            rt[key + "_vs_direct"] = ratio(v, get("direct", key, "median_bps"))
            rt[key + "_vs_openvpn_tcp"] = ratio(v, get("openvpn-tcp", key, "median_bps"))
        if path == "httun-fcgi":
            add_vs_standalone(res, path, "httun-ip", rt)
        r["ratios"] = {k: v for k, v in rt.items() if v is not None}
        rtt = get(path, "rtt", "median_ms")
        if rtt is not None and d_rtt is not None and path != "direct":
            r["added_rtt_median_ms"] = rtt - d_rtt
        load = get(path, "rtt_load", "median_ms")
        if load is not None and d_rtt is not None and path != "direct":
            # RTT under load minus the direct path's idle RTT
            r["added_rtt_load_median_ms"] = load - d_rtt


# Behind a web server against standalone: the bar in PRODUCT.md is at least half.
VS_STANDALONE_KINDS = (("tcp", "a->b"), ("tcp_reverse", "b->a (-R)"), ("tcp_p4", "4 streams"))


def add_vs_standalone(res, path, base, rt):
    """Throughput of PATH over BASE taken within each run (both paths see the same state
    of the machine), then the median over the runs: res[path]["vs_httun_standalone"]
    per kind, and ratios["<kind>_vs_httun_standalone"]."""
    out = {}
    for key, _ in VS_STANDALONE_KINDS:
        mine = {x["run"]: x["bits_per_second"] for x in res[path].get(key, {}).get("runs", [])}
        theirs = {x["run"]: x["bits_per_second"] for x in res.get(base, {}).get(key, {}).get("runs", [])}
        runs = [
            {"run": n, "ratio": ratio(mine[n], theirs.get(n))}
            for n in sorted(mine)
            if ratio(mine[n], theirs.get(n)) is not None
        ]
        if runs:
            m = median([x["ratio"] for x in runs])
            out[key] = {"runs": runs, "median": m}
            rt[key + "_vs_httun_standalone"] = m
    if out:
        res[path]["vs_httun_standalone"] = out


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
            if all(v is None for v in vals):
                return "-"
            cell = "/".join(fmt(v, "d") for v in vals)
            # behind a web server: the relay process too (lighttpd's is in the JSON)
            if mem.get("fcgi", {}).get(key) is not None:
                cell += ", fcgi " + fmt(mem["fcgi"][key], "d")
            return cell

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
    lines += detail_table(res)
    lines += standalone_lines(res)
    lines.append("")
    lines.append("Raw per run (Mbit/s; RTT median/p99 ms):")
    lines.append("")
    for path in PATHS:
        r = res.get(path)
        if r is None or r["status"] != "ok":
            continue
        parts = []
        for key, name in (
            ("tcp", "iperf3"),
            ("tcp_reverse", "iperf3 -R"),
            ("tcp_p4", "iperf3 -P 4"),
            ("udp", "UDP received"),
            ("stream", "1-conn"),
        ):
            if key in r:
                parts.append(
                    name
                    + " "
                    + ", ".join(fmt(mbit(x["bits_per_second"]), ".0f") for x in r[key]["runs"])
                )
            if key == "udp" and key in r:
                parts.append(
                    "UDP loss % "
                    + ", ".join(fmt(x.get("lost_percent"), ".2f") for x in r["udp"]["runs"])
                )
        for key, name in (("rtt", "RTT"), ("rtt_load", "RTT under load")):
            if key in r:
                parts.append(
                    name
                    + " "
                    + ", ".join(
                        fmt(p["median_ms"], ".3f") + "/" + fmt(p["p99_ms"], ".3f")
                        for p in r[key]["runs"]
                    )
                )
        lines.append(f"- {LABELS[path]}: " + "; ".join(parts))
    return "\n".join(lines)


def standalone_lines(res):
    """httun behind lighttpd against httun standalone, ratio within each run."""
    vs = res.get("httun-fcgi", {}).get("vs_httun_standalone")
    if not vs:
        return []
    parts = []
    for key, name in VS_STANDALONE_KINDS:
        x = vs.get(key)
        if x:
            parts.append(
                f"{name} {fmt(x['median'], '.2f')} (runs "
                + ", ".join(fmt(r["ratio"], ".2f") for r in x["runs"])
                + ")"
            )
    return [
        "",
        f"{LABELS['httun-fcgi']} vs httun standalone (httun IP), Mbit/s over Mbit/s within "
        "each run, median (bar: at least 0.50): " + "; ".join(parts) + ".",
    ]


def detail_table(res):
    """IP paths: both directions, four streams, UDP, RTT under load; httun's RSS under
    sustained load."""
    rows = []
    for path in PATHS:
        r = res.get(path)
        if r is None or r["status"] != "ok":
            continue
        if not any(k in r for k in ("tcp_reverse", "tcp_p4", "udp", "rtt_load")):
            continue
        ra = r.get("ratios", {})

        def bps(key):
            return fmt(mbit(r.get(key, {}).get("median_bps")), ".0f")

        def cpu(key):
            return fmt(r.get(key, {}).get("cpu_s_per_gb_median"), ".2f")

        def rtt(key):
            x = r.get(key, {})
            return fmt(x.get("median_ms"), ".3f") + " / " + fmt(x.get("p99_ms"), ".3f")

        rows.append(
            "| "
            + " | ".join(
                [
                    LABELS[path],
                    bps("tcp"),
                    bps("tcp_reverse"),
                    bps("tcp_p4"),
                    " / ".join(
                        fmt(ra.get(k), ".2f")
                        for k in (
                            "tcp_vs_openvpn_tcp",
                            "tcp_reverse_vs_openvpn_tcp",
                            "tcp_p4_vs_openvpn_tcp",
                        )
                    ),
                    bps("udp"),
                    fmt(r.get("udp", {}).get("lost_percent_median"), ".2f"),
                    rtt("rtt"),
                    rtt("rtt_load"),
                    " / ".join(cpu(k) for k in ("tcp", "tcp_reverse", "tcp_p4", "udp")),
                ]
            )
            + " |"
        )
    lines = []
    if rows:
        lines += [
            "",
            "IP paths in detail (medians; Mbit/s at the receiver; UDP offered at a fixed rate, "
            "1400-byte datagrams):",
            "",
            "| path | TCP a->b | TCP b->a (-R) | TCP a->b 4 streams | vs OpenVPN-TCP "
            "(a->b / b->a / 4 streams) | UDP received | UDP loss % | RTT idle median / p99 ms "
            "| RTT under load median / p99 ms | CPU s/GB (a->b / b->a / 4 streams / UDP) |",
            "|" + "---|" * 10,
        ] + rows
    for path in PATHS:
        sus = res.get(path, {}).get("rss_sustained_load")
        if not sus:
            continue
        lines += [
            "",
            f"{LABELS[path]}: RSS KiB under sustained load (iperf3 --bidir -P 2, sampled "
            "every second)" + (" -- A TUNNEL PROCESS DIED" if sus.get("died") else "") + ":",
            "",
            "| end | before | first second | max 1st half | max 2nd half | last second "
            "| 2 s after |",
            "|" + "---|" * 7,
        ]
        for role in ("client", "server"):
            x = sus.get(role)
            if not x:
                continue
            lines.append(
                "| "
                + " | ".join(
                    [role]
                    + [
                        fmt(x.get(k), "d")
                        for k in (
                            "before_kib",
                            "during_first_kib",
                            "during_first_half_max_kib",
                            "during_second_half_max_kib",
                            "during_last_kib",
                            "after_kib",
                        )
                    ]
                )
                + " |"
            )
        bd = sus.get("iperf3_bidir", {})
        if "a_to_b_bits_per_second" in bd:
            lines.append("")
            lines.append(
                "Throughput during it: a->b "
                + fmt(mbit(bd["a_to_b_bits_per_second"]), ".0f")
                + " Mbit/s, b->a "
                + fmt(mbit(bd["b_to_a_bits_per_second"]), ".0f")
                + " Mbit/s."
            )
    return lines


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
