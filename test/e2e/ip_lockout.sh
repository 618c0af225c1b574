#!/bin/bash
# Lockout without a key: every cheap way to keep a client out, at once, while the client
# restarts. Nobody attacking holds a key.
#
#   n3 (attacker)                      n1 (server)                       n2 (client)
#   198.18.2.2-9 ------ veth ------ 198.18.2.1
#                                   198.18.0.1:8080 <------ veth ------ 198.18.0.2
#                                   relay socket <-- relay holders (the web server's user)
#                                   tun 198.18.1.1/24  <== tunnel ==>  tun 198.18.1.2/24
#
# The attacks pile up in three stages, and after each the client is stopped and started
# and must have its tunnel back (a ping answered) within 10 s:
#   1. from n3, eight source addresses in turn: 300 keep-alive connections that each sent
#      one request (answered 404) and stay open, more than HTTP_MAX_CONNECTIONS (256),
#      reopened when the server closes them; they fill the server while the client is
#      stopped, and then it starts;
#   2. also 40 POSTs that announce 2 MiB, send 1 MiB and then trickle a byte every 2 s
#      (40 MiB, more than HTTP_MAX_BODY_BYTES_TOTAL);
#   3. also 50 new silent connections a second from n3, and in n1, as the web server's
#      user, 80 relay connections that say HELLO and then nothing (more than
#      RELAY_MAX_CONNS, 64); a relay that connects then must still be greeted.
# Stage by stage, so that no attack makes room for the client by accident (a connect
# flood gives a server something to evict). The attack must really have filled the
# server (its connections closed to make room, bodies dropped); the server's memory
# stays bounded and it exits cleanly.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v python3 >/dev/null || e2e_skip "python3 is missing: scripts/deps.sh test"
command -v setpriv >/dev/null || e2e_skip "setpriv (util-linux) is missing"
[ -x /usr/bin/python3 ] || e2e_skip "/usr/bin/python3 is missing: scripts/deps.sh test"
WWW_USER=www-data
id "$WWW_USER" >/dev/null 2>&1 || e2e_skip "user $WWW_USER is missing"
TOOL="$(dirname "$0")/httptool.py"
E2E_NS3=httun-test-$$-3
n3() { ip netns exec "$E2E_NS3" "$@"; }

e2e_two_hosts
e2e_ns_add "$E2E_NS3"
ip link add veth3 netns "$E2E_NS1" type veth peer name veth4 netns "$E2E_NS3"
n1 ip addr add 198.18.2.1/24 dev veth3
for i in $(seq 2 9); do
	n3 ip addr add "198.18.2.$i/24" dev veth4
done
n1 ip link set veth3 up
n3 ip link set veth4 up
n3 ip route add 198.18.0.0/24 via 198.18.2.1

# The web server's user walks into the temp dir to reach the relay socket.
chmod 755 "$E2E_TMP"
RELAY_SOCK=$E2E_TMP/relay/fcgi.sock
(umask 077 && "$HTTUN_BIN" genkey >"$E2E_TMP/key")
e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
	--fcgi-socket "$RELAY_SOCK" --fcgi-user "$WWW_USER" \
	--key-file "$E2E_TMP/key" --tun --tun-name httun-s --tun-address 198.18.1.1/24
SERVER_PID=$E2E_LAST_PID
e2e_wait_for 10 n1 ip link show httun-s
e2e_wait_for 10 test -S "$RELAY_SOCK"

client_start() {
	e2e_bg "client$1" "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
		--tun-name httun-c --tun-address 198.18.1.2/24 http://198.18.0.1:8080/
	CLIENT_PID=$E2E_LAST_PID
}
client_start 0
check "ping through the tunnel before the attack" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1

# attack NAME KIND N SECONDS: httptool.py lockout from n3's eight addresses, in the
# background; the JSON goes to $E2E_TMP/NAME.json.
attack() {
	n3 python3 "$TOOL" lockout 198.18.0.1 8080 198.18.2. 8 "$2" "$3" "$4" \
		>"$E2E_TMP/$1.json" 2>"$E2E_TMP/$1.log" &
	E2E_PIDS+=($!)
	ATTACK_PIDS+=($!)
}
ATTACK_PIDS=()

client_stop() {
	kill -TERM "$CLIENT_PID"
	wait "$CLIENT_PID" || true
}
# restart N: (stop the client and) start it again, and time its tunnel's return.
restart() {
	local t0 t1
	kill -0 "$CLIENT_PID" 2>/dev/null && client_stop
	client_start "$1"
	t0=$(date +%s.%N)
	if e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1; then
		t1=$(date +%s.%N)
		echo "restart $1: tunnel back after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
		return 0
	fi
	echo "restart $1: no ping answered within 10 s"
	return 1
}
# idle_held: how many of the idle attackers' connections the server holds now.
idle_held() {
	n1 ss -Htn state established "( sport = :8080 )" | grep -c '198\.18\.2\.' || true
}

# Stage 1 fills the server while the client is away, so that every place is taken
# when it comes back.
client_stop
attack idle idle 300 20
check "stage 1: the attackers hold every connection place" \
	e2e_wait_for 15 sh -c "[ \$(ip netns exec $E2E_NS1 ss -Htn state established '( sport = :8080 )' | grep -c '198\.18\.2\.') -ge 256 ]"
echo "idle attackers' connections held by the server: $(idle_held)"
check "stage 1 (idle keep-alives over the cap): tunnel back within 10 s" restart 1
attack slow slow 40 15
sleep 5
check "stage 2 (+ slow bodies over the budget): tunnel back within 10 s" restart 2
attack flood flood 50 9
# The system's python3: a per-user one (pyenv) may not be reachable as that user.
setpriv --reuid "$WWW_USER" --regid "$WWW_USER" --clear-groups \
	/usr/bin/python3 "$TOOL" relayhold "$RELAY_SOCK" 80 9 \
	>"$E2E_TMP/relayhold.json" 2>"$E2E_TMP/relayhold.log" &
E2E_PIDS+=($!)
ATTACK_PIDS+=($!)
sleep 4
check "stage 3 (+ connect flood, relay slots held): tunnel back within 10 s" restart 3
# A relay that comes now (an `httun fcgi` started late) is greeted: an idle holder
# makes room for it.
setpriv --reuid "$WWW_USER" --regid "$WWW_USER" --clear-groups \
	/usr/bin/python3 "$TOOL" relayhold "$RELAY_SOCK" 1 2 >"$E2E_TMP/relaynew.json" 2>&1 || true
echo "relay newcomer: $(cat "$E2E_TMP/relaynew.json")"
check "the tunnel carries traffic under attack" n2 ping -q -c 20 -i 0.05 -W 1 198.18.1.1
rss_attack=$(e2e_status_kb "$SERVER_PID" VmRSS)

for pid in "${ATTACK_PIDS[@]}"; do
	wait "$pid" || true
done
for f in idle slow flood relayhold; do
	echo "$f: $(cat "$E2E_TMP/$f.json")"
done
get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
# Not vacuous: the attack had the server full, and it made room by closing attackers.
check "attack: held as many keep-alive connections as the server's cap" \
	test "$(get "$E2E_TMP/idle.json" most_held)" -ge 256
check "attack: the server closed idle attackers to make room" \
	test "$(get "$E2E_TMP/idle.json" closed)" -gt 0
check "attack: slow bodies were dropped when the body budget was full" \
	test "$(get "$E2E_TMP/slow.json" got503)" -gt 0
check "attack: the connect flood opened connections" \
	test "$(get "$E2E_TMP/flood.json" opened)" -gt 100
check "attack: relay holders held more connections than the relay's 64 slots" \
	test "$(get "$E2E_TMP/relayhold.json" most_held)" -gt 64
check "a relay newcomer is greeted while the holders are there" \
	test "$(get "$E2E_TMP/relaynew.json" answered)" -ge 1

check "server still running" kill -0 "$SERVER_PID"
check "tunnel answers after the attack" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1
hwm=$(e2e_status_kb "$SERVER_PID" VmHWM)
echo "server memory: VmRSS under attack ${rss_attack} kB, peak (VmHWM) ${hwm} kB"
if e2e_sanitized; then
	echo "sanitizer build: the peak is not bounded here (ASan shadow and quarantine)"
else
	# The body budget (32 MiB) plus connections' buffers and one read of overshoot.
	check "server peak VmHWM under 96 MiB" test "$hwm" -lt $((96 * 1024))
fi

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGTERM after the attack" test $rc = 0

e2e_done
