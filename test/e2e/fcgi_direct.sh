#!/bin/bash
# httun behind a web server that connects to `httun server --fcgi-listen` itself, without
# `httun fcgi` (docs/FASTCGI.md "Straight to the server"): first lighttpd (fastcgi.server
# "socket", no bin-path), then nginx (fastcgi_pass unix:, KEEP_CONN) on the same address,
# with the same server and client. IP tunnel with ping and iperf3 both ways, the web
# server's own pages, an ordinary 404 for a tunnel URL without the key, the socket's
# owner and mode, recovery from restarts of the web server and of httun server.
#
#   n1: lighttpd / nginx on 198.18.0.1:8080 --FastCGI (Unix socket)--> httun server
#   n2: httun client -> http://198.18.0.1:8080/httun/           (topology: lib.sh)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fcgi/lib.sh"
e2e_need_root
fcgi_need
command -v lighttpd >/dev/null || e2e_skip "lighttpd is missing: scripts/deps.sh test"
command -v nginx >/dev/null || e2e_skip "nginx is missing: scripts/deps.sh test"

direct_server_start() { server_start --fcgi-listen "$WEB_SOCK"; }

web_start() { # web_start lighttpd|nginx
	if [ "$1" = nginx ]; then
		nginx_start nginx-direct.conf.in
		return
	fi
	fill "$FCGI_DIR/lighttpd-direct.conf.in" "$E2E_TMP/lighttpd.conf"
	e2e_bg lighttpd "$E2E_NS1" lighttpd -D -f "$E2E_TMP/lighttpd.conf"
	WEB_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q '198.18.0.1:8080 '"
}

web_stop() {
	kill -TERM "$WEB_PID"
	wait "$WEB_PID" 2>/dev/null || true
	e2e_wait_for 10 n1 sh -c "! ss -ltn | grep -q '198.18.0.1:8080 '"
}

http_code() { n2 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }

fcgi_setup
direct_server_start
check "socket is mode 0660, group $WWW_USER" \
	test "$(stat -c '%a %G' "$WEB_SOCK")" = "660 $(id -gn "$WWW_USER")"
check "its directory, created by the server, is mode 0750" \
	test "$(stat -c '%a %G' "$(dirname "$WEB_SOCK")")" = "750 $(id -gn "$WWW_USER")"
check "nobody else may connect to it" bash -c \
	"! setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' '$WEB_SOCK' 2>/dev/null"

web_start lighttpd
check "lighttpd serves its own static page" e2e_wait_for 10 static_page
check "a tunnel URL without the key gets an ordinary 404" \
	test "$(http_code http://198.18.0.1:8080/httun/AAAAAAAAAAAAAAAAAAAAAA)" = 404
check "a path outside the tunnel is lighttpd's 404" \
	test "$(http_code http://198.18.0.1:8080/nothing-here)" = 404
e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
	--tun-name httun-c --tun-address 198.18.1.2/24 "$URL"
CLIENT_PID=$E2E_LAST_PID
check "lighttpd: ping through the tunnel" tunnel_up 20
check "lighttpd: 10 pings, none lost" n2 ping -c 10 -i 0.05 -W 1 198.18.1.1
check "lighttpd: iperf3 TCP client to server" iperf l-up -t 2
check "lighttpd: iperf3 TCP server to client" iperf l-down -t 2 -R
check "lighttpd: no httun fcgi process under it" test -z "$(pgrep -P "$WEB_PID" || true)"

web_stop
web_start lighttpd
check "lighttpd restarted: the tunnel recovers" tunnel_up 30

# httun server restarts: lighttpd connects to the new socket, the client handshakes again.
server_stop
check "httun server stopped: it removed its FastCGI socket" test ! -e "$WEB_SOCK"
mv "$E2E_TMP/server.log" "$E2E_TMP/server-first.log"
direct_server_start
check "httun server restarted: the tunnel recovers" tunnel_up 30

# The same server and client, nginx in lighttpd's place.
web_stop
web_start nginx
check "nginx serves its own static page" e2e_wait_for 10 static_page
check "nginx: the tunnel recovers" tunnel_up 30
check "nginx: 10 pings, none lost" n2 ping -c 10 -i 0.05 -W 1 198.18.1.1
check "nginx: iperf3 TCP client to server" iperf n-up -t 2
check "nginx: iperf3 TCP server to client" iperf n-down -t 2 -R
for n in l-up l-down n-up n-down; do
	[ -s "$E2E_TMP/iperf-$n.json" ] && echo "iperf3 $n: $(mbps "$E2E_TMP/iperf-$n.json") Mbit/s"
done

kill -TERM "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null || true
web_stop
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "httun server exits 0 on SIGTERM (no leak or sanitizer report)" test "$rc" = 0
check "httun server removed its FastCGI socket" test ! -e "$WEB_SOCK"
e2e_done
