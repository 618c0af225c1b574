#!/bin/bash
# Memory after traffic: a server and a client that carried bulk TCP both ways and a
# UDP flood each way go back under the product's idle bound, "idle server RSS under
# 8 MiB" (docs/PERFORMANCE.md), once the tunnel is idle. Without the idle trimming
# (frame pools, kept HTTP bodies, malloc_trim: docs/DESIGN.md "Buffer ownership") both
# stayed at 9-11 MiB.
#
#   n1 (server)                                  n2 (client)
#   httun server --listen 198.18.0.1:8080         httun client http://198.18.0.1:8080/
#   tun 198.18.1.1/24   iperf3 -s   <== HTTP ==>  tun 198.18.1.2/24   iperf3 -c
#   veth 198.18.0.1 ------------------------------ veth 198.18.0.2
#
# Checks: the traffic runs; within 10 s of the end of traffic the server's and the
# client's VmRSS are under 8 MiB (numbers printed; not checked under ASan, whose shadow
# memory and quarantine are several times that).
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
e2e_two_hosts
IDLE_BOUND_KB=$((8 * 1024))

umask 077
e2e_ip_tunnel
echo "start: server VmRSS $(e2e_status_kb "$SERVER_PID" VmRSS) kB," \
	"client VmRSS $(e2e_status_kb "$CLIENT_PID" VmRSS) kB"

iperf() { # iperf NAME ARGS...: iperf3 from n2 against a one-shot server in n1
	local name=$1 rc=0
	shift
	n1 timeout 25 iperf3 -s -1 -B 198.18.1.1 >"$E2E_TMP/iperf-s-$name.log" 2>&1 &
	local spid=$!
	e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
	n2 timeout 20 iperf3 -c 198.18.1.1 -t 2 "$@" >"$E2E_TMP/iperf-$name.log" 2>&1 || rc=$?
	wait $spid 2>/dev/null || true
	return $rc
}
check "iperf3 TCP client to server" iperf up
check "iperf3 TCP server to client" iperf down -R
check "iperf3 UDP flood client to server" iperf udp-up -u -b 1G -l 1400
check "iperf3 UDP flood server to client" iperf udp-down -u -b 1G -l 1400 -R
for who in server:$SERVER_PID client:$CLIENT_PID; do
	echo "after traffic: ${who%%:*} VmRSS $(e2e_status_kb "${who#*:}" VmRSS) kB," \
		"peak (VmHWM) $(e2e_status_kb "${who#*:}" VmHWM) kB"
done

# rss_below PID: VmRSS under the bound.
rss_below() { test "$(e2e_status_kb "$1" VmRSS)" -lt "$IDLE_BOUND_KB"; }
if e2e_sanitized; then
	sleep 3
	echo "ASan build: idle memory not checked"
else
	check "idle server RSS under 8 MiB after traffic" e2e_wait_for 10 rss_below "$SERVER_PID"
	check "idle client RSS under 8 MiB after traffic" e2e_wait_for 10 rss_below "$CLIENT_PID"
fi
for who in server:$SERVER_PID client:$CLIENT_PID; do
	echo "idle: ${who%%:*} VmRSS $(e2e_status_kb "${who#*:}" VmRSS) kB"
done
check "server and client still running" kill -0 "$SERVER_PID" "$CLIENT_PID"
check "ping after the idle period" n2 ping -c 3 -i 0.1 -W 1 198.18.1.1

e2e_done
