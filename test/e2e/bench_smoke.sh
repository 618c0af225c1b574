#!/bin/bash
# Smoke check of the benchmark instrument (bench/run.sh --quick): it must still set up its
# namespaces, build and run the bare relay, and produce JSON with real numbers for the
# direct path and the relay. OpenVPN and httptunnel rows must be measured or say why not;
# the httun rows must be measured or say "not measured"/"failed"; a measured httun IP row
# must have the extended numbers (-R, -P 4, UDP, RTT under load, RSS under sustained
# load), and then httun behind lighttpd (FastCGI) must be measured too, with the same
# numbers (RSS under sustained load aside), its CPU per process and its ratio against
# httun standalone. Exit 77 = skipped.
set -euo pipefail
src=${HTTUN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

if [ "$(id -u)" != 0 ]; then
	echo "SKIPPED: needs root (network namespaces, TUN devices)"
	exit 77
fi
if [ ! -c /dev/net/tun ]; then
	echo "SKIPPED: no /dev/net/tun"
	exit 77
fi

tmp=$(mktemp -d /tmp/httun-bench-smoke.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

start=$SECONDS
bash "$src/bench/run.sh" --quick --out "$tmp/result.json" >"$tmp/table.md"
echo "bench --quick took $((SECONDS - start)) s"
cat "$tmp/table.md"

python3 - "$tmp/result.json" <<'PY'
import json, sys

doc = json.load(open(sys.argv[1]))
paths = doc["paths"]
bad = []

def num(path, *keys):
    x = paths.get(path, {})
    for k in keys:
        x = x.get(k) if isinstance(x, dict) else None
    return x if isinstance(x, (int, float)) and x > 0 else None

for path in ("direct", "relay"):
    if paths.get(path, {}).get("status") != "ok":
        bad.append(f"{path}: status {paths.get(path, {}).get('status')!r}")
        continue
    for keys in (("tcp", "median_bps"), ("rtt", "median_ms"), ("rtt", "p99_ms")):
        if num(path, *keys) is None:
            bad.append(f"{path}: no number for {'.'.join(keys)}")
if num("direct", "stream", "median_bps") is None:
    bad.append("direct: no one-connection throughput")
if num("relay", "ratios", "tcp_vs_direct") is None:
    bad.append("relay: no ratio against direct")
if num("relay", "tcp", "cpu_s_per_gb_median") is None:
    bad.append("relay: no CPU per GB")
mem = paths.get("relay", {}).get("memory_kib", {})
if not all(isinstance(mem.get(r, {}).get("idle_rss"), int) for r in ("client", "server")):
    bad.append("relay: no idle RSS for both ends")
for path in ("openvpn-tcp", "httptunnel", "httun-ip", "httun-ip-bp", "httun-fcgi", "httun-l7"):
    st = paths.get(path, {}).get("status")
    if not st:
        bad.append(f"{path}: row missing")
for path in ("httun-ip", "httun-ip-bp", "httun-fcgi", "httun-l7"):
    st = paths.get(path, {}).get("status", "")
    if st != "ok" and not st.startswith(("not measured", "failed")):
        bad.append(f"{path}: unexplained status {st!r}")
# httun IP, when measured, must have the extended rows: both directions, four streams,
# UDP (received rate and loss), RTT under load, and RSS under sustained load. The same
# httun serves the FastCGI path, so that must be measured as well (the bench installs
# lighttpd), with the same rows, CPU per process and the ratio against standalone.
EXTENDED = (
    ("tcp", "median_bps"),
    ("tcp_reverse", "median_bps"),
    ("tcp_p4", "median_bps"),
    ("udp", "median_bps"),
    ("rtt", "median_ms"),
    ("rtt_load", "median_ms"),
    ("rtt_load", "p99_ms"),
)
if paths.get("httun-ip", {}).get("status") == "ok":
    fcgi_st = paths.get("httun-fcgi", {}).get("status", "")
    check = ["httun-ip"]
    if fcgi_st == "ok":
        check.append("httun-fcgi")
    elif not fcgi_st.startswith("not measured"):
        bad.append(f"httun-fcgi: httun IP was measured but this was not: {fcgi_st!r}")
    for path in check:
        for keys in EXTENDED:
            if num(path, *keys) is None:
                bad.append(f"{path}: no number for {'.'.join(keys)}")
        if not isinstance(paths[path].get("udp", {}).get("lost_percent_median"), (int, float)):
            bad.append(f"{path}: no UDP loss figure")
    if "httun-fcgi" in check:
        for keys in (
            ("ratios", "tcp_vs_httun_standalone"),
            ("tcp", "cpu_s_per_gb_median"),
            ("tcp", "cpu_s_per_gb_by_process_median", "lighttpd"),
            ("tcp", "cpu_s_per_gb_by_process_median", "server"),
        ):
            if num("httun-fcgi", *keys) is None:
                bad.append(f"httun-fcgi: no number for {'.'.join(keys)}")
        mem = paths["httun-fcgi"].get("memory_kib", {})
        # Straight to the server (bench/lib.sh fcgi_mode direct): no httun fcgi process.
        for role in ("client", "server", "lighttpd"):
            if not isinstance(mem.get(role, {}).get("idle_rss"), int):
                bad.append(f"httun-fcgi: no idle RSS of {role}")
    # The same httun with the client busy-polling: ping and TCP throughput.
    bp_st = paths.get("httun-ip-bp", {}).get("status", "")
    if bp_st == "ok":
        for keys in (("tcp", "median_bps"), ("rtt", "median_ms"), ("added_rtt_median_ms",)):
            if num("httun-ip-bp", *keys) is None:
                bad.append(f"httun-ip-bp: no number for {'.'.join(keys)}")
    else:
        bad.append(f"httun-ip-bp: httun IP was measured but this was not: {bp_st!r}")
    for role in ("client", "server"):
        sus = paths["httun-ip"].get("rss_sustained_load", {}).get(role, {})
        for k in ("before_kib", "during_max_kib", "after_kib"):
            if not isinstance(sus.get(k), int):
                bad.append(f"httun-ip: no sustained-load RSS {role}.{k}")
for key in ("date", "runs", "cores"):
    if key not in doc.get("meta", {}):
        bad.append(f"meta: {key} missing")
if bad:
    print("bench smoke: FAILED\n  " + "\n  ".join(bad))
    sys.exit(1)
print("bench smoke: direct and relay rows have numbers, every other row is measured or says why")
PY
