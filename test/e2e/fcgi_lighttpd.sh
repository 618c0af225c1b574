#!/bin/bash
# httun behind lighttpd (mod_fastcgi, bin-path): lighttpd spawns `httun fcgi`, which relays
# to `httun server --fcgi-socket`. IP tunnel with ping and iperf3 both ways, lighttpd's own
# page still served, recovery from killed relays and restarts of lighttpd and httun server,
# a relay with the wrong credentials refused. The shared steps: test/e2e/fcgi/lib.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fcgi/lib.sh"
e2e_need_root
fcgi_need
command -v lighttpd >/dev/null || e2e_skip "lighttpd is missing: scripts/deps.sh test"

web_start() {
	fill "$FCGI_DIR/lighttpd.conf.in" "$E2E_TMP/lighttpd.conf"
	e2e_bg lighttpd "$E2E_NS1" lighttpd -D -f "$E2E_TMP/lighttpd.conf"
	WEB_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q '198.18.0.1:8080 '"
}

web_stop() {
	kill -TERM "$WEB_PID"
	wait "$WEB_PID" 2>/dev/null || true
}

relay_pids() { pgrep -P "$WEB_PID" -d ' ' || true; }

fcgi_e2e_run lighttpd
