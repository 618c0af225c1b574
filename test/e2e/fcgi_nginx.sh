#!/bin/bash
# httun behind nginx (fastcgi_pass to `httun fcgi --listen unix:PATH`, which runs beside
# nginx as a service would, restarted when it dies), relaying to `httun server
# --fcgi-socket`. The same checks as fcgi_lighttpd.sh: test/e2e/fcgi/lib.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fcgi/lib.sh"
e2e_need_root
fcgi_need
command -v nginx >/dev/null || e2e_skip "nginx is missing: scripts/deps.sh test"

relay_start() {
	e2e_bg relay "$E2E_NS1" setpriv --reuid="$WWW_USER" --regid="$WWW_USER" --init-groups \
		"$HTTUN_BIN" fcgi --listen "unix:$E2E_TMP/websock/nginx.sock" \
		--server-socket "$RELAY_SOCK"
	RELAY_PID=$E2E_LAST_PID
	e2e_wait_for 10 test -S "$E2E_TMP/websock/nginx.sock"
}

web_start() {
	[ -n "${RELAY_PID:-}" ] || relay_start
	nginx_start nginx.conf.in
}

web_stop() {
	kill -TERM "$WEB_PID"
	wait "$WEB_PID" 2>/dev/null || true
}

relay_pids() { echo "$RELAY_PID"; }
# What systemd's Restart= does for the relay: start it again once it died.
relay_killed() {
	wait "$RELAY_PID" 2>/dev/null || true
	relay_start
}

fcgi_e2e_run nginx
