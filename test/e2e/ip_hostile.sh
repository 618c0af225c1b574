#!/bin/bash
# Hostile HTTP against a server that carries a live IP tunnel. Nobody here holds a key:
# garbage bytes, a 64 KiB header, 1000 header lines, a Content-Length of 10^15, a
# 100 KiB request target, then a slowloris flood of 300 connections (more than
# HTTP_MAX_CONNECTIONS = 256) that trickle a header that never ends, for longer than
# HTTP_HEADER_TIMEOUT_MS (10 s), then 260 connections that each announce a 2 MiB body
# (HTTP_MAX_BODY_BYTES) and send all of it but the last byte.
#
#   n1 (server)                                  n2 (client and attacker)
#   httun server --listen 198.18.0.1:8080  <---  httun client (tunnel, connected first)
#                                          <---  httptool.py probe / slowloris
#   tun 198.18.1.1/24          <== tunnel ==>    tun 198.18.1.2/24
#   veth 198.18.0.1 ------------------------------ veth 198.18.0.2
#
# Checks: each hostile request gets the ordinary status (400, 431, 413, 414); under the
# flood, connections over the cap push out the oldest connections that never completed
# a request (so the flood displaces only itself), every slow connection is closed in the
# end, and a newcomer with a real request is still answered; ping through the tunnel
# (whose connections have completed requests) loses at most one packet during all of
# it; the server is still up and serves the tunnel afterwards, and its memory stays
# bounded (VmRSS and VmHWM under 64 MiB; the numbers are printed). The body flood would
# pin HTTP_MAX_BODY_BYTES times HTTP_MAX_CONNECTIONS (512 MiB) without the server-wide
# HTTP_MAX_BODY_BYTES_TOTAL (32 MiB): its peak must stay under 96 MiB (not checked in a
# sanitizer build, whose quarantine keeps freed memory), the tunnel keeps answering (at
# most 5% ping loss), and the memory is given back once those connections are gone.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v python3 >/dev/null || e2e_skip "python3 is missing: scripts/deps.sh test"
TOOL="$(dirname "$0")/httptool.py"
e2e_two_hosts
RSS_BOUND_KB=$((64 * 1024))
# Given back after the body flood: ASan keeps freed blocks in quarantine (256 MiB by
# default), so there the figure only shows that most was freed; leaks LeakSanitizer
# reports at exit, which makes the exit-code check below fail.
RSS_BACK_KB=$RSS_BOUND_KB
e2e_sanitized && RSS_BACK_KB=$((512 * 1024))

umask 077
e2e_ip_tunnel
check "20 pings before the attack, none lost" n2 ping -q -c 20 -i 0.05 -W 1 198.18.1.1
rss_before=$(e2e_status_kb "$SERVER_PID" VmRSS)

# Ping runs through the tunnel during the whole attack (-w: fixed duration).
n2 ping -i 0.05 -W 1 -w 22 198.18.1.1 >"$E2E_TMP/ping.log" 2>&1 &
PING_PID=$!
E2E_PIDS+=("$PING_PID")
sleep 0.5

# probe KIND STATUS: 20 times the hostile request KIND, each answered with STATUS.
probe() {
	local kind=$1 want=$2 got bad=0
	for _ in $(seq 20); do
		got=$(n2 python3 "$TOOL" probe 198.18.0.1 8080 "$kind" 2>&1)
		if [ "$got" != "$want" ]; then
			echo "  $kind: got '$got', want $want"
			bad=$((bad + 1))
		fi
	done
	[ $bad = 0 ]
}
check "garbage bytes: 400" probe garbage 400
check "64 KiB header: 431" probe bigheader 431
check "1000 header lines: 431" probe manyheaders 431
check "Content-Length 10^15: 413" probe bigcl 413
check "100 KiB request target: 414" probe bigurl 414

# Slowloris: 300 connections for 14 s. In the middle, a newcomer is still answered.
n2 python3 "$TOOL" slowloris 198.18.0.1 8080 300 14 >"$E2E_TMP/slowloris.json" \
	2>"$E2E_TMP/slowloris.log" &
SLOW_PID=$!
E2E_PIDS+=("$SLOW_PID")
sleep 3
newcomer=$(n2 python3 "$TOOL" probe 198.18.0.1 8080 garbage 2>&1)
rss_flood=$(e2e_status_kb "$SERVER_PID" VmRSS)
wait "$SLOW_PID" || true
echo "slowloris: $(cat "$E2E_TMP/slowloris.json")"
echo "newcomer during the flood: $newcomer"
sl() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$E2E_TMP/slowloris.json" "$1"; }
check "flood: all 300 connections were accepted by TCP" test "$(sl opened)" = 300
check "flood: no slow connection got an answer (they are pushed out or time out)" \
	test "$(sl other_answer)" = 0
check "flood: every slow connection closed in the end, none left open" \
	test "$(sl still_open)" = 0 -a "$(sl closed)" = 300
check "flood: connections over the cap pushed out older slow ones early (< 9 s)" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["first_quiet_close_s"] is not None and d["first_quiet_close_s"] < 9' "$E2E_TMP/slowloris.json"
check "flood: a newcomer with a real request is answered (garbage: 400), not refused" \
	test "$newcomer" = 400

wait "$PING_PID" || true
read -r sent got < <(e2e_ping_stats "$E2E_TMP/ping.log") || true
echo "ping during the attack: ${sent:-?} sent, ${got:-?} received"
check "ping kept answering during the attack (at most 1 lost)" \
	test -n "${sent:-}" -a "${sent:-0}" -ge 300 -a $((${sent:-0} - ${got:-0})) -le 1

check "server still running" kill -0 "$SERVER_PID"
check "after the flood, a plain request is answered again (garbage: 400)" \
	test "$(n2 python3 "$TOOL" probe 198.18.0.1 8080 garbage 2>&1)" = 400
check "tunnel answers after the attack" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1
check "client never lost its session" \
	bash -c "! grep -q 'handshaking again\|disconnected' '$E2E_TMP/client.log'"
rss_after=$(e2e_status_kb "$SERVER_PID" VmRSS)
hwm=$(e2e_status_kb "$SERVER_PID" VmHWM)
echo "server memory: VmRSS before ${rss_before} kB, during the flood ${rss_flood} kB," \
	"after ${rss_after} kB, peak (VmHWM) ${hwm} kB; bound ${RSS_BOUND_KB} kB"
check "server VmRSS after the attack under 64 MiB" test "$rss_after" -lt $RSS_BOUND_KB
check "server peak VmHWM under 64 MiB" test "$hwm" -lt $RSS_BOUND_KB

# Body flood: 2 MiB bodies short of their last byte on every free connection for 4 s.
n2 ping -i 0.05 -W 1 -w 8 198.18.1.1 >"$E2E_TMP/ping-body.log" 2>&1 &
PING_PID=$!
E2E_PIDS+=("$PING_PID")
n2 timeout 30 python3 "$TOOL" bodyflood 198.18.0.1 8080 260 $((2 * 1024 * 1024)) 4 \
	>"$E2E_TMP/bodyflood.json" 2>"$E2E_TMP/bodyflood.log" || true
rss_body=$(e2e_status_kb "$SERVER_PID" VmHWM)
wait "$PING_PID" || true
echo "body flood: $(cat "$E2E_TMP/bodyflood.json")"
read -r sent got < <(e2e_ping_stats "$E2E_TMP/ping-body.log") || true
echo "ping during the body flood: ${sent:-?} sent, ${got:-?} received"
# The loop reads ~500 MB of bodies meanwhile: a few pings may come late (a sanitizer
# build on a busy machine lost 3 of 142 once), so up to 5% here, not 1 packet.
check "ping kept answering during the body flood (at most 5% lost)" \
	test -n "${sent:-}" -a "${sent:-0}" -ge 100 -a $((${sent:-0} - ${got:-0})) -le $((${sent:-0} / 20))
check "server still running after the body flood" kill -0 "$SERVER_PID"
e2e_wait_for 5 sh -c "[ \$(awk '/^VmRSS:/ { print \$2 }' /proc/$SERVER_PID/status) -lt $RSS_BACK_KB ]" || true
rss_body_after=$(e2e_status_kb "$SERVER_PID" VmRSS)
echo "server memory in the body flood: peak (VmHWM) ${rss_body} kB, VmRSS after ${rss_body_after} kB"
if e2e_sanitized; then
	echo "sanitizer build: the body-flood peak is not bounded here (ASan quarantine)"
else
	check "body flood: peak VmHWM under 96 MiB (HTTP_MAX_BODY_BYTES_TOTAL holds)" \
		test "$rss_body" -lt $((96 * 1024))
fi
check "server VmRSS back under $((RSS_BACK_KB / 1024)) MiB after the body flood" \
	test "$rss_body_after" -lt $RSS_BACK_KB
check "tunnel answers after the body flood" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGTERM after the attack" test $rc = 0

e2e_done
