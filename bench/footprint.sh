#!/bin/bash
# Memory footprint of an idle ping, per httun process: what it touches, not how long.
#
#   bench/footprint.sh [--pings N] [--relay] BINARY...
#
# Idle latency here is the CPU time of the path with cold caches (docs/PERFORMANCE.md),
# so the cache lines and pages one ping touches are what it costs; unlike a latency
# median, their count hardly moves with the machine's load. For each binary: two network
# namespaces joined by a veth pair, `httun server` and `httun client` in IP mode (MTU
# 1500) under valgrind's lackey (--trace-mem=yes), warm-up pings, then --pings (default
# 20) pings at 50 ms intervals; the part of each trace written during those pings gives,
# per ping, the instructions and data accesses, and over all of them the distinct 64-byte
# lines and 4 KiB pages of code and of data, the part of them every ping touches (without
# what periodic timers touch once in a while), and those code lines per object file and
# the functions with the most of them.
# Needs root, valgrind and binutils (nm); the bare relay of bench/run.sh, one end, for
# comparison: `--relay` (with or without binaries). Takes about a minute per binary.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=footprint
. "$here/lib.sh"
pings=20
relay=0
while [ $# -gt 0 ]; do
	case $1 in
	--pings) pings=${2:?--pings N}; shift 2 ;;
	--relay) relay=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--*) usage_error "unknown option '$1' (try --help)" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || [ "$relay" = 1 ] || usage_error "name at least one httun binary (try --help)"
need_whole "--pings" "$pings"
need_root
for b in "$@"; do
	[ -x "$b" ] || usage_error "$b is not an executable"
done
command -v valgrind >/dev/null || usage_error "needs valgrind (apt-get install valgrind)"
command -v nm >/dev/null || usage_error "needs nm (apt-get install binutils)"

A=httun-fp-$$-a
B=httun-fp-$$-b
tmp=$(mktemp -d /tmp/httun-fp.XXXXXX)
pids=()
iperf_pid=""
trap bench_cleanup EXIT
lackey=(valgrind --tool=lackey --trace-mem=yes)

# measure TARGET NAME:PID...: warm-up pings to TARGET, then the measured ones; the byte
# offsets of each trace $tmp/NAME.trace before and after them go to $tmp/NAME.window, the
# process's memory map to $tmp/NAME.maps (to name what each address belongs to).
measure() {
	local target=$1 spec
	shift
	ip netns exec "$A" ping -n -q -i 0.05 -c 20 "$target" >/dev/null
	sleep 1
	for spec in "$@"; do
		stat -c %s "$tmp/${spec%%:*}.trace" >"$tmp/${spec%%:*}.window"
	done
	ip netns exec "$A" ping -n -q -i 0.05 -c "$pings" "$target" >/dev/null
	sleep 0.5
	for spec in "$@"; do
		stat -c %s "$tmp/${spec%%:*}.trace" >>"$tmp/${spec%%:*}.window"
		cp "/proc/${spec##*:}/maps" "$tmp/${spec%%:*}.maps"
	done
}

report() { # report LABEL NAME
	python3 "$here/footprint.py" "$1" "$tmp/$2.trace" "$tmp/$2.window" "$tmp/$2.maps" "$pings"
}

netns_pair 1500
ip -n "$A" addr add 198.18.0.5/24 dev va
ip -n "$B" addr add 198.18.0.6/24 dev vb

if [ "$relay" = 1 ]; then
	relay_build "$tmp/relay"
	key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	relay_up "$tmp/relay" fpr "$key" "${lackey[@]}" --log-file="$tmp/relay-a.trace"
	ra=$relay_pa
	wait_for 60 ip netns exec "$A" ping -n -c1 -W1 198.18.1.2 ||
		{ echo "$prog: no ping through the relay" >&2; exit 1; }
	measure 198.18.1.2 relay-a:"$ra"
	report "bare relay, one end (seals and opens once per ping)" relay-a
	stop_pids
fi

for b in "$@"; do
	"$b" genkey >"$tmp/key"
	chmod 600 "$tmp/key"
	start "$B" server.out "${lackey[@]}" --log-file="$tmp/server.trace" "$b" server \
		--listen 198.18.0.6:8080 --key-file "$tmp/key" --tun --tun-name fp-b \
		--tun-address 198.18.3.2/30 --mtu 1500
	ps=$started
	start "$A" client.out "${lackey[@]}" --log-file="$tmp/client.trace" "$b" client \
		--key-file "$tmp/key" --tun --tun-name fp-a --tun-address 198.18.3.1/30 --mtu 1500 \
		http://198.18.0.6:8080/
	pc=$started
	wait_for 60 ip netns exec "$A" ping -n -c1 -W1 198.18.3.2 ||
		{ echo "$prog: no ping through $b's tunnel: $(tail -1 "$tmp/client.out.log")" >&2; exit 1; }
	measure 198.18.3.2 client:"$pc" server:"$ps"
	report "$b client" client
	report "$b server" server
	stop_pids
done
