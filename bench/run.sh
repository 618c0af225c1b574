#!/bin/bash
# httun benchmark: httun against real peers, side by side, in one run, on one topology.
#
#   bench/run.sh [--runs N] [--seconds S] [--pings N] [--udp-rate R] [--sustain S]
#                [--quick] [--out FILE] [--keep]
#
# Builds two network namespaces joined by a veth pair and measures, in every run, each
# path in turn (so that drift hits all of them alike):
#   direct      the veth itself (no tunnel)
#   relay       bench/relay.c: bare userspace TUN-to-TUN relay, AES-256-GCM per packet
#               over UDP, MTU 1500: the floor cost of any userspace IP tunnel here
#   openvpn-tcp OpenVPN 2.6 (Debian), TLS mode, AES-256-GCM, tun-mtu 1500, TCP carrier
#   httptunnel  GNU httptunnel (hts/htc), one forwarded TCP port, no encryption
#   httun-ip    httun IP mode       } only once `httun server` is implemented;
#   httun-l7    httun L7 forward    } see bench_httun below
#   httun-ip-bp httun IP mode with the client's --busy-poll 50 (ping and iperf3 TCP only)
# Metrics: iperf3 TCP throughput (IP paths), one-connection TCP throughput with
# bench/tcpstream.py (direct, L7 paths: httptunnel forwards one connection at a time,
# iperf3 needs two), ping RTT median and p99, CPU seconds per GB moved (utime+stime of
# the tunnel processes at both ends), idle RSS (VmRSS before traffic) and peak RSS
# (VmHWM after all runs) of each tunnel process. IP paths also get, in every run: iperf3
# TCP b -> a (-R) and four streams (-P 4), iperf3 UDP at a fixed offered rate (--udp-rate,
# received rate and loss), and ping RTT under load (pings while iperf3 TCP saturates the
# path). After all runs, httun's RSS is sampled every second before, during and after
# --sustain seconds of iperf3 --bidir load (no growth under sustained load).
#
# Prints a markdown table; writes JSON with raw numbers, medians and ratios to --out
# (default bench/results/<UTC timestamp>.json). --quick: one short run, a smoke check.
# Needs root (network namespaces, TUN). HTTUN_BIN: the httun binary (default
# build/cmd/httun of this tree). Traffic stays inside the two namespaces it creates
# (198.18.0.0/15, fd00::/8); everything is torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
prog=bench
# start, wait_for, wait_listen, alive, cpu_ticks, usage and the FastCGI deployment;
# through it scripts/netns.sh (netns_add, netns_veth, netns_cleanup).
. "$here/lib.sh"

runs=3
seconds=5
pings=200
udp_rate=1G
sustain=30
quick=0
keep=0
out=""

while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2:?--runs N}; shift 2 ;;
	--seconds) seconds=${2:?--seconds S}; shift 2 ;;
	--pings) pings=${2:?--pings N}; shift 2 ;;
	--udp-rate) udp_rate=${2:?--udp-rate RATE}; shift 2 ;;
	--sustain) sustain=${2:?--sustain S}; shift 2 ;;
	--out) out=${2:?--out FILE}; shift 2 ;;
	--quick) quick=1; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
if [ "$quick" = 1 ]; then
	runs=1
	seconds=1
	pings=50
	sustain=2
fi
case "$runs$seconds$pings$sustain" in
*[!0-9]*) echo "bench: --runs, --seconds, --pings and --sustain take whole numbers" >&2; exit 2 ;;
esac
[[ $udp_rate =~ ^[1-9][0-9]*[KMG]?$ ]] ||
	{ echo "bench: --udp-rate takes an iperf3 rate such as 1G or 500M" >&2; exit 2; }
[ "$runs" -ge 1 ] && [ "$seconds" -ge 1 ] && [ "$pings" -ge 2 ] ||
	{ echo "bench: --runs >= 1, --seconds >= 1, --pings >= 2" >&2; exit 2; }

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (network namespaces, TUN devices)" >&2
	exit 1
fi
"$top/scripts/deps.sh" bench

stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$out" ] || out="$here/results/$stamp.json"
mkdir -p "$(dirname "$out")"

A=httun-bench-$$-a
B=httun-bench-$$-b
tmp=$(mktemp -d /tmp/httun-bench.XXXXXX)
raw=$tmp/raw
pids=()

NETNS_GRACE_TENTHS=10
cleanup() {
	set +e
	netns_cleanup
	if [ "$keep" = 1 ]; then
		echo "bench: logs and raw files kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

log() { printf 'bench: %s\n' "$*" >&2; }
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }

# ---- Process accounting (/proc): CPU ticks (lib.sh), idle and peak RSS.
status_kib() { # status_kib PID FIELD: e.g. VmRSS, VmHWM in KiB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# ---- Topology.
log "namespaces $A, $B"
netns_add "$A"
netns_add "$B"
# 198.18.0.0/30: the direct path. 198.18.0.4/30: carrier addresses for the tunnels.
# MTU 1600 so that a 1500-byte TUN packet sealed into one UDP datagram is not fragmented
# on the carrier; the direct path is pinned to 1500 by its route below.
netns_veth "$A" va "198.18.0.1/30 198.18.0.5/30 fd00:b::1/64" \
	"$B" vb "198.18.0.2/30 198.18.0.6/30 fd00:b::2/64" 1600
ip -n "$A" route replace 198.18.0.0/30 dev va src 198.18.0.1 mtu lock 1500
ip -n "$B" route replace 198.18.0.0/30 dev vb src 198.18.0.2 mtu lock 1500
wait_for 5 in_a ping -n -c1 -W1 198.18.0.2 || { log "veth does not answer"; exit 1; }
wait_for 5 in_a ping -n -c1 -W1 fd00:b::2 || { log "veth IPv6 does not answer"; exit 1; }

# Receivers in B: iperf3 for the IP paths, tcpstream for one-connection throughput.
start "$B" iperf3-server iperf3 -s
start "$B" tcpstream-server python3 "$here/tcpstream.py" recv 0.0.0.0 5202
wait_for 5 in_b sh -c 'ss -ltn | grep -q ":5201 " && ss -ltn | grep -q ":5202 "' ||
	{ log "iperf3/tcpstream receivers did not start"; exit 1; }

mkdir -p "$raw"
paths=(direct relay openvpn-tcp httptunnel httun-ip httun-ip-bp httun-fcgi httun-l7)
declare -A target stream_port tunnel_pids tun_dev
for p in "${paths[@]}"; do
	mkdir -p "$raw/$p"
	echo "ok" >"$raw/$p/status"
done
target[direct]=198.18.0.2
stream_port[direct]=198.18.0.2:5202
tunnel_pids[direct]=""

mark() { # mark PATH STATUS: the path is not measured, and why
	echo "$2" >"$raw/$1/status"
	log "$1: $2"
}

# mem_idle PATH ROLE=PID...: VmRSS of each tunnel process, before any traffic.
mem_idle() {
	local path=$1 rp
	shift
	for rp in "$@"; do
		echo "${rp%%=*} ${rp#*=} $(status_kib "${rp#*=}" VmRSS)" >>"$raw/$path/mem_idle"
	done
}

# ---- Relay (bench/relay.c), compiled here: it is an instrument, not part of httun.
setup_relay() {
	local key
	relay_build "$tmp/relay" || { mark relay "failed: relay.c does not compile"; return 0; }
	key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	relay_up "$tmp/relay" rly "$key"
	local pa=$relay_pa pb=$relay_pb
	if ! wait_for 5 in_a ping -n -c1 -W1 198.18.1.2 ||
		! wait_for 5 in_a ping -n -c1 -W1 fd00:b1::2; then
		mark relay "failed: relay does not carry ping ($(cat "$tmp/rly-a.log"))"
		return 0
	fi
	target[relay]=198.18.1.2
	tun_dev[relay]=rly-a
	tunnel_pids[relay]="$pa $pb"
	mem_idle relay client="$pa" server="$pb"
}

# ---- OpenVPN over TCP, TLS mode with certificates made here.
setup_openvpn() {
	local d=$tmp/ovpn role
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj /CN=httun-bench-ca
		for role in server client; do
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout $role.key -out $role.csr -subj /CN=httun-bench-$role
			printf 'keyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' \
				"$([ $role = server ] && echo serverAuth || echo clientAuth)" >$role.ext
			openssl x509 -req -in $role.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out $role.crt -days 2 -extfile $role.ext
		done
	) >"$tmp/openssl.log" 2>&1 ||
		{ mark openvpn-tcp "failed: openssl ($(tail -1 "$tmp/openssl.log"))"; return 0; }
	# Common settings: the incumbent in its usual tuned form (TCP_NODELAY), userspace
	# data channel (no DCO kernel module), AES-256-GCM, tun MTU 1500.
	cat >"$d/common.conf" <<-EOF
		dev-type tun
		tun-mtu 1500
		cipher AES-256-GCM
		data-ciphers AES-256-GCM
		disable-dco
		socket-flags TCP_NODELAY
		dh none
		ca $d/ca.crt
		verb 3
	EOF
	cat >"$d/server.conf" <<-EOF
		config $d/common.conf
		dev ovpn-b
		proto tcp-server
		local 198.18.0.6
		lport 1194
		ifconfig 198.18.2.2 198.18.2.1
		tls-server
		cert $d/server.crt
		key $d/server.key
		remote-cert-tls client
	EOF
	cat >"$d/client.conf" <<-EOF
		config $d/common.conf
		dev ovpn-a
		proto tcp-client
		remote 198.18.0.6 1194
		nobind
		connect-retry 1
		ifconfig 198.18.2.1 198.18.2.2
		tls-client
		cert $d/client.crt
		key $d/client.key
		remote-cert-tls server
	EOF
	start "$B" openvpn-server openvpn --config "$d/server.conf"
	local pb=$started
	wait_listen 10 "$B" "$pb" 198.18.0.6:1194 ||
		{ mark openvpn-tcp "failed: server does not listen ($(tail -1 "$tmp/openvpn-server.log"))"; return 0; }
	start "$A" openvpn-client openvpn --config "$d/client.conf"
	local pa=$started
	if ! wait_for 30 in_a ping -n -c1 -W1 198.18.2.2; then
		mark openvpn-tcp "failed: no ping through the tunnel ($(tail -1 "$tmp/openvpn-client.log"))"
		return 0
	fi
	target[openvpn-tcp]=198.18.2.2
	tun_dev[openvpn-tcp]=ovpn-a
	tunnel_pids[openvpn-tcp]="$pa $pb"
	mem_idle openvpn-tcp client="$pa" server="$pb"
}

# ---- GNU httptunnel: htc in A listens on 127.0.0.1:15202, hts in B forwards to 5202.
setup_httptunnel() {
	start "$B" hts hts -w -F 127.0.0.1:5202 198.18.0.6:8888
	local pb=$started
	wait_listen 5 "$B" "$pb" 198.18.0.6:8888 ||
		{ mark httptunnel "failed: hts does not listen ($(cat "$tmp/hts.log"))"; return 0; }
	start "$A" htc htc -w -F 15202 198.18.0.6:8888
	local pa=$started
	wait_listen 5 "$A" "$pa" 127.0.0.1:15202 ||
		{ mark httptunnel "failed: htc does not listen ($(cat "$tmp/htc.log"))"; return 0; }
	stream_port[httptunnel]=127.0.0.1:15202
	tunnel_pids[httptunnel]="$pa $pb"
	mem_idle httptunnel client="$pa" server="$pb"
}

# ---- httun. HOOK: httun's own rows. They run only once `httun server` is implemented
# (its --help stops saying "not implemented"); the command lines follow the CLI in
# README.md. If the CLI changes, change them here; the measurement code is shared.
httun_bin=${HTTUN_BIN:-$top/build/cmd/httun}
httun_mtu=""

httun_usable() { # prints why not, returns 1, when httun cannot be measured
	local help
	if [ ! -x "$httun_bin" ]; then
		echo "not measured: no httun binary at $httun_bin (build it or set HTTUN_BIN)"
		return 1
	fi
	if ! help=$("$httun_bin" server --help 2>&1) || grep -qi 'not implemented' <<<"$help"; then
		echo "not measured: httun server not implemented yet"
		return 1
	fi
}

bench_httun() {
	local why key=$tmp/httun.key pb pa
	if ! why=$(httun_usable); then
		mark httun-ip "$why"
		mark httun-l7 "$why"
		return 0
	fi
	(umask 077 && "$httun_bin" genkey >"$key")
	local l7=(--l7-allow 127.0.0.1/32:5202) have_l7=1
	# A version without L7 says so in its help; measure its IP mode alone.
	if "$httun_bin" server --help | grep -q 'l7-allow.*not in this version'; then
		l7=()
		have_l7=0
	fi
	start "$B" httun-server "$httun_bin" server --listen 198.18.0.6:8080 --key-file "$key" \
		--tun --tun-name htu-b --tun-address 198.18.3.2/30 --mtu 1500 "${l7[@]}"
	pb=$started
	wait_listen 10 "$B" "$pb" 198.18.0.6:8080 ||
		{ mark httun-ip "failed: server does not listen ($(tail -1 "$tmp/httun-server.log"))"
		  mark httun-l7 "failed: server does not listen"; return 0; }
	# One client carries both: two clients on one channel key would take the channel's
	# session from each other, and the L7 streams belong to the channel.
	local fwd=()
	[ "$have_l7" = 1 ] && fwd=(-L 127.0.0.1:15203:127.0.0.1:5202)
	start "$A" httun-client "$httun_bin" client --key-file "$key" --tun --tun-name htu-a \
		--tun-address 198.18.3.1/30 --mtu 1500 "${fwd[@]}" http://198.18.0.6:8080/
	pa=$started
	if wait_for 20 in_a ping -n -c1 -W1 198.18.3.2; then
		target[httun-ip]=198.18.3.2
		tun_dev[httun-ip]=htu-a
		tunnel_pids[httun-ip]="$pa $pb"
		mem_idle httun-ip client="$pa" server="$pb"
		httun_mtu="$(in_a cat /sys/class/net/htu-a/mtu)/$(in_b cat /sys/class/net/htu-b/mtu)"
	else
		mark httun-ip "failed: no ping through the tunnel ($(tail -1 "$tmp/httun-client.log"))"
	fi
	if [ "$have_l7" = 0 ]; then
		mark httun-l7 "not measured: this httun has no L7 forwarding yet"
		return 0
	fi
	if wait_listen 10 "$A" "$pa" 127.0.0.1:15203; then
		stream_port[httun-l7]=127.0.0.1:15203
		tunnel_pids[httun-l7]="$pa $pb"
		mem_idle httun-l7 client="$pa" server="$pb"
	else
		mark httun-l7 "failed: client does not listen ($(tail -1 "$tmp/httun-client.log"))"
	fi
}

# ---- httun IP with the client busy-polling (docs/PERFORMANCE.md "Busy polling"): its own
# key, server port, TUN devices and addresses, so it cannot meet the httun-ip path.
bench_httun_busypoll() {
	local why key=$tmp/httun-bp.key pb pa
	if ! why=$(httun_usable); then
		mark httun-ip-bp "$why"
		return 0
	fi
	if ! "$httun_bin" client --help | grep -q -- '--busy-poll'; then
		mark httun-ip-bp "not measured: this httun has no --busy-poll"
		return 0
	fi
	(umask 077 && "$httun_bin" genkey >"$key")
	start "$B" httun-bp-server "$httun_bin" server --listen 198.18.0.6:8081 --key-file "$key" \
		--tun --tun-name htp-b --tun-address 198.18.5.2/30 --mtu 1500
	pb=$started
	wait_listen 10 "$B" "$pb" 198.18.0.6:8081 ||
		{ mark httun-ip-bp "failed: server does not listen ($(tail -1 "$tmp/httun-bp-server.log"))"
		  return 0; }
	start "$A" httun-bp-client "$httun_bin" client --key-file "$key" --tun --tun-name htp-a \
		--tun-address 198.18.5.1/30 --mtu 1500 --busy-poll 50 http://198.18.0.6:8081/
	pa=$started
	if wait_for 20 in_a ping -n -c1 -W1 198.18.5.2; then
		target[httun-ip-bp]=198.18.5.2
		tun_dev[httun-ip-bp]=htp-a
		tunnel_pids[httun-ip-bp]="$pa $pb"
		mem_idle httun-ip-bp client="$pa" server="$pb"
	else
		mark httun-ip-bp "failed: no ping through the tunnel ($(tail -1 "$tmp/httun-bp-client.log"))"
	fi
}

# ---- httun behind lighttpd (FastCGI): fcgi_deploy in lib.sh, with its own key, TUN
# devices, addresses and sockets, so it cannot meet the httun-ip path.
bench_httun_fcgi() {
	local why key=$tmp/httun-fcgi.key help
	if ! why=$(httun_usable); then
		mark httun-fcgi "$why"
		return 0
	fi
	if ! help=$("$httun_bin" fcgi --help 2>&1) || grep -qi 'not implemented' <<<"$help"; then
		mark httun-fcgi "not measured: httun fcgi not implemented yet"
		return 0
	fi
	command -v lighttpd >/dev/null || { mark httun-fcgi "failed: no lighttpd"; return 0; }
	(umask 077 && "$httun_bin" genkey >"$key")
	if ! fcgi_deploy "$httun_bin" "$key" "$tmp/fcgi" htf 198.18.4.1 198.18.4.2 198.18.0.6:8090; then
		mark httun-fcgi "$fcgi_why"
		return 0
	fi
	target[httun-fcgi]=198.18.4.2
	tun_dev[httun-fcgi]=htf-a
	# CPU: every process on the path. Client and server first (sustained_rss's order).
	tunnel_pids[httun-fcgi]="$fcgi_pids"
	mem_idle httun-fcgi client="$fcgi_pid_client" server="$fcgi_pid_server" \
		${fcgi_pid_relay:+fcgi="$fcgi_pid_relay"} lighttpd="$fcgi_pid_lighttpd"
}

# ---- Measurements. Each writes raw files under $raw/PATH/ that report.py reads.
# measure PATH RUN KIND: KIND one of
#   ping       idle ping RTT
#   iperf      iperf3 TCP, one stream a -> b
#   iperf_r    iperf3 TCP, one stream b -> a (-R: the server end sends)
#   iperf_p4   iperf3 TCP, four streams a -> b (-P 4)
#   udp        iperf3 UDP a -> b at --udp-rate offered, 1400-byte datagrams (no
#              fragmentation inside a 1500 MTU); the receiver's rate and loss count
#   ping_load  ping while iperf3 TCP a -> b runs for --seconds (RTT under load)
#   stream     tcpstream.py, one connection a -> b
measure() {
	local path=$1 run=$2 kind=$3 f=$raw/$1/r$2 host i
	local -a tp t0=()
	read -r -a tp <<<"${tunnel_pids[$path]}"
	if [ ${#tp[@]} -gt 0 ] && ! alive "${tp[@]}"; then
		mark "$path" "failed: a tunnel process died (see its log)"
		return 0
	fi
	case $kind in
	ping)
		in_a ping -n -q -c1 -W1 "${target[$path]}" >/dev/null 2>&1 || true
		in_a ping -n -i 0.01 -c "$pings" -W 1 "${target[$path]}" >"$f.ping.txt" 2>&1 ||
			log "$path: ping lost packets in run $run"
		return 0
		;;
	ping_load)
		# Pings start once iperf3 has ramped up and stop before it ends.
		local n=$(((seconds * 1000 - 700) / 10)) bg
		[ "$n" -ge 20 ] || n=20
		ip netns exec "$A" iperf3 -J -c "${target[$path]}" -t "$seconds" \
			>"$f.ping_load.iperf.json" 2>&1 &
		bg=$!
		pids+=("$bg")
		sleep 0.5
		in_a ping -n -i 0.01 -c "$n" -W 1 "${target[$path]}" >"$f.ping_load.txt" 2>&1 ||
			log "$path: ping under load lost packets in run $run"
		wait "$bg" || log "$path: iperf3 (ping under load) failed in run $run"
		return 0
		;;
	esac
	for i in "${!tp[@]}"; do
		t0[i]=$(cpu_ticks "${tp[i]}")
	done
	if [ "$kind" != stream ]; then
		local -a opt=()
		case $kind in
		iperf_r) opt=(-R) ;;
		iperf_p4) opt=(-P 4) ;;
		udp) opt=(-u -b "$udp_rate" -l 1400) ;;
		esac
		in_a iperf3 -J -c "${target[$path]}" -t "$seconds" "${opt[@]}" >"$f.$kind.json" 2>&1 ||
			log "$path: iperf3 ($kind) failed in run $run"
	else
		host=${stream_port[$path]}
		in_a timeout $((seconds + 60)) python3 "$here/tcpstream.py" send "${host%:*}" \
			"${host#*:}" "$seconds" >"$f.stream.json" 2>&1 ||
			log "$path: tcpstream failed in run $run"
	fi
	if [ ${#tp[@]} -gt 0 ]; then
		# the sum over the path's processes, then each process's share
		local -a dt=()
		local sum=0
		for i in "${!tp[@]}"; do
			dt[i]=$(($(cpu_ticks "${tp[i]}") - t0[i]))
			sum=$((sum + dt[i]))
		done
		{
			echo "$sum $clk_tck"
			for i in "${!tp[@]}"; do
				echo "${tp[i]} ${dt[i]}"
			done
		} >"$f.$kind.cpu"
	fi
}

is_ok() { [ "$(cat "$raw/$1/status")" = ok ]; }

log "setting up relay, OpenVPN, httptunnel, httun"
setup_relay
setup_openvpn
setup_httptunnel
bench_httun
bench_httun_busypoll
bench_httun_fcgi

# The IP paths that also get -R, -P 4, UDP and ping under load. --quick keeps the smoke
# run short: httun's paths alone.
extra_paths="direct relay openvpn-tcp httun-ip httun-fcgi"
[ "$quick" = 0 ] || extra_paths="httun-ip httun-fcgi"

log "$runs run(s), ${seconds} s per throughput test, $pings pings at 10 ms"
for run in $(seq 1 "$runs"); do
	for p in "${paths[@]}"; do
		is_ok "$p" || continue
		log "run $run/$runs: $p"
		if [ -n "${target[$p]:-}" ]; then
			measure "$p" "$run" ping
			is_ok "$p" && measure "$p" "$run" iperf
			if [[ " $extra_paths " == *" $p "* ]]; then
				for k in iperf_r iperf_p4 udp ping_load; do
					is_ok "$p" && measure "$p" "$run" "$k"
				done
			fi
		fi
		if is_ok "$p" && [ -n "${stream_port[$p]:-}" ]; then
			measure "$p" "$run" stream
		fi
	done
done

# Sustained load: httun's RSS (both ends) sampled every second before, during and after
# --sustain seconds of iperf3 --bidir -P 2 (both directions at once). Bounded queues mean
# the "during" samples level off and "after" comes back near "before".
sustained_rss() {
	local path=$1 f=$raw/$1/sustain bg i
	local -a rp
	read -r -a rp <<<"${tunnel_pids[$path]}"
	sample() { # sample PHASE SECOND
		echo "$1 $2 client $(status_kib "${rp[0]}" VmRSS)" >>"$f"
		echo "$1 $2 server $(status_kib "${rp[1]}" VmRSS)" >>"$f"
	}
	log "sustained load: $path, ${sustain} s iperf3 --bidir -P 2"
	sleep 1
	sample before 0
	ip netns exec "$A" iperf3 -J -c "${target[$path]}" -t "$sustain" --bidir -P 2 \
		>"$raw/$path/sustain.iperf.json" 2>&1 &
	bg=$!
	pids+=("$bg")
	for i in $(seq 1 "$sustain"); do
		sleep 1
		alive "${rp[@]}" || break
		sample during "$i"
	done
	wait "$bg" || log "$path: iperf3 (sustained load) failed"
	if ! alive "${rp[@]}"; then
		echo "died 0 - 0" >>"$f"
		log "$path: a tunnel process died under sustained load"
		return 0
	fi
	sleep 2
	sample after 2
}
if is_ok httun-ip && [ "$sustain" -ge 1 ]; then
	sustained_rss httun-ip
fi

# Peak RSS of every tunnel process after all the traffic.
for p in "${paths[@]}"; do
	[ -f "$raw/$p/mem_idle" ] || continue
	while read -r role pid _; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "$role $pid $(status_kib "$pid" VmHWM)" >>"$raw/$p/mem_peak"
		fi
	done <"$raw/$p/mem_idle"
done

# Drops at the client's TUN transmit queue (packets the tunnel process did not read in
# time): the usual limit of an IP tunnel's inner TCP on a small machine.
for p in "${paths[@]}"; do
	[ -n "${tun_dev[$p]:-}" ] && is_ok "$p" || continue
	echo "${tun_dev[$p]} $(in_a cat "/sys/class/net/${tun_dev[$p]}/statistics/tx_packets")" \
		"$(in_a cat "/sys/class/net/${tun_dev[$p]}/statistics/tx_dropped")" >"$raw/$p/tun_tx"
done

# Interface counters (drops) for the record; kept with --keep.
in_a ip -s -s link >"$tmp/links-a.txt" 2>&1 || true
in_b ip -s -s link >"$tmp/links-b.txt" 2>&1 || true

python3 "$here/report.py" "$raw" "$out" \
	--meta date="$stamp" runs="$runs" seconds="$seconds" pings="$pings" quick="$quick" \
	udp_rate="$udp_rate" sustain="$sustain" extra_paths="$extra_paths" \
	httun_mtu="$httun_mtu" \
	cores="$(nproc)" kernel="$(uname -r)" \
	cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
	openvpn="$(openvpn --version 2>/dev/null | awk 'NR == 1 { print $2 }')" \
	iperf3="$(iperf3 --version 2>/dev/null | awk 'NR == 1 { print $2 }')"
log "JSON: $out"
