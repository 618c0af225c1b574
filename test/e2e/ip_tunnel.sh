#!/bin/bash
# IP tunnel end to end: httun server and client in two namespaces, real TUN devices.
#
#   n1 (server)                                  n2 (client)
#   httun server --listen 198.18.0.1:8080         httun client http://198.18.0.1:8080/
#   tun 198.18.1.1/24 fd00:1::1/64  <== HTTP ==>  tun 198.18.1.2/24 fd00:1::2/64
#   veth 198.18.0.1 ------------------------------ veth 198.18.0.2
#
# Checks: IPv4 and IPv6 ping through the tunnel; iperf3 TCP both directions, and UDP with
# a bound on the datagrams lost; a client with the wrong key gets no session and no packet
# through; the server killed with SIGKILL and restarted: the client handshakes again and
# recovers by itself; clean shutdown on SIGTERM removes the devices and exits 0. The client busy-polls (--busy-poll 1000), so its
# polling loop carries all of that, and is seen to spin; the other tests run clients
# without it.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
e2e_two_hosts

umask 077
"$HTTUN_BIN" genkey >"$E2E_TMP/key"
"$HTTUN_BIN" genkey >"$E2E_TMP/wrong"

start_server() {
	e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
		--key-file "$E2E_TMP/key" --tun --tun-name httun-s \
		--tun-address 198.18.1.1/24 --tun-address fd00:1::1/64
	SERVER_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 ip link show httun-s
}

start_server
e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
	--tun-name httun-c --tun-address 198.18.1.2/24 --tun-address fd00:1::2/64 \
	--busy-poll 1000 http://198.18.0.1:8080/
CLIENT_PID=$E2E_LAST_PID

check "IPv4 ping through the tunnel" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "IPv6 ping through the tunnel" e2e_wait_for 10 n2 ping -6 -c 1 -W 1 fd00:1::1
check "10 pings, none lost" n2 ping -c 10 -i 0.05 -W 1 198.18.1.1
check "client busy-polls" grep -q "busy polling for 1000 us" "$E2E_TMP/client.log"
# It spins: after each wake-up it polls for up to 1 ms before it sleeps, so over 200 pings
# at 10 ms it spends 200 ms or more of CPU beyond the server's (which does not spin);
# without the spin the two ends cost about the same. Ticks of 10 ms, utime + stime.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(ticks "$CLIENT_PID")
s0=$(ticks "$SERVER_PID")
n2 ping -q -c 200 -i 0.01 -W 1 198.18.1.1 >/dev/null
c1=$(ticks "$CLIENT_PID")
s1=$(ticks "$SERVER_PID")
echo "CPU ticks over 200 pings: client $((c1 - c0)), server $((s1 - s0))"
check "the busy-polling client spins (10+ ticks over the server's)" \
	test $((c1 - c0)) -ge $((s1 - s0 + 10))

iperf() { # iperf NAME ARGS...: run iperf3 from n2 against a one-shot server in n1
	local name=$1
	shift
	n1 iperf3 -s -1 -B "$1" >"$E2E_TMP/iperf-s-$name.log" 2>&1 &
	local spid=$!
	e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
	n2 iperf3 -c "$@" -J >"$E2E_TMP/iperf-$name.json" 2>"$E2E_TMP/iperf-$name.err"
	local rc=$?
	wait $spid 2>/dev/null
	return $rc
}
bps() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["end"]; print(int((e.get("sum_received") or e["sum"])["bits_per_second"]))' "$1"; }

# UDP is not retransmitted: what the tunnel loses shows here, where TCP would hide it. A
# healthy tunnel loses some on a loaded 2-core machine: up to 7.5 % of a 2 s run (14 % in
# its worst second) with other tests running beside it, most of it where the iperf3
# server's socket buffer overflowed (UdpRcvbufErrors in n1) or the client's TUN queue
# filled while the processes, the busy-polling client among them, waited for a CPU. That
# is not the tunnel's doing. 25 % leaves three times that; a tunnel that drops frames of
# its own loses more (one frame carries many datagrams), one that drops them all, all.
UDP_MAX_LOSS_PERCENT=25
udp_ok() { # udp_ok FILE: an iperf3 -u -J run sent datagrams and lost at most the bound
	python3 - "$1" "$UDP_MAX_LOSS_PERCENT" <<-'EOF'
		import json, sys
		s = json.load(open(sys.argv[1]))["end"]["sum"]
		print("iperf3 udp: %d of %d datagrams lost (%.2f%%)"
		      % (s["lost_packets"], s["packets"], s["lost_percent"]))
		sys.exit(0 if s["packets"] > 0 and s["lost_percent"] <= float(sys.argv[2]) else 1)
	EOF
}

check "iperf3 TCP client to server" iperf up 198.18.1.1 -t 2
check "iperf3 TCP server to client" iperf down 198.18.1.1 -t 2 -R
check "iperf3 UDP 100 Mbit/s" iperf udp 198.18.1.1 -t 2 -u -b 100M
check "iperf3 UDP: at most $UDP_MAX_LOSS_PERCENT % of the datagrams lost" \
	udp_ok "$E2E_TMP/iperf-udp.json"
for n in up down; do
	[ -s "$E2E_TMP/iperf-$n.json" ] && echo "iperf3 $n: $(($(bps "$E2E_TMP/iperf-$n.json") / 1000000)) Mbit/s"
done

# A client with the wrong key: no session, nothing crosses, the good tunnel still works.
e2e_bg wrong "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/wrong" --tun \
	--tun-name httun-w --tun-address 198.18.2.2/24 http://198.18.0.1:8080/
WRONG_PID=$E2E_LAST_PID
e2e_wait_for 10 n2 ip link show httun-w
# Waits for the refusal (not a fixed sleep: a loaded machine starts the client slowly).
check "wrong key: server refuses the handshake" \
	e2e_wait_for 30 grep -q "handshake for no channel" "$E2E_TMP/server.log"
check "wrong key: client never connects" bash -c "! grep -q connected '$E2E_TMP/wrong.log'"
check "wrong key: the good tunnel still answers" n2 ping -c 2 -i 0.1 -W 1 198.18.1.1
kill -TERM "$WRONG_PID"

# Server killed hard and started again: the client finds out and handshakes again.
# What the client logs only when it handshakes again: it lost the session (a 404 for a
# frame of it: "handshaking again"), or it expired and the next handshake connected anew.
rehandshakes() { grep -c "handshaking again\|: connected$" "$E2E_TMP/client.log" || true; }
check "before the restart the client connected once and never again" test "$(rehandshakes)" = 1
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
check "server gone: ping fails" bash -c "! ip netns exec $E2E_NS2 ping -c 1 -W 1 198.18.1.1 >/dev/null"
mv "$E2E_TMP/server.log" "$E2E_TMP/server-first.log"
start_server
check "after a server restart the client recovers by itself" \
	e2e_wait_for 20 n2 ping -c 1 -W 1 198.18.1.1
check "client logged the lost session" test "$(rehandshakes)" -gt 1
check "the restarted server has the client's new session" \
	grep -q "session established" "$E2E_TMP/server.log"

# Clean shutdown under load: SIGTERM while iperf3 pulls data through the server's
# responses (writes in flight are cancelled), exit 0, devices gone; the sanitizer build
# turns any use-after-free on that path into a non-zero exit.
n1 iperf3 -s -1 -B 198.18.1.1 >/dev/null 2>&1 &
IPERF_S=$!
e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
n2 iperf3 -c 198.18.1.1 -t 5 -R >/dev/null 2>&1 &
IPERF_C=$!
# Data flowing (the test's data connection is the second one), then a moment of it.
e2e_wait_for 10 n1 sh -c "[ \$(ss -tnH state established '( sport = :5201 )' | wc -l) -ge 2 ]" ||
	true
sleep 0.5
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGTERM with traffic in flight" test $rc = 0
check "server device removed" bash -c "! ip netns exec $E2E_NS1 ip link show httun-s 2>/dev/null"
kill -TERM "$CLIENT_PID"
rc=0
wait "$CLIENT_PID" || rc=$?
check "client exits 0 on SIGTERM" test $rc = 0
check "client device removed" bash -c "! ip netns exec $E2E_NS2 ip link show httun-c 2>/dev/null"
kill "$IPERF_C" "$IPERF_S" 2>/dev/null || true
wait "$IPERF_C" "$IPERF_S" 2>/dev/null || true

e2e_done
