#!/bin/bash
# Memory stays bounded when the carrier is far slower than the traffic offered: the
# veth between the hosts is rate-limited to 20 Mbit/s (tbf) in one direction, and
# iperf3 pushes UDP at 1 Gbit/s into the tunnel in that direction. The sender's queue
# (TUNNEL_QUEUE_MAX_BYTES, 4 MiB) fills, its TUN reader pauses and the kernel drops;
# nothing may grow without bound. Once client to server, then server to client (-R).
#
#   n1 (server)                                  n2 (client)
#   httun server --listen 198.18.0.1:8080  <===  httun client http://198.18.0.1:8080/
#   tun 198.18.1.1/24   iperf3 -s                tun 198.18.1.2/24   iperf3 -c -u -b 1G
#   veth1 (tbf 20 Mbit/s for -R) --------------- veth2 (tbf 20 Mbit/s for upload)
#
# Checks: the UDP runs complete; the sender's peak RSS (VmHWM) stays under 64 MiB
# (numbers printed); afterwards both sides are alive, ping answers without loss and the
# client never lost its session.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
command -v tc >/dev/null || e2e_skip "tc (iproute2) is missing: scripts/deps.sh test"
e2e_two_hosts
RSS_BOUND_KB=$((64 * 1024))
# ASan keeps freed memory in quarantine and adds shadow memory: a looser bound there.
e2e_sanitized && RSS_BOUND_KB=$((256 * 1024))

umask 077
e2e_ip_tunnel
tc_ok() { ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 20mbit burst 64kb latency 50ms; }
tc_ok "$E2E_NS2" veth2 || e2e_skip "tc tbf not available in this kernel"
tc_ok "$E2E_NS1" veth1

# flood NAME SENDER_PID ARGS...: 4 s of UDP at 1 Gbit/s; prints the sender's RSS figures.
flood() {
	local name=$1 pid=$2 rc=0
	shift 2
	local before
	before=$(e2e_status_kb "$pid" VmRSS)
	n1 timeout 25 iperf3 -s -1 -B 198.18.1.1 >"$E2E_TMP/iperf-s-$name.log" 2>&1 &
	local spid=$!
	e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
	n2 timeout 20 iperf3 -c 198.18.1.1 -u -b 1G -l 1400 -t 4 "$@" -J >"$E2E_TMP/iperf-$name.json" \
		2>"$E2E_TMP/iperf-$name.err" || rc=$?
	wait $spid 2>/dev/null || true
	echo "$name: sender VmRSS before ${before} kB, after $(e2e_status_kb "$pid" VmRSS) kB," \
		"peak (VmHWM) $(e2e_status_kb "$pid" VmHWM) kB; bound ${RSS_BOUND_KB} kB"
	[ -s "$E2E_TMP/iperf-$name.json" ] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("%s: %.0f Mbit/s offered, %.1f Mbit/s delivered" % (sys.argv[2], e["sum_sent"]["bits_per_second"] / 1e6, e["sum_received"]["bits_per_second"] / 1e6))' "$E2E_TMP/iperf-$name.json" "$name" || true
	return $rc
}

check "upload: UDP 1 Gbit/s into a 20 Mbit/s carrier" flood up "$CLIENT_PID"
check "upload: client peak RSS bounded" \
	test "$(e2e_status_kb "$CLIENT_PID" VmHWM)" -lt $RSS_BOUND_KB
check "download: UDP 1 Gbit/s into a 20 Mbit/s carrier" flood down "$SERVER_PID" -R
check "download: server peak RSS bounded" \
	test "$(e2e_status_kb "$SERVER_PID" VmHWM)" -lt $RSS_BOUND_KB

check "server and client still running" kill -0 "$SERVER_PID" "$CLIENT_PID"
check "ping answers after the floods" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "10 pings after the floods, none lost" n2 ping -q -c 10 -i 0.1 -W 1 198.18.1.1
check "client never lost its session" \
	bash -c "! grep -q 'handshaking again\|disconnected' '$E2E_TMP/client.log'"

e2e_done
