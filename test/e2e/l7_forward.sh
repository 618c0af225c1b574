#!/bin/bash
# L7 forwards end to end: httun client -L in one namespace, httun server (config file with
# l7-allow rules per channel) in another, real TCP services on a third host behind it.
#
#   n2 (client)                     n1 (server)                     n3 (targets)
#   curl, iperf3, l7_tool.py        httun server -c server.conf     http.server :8000
#     -> 127.0.0.1:180xx            channel lab: l7-allow, tun      l7_tool echo :8001,
#   httun client -L ... == HTTP ==>   198.18.1.1                    half-close :8002,
#   (also --tun 198.18.1.2)         channel office: tun only        counting :9000,
#                                   channel web: l7-allow only      iperf3 -s :5201
#                                   counting listener
#                                     198.18.0.1:7001
#   veth 198.18.0.2 ------- 198.18.0.1 veth   veth 198.18.2.1 ------ 198.18.2.2 veth
#   fd00:e2e::2             fd00:e2e::1       fd00:e2e:2::1          fd00:e2e:2::2
#
# The lab rules allow 198.18.2.2 ports 8000-8003 and 5201, [fd00:e2e:2::2]:8000, and the
# broad 198.18.0.0/16:7000-7999, which must NOT reach the server's own 198.18.0.1:7001.
#
# Checks: HTTP download byte-identical, 20 in parallel; 50 concurrent echo connections of
# 1 MB each way; half-close; a stalled reader stalls only its own stream and memory stays
# bounded; a target outside the policy (and an own address swept up by a broad rule): the
# local connection is closed and the target sees no connection; an allowed target that
# refuses; the forward listens on loopback unless BIND says otherwise; IPv6 forward;
# iperf3 through a forward; TUN and L7 on one channel at once; forwards from a client
# config file; a channel without rules refuses L7; names resolved on the server (one to
# an allowed address, one to loopback, one to both, one to nothing) and an IPv4-mapped
# own address; clean shutdown.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v python3 >/dev/null || e2e_skip "python3 is missing"
command -v curl >/dev/null || e2e_skip "curl is missing: scripts/deps.sh test"
command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
TOOL="$(dirname "$0")/l7_tool.py"
e2e_two_hosts
E2E_NS3=httun-test-$$-3
n3() { ip netns exec "$E2E_NS3" "$@"; }
e2e_ns_add "$E2E_NS3"
ip link add veth13 netns "$E2E_NS1" type veth peer name veth31 netns "$E2E_NS3"
n1 ip addr add 198.18.2.1/24 dev veth13
n3 ip addr add 198.18.2.2/24 dev veth31
n1 ip addr add fd00:e2e:2::1/64 dev veth13 nodad
n3 ip addr add fd00:e2e:2::2/64 dev veth31 nodad
n1 ip link set veth13 up
n3 ip link set veth31 up
T=198.18.2.2
# Names the server resolves: ip netns exec bind-mounts /etc/netns/NS/hosts over
# /etc/hosts inside NS. "mixed.test" has a loopback and an allowed address.
mkdir -p "/etc/netns/$E2E_NS1"
printf '%s\n' "127.0.0.1 localhost" "$T target.test" "127.0.0.1 evil.test" \
	"127.0.0.1 mixed.test" "$T mixed.test" >"/etc/netns/$E2E_NS1/hosts"
# set +e first: set -e applies in traps, and "(exit $rc)" of a failed run would end the
# trap there, before e2e_cleanup (namespaces and processes left behind, no logs shown).
trap 'rc=$?; set +e; rm -rf "/etc/netns/$E2E_NS1"; rmdir /etc/netns 2>/dev/null; (exit $rc); e2e_cleanup' EXIT

umask 077
"$HTTUN_BIN" genkey >"$E2E_TMP/key"
mkdir "$E2E_TMP/www"
python3 "$TOOL" pattern 1 5000000 >"$E2E_TMP/www/file"
umask 022

# Services behind the server.
e2e_bg http "$E2E_NS3" python3 -m http.server 8000 --bind $T --directory "$E2E_TMP/www"
e2e_bg http6 "$E2E_NS3" python3 -m http.server 8000 --bind fd00:e2e:2::2 \
	--directory "$E2E_TMP/www"
e2e_bg echo "$E2E_NS3" python3 "$TOOL" echo-server $T 8001
e2e_bg half "$E2E_NS3" python3 "$TOOL" halfclose-server $T 8002
e2e_bg count "$E2E_NS3" python3 "$TOOL" count-server $T 9000 "$E2E_TMP/count-9000"
e2e_bg iperf "$E2E_NS3" iperf3 -s -B $T -p 5201
e2e_bg count2 "$E2E_NS1" python3 "$TOOL" count-server 198.18.0.1 7001 "$E2E_TMP/count-7001"
# On every address of the server, its TUN address among them and one added later.
e2e_bg count3 "$E2E_NS1" python3 "$TOOL" count-server 0.0.0.0 7003 "$E2E_TMP/count-7003"
for p in 8000 8001 8002 9000 5201; do
	e2e_wait_for 10 n3 sh -c "ss -ltn | grep -q ':$p '"
done
e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q ':7001 '"
e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q ':7003 '"

for k in office web; do
	"$HTTUN_BIN" genkey >"$E2E_TMP/$k.key"
	chmod 600 "$E2E_TMP/$k.key"
done
# The server from a config file: rules per channel; "office" carries IP only.
cat >"$E2E_TMP/server.conf" <<CONF
[server]
listen = 198.18.0.1:8080

[channel lab]
key-file = $E2E_TMP/key
tun = yes
tun-name = httun-s
tun-address = 198.18.1.1/24
l7-allow = $T:8000-8003
l7-allow = $T:5201
l7-allow = [fd00:e2e:2::2]:8000
l7-allow = 198.18.0.0/16:7000-7999
l7-allow = 198.18.0.0/15:7003

[channel office]
key-file = $E2E_TMP/office.key
tun = yes
tun-name = httun-o
tun-address = 198.18.4.1/24

# L7 only, no TUN device.
[channel web]
key-file = $E2E_TMP/web.key
l7-allow = $T:8000
CONF
e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server -c "$E2E_TMP/server.conf" -v
SERVER_PID=$E2E_LAST_PID
e2e_wait_for 10 n1 ip link show httun-s

e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" \
	--tun --tun-name httun-c --tun-address 198.18.1.2/24 \
	-L 18000:$T:8000 -L 18001:$T:8001 -L 18002:$T:8002 \
	-L 19000:$T:9000 -L 17001:198.18.0.1:7001 -L 15201:$T:5201 \
	-L 18003:$T:8003 -L '[::1]:18006:[fd00:e2e:2::2]:8000' \
	-L 198.18.0.2:18010:$T:8000 -L 17002:[::ffff:198.18.0.1]:7001 \
	-L 18020:target.test:8000 -L 18021:evil.test:8000 -L 18022:mixed.test:8000 \
	-L 18023:nx.test:8000 -L 17003:198.18.1.1:7003 -L 17004:198.18.6.6:7003 -v \
	http://198.18.0.1:8080/
CLIENT_PID=$E2E_LAST_PID
e2e_wait_for 10 grep -q connected "$E2E_TMP/client.log"

download() { # download N: fetch the file through the forward to $E2E_TMP/dl-N, compare
	n2 curl -sS --max-time 60 -o "$E2E_TMP/dl-$1" http://127.0.0.1:18000/file &&
		cmp -s "$E2E_TMP/www/file" "$E2E_TMP/dl-$1"
}
check "HTTP download through -L is byte-identical" download 0

parallel() {
	local pids=() ok=0
	for i in $(seq 1 20); do
		download "$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" && ok=$((ok + 1))
	done
	echo "parallel downloads intact: $ok of 20"
	[ "$ok" = 20 ]
}
check "20 parallel HTTP downloads, all intact" parallel
rm -f "$E2E_TMP"/dl-*

check "50 concurrent echo connections of 1 MB each way, all intact" \
	n2 python3 "$TOOL" echo-client 18001 50 1000000
check "half-close: the client shuts down its write side and still gets the full reply" \
	n2 python3 "$TOOL" halfclose-client 18002

# A reader that never reads: its stream stalls, nothing else does, memory stays bounded.
# The sender is pushed back once every buffer on the way (socket buffers, the windows) is
# full; how long filling them takes depends on the machine's load, so wait for its count to
# stand still rather than sleep a fixed time. A tunnel that kept reading would never let
# it stand still: the sender only pauses (50 ms) when a send would block.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
stall_sent() { cat "$E2E_TMP/stall-sent" 2>/dev/null || echo -1; }
stall_blocked() { # stall_blocked: the sender, still running, sent nothing for 2 s (60 s at most)
	local last now same=0 start deadline
	start=$(date +%s)
	deadline=$((start + 60))
	last=$(stall_sent)
	while [ "$(date +%s)" -lt "$deadline" ]; do
		sleep 0.5
		now=$(stall_sent)
		if [ "$now" = "$last" ] && [ "$now" != -1 ]; then
			same=$((same + 1))
			if [ $same = 4 ]; then
				echo "stalled sender: $((now / 1024)) KiB sent, standing still" \
					"after $(($(date +%s) - start)) s"
				kill -0 "$STALL_PID"
				return
			fi
		else
			same=0
			last=$now
		fi
	done
	echo "the stalled sender's count never stood still for 2 s: last $last bytes"
	return 1
}
rss_before=$(($(rss_kib "$CLIENT_PID") + $(rss_kib "$SERVER_PID")))
e2e_bg stall "$E2E_NS2" python3 "$TOOL" stall-client 18001 600 "$E2E_TMP/stall-sent"
STALL_PID=$E2E_LAST_PID
check "a reader that never reads pushes back: its sender is blocked" stall_blocked
check "a stalled stream does not stall another: HTTP download intact" download stall
check "the stalled sender is still blocked after that download" stall_blocked
stalled=$(stall_sent)
rss_after=$(($(rss_kib "$CLIENT_PID") + $(rss_kib "$SERVER_PID")))
echo "stalled stream: the sender got $((stalled / 1024)) KiB in (mostly kernel socket" \
	"buffers) before it was pushed back; httun RSS (client + server) $rss_before KiB" \
	"before, $rss_after KiB while stalled"
# AddressSanitizer's quarantine keeps freed memory resident: RSS says nothing there.
if grep -q __asan_init "$HTTUN_BIN"; then
	echo "skipped under AddressSanitizer: memory stays bounded while a stream is stalled"
else
	check "memory stays bounded while a stream is stalled (RSS grew < 24 MiB)" \
		test $((rss_after - rss_before)) -lt $((24 * 1024))
fi
kill -TERM "$STALL_PID" 2>/dev/null || true
wait "$STALL_PID" 2>/dev/null || true

check "target outside the policy: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 19000
check "target outside the policy: the target saw no connection" \
	test "$(wc -l <"$E2E_TMP/count-9000")" = 0
check "own address swept up by a broad rule: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 17001
check "own address swept up by a broad rule: the target saw no connection" \
	test "$(wc -l <"$E2E_TMP/count-7001")" = 0
check "server logged the denials" grep -q "denied.*no l7-allow rule" "$E2E_TMP/server.log"
check "server logged the own-address denial" grep -q "198.18.0.1:7001: denied.*own address" \
	"$E2E_TMP/server.log"
# The server's TUN address (assigned at start, after the policy used to read its own
# addresses) under a broad rule: denied by the policy, the service never sees it.
check "the server's own TUN address under a broad rule: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 17003
check "the server's own TUN address under a broad rule: the target saw no connection" \
	test "$(wc -l <"$E2E_TMP/count-7003")" = 0
check "server logged the TUN address denial" grep -q "198.18.1.1:7003: denied.*own address" \
	"$E2E_TMP/server.log"
# An address added after the server started is not in its list: the backstop after the
# connect (local address == peer address) resets the stream.
n1 ip addr add 198.18.6.6/32 dev veth1
check "an own address added after start: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 17004
check "server logged the backstop" grep -q "198.18.6.6:7003 (198.18.6.6): denied: the connection reached this host" \
	"$E2E_TMP/server.log"
check "IPv4-mapped IPv6 of an own address: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 17002
check "IPv4-mapped IPv6 of an own address: the target saw no connection" \
	test "$(wc -l <"$E2E_TMP/count-7001")" = 0

fetch_name() { # fetch_name PORT: download through a forward to a name, compare
	n2 curl -sS --max-time 30 -o "$E2E_TMP/dl-name" "http://127.0.0.1:$1/file" &&
		cmp -s "$E2E_TMP/www/file" "$E2E_TMP/dl-name"
}
check "a name resolved on the server to an allowed address: download intact" fetch_name 18020
check "a name that resolves to loopback: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 18021
check "server logged the name's loopback address as the reason" \
	grep -q "evil.test:8000: denied (127.0.0.1: loopback" "$E2E_TMP/server.log"
check "a name with a loopback and an allowed address: the allowed one is used" fetch_name 18022
check "a name that does not resolve: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 18023
check "the client logged why" grep -q "nx.test:8000, stream [0-9]*: reset by the server: name did not resolve" \
	"$E2E_TMP/client.log"

check "allowed target with nothing listening: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 18003
check "client logged the server's reset reason" grep -q "connection refused" "$E2E_TMP/client.log"

listens_on() { n2 ss -ltnH "sport = :$1" | awk '{print $4}'; }
check "a forward without BIND listens on 127.0.0.1 only" test "$(listens_on 18000)" = "127.0.0.1:18000"
check "a forward without BIND is not reachable from the other host" \
	bash -c "! ip netns exec $E2E_NS1 curl -s --max-time 3 http://198.18.0.2:18000/file -o /dev/null"
check "BIND 198.18.0.2 listens there" test "$(listens_on 18010)" = "198.18.0.2:18010"
fetch_from_n1() {
	n1 curl -sS --max-time 30 -o "$E2E_TMP/dl-bind" http://198.18.0.2:18010/file &&
		cmp -s "$E2E_TMP/www/file" "$E2E_TMP/dl-bind"
}
check "BIND 198.18.0.2: reachable from the other host, intact" fetch_from_n1
fetch6() {
	n2 curl -sS -g --max-time 30 -o "$E2E_TMP/dl-6" 'http://[::1]:18006/file' &&
		cmp -s "$E2E_TMP/www/file" "$E2E_TMP/dl-6"
}
check "IPv6 forward [::1] to [fd00:e2e:2::2]:8000, intact" fetch6

iperf_l7() {
	n2 iperf3 -c 127.0.0.1 -p 15201 -t 2 "$@" -J >"$E2E_TMP/iperf-l7$*.json" 2>&1
}
check "iperf3 through a -L forward" iperf_l7
check "iperf3 -R through a -L forward" iperf_l7 -R
bps() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["end"]; print(int(e["sum_received"]["bits_per_second"]))' "$1"; }
for f in "$E2E_TMP/iperf-l7.json" "$E2E_TMP/iperf-l7-R.json"; do
	[ -s "$f" ] && echo "iperf3 L7 $(basename "$f" .json): $(($(bps "$f") / 1000000)) Mbit/s"
done

check "the same channel carries TUN traffic too" n2 ping -c 3 -i 0.1 -W 1 198.18.1.1

kill -TERM "$CLIENT_PID"
wait "$CLIENT_PID"
check "client exits 0 on SIGTERM" test $? = 0
check "client's forward listeners are gone" test -z "$(listens_on 18000)"

# A client from a config file, on the L7-only channel "web": forwards work the same, and
# that channel's own rules apply (port 8001 is allowed on lab, not on web).
cat >"$E2E_TMP/client.conf" <<CONF
[client]
url = http://198.18.0.1:8080/
forward = 18100:$T:8000
forward = 18101:$T:8001

[channel web]
key-file = $E2E_TMP/web.key
CONF
e2e_bg cfgclient "$E2E_NS2" "$HTTUN_BIN" client -c "$E2E_TMP/client.conf"
CFG_PID=$E2E_LAST_PID
e2e_wait_for 10 grep -q connected "$E2E_TMP/cfgclient.log"
fetch_cfg() {
	n2 curl -sS --max-time 30 -o "$E2E_TMP/dl-cfg" http://127.0.0.1:18100/file &&
		cmp -s "$E2E_TMP/www/file" "$E2E_TMP/dl-cfg"
}
check "L7-only channel, forward from a client config file: download intact" fetch_cfg
check "L7-only channel: its own rules apply (8001 refused there)" \
	n2 python3 "$TOOL" closed-client 18101
kill -TERM "$CFG_PID"
wait "$CFG_PID" || true

# The office channel has no l7-allow rule: its L7 streams are refused.
e2e_bg office "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/office.key" \
	-L 18200:$T:8000 http://198.18.0.1:8080/
OFFICE_PID=$E2E_LAST_PID
e2e_wait_for 10 grep -q connected "$E2E_TMP/office.log"
check "a channel without l7-allow rules refuses L7: the local connection is closed" \
	n2 python3 "$TOOL" closed-client 18200
check "server logged why" \
	grep -q "office: L7 stream to $T:8000 refused: no l7-allow rule" "$E2E_TMP/server.log"
kill -TERM "$OFFICE_PID"
wait "$OFFICE_PID" || true
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check "server exits 0 on SIGTERM" test $? = 0

e2e_done
