#!/bin/bash
# Server and client drop root with --user nobody once their TUN devices, routes and
# sockets are set up, and the tunnel still works, also across a server restart.
#
#   n1 (server)                                       n2 (client)
#   httun server --user nobody                        httun client --user nobody
#   --listen 198.18.0.1:8080       <== HTTP ==        http://198.18.0.1:8080/
#   tun 198.18.1.1/24 fd00:1::1/64                    tun 198.18.1.2/24 fd00:1::2/64
#                                                     route 198.19.5.0/24
#   veth 198.18.0.1 ----------------------------------- veth 198.18.0.2
#
# Checks, for each process: every uid and gid (real, effective, saved, fs) is nobody's,
# no supplementary groups but nobody's, no capabilities left, the no_new_privs flag set.
# Ping (IPv4 and IPv6) and a short iperf3 through the tunnel. The server is restarted and
# the unprivileged client, which can add no route now, gets its tunnel back with the
# route it set up at start. SIGTERM ends both with exit 0, and the client's device and
# route are gone (the kernel removes them with the device: nobody cannot).
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
id nobody >/dev/null 2>&1 || e2e_skip "no user nobody on this system"
e2e_two_hosts

umask 077
"$HTTUN_BIN" genkey >"$E2E_TMP/key"
uid=$(id -u nobody)
gid=$(id -g nobody)

e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
	--key-file "$E2E_TMP/key" --tun --tun-name httun-s \
	--tun-address 198.18.1.1/24 --tun-address fd00:1::1/64 --user nobody
SERVER_PID=$E2E_LAST_PID
e2e_wait_for 10 grep -q "running as user nobody" "$E2E_TMP/server.log"
e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
	--tun-name httun-c --tun-address 198.18.1.2/24 --tun-address fd00:1::2/64 \
	--route 198.19.5.0/24 --user nobody http://198.18.0.1:8080/
CLIENT_PID=$E2E_LAST_PID
e2e_wait_for 10 grep -q "running as user nobody" "$E2E_TMP/client.log"

# field PID NAME: a line of /proc/PID/status without its name.
field() { awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; }
check_dropped() { # check_dropped WHO PID
	local who=$1 pid=$2
	echo "$who $(grep -E '^(Uid|Gid|Groups|CapEff|CapPrm|NoNewPrivs):' "/proc/$pid/status" |
		tr '\t\n' '  ')"
	check "$who logged the drop" grep -q "running as user nobody" "$E2E_TMP/$who.log"
	check "$who: Uid real, effective, saved, fs all nobody ($uid)" \
		test "$(field "$pid" Uid)" = "$uid $uid $uid $uid"
	check "$who: Gid all nobody's group ($gid)" \
		test "$(field "$pid" Gid)" = "$gid $gid $gid $gid"
	check "$who: supplementary groups only nobody's" \
		bash -c "for g in $(field "$pid" Groups); do [ \$g = $gid ] || exit 1; done"
	check "$who: no effective capabilities" test "$(field "$pid" CapEff)" = 0000000000000000
	check "$who: no permitted capabilities" test "$(field "$pid" CapPrm)" = 0000000000000000
	check "$who: no_new_privs set" test "$(field "$pid" NoNewPrivs)" = 1
	check "$who: no warning about root" bash -c "! grep -q 'running as root' '$E2E_TMP/$who.log'"
}
check_dropped server "$SERVER_PID"
check_dropped client "$CLIENT_PID"
check "client route 198.19.5.0/24 via its device" \
	bash -c "ip netns exec $E2E_NS2 ip route show 198.19.5.0/24 | grep -q httun-c"

check "IPv4 ping through the tunnel" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "IPv6 ping through the tunnel" e2e_wait_for 10 n2 ping -6 -c 1 -W 1 fd00:1::1
check "10 pings, none lost" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1

n1 iperf3 -s -1 -B 198.18.1.1 >"$E2E_TMP/iperf-s.log" 2>&1 &
IPERF_PID=$!
E2E_PIDS+=("$IPERF_PID")
e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
iperf_bidir() { n2 iperf3 -c 198.18.1.1 -t 2 --bidir -J >"$E2E_TMP/iperf.json" 2>"$E2E_TMP/iperf.err"; }
check "iperf3 TCP both ways for 2 s" iperf_bidir
# A client that never ran leaves the one-shot server waiting: end it rather than hang.
kill "$IPERF_PID" 2>/dev/null || true
wait "$IPERF_PID" || true
[ -s "$E2E_TMP/iperf.json" ] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("iperf3: %d Mbit/s up, %d Mbit/s down" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_received_bidir_reverse"]["bits_per_second"] / 1e6))' "$E2E_TMP/iperf.json" || true
check "server still nobody after traffic" test "$(field "$SERVER_PID" Uid)" = "$uid $uid $uid $uid"

stop_as_nobody() { # stop_as_nobody WHO PID NS DEVICE: SIGTERM, exit 0, device gone
	local rc=0
	kill -TERM "$2"
	wait "$2" || rc=$?
	check "$1 exits 0 on SIGTERM as nobody" test $rc = 0
	check "$1 device gone" bash -c "! ip netns exec $3 ip link show $4 2>/dev/null"
}
stop_as_nobody server "$SERVER_PID" "$E2E_NS1" httun-s

# The client, as nobody, must come back to a new server by itself.
e2e_bg server2 "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
	--key-file "$E2E_TMP/key" --tun --tun-name httun-s \
	--tun-address 198.18.1.1/24 --tun-address fd00:1::1/64 --user nobody
SERVER_PID=$E2E_LAST_PID
check "ping through the tunnel after the server restarted" \
	e2e_wait_for 15 n2 ping -c 1 -W 1 198.18.1.1
check "the route is still there" \
	bash -c "ip netns exec $E2E_NS2 ip route show 198.19.5.0/24 | grep -q httun-c"
check "client still alive and nobody" test "$(field "$CLIENT_PID" Uid)" = "$uid $uid $uid $uid"

stop_as_nobody client "$CLIENT_PID" "$E2E_NS2" httun-c
check "client route gone with it" \
	bash -c "[ -z \"\$(ip netns exec $E2E_NS2 ip route show 198.19.5.0/24)\" ]"

e2e_done
