#!/bin/bash
# httun behind Apache 2.4 with mod_fcgid: Apache spawns `httun fcgi` (through a two-line
# wrapper script), which relays to `httun server --fcgi-socket`. The same checks as
# fcgi_lighttpd.sh: test/e2e/fcgi/lib.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fcgi/lib.sh"
e2e_need_root
fcgi_need
command -v apache2 >/dev/null || e2e_skip "apache2 is missing: scripts/deps.sh test"
[ -f /usr/lib/apache2/modules/mod_fcgid.so ] ||
	e2e_skip "mod_fcgid is missing (libapache2-mod-fcgid): scripts/deps.sh test"

web_start() {
	if [ ! -x "$E2E_TMP/cgi/httun.fcgi" ]; then
		mkdir -p "$E2E_TMP/cgi" "$E2E_TMP/apache2-run"
		printf '#!/bin/sh\nexec %s fcgi --server-socket %s\n' "$HTTUN_BIN" \
			"$RELAY_SOCK" >"$E2E_TMP/cgi/httun.fcgi"
		chmod 755 "$E2E_TMP/cgi/httun.fcgi"
	fi
	fill "$FCGI_DIR/apache2.conf.in" "$E2E_TMP/apache2.conf"
	e2e_bg apache2 "$E2E_NS1" apache2 -f "$E2E_TMP/apache2.conf" -DFOREGROUND
	WEB_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q '198.18.0.1:8080 '"
}

web_stop() {
	kill -TERM "$WEB_PID"
	wait "$WEB_PID" 2>/dev/null || true
}

# The httun processes among the descendants of the Apache this test started.
descendants() {
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}
relay_pids() {
	local p
	for p in $(descendants "$WEB_PID"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = httun ] && echo -n "$p "
	done
	true
}

fcgi_e2e_run apache2
