#!/bin/bash
# Shared by the FastCGI end-to-end tests (test/e2e/fcgi_*.sh); sourced after ../lib.sh.
# Each test starts a real web server from Debian in n1 on 198.18.0.1:8080, `httun fcgi`
# under it (spawned, or beside it for nginx), and `httun server --fcgi-socket` beside it;
# the client in n2 connects to http://198.18.0.1:8080/httun/.
#
# The test file defines:
#   web_start   start the web server (its PID in WEB_PID, in E2E_PIDS)
#   web_stop    stop it (by that PID) and wait until it is gone
#   relay_pids  print the PIDs of the `httun fcgi` processes serving it
#   relay_killed  (optional) what a service manager does once they were killed
# and then calls fcgi_e2e_run.

FCGI_DIR=$(dirname "${BASH_SOURCE[0]}")
RELAY_SOCK=$E2E_TMP/run/fcgi.sock
WEB_SOCK=$E2E_TMP/run/web.sock # httun server --fcgi-listen (fcgi_direct.sh)
URL=http://198.18.0.1:8080/httun/
WWW_USER=www-data

fcgi_need() {
	command -v iperf3 >/dev/null || e2e_skip "iperf3 is missing: scripts/deps.sh test"
	command -v curl >/dev/null || e2e_skip "curl is missing: scripts/deps.sh test"
	command -v setpriv >/dev/null || e2e_skip "setpriv (util-linux) is missing"
	id "$WWW_USER" >/dev/null 2>&1 || e2e_skip "user $WWW_USER is missing"
}

# fill TEMPLATE OUT: copy a config template with the test's paths filled in.
fill() {
	sed -e "s|@TMP@|$E2E_TMP|g" -e "s|@HTTUN_BIN@|$HTTUN_BIN|g" \
		-e "s|@RELAY_SOCK@|$RELAY_SOCK|g" -e "s|@WEB_SOCK@|$WEB_SOCK|g" \
		-e "s|@WWW_USER@|$WWW_USER|g" "$1" >"$2"
}

fcgi_setup() {
	e2e_two_hosts
	umask 022
	# The web server's user walks into the temp dir to reach its sockets and pages.
	chmod 755 "$E2E_TMP"
	mkdir -p "$E2E_TMP/www" "$E2E_TMP/websock"
	chown "$WWW_USER:" "$E2E_TMP/websock"
	echo "httun-e2e static page" >"$E2E_TMP/www/index.html"
	# Web servers open their error log after switching to their user.
	touch "$E2E_TMP/web-error.log"
	chown "$WWW_USER:" "$E2E_TMP/web-error.log"
	(umask 077 && "$HTTUN_BIN" genkey >"$E2E_TMP/key")
}

# server_start [FLAG SOCKET]: httun server with --fcgi-socket "$RELAY_SOCK", or with
# FLAG SOCKET instead (--fcgi-listen "$WEB_SOCK"); returns once the socket is there.
server_start() {
	local flag=${1:---fcgi-socket} sock=${2:-$RELAY_SOCK}
	e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server "$flag" "$sock" \
		--fcgi-user "$WWW_USER" --path /httun/ --key-file "$E2E_TMP/key" --tun \
		--tun-name httun-s --tun-address 198.18.1.1/24 -v
	SERVER_PID=$E2E_LAST_PID
	e2e_wait_for 10 test -S "$sock"
}

# nginx_start TEMPLATE: nginx in n1 on 198.18.0.1:8080 with that config template.
nginx_start() {
	fill "$FCGI_DIR/$1" "$E2E_TMP/nginx.conf"
	e2e_bg nginx "$E2E_NS1" nginx -e "$E2E_TMP/web-error.log" -p "$E2E_TMP" \
		-c "$E2E_TMP/nginx.conf"
	WEB_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q '198.18.0.1:8080 '"
}

server_stop() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
}

iperf() { # iperf NAME ARGS...: iperf3 from n2 against a one-shot server in n1
	local name=$1
	shift
	# Bounded: through a broken tunnel iperf3 would wait for minutes.
	n1 timeout 30 iperf3 -s -1 -B 198.18.1.1 >"$E2E_TMP/iperf-s-$name.log" 2>&1 &
	local spid=$!
	e2e_wait_for 5 n1 sh -c "ss -ltn | grep -q ':5201 '" || true
	n2 timeout 20 iperf3 -c 198.18.1.1 --connect-timeout 5000 "$@" -J \
		>"$E2E_TMP/iperf-$name.json" 2>"$E2E_TMP/iperf-$name.err"
	local rc=$?
	wait $spid 2>/dev/null
	return $rc
}
mbps() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["end"]; print(int((e.get("sum_received") or e["sum"])["bits_per_second"]) // 1000000)' "$1"; }

tunnel_up() { e2e_wait_for "${1:-20}" n2 ping -c 1 -W 1 198.18.1.1; }
static_page() { n2 curl -sf --max-time 5 http://198.18.0.1:8080/ | grep -q "httun-e2e static page"; }

fcgi_e2e_run() {
	local name=$1 pids

	fcgi_setup
	server_start
	web_start
	check "$name serves its own static page" e2e_wait_for 10 static_page
	check "$name: a path outside the tunnel is the web server's 404" \
		bash -c "[ \"\$(ip netns exec $E2E_NS2 curl -s -o /dev/null -w '%{http_code}' http://198.18.0.1:8080/nothing-here)\" = 404 ]"
	e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
		--tun-name httun-c --tun-address 198.18.1.2/24 "$URL"
	CLIENT_PID=$E2E_LAST_PID

	check "$name: ping through the tunnel" tunnel_up 20
	check "$name: 10 pings, none lost" n2 ping -c 10 -i 0.05 -W 1 198.18.1.1
	check "$name: iperf3 TCP client to server" iperf up -t 2
	check "$name: iperf3 TCP server to client" iperf down -t 2 -R
	for n in up down; do
		[ -s "$E2E_TMP/iperf-$n.json" ] && echo "$name iperf3 $n: $(mbps "$E2E_TMP/iperf-$n.json") Mbit/s"
	done
	check "$name: the relay runs as $WWW_USER" bash -c \
		"grep -q 'httun fcgi connected (pid [0-9]*, uid $(id -u $WWW_USER))' '$E2E_TMP/server.log'"

	# A relay with the wrong credentials is refused; the server keeps serving the others.
	# It is in the web server's group, so the socket's file mode lets it connect: what
	# stops it is the server's SO_PEERCRED check (its uid and primary gid are not allowed).
	mkdir -p "$E2E_TMP/badsock"
	chown nobody: "$E2E_TMP/badsock"
	setpriv --reuid=nobody --regid=nogroup --groups="$WWW_USER" \
		"$HTTUN_BIN" fcgi --listen "unix:$E2E_TMP/badsock/bad.sock" \
		--server-socket "$RELAY_SOCK" >"$E2E_TMP/bad-relay.log" 2>&1 &
	local bad=$!
	E2E_PIDS+=("$bad")
	check "wrong peer credentials: relay refused" e2e_wait_for 10 \
		grep -q "refused a relay from uid $(id -u nobody)" "$E2E_TMP/server.log"
	kill -TERM "$bad" 2>/dev/null || true
	wait "$bad" 2>/dev/null || true
	check "wrong peer credentials: the tunnel still answers" n2 ping -c 3 -i 0.1 -W 1 198.18.1.1

	# The relays die: the web server starts new ones, the tunnel recovers.
	pids=$(relay_pids)
	check "$name: httun fcgi processes found" test -n "$pids"
	kill -KILL $pids 2>/dev/null || true
	if declare -F relay_killed >/dev/null; then relay_killed; fi
	check "$name: httun fcgi killed: the tunnel recovers" tunnel_up 30

	# The web server restarts: the tunnel recovers, the page is back.
	web_stop
	web_start
	check "$name restarted: the tunnel recovers" tunnel_up 30
	check "$name restarted: static page served" e2e_wait_for 10 static_page

	# httun server restarts: the relays reconnect, the client handshakes again.
	server_stop
	mv "$E2E_TMP/server.log" "$E2E_TMP/server-first.log"
	server_start
	check "httun server restarted: the relay reconnects" \
		e2e_wait_for 20 grep -q "httun fcgi connected" "$E2E_TMP/server.log"
	check "httun server restarted: the tunnel recovers" tunnel_up 30
	check "after all that: iperf3 TCP" iperf again -t 2

	kill -TERM "$CLIENT_PID"
	wait "$CLIENT_PID" 2>/dev/null
	web_stop
	kill -TERM "$SERVER_PID"
	local rc=0
	wait "$SERVER_PID" || rc=$?
	check "httun server exits 0 on SIGTERM (no leak or sanitizer report)" test "$rc" = 0
	check "httun server removed its relay socket" test ! -e "$RELAY_SOCK"
	check "no sanitizer report from httun fcgi" bash -c \
		"! grep -q 'runtime error\|AddressSanitizer\|LeakSanitizer' '$E2E_TMP/web-error.log' '$E2E_TMP/$name.log' '$E2E_TMP'/relay*.log 2>/dev/null"
	e2e_done
}
