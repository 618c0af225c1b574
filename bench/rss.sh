#!/bin/bash
# httun memory after traffic: where the RSS of `httun server` and `httun client` goes,
# and whether it comes back once the tunnel is idle.
#
#   bench/rss.sh [--seconds S] [--idle S] [--sustain S] [--udp-rate R] [--malloc-stats]
#
# Two network namespaces joined by a veth pair, httun server (b) and client (a) in IP
# mode (MTU 1500, as bench/run.sh). Phases, each followed by one line per process
# (VmRSS, VmHWM, and the RSS split by mapping kind from /proc/PID/smaps: [heap], other
# anonymous mappings (glibc arenas of other threads, big mmap'd blocks, thread stacks),
# the main [stack], file-backed pages (code, libraries)):
#   start           idle, before any traffic
#   tcp-up/-down    iperf3 TCP a -> b, then b -> a (-R), S seconds each
#   udp-up/-down    iperf3 UDP flood (-u -b R -l 1400) a -> b, then b -> a
#   idle-N          every second for --idle seconds after the traffic stopped
#   sustain-N       every 5 s of --sustain seconds of iperf3 --bidir -P 2 (0: skip);
#                   then idle again
# Kernel socket buffers are not in a process's RSS and do not appear here.
# --malloc-stats: at the end, ask each process's glibc for malloc_stats() through gdb
# (printed to the process's stderr, shown here): arenas, in use vs held.
# RSS_KEEP=1 keeps the logs. Needs root. HTTUN_BIN: the binary (default build/cmd/httun of this tree). Addresses in
# 198.18.0.0/15 only; namespaces and processes are removed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
prog=rss
. "$here/lib.sh"
seconds=5
idle=8
sustain=0
udp_rate=1G
mstats=0

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=${2:?--seconds S}; shift 2 ;;
	--idle) idle=${2:?--idle S}; shift 2 ;;
	--sustain) sustain=${2:?--sustain S}; shift 2 ;;
	--udp-rate) udp_rate=${2:?--udp-rate R}; shift 2 ;;
	--malloc-stats) mstats=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "rss: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "rss: needs root (network namespaces, TUN)" >&2; exit 1; }
bin=${HTTUN_BIN:-$top/build/cmd/httun}
[ -x "$bin" ] || { echo "rss: no httun binary at $bin (set HTTUN_BIN)" >&2; exit 1; }

A=httun-rss-$$-a
B=httun-rss-$$-b
tmp=$(mktemp -d /tmp/httun-rss.XXXXXX)
pids=()
NETNS_GRACE_TENTHS=30
cleanup() {
	set +e
	netns_cleanup
	if [ -n "${RSS_KEEP:-}" ]; then echo "rss: logs kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap "exit 130" INT

in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }

# mem NAME PID: one line: VmRSS VmHWM and the smaps split, all KiB.
mem() {
	awk -v who="$1" '
		FNR == NR { if ($1 == "VmRSS:") rss = $2; if ($1 == "VmHWM:") hwm = $2; next }
		/^[0-9a-f]+-[0-9a-f]+ / { kind = ($6 == "") ? "anon" : ($6 ~ /^\// ? "file" : $6) }
		$1 == "Rss:" { sum[kind] += $2 }
		END {
			printf "%-7s VmRSS %6d  VmHWM %6d  | heap %6d  anon %6d  stack %4d  file %5d\n",
				who, rss, hwm, sum["[heap]"], sum["anon"], sum["[stack]"], sum["file"]
		}' "/proc/$2/status" "/proc/$2/smaps"
}
report() { # report PHASE
	printf -- '-- %s\n' "$1"
	mem server "$pb"
	mem client "$pa"
}

iperf() { # iperf ARGS...: iperf3 client in a against a one-shot server in b
	in_b iperf3 -s -1 -B 198.18.3.2 >/dev/null 2>&1 &
	local spid=$!
	wait_for 5 in_b sh -c "ss -Hltn 'sport = :5201' | grep -q ."
	in_a iperf3 -c 198.18.3.2 "$@" -J >"$tmp/iperf.json" 2>/dev/null || true
	wait $spid 2>/dev/null || true
	python3 -c 'import json,sys
try:
	e = json.load(open(sys.argv[1]))["end"]
	s = e.get("sum_received") or e.get("sum")
	print("   iperf3 %s: %.0f Mbit/s" % (" ".join(sys.argv[2:]), s["bits_per_second"] / 1e6))
except Exception as x:
	print("   iperf3 %s: failed (%s)" % (" ".join(sys.argv[2:]), x))' "$tmp/iperf.json" "$@"
}

netns_add "$A"
netns_add "$B"
netns_veth "$A" va 198.18.0.5/30 "$B" vb 198.18.0.6/30
(umask 077 && "$bin" genkey >"$tmp/key")
ip netns exec "$B" "$bin" server --listen 198.18.0.6:8080 --key-file "$tmp/key" --tun --tun-name htu-b \
	--tun-address 198.18.3.2/30 --mtu 1500 >"$tmp/server.log" 2>&1 &
pb=$!
pids+=("$pb")
wait_for 10 in_b sh -c "ss -Hltn 'sport = :8080' | grep -q ." || { cat "$tmp/server.log"; exit 1; }
ip netns exec "$A" "$bin" client --key-file "$tmp/key" --tun --tun-name htu-a --tun-address 198.18.3.1/30 \
	--mtu 1500 http://198.18.0.6:8080/ >"$tmp/client.log" 2>&1 &
pa=$!
pids+=("$pa")
wait_for 20 in_a ping -n -c1 -W1 198.18.3.2 || { cat "$tmp/client.log"; exit 1; }
sleep 1
echo "httun: $bin; all figures KiB"
report start
iperf -t "$seconds"
report tcp-up
iperf -t "$seconds" -R
report tcp-down
iperf -t "$seconds" -u -b "$udp_rate" -l 1400
report udp-up
iperf -t "$seconds" -u -b "$udp_rate" -l 1400 -R
report udp-down
for i in $(seq "$idle"); do
	sleep 1
	report "idle-$i"
done
if [ "$sustain" -gt 0 ]; then
	in_b iperf3 -s -1 -B 198.18.3.2 >/dev/null 2>&1 &
	spid=$!
	wait_for 5 in_b sh -c "ss -Hltn 'sport = :5201' | grep -q ."
	in_a iperf3 -c 198.18.3.2 --bidir -P 2 -t "$sustain" >/dev/null 2>&1 &
	cpid=$!
	for ((t = 5; t <= sustain; t += 5)); do
		sleep 5
		report "sustain-$t"
	done
	wait $cpid $spid 2>/dev/null || true
	for i in $(seq "$idle"); do
		sleep 1
		report "idle-after-sustain-$i"
	done
fi
if [ "$mstats" = 1 ]; then
	for who in server:$pb client:$pa; do
		log=$tmp/${who%%:*}.log
		n=$(wc -l <"$log")
		gdb -p "${who#*:}" -batch -ex 'call (void) malloc_stats()' >/dev/null 2>&1 || true
		echo "-- malloc_stats ${who%%:*}"
		tail -n +"$((n + 1))" "$log"
	done
fi
