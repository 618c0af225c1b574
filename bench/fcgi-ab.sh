#!/bin/bash
# httun behind lighttpd via FastCGI against httun standalone, A/B, in one run.
#
#   bench/fcgi-ab.sh [--rounds N] [--seconds S] [--streams N] [--no-reverse] [--strace S]
#                    VARIANT...
#
# VARIANT is BINARY[@MODE][::FILE]: MODE direct (lighttpd connects to `httun server
# --fcgi-listen`, the default) or relay (lighttpd spawns `httun fcgi`, which relays to
# `httun server --fcgi-socket`); FILE holds lighttpd settings ("name = value" lines) that
# replace or add to the deployment's (a lighttpd setting to compare). Two network namespaces joined by a veth pair, as in
# bench/run.sh. In every round, for each variant in turn: httun standalone (server
# --listen, client, IP mode, MTU 1500; once per binary and round) and httun behind
# lighttpd, deployed as bench/run.sh does it (fcgi_deploy in bench/lib.sh, which follows
# docs/FASTCGI.md), each measured with iperf3 TCP a -> b and b -> a (-R) for --seconds
# (default 5). Variants alternate within every round, so drift of the shared machine
# hits all alike. --streams N: N parallel streams (iperf3 -P N) in both directions.
# Prints per round Mbit/s, CPU s/GB of the path's processes and the
# FastCGI/standalone ratio of that round; then per variant the medians over the rounds.
#
# --strace S: afterwards, once per variant, `strace -c -f` on lighttpd and on `httun fcgi`
# (or on the server, when direct)
# for S seconds during iperf3 a -> b through lighttpd: how often each made which syscall.
# Needs root. Take the measurement lock around it (flock -x /tmp/httun-bench.lock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=fcgi-ab
. "$here/lib.sh"
rounds=5
seconds=5
reverse=1
streams=1
strace_s=0
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2:?--rounds N}; shift 2 ;;
	--seconds) seconds=${2:?--seconds S}; shift 2 ;;
	--streams) streams=${2:?--streams N}; shift 2 ;;
	--no-reverse) reverse=0; shift ;;
	--strace) strace_s=${2:?--strace S}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--*) usage_error "unknown option '$1' (try --help)" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage_error "name at least one variant (try --help)"
need_whole "--rounds, --seconds, --streams and --strace" "$rounds" "$seconds" "$streams" "$strace_s"
need_root
variant_bin() { local b=${1%%::*}; echo "${b%@*}"; }
variant_mode() { local b=${1%%::*}; [[ $b == *@* ]] && echo "${b##*@}" || echo direct; }
for v in "$@"; do
	[ -x "$(variant_bin "$v")" ] || usage_error "$(variant_bin "$v") is not an executable"
	case $(variant_mode "$v") in direct | relay) ;; *) usage_error "$v: MODE is direct or relay" ;; esac
	[[ $v != *::* ]] || [ -r "${v#*::}" ] || usage_error "cannot read ${v#*::}"
done
for c in lighttpd iperf3 python3; do
	command -v $c >/dev/null || usage_error "needs $c (scripts/deps.sh bench)"
done

A=httun-fab-$$-a
B=httun-fab-$$-b
tmp=$(mktemp -d /tmp/httun-fab.XXXXXX)
pids=()
iperf_pid=""
trap bench_cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

netns_pair 1600
ip -n "$A" addr add 198.18.0.5/30 dev va
ip -n "$B" addr add 198.18.0.6/30 dev vb
wait_for 5 ip netns exec "$A" ping -n -c1 -W1 198.18.0.6 || { echo "fcgi-ab: no veth" >&2; exit 1; }
start "$B" iperf3-server iperf3 -s
iperf_pid=$started
wait_for 5 ip netns exec "$B" sh -c 'ss -ltn | grep -q ":5201 "' ||
	{ echo "fcgi-ab: iperf3 -s did not start" >&2; exit 1; }
pids=() # the iperf3 server stays for the whole run
"$(variant_bin "$1")" genkey >"$tmp/key"
chmod 600 "$tmp/key"

# Mbit/s at the receiver and CPU s/GB of PIDS (and each one's share) for one iperf3 run.
# measure TARGET OPT PIDS...: prints "MBIT CPU_TOTAL CPU_1 CPU_2 ..."
measure() {
	local target=$1 opt=$2 p bytes
	shift 2
	local -a t0=()
	for p in "$@"; do
		t0+=("$(cpu_ticks "$p")")
	done
	ip netns exec "$A" iperf3 -J -c "$target" -t "$seconds" -P "$streams" $opt \
		>"$tmp/iperf.json" 2>&1 || true
	bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' "$tmp/iperf.json" 2>/dev/null || echo 0)
	local -a dt=()
	local i=0
	for p in "$@"; do
		dt+=($(($(cpu_ticks "$p") - t0[i])))
		i=$((i + 1))
	done
	python3 - "$bytes" "$seconds" "$clk_tck" "${dt[@]}" <<-'EOF'
		import sys
		b, s, hz = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
		dt = [int(x) for x in sys.argv[4:]]
		gb = b / 1e9
		cpu = [d / hz / gb if gb else float("nan") for d in dt]
		print(round(b * 8 / s / 1e6), "%.2f" % sum(cpu), " ".join("%.2f" % c for c in cpu))
	EOF
}

standalone_up() { # standalone_up BIN: server and client in IP mode; sets sa_pids
	start "$B" sa-server "$1" server --listen 198.18.0.6:8080 --key-file "$tmp/key" --tun \
		--tun-name sa-b --tun-address 198.18.3.2/30 --mtu 1500
	local pb=$started
	start "$A" sa-client "$1" client --key-file "$tmp/key" --tun --tun-name sa-a \
		--tun-address 198.18.3.1/30 --mtu 1500 http://198.18.0.6:8080/
	sa_pids="$started $pb"
	wait_for 20 ip netns exec "$A" ping -n -c1 -W1 198.18.3.2 ||
		{ echo "fcgi-ab: no standalone tunnel with $1: $(tail -1 "$tmp/sa-client.log")" >&2; exit 1; }
}

deploy=0
fcgi_up() { # fcgi_up VARIANT: behind lighttpd; sets fcgi_pids
	local bin
	bin=$(variant_bin "$1")
	fcgi_mode=$(variant_mode "$1")
	lighttpd_extra=()
	[[ $1 != *::* ]] || mapfile -t lighttpd_extra <"${1#*::}"
	deploy=$((deploy + 1))
	fcgi_deploy "$bin" "$tmp/key" "$tmp/fcgi$deploy" fab 198.18.4.1 198.18.4.2 198.18.0.6:8090 ||
		{ echo "fcgi-ab: $1: $fcgi_why" >&2; exit 1; }
}

fcgi_down() { # stop_pids, then wait until lighttpd's `httun fcgi` (if any) is gone too
	local pf=$fcgi_pid_relay
	stop_pids
	[ -n "$pf" ] || return 0
	wait_for 5 sh -c "! kill -0 $pf" || kill -KILL "$pf" 2>/dev/null || true
}

declare -A res # res[VARIANT,KEY]: the rounds' values, space-separated
add() { res[$1,$2]="${res[$1,$2]:-} $3"; }

for ((r = 1; r <= rounds; r++)); do
	declare -A sa_fwd=() sa_rev=() sa_cpu=()
	for v in "$@"; do
		bin=$(variant_bin "$v")
		if [ -z "${sa_fwd[$bin]:-}" ]; then
			standalone_up "$bin"
			read -r sa_fwd[$bin] sa_cpu[$bin] _ <<<"$(measure 198.18.3.2 "" $sa_pids)"
			sa_rev[$bin]=nan
			[ "$reverse" = 0 ] || read -r sa_rev[$bin] _ <<<"$(measure 198.18.3.2 -R $sa_pids)"
			stop_pids
		fi
		fcgi_up "$v"
		read -r fwd cpu by <<<"$(measure 198.18.4.2 "" $fcgi_pids)"
		rev=nan rcpu=nan rby=-
		[ "$reverse" = 0 ] ||
			read -r rev rcpu rby <<<"$(measure 198.18.4.2 -R $fcgi_pids)"
		names=${fcgi_names// //}
		fcgi_down
		rf=$(awk -v a="$fwd" -v b="${sa_fwd[$bin]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')
		rr=$(awk -v a="$rev" -v b="${sa_rev[$bin]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')
		add "$v" fwd "$fwd"
		add "$v" rev "$rev"
		add "$v" sa_fwd "${sa_fwd[$bin]}"
		add "$v" sa_rev "${sa_rev[$bin]}"
		add "$v" rf "$rf"
		add "$v" rr "$rr"
		add "$v" cpu "$cpu"
		add "$v" sa_cpu "${sa_cpu[$bin]}"
		printf 'round %d %s: fcgi %s / -R %s Mbit/s, standalone %s / -R %s, ratio %s / -R %s; CPU s/GB fcgi path %s (%s %s), -R %s (%s), standalone %s\n' \
			"$r" "$v" "$fwd" "$rev" "${sa_fwd[$bin]}" "${sa_rev[$bin]}" "$rf" "$rr" \
			"$cpu" "$names" "${by// //}" "$rcpu" "${rby// //}" "${sa_cpu[$bin]}"
	done
done

echo
echo "medians of $rounds rounds (a -> b / b -> a):"
for v in "$@"; do
	m() { tr ' ' '\n' <<<"${res[$v,$1]}" | sed '/^$/d' | median; }
	printf '%s: fcgi %s / %s Mbit/s, standalone %s / %s, ratio %s / %s (rounds:%s /%s); CPU s/GB fcgi path %s, standalone %s\n' \
		"$v" "$(m fwd)" "$(m rev)" "$(m sa_fwd)" "$(m sa_rev)" "$(m rf)" "$(m rr)" \
		"${res[$v,rf]}" "${res[$v,rr]}" "$(m cpu)" "$(m sa_cpu)"
done

[ "$strace_s" -gt 0 ] || exit 0
command -v strace >/dev/null || usage_error "--strace needs strace"
for v in "$@"; do
	fcgi_up "$v"
	# The process behind lighttpd: `httun fcgi`, or the server itself when direct.
	pf=${fcgi_pid_relay:-$fcgi_pid_server} pl=$fcgi_pid_lighttpd
	behind=$([ -n "$fcgi_pid_relay" ] && echo fcgi || echo server)
	ip netns exec "$A" iperf3 -J -c 198.18.4.2 -t $((strace_s + 2)) >"$tmp/iperf.json" 2>&1 &
	ipid=$!
	sleep 1
	strace -c -f -p "$pl" -o "$tmp/strace.lighttpd" &
	s1=$!
	strace -c -f -p "$pf" -o "$tmp/strace.$behind" &
	s2=$!
	sleep "$strace_s"
	kill -INT "$s1" "$s2"
	wait "$s1" "$s2" 2>/dev/null || true
	wait "$ipid" || true
	fcgi_down
	echo
	echo "$v: syscalls in ${strace_s} s under iperf3 a -> b (calls, name; strace slows both):"
	for who in lighttpd "$behind"; do
		printf '  %s:' "$who"
		awk '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {printf " %s %s", $4, $NF}' \
			"$tmp/strace.$who"
		echo
	done
done
