#!/bin/bash
# Replayed requests against a live IP tunnel. The client talks to the server through a
# recording relay (httptool.py record) that saves its real requests byte for byte: the
# INIT POST of the handshake, data POSTs and poll GETs. Those recordings are then sent
# to the server again, 1000 times each, straight from n2, while ping runs through the
# tunnel.
#
#   n1 (server)                      n2 (client)
#   httun server                     httun client http://127.0.0.1:8081/
#   --listen 198.18.0.1:8080 <-----  recorder 127.0.0.1:8081 (saves each request)
#        ^                           replay: the saved requests, >= 1000x
#        +---------------------------+
#   tun 198.18.1.1/24     <== tunnel ==>   tun 198.18.1.2/24
#   veth 198.18.0.1 ------------------------ veth 198.18.0.2
#
# Checks: the replayed INIT gets 404 (its timestamp is not newer than the live
# session's: refused before any DH), every replayed data POST and poll GET gets 404
# (replay window), ping
# through the tunnel loses at most one packet while the replay runs, the client never
# loses its session and the server confirms exactly one session.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v python3 >/dev/null || e2e_skip "python3 is missing: scripts/deps.sh test"
TOOL="$(dirname "$0")/httptool.py"
e2e_two_hosts

umask 077
"$HTTUN_BIN" genkey >"$E2E_TMP/key"
mkdir "$E2E_TMP/rec"

e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
	--key-file "$E2E_TMP/key" --tun --tun-name httun-s --tun-address 198.18.1.1/24
e2e_wait_for 10 n1 ip link show httun-s
e2e_bg recorder "$E2E_NS2" python3 "$TOOL" record 127.0.0.1 8081 198.18.0.1 8080 \
	"$E2E_TMP/rec" 80
e2e_wait_for 10 n2 sh -c "ss -ltn | grep -q '127.0.0.1:8081 '"
e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
	--tun-name httun-c --tun-address 198.18.1.2/24 http://127.0.0.1:8081/

check "ping through the tunnel (via the recorder)" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "20 pings while recording, none lost" n2 ping -q -c 20 -i 0.05 -W 1 198.18.1.1
# The echo replies ride on the POST answers; pings from the server's side go down the
# parked polls, so those get answered (and re-issued, and recorded) too.
check "10 pings from the server's side while recording" \
	n1 ping -q -c 10 -i 0.05 -W 1 198.18.1.2

# Sort the recordings: the INIT, and up to 5 each of data POSTs and poll GETs.
init=() data=() poll=()
for f in "$E2E_TMP"/rec/req-*.bin; do
	[ -f "$f" ] || continue
	method=$(head -c 4 "$f")
	body=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d[d.index(b"\r\n\r\n")+4:][:1].hex())' "$f")
	if [ "$method" = "GET " ] && [ ${#poll[@]} -lt 5 ]; then
		poll+=("$f")
	elif [ "$method" = POST ] && [ "$body" = 01 ] && [ ${#init[@]} -lt 1 ]; then
		init+=("$f")
	elif [ "$method" = POST ] && [ "$body" = 03 ] && [ ${#data[@]} -lt 5 ]; then
		data+=("$f")
	fi
done
echo "recorded: ${#init[@]} INIT, ${#data[@]} data POSTs, ${#poll[@]} poll GETs (used)"
check "recorded the handshake INIT" test ${#init[@]} = 1
check "recorded data POSTs" test ${#data[@]} -ge 3
check "recorded poll GETs" test ${#poll[@]} -ge 3

# Replay while ping runs through the tunnel for a fixed 10 s (-w); the replay must end
# inside that time, so every replayed request meets a running ping.
n2 ping -i 0.05 -W 1 -w 10 198.18.1.1 >"$E2E_TMP/ping.log" 2>&1 &
PING_PID=$!
E2E_PIDS+=("$PING_PID")
sleep 0.5
t0=$(date +%s.%N)
n2 timeout 9 python3 "$TOOL" replay 198.18.0.1 8080 100000 6 "${init[@]}" "${data[@]}" "${poll[@]}" \
	>"$E2E_TMP/replay.json" 2>"$E2E_TMP/replay.log" || true
t1=$(date +%s.%N)
wait "$PING_PID" || true
echo "replay: $(cat "$E2E_TMP/replay.json")"
ROUNDS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rounds"])' "$E2E_TMP/replay.json" || echo 0)
echo "replay of $((ROUNDS * (1 + ${#data[@]} + ${#poll[@]}))) requests took $(python3 -c "print(round($t1 - $t0, 1))") s"
read -r sent got < <(e2e_ping_stats "$E2E_TMP/ping.log") || true
echo "ping during the replay: ${sent:-?} sent, ${got:-?} received"

check "replayed at least 1000 rounds" test "$ROUNDS" -ge 1000
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2], {}).get(sys.argv[3], 0))' "$E2E_TMP/replay.json" "$@"; }
# The INIT's timestamp is not newer than the one the live session was made from: the
# server refuses it before any DH, with the same 404 as for garbage.
check "replayed INIT: refused (404), all of them" test "$(field init 404)" = $ROUNDS
check "replayed INIT: never answered with a RESPONSE" test "$(field init 200)" = 0
check "replayed data POSTs: all 404" test "$(field data 404)" = $((ROUNDS * ${#data[@]}))
check "replayed poll GETs: all 404" test "$(field poll 404)" = $((ROUNDS * ${#poll[@]}))
check "ping kept answering during the replay (at most 1 lost)" \
	test -n "${sent:-}" -a "${sent:-0}" -ge 20 -a $((${sent:-0} - ${got:-0})) -le 1
check "client never lost its session" \
	bash -c "! grep -q 'handshaking again\|disconnected' '$E2E_TMP/client.log'"
check "server confirmed exactly one session" \
	test "$(grep -c 'session established' "$E2E_TMP/server.log")" = 1
check "tunnel still answers after the replay" n2 ping -q -c 10 -i 0.05 -W 1 198.18.1.1

e2e_done
