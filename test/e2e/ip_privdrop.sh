#!/bin/bash
# The server drops root with --user nobody once its TUN device and listening socket are
# open, and the tunnel still works.
#
#   n1 (server)                                       n2 (client)
#   httun server --user nobody                        httun client
#   --listen 198.18.0.1:8080       <== HTTP ==        http://198.18.0.1:8080/
#   tun 198.18.1.1/24 fd00:1::1/64                    tun 198.18.1.2/24 fd00:1::2/64
#   veth 198.18.0.1 ----------------------------------- veth 198.18.0.2
#
# Checks: every uid and gid of the server process (real, effective, saved, fs) is
# nobody's, it has no supplementary groups but nobody's and no capabilities left, the
# no_new_privs flag is set; ping (IPv4 and IPv6) and a short iperf3 through the tunnel;
# SIGTERM ends it with exit 0.
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
	http://198.18.0.1:8080/

status=/proc/$SERVER_PID/status
field() { awk -v f="$1:" '$1 == f { $1 = ""; print substr($0, 2) }' "$status"; }
echo "server $(grep -E '^(Uid|Gid|Groups|CapEff|CapPrm|NoNewPrivs):' "$status" | tr '\t\n' '  ')"
check "server logged the drop" grep -q "running as user nobody" "$E2E_TMP/server.log"
check "Uid line: real, effective, saved, fs all nobody ($uid)" \
	test "$(field Uid)" = "$uid $uid $uid $uid"
check "Gid line: all nobody's group ($gid)" test "$(field Gid)" = "$gid $gid $gid $gid"
check "supplementary groups: only nobody's" \
	bash -c "for g in $(field Groups); do [ \$g = $gid ] || exit 1; done"
check "no effective capabilities" test "$(field CapEff)" = 0000000000000000
check "no permitted capabilities" test "$(field CapPrm)" = 0000000000000000
check "no_new_privs set" test "$(field NoNewPrivs)" = 1

check "IPv4 ping through the tunnel" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "IPv6 ping through the tunnel" e2e_wait_for 10 n2 ping -6 -c 1 -W 1 fd00:1::1
check "10 pings, none lost" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1

n1 iperf3 -s -1 -B 198.18.1.1 >"$E2E_TMP/iperf-s.log" 2>&1 &
IPERF_PID=$!
E2E_PIDS+=("$IPERF_PID")
e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
iperf_bidir() { n2 iperf3 -c 198.18.1.1 -t 2 --bidir -J >"$E2E_TMP/iperf.json" 2>"$E2E_TMP/iperf.err"; }
check "iperf3 TCP both ways for 2 s" iperf_bidir
wait "$IPERF_PID" || true
[ -s "$E2E_TMP/iperf.json" ] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print("iperf3: %d Mbit/s up, %d Mbit/s down" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_received_bidir_reverse"]["bits_per_second"] / 1e6))' "$E2E_TMP/iperf.json" || true
check "still nobody after traffic" test "$(field Uid)" = "$uid $uid $uid $uid"

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGTERM as nobody" test $rc = 0
check "server device gone" bash -c "! ip netns exec $E2E_NS1 ip link show httun-s 2>/dev/null"

e2e_done
