#!/bin/bash
# Idle added latency of one or more httun binaries, A/B, in one run.
#
#   bench/latency.sh [--rounds N] [--pings N] [--relay] [--cpu] [--load] [--strace] BINARY...
#
# A BINARY may carry flags for its client after commas, to compare settings of one binary:
# build/cmd/httun,--busy-poll=50 (no spaces; the whole word labels its results).
#
# Two network namespaces joined by a veth pair (carrier 198.18.0.5/.6, direct path
# 198.18.0.1/.2). In each round, for each binary in turn: start `httun server` and
# `httun client` in IP mode (MTU 1500), ping the far tunnel address --pings times at 10 ms
# intervals, and ping the direct path as often right after; the round's added latency is
# the tunnel's median minus the direct median. Binaries alternate within every round, so
# drift of a shared machine hits all of them alike. Prints, per binary, the added median
# of every round and the median over the rounds (ms).
#
# --relay: measure the bare relay of bench/run.sh (bench/relay.c) in every round too, first,
# and print each binary's median over the relay's, round by round: the floor of a
# userspace tunnel on the machine as it is during the run.
#
# --cpu: with idle pings, also count each tunnel process's CPU time (perf stat task-clock:
# user and kernel time in its context, the receive path of what it sends on the veth
# included) and its migrations between CPUs during the measured pings, per ping; medians
# over the rounds. perf's counting adds a little to every context switch, so compare
# --cpu runs with --cpu runs. Needs root and perf (Debian's linux-perf).
#
# --load: ping while `iperf3` TCP a -> b saturates the tunnel instead (RTT under load):
# prints the tunnel's median and p99 RTT and iperf3's Mbit/s per round, and their medians.
#
# --strace: once per binary, count the syscalls both httun processes make during 200
# pings (strace -c -f), printed per ping. Needs root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=latency
. "$here/lib.sh"
rounds=5
pings=300
do_strace=0
load=0
relay=0
cpu=0
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2:?--rounds N}; shift 2 ;;
	--pings) pings=${2:?--pings N}; shift 2 ;;
	--strace) do_strace=1; shift ;;
	--load) load=1; shift ;;
	--relay) relay=1; shift ;;
	--cpu) cpu=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--*) usage_error "unknown option '$1' (try --help)" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage_error "name at least one httun binary (try --help)"
need_whole "--rounds and --pings" "$rounds" "$pings"
need_root
for b in "$@"; do
	[ -x "${b%%,*}" ] || usage_error "${b%%,*} is not an executable"
done
[ "$load" = 0 ] || command -v iperf3 >/dev/null ||
	usage_error "--load needs iperf3 (apt-get install iperf3)"
[ "$relay" = 0 ] || [ "$load" = 0 ] || usage_error "--relay goes with idle pings, not --load"
[ "$cpu" = 0 ] || [ "$load" = 0 ] || usage_error "--cpu goes with idle pings, not --load"
[ "$cpu" = 0 ] || command -v perf >/dev/null ||
	usage_error "--cpu needs perf (apt-get install linux-perf)"
[ "$do_strace" = 0 ] || command -v strace >/dev/null ||
	usage_error "--strace needs strace (apt-get install strace)"

A=httun-lat-$$-a
B=httun-lat-$$-b
tmp=$(mktemp -d /tmp/httun-lat.XXXXXX)
pids=()

iperf_pid=""
trap bench_cleanup EXIT

netns_pair 1500
ip -n "$A" addr add 198.18.0.1/24 dev va
ip -n "$B" addr add 198.18.0.2/24 dev vb
ip -n "$A" addr add 198.18.0.5/24 dev va
ip -n "$B" addr add 198.18.0.6/24 dev vb
"${1%%,*}" genkey >"$tmp/key"
chmod 600 "$tmp/key"

# words_median "X Y ...": median of the numbers in one string (the per-round lists).
words_median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | median; }

# ping_median TARGET [PID...]: median of the per-packet RTTs of a ping run (ms), after a
# warm-up run; with PIDs (--cpu), perf counts those processes during the measured run
# and "CPU-us/ping migrations/ping" of each goes to $cpu_out, in PID order.
ping_median() {
	local target=$1 p
	local -a perfs=()
	shift
	ip netns exec "$A" ping -n -q -i 0.01 -c "$pings" "$target" >/dev/null 2>&1 || true
	for p in "$@"; do
		perf stat -x, -e task-clock,cpu-migrations -p "$p" -o "$tmp/perf.$p" &
		perfs+=($!)
	done
	[ $# -eq 0 ] || sleep 0.2 # perf attached before the first ping
	ip netns exec "$A" ping -n -i 0.01 -c "$pings" "$target" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n |
		awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else print (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'
	[ $# -gt 0 ] || return 0
	kill -INT "${perfs[@]}"
	wait "${perfs[@]}" 2>/dev/null || true
	cpu_out=()
	for p in "$@"; do
		cpu_out+=("$(awk -F, -v n="$pings" '$3 ~ /^task-clock/ {t = $1}
			$3 ~ /^cpu-migrations/ {m = $1}
			END {printf "%.1f %.2f", t * 1000 / n, m / n}' "$tmp/perf.$p")")
	done
}

start_tunnel() { # start_tunnel BINARY[,CLIENT-FLAG...]
	local bin=${1%%,*} cflags=()
	[ "$bin" = "$1" ] || IFS=, read -r -a cflags <<<"${1#*,}"
	ip netns exec "$B" "$bin" server --listen 198.18.0.6:8080 --key-file "$tmp/key" --tun \
		--tun-name lat-b --tun-address 198.18.3.2/30 --mtu 1500 2>"$tmp/server.log" &
	pids+=($!)
	ip netns exec "$A" "$bin" client --key-file "$tmp/key" --tun --tun-name lat-a \
		--tun-address 198.18.3.1/30 --mtu 1500 "${cflags[@]}" http://198.18.0.6:8080/ \
		2>"$tmp/client.log" &
	pids+=($!)
	for _ in $(seq 100); do
		ip netns exec "$A" ping -n -c1 -W1 198.18.3.2 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "latency: no ping through $1's tunnel: $(tail -1 "$tmp/client.log")" >&2
	exit 1
}


if [ "$load" = 1 ]; then
	ip netns exec "$B" iperf3 -s >/dev/null 2>&1 &
	iperf_pid=$!
	declare -A rtt p99 mbit
	secs=$((pings / 100 + 2))
	for ((r = 1; r <= rounds; r++)); do
		for b in "$@"; do
			start_tunnel "$b"
			ip netns exec "$A" iperf3 -c 198.18.3.2 -t "$secs" -J >"$tmp/iperf.json" 2>&1 &
			ipid=$!
			sleep 1
			ip netns exec "$A" ping -n -i 0.01 -c "$pings" 198.18.3.2 2>/dev/null |
				sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -n >"$tmp/rtts" || true
			wait "$ipid" || true
			stop_pids
			m=$(median <"$tmp/rtts")
			p=$(awk '{v[NR]=$1} END {i=int(NR*0.99+0.5); if (i<1) i=1; print v[i]}' "$tmp/rtts")
			t=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$tmp/iperf.json" 2>/dev/null || echo nan)
			rtt[$b]="${rtt[$b]:-} $m"
			p99[$b]="${p99[$b]:-} $p"
			mbit[$b]="${mbit[$b]:-} $t"
			printf 'round %d %s: RTT under load median %s ms, p99 %s ms; %s Mbit/s\n' \
				"$r" "$b" "$m" "$p" "$t"
		done
	done
	kill "$iperf_pid" 2>/dev/null || true
	echo
	echo "RTT under load (median / p99 ms) and Mbit/s, medians of $rounds rounds:"
	for b in "$@"; do
		printf '%s: %s / %s ms, %s Mbit/s\n' "$b" \
			"$(words_median "${rtt[$b]}")" \
			"$(words_median "${p99[$b]}")" \
			"$(words_median "${mbit[$b]}")"
	done
	exit 0
fi

# start_relay: the relay between the namespaces, its inner far end at 198.18.1.2.
start_relay() {
	relay_up "$tmp/relay" lat-r "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
	wait_for 10 ip netns exec "$A" ping -n -c1 -W1 198.18.1.2 ||
		{ echo "latency: no ping through the relay: $(cat "$tmp/lat-r-a.log")" >&2; exit 1; }
}

# measure_cpu TARGET CLIENT_PID SERVER_PID: sets $t to the median RTT to TARGET; with
# --cpu also counts each end's CPU time and migrations per ping, kept per binary ($b) in
# cpu_c and cpu_s and shown by the round's line ($cpu_line).
measure_cpu() {
	local c s
	cpu_line=""
	if [ "$cpu" = 0 ]; then
		t=$(ping_median "$1")
		return
	fi
	ping_median "$1" "$2" "$3" >"$tmp/median"
	t=$(cat "$tmp/median")
	read -r c _ <<<"${cpu_out[0]}"
	read -r s _ <<<"${cpu_out[1]}"
	cpu_c[$b]="${cpu_c[$b]:-} $c"
	cpu_s[$b]="${cpu_s[$b]:-} $s"
	cpu_line=$(printf '; CPU per ping: client %s us (%s migrations), server %s us (%s)' \
		"$c" "${cpu_out[0]#* }" "$s" "${cpu_out[1]#* }")
}

declare -A added cpu_c cpu_s
names=("$@")
if [ "$relay" = 1 ]; then
	relay_build "$tmp/relay"
	names=(relay "$@")
fi
for ((r = 1; r <= rounds; r++)); do
	for b in "${names[@]}"; do
		if [ "$b" = relay ]; then
			start_relay
			measure_cpu 198.18.1.2 "$relay_pa" "$relay_pb"
			d=$(ping_median 198.18.0.2)
			stop_pids
			ip -n "$A" link del lat-r-a
			ip -n "$B" link del lat-r-b
			a=$(awk -v t="$t" -v d="$d" 'BEGIN {printf "%.3f", t - d}')
			added[$b]="${added[$b]:-} $a"
			printf 'round %d relay: tunnel %s ms, direct %s ms, added %s ms%s\n' "$r" "$t" \
				"$d" "$a" "$cpu_line"
			continue
		fi
		start_tunnel "$b"
		measure_cpu 198.18.3.2 "${pids[1]}" "${pids[0]}" # client, server
		d=$(ping_median 198.18.0.2)
		stop_pids
		a=$(awk -v t="$t" -v d="$d" 'BEGIN {printf "%.3f", t - d}')
		added[$b]="${added[$b]:-} $a"
		printf 'round %d %s: tunnel %s ms, direct %s ms, added %s ms%s\n' "$r" "$b" "$t" "$d" \
			"$a" "$cpu_line"
	done
done

echo
echo "added idle latency, ms (median of $rounds rounds; per round):"
for b in "${names[@]}"; do
	m=$(words_median "${added[$b]}")
	printf '%s: %s  (%s )\n' "$b" "$m" "${added[$b]}"
done
if [ "$relay" = 1 ]; then
	echo
	echo "over the relay's added latency (median of the rounds' ratios; per round):"
	read -r -a rl <<<"${added[relay]}"
	for b in "$@"; do
		read -r -a bl <<<"${added[$b]}"
		ratios=$(for ((i = 0; i < ${#rl[@]}; i++)); do
			awk -v x="${bl[i]}" -v y="${rl[i]}" 'BEGIN {if (y > 0) printf "%.2f\n", x / y; else print "nan"}'
		done)
		printf '%s: %s  (%s )\n' "$b" "$(median <<<"$ratios")" "$(echo $ratios)"
	done
fi

if [ "$cpu" = 1 ]; then
	echo
	echo "CPU time per idle ping, us, client / server (median of $rounds rounds; per round):"
	for b in "${names[@]}"; do
		printf '%s: %s / %s  (%s / %s )\n' "$b" \
			"$(words_median "${cpu_c[$b]}")" \
			"$(words_median "${cpu_s[$b]}")" \
			"${cpu_c[$b]}" "${cpu_s[$b]}"
	done
fi

if [ "$do_strace" = 1 ]; then
	for b in "$@"; do
		start_tunnel "$b"
		for p in "${pids[@]}"; do
			strace -c -f -p "$p" -o "$tmp/strace.$p" &
			spids+=($!)
		done
		sleep 0.5
		ip netns exec "$A" ping -n -q -i 0.01 -c 200 198.18.3.2 >/dev/null
		kill -INT "${spids[@]}"
		wait "${spids[@]}" 2>/dev/null || true
		spids=()
		echo
		echo "$b: syscalls per ping (200 pings), server then client:"
		for p in "${pids[@]}"; do
			awk '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "  %s %.1f", $NF, $4 / 200} END {print ""}' "$tmp/strace.$p"
		done
		stop_pids
	done
fi
