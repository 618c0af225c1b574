#!/bin/bash
# Shared by the end-to-end tests; sourced, not run. In the style of WireGuard's netns.sh:
# every test builds its own namespaces named httun-test-$$-N, talks only to addresses in
# 198.18.0.0/15 and fd00::/8 inside them, and tears everything down on exit, also on
# failure. Processes are ended by the PIDs this test started, nothing else.
# E2E_KEEP=1 keeps the temporary directory (logs, JSON) for a look after the run.
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_need_root
#   e2e_two_hosts           # n1 = server side, n2 = client side, joined by veth:
#
#   +--------------------+          veth           +--------------------+
#   | httun-test-$$-1    | 198.18.0.1  198.18.0.2 | httun-test-$$-2    |
#   | (n1, server)       |-------------------------| (n2, client)       |
#   |                    | fd00:e2e::1  fd00:e2e::2 |                    |
#   +--------------------+                         +--------------------+

set -eu -o pipefail

# Namespaces, veths, background processes and their cleanup.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/netns.sh"

HTTUN_BIN=${HTTUN_BIN:?HTTUN_BIN must name the httun binary}
E2E_NS1=httun-test-$$-1
E2E_NS2=httun-test-$$-2
E2E_TMP=$(mktemp -d /tmp/httun-e2e.XXXXXX)
# The registries of scripts/netns.sh, under the names the tests use: a process a test
# starts itself goes into E2E_PIDS to be stopped by cleanup.
declare -n E2E_PIDS=NETNS_PIDS E2E_NAMESPACES=NETNS_NAMESPACES
e2e_pass=0
e2e_fail=0

n1() { ip netns exec "$E2E_NS1" "$@"; }
n2() { ip netns exec "$E2E_NS2" "$@"; }

e2e_skip() {
	echo "SKIPPED: $*"
	exit 77
}

e2e_need_root() {
	[ "$(id -u)" = 0 ] || e2e_skip "needs root for network namespaces and TUN devices"
	[ -c /dev/net/tun ] || e2e_skip "/dev/net/tun is missing"
	command -v ip >/dev/null || e2e_skip "ip (iproute2) is missing: scripts/deps.sh test"
}

# Stops what the test started, deletes its namespaces (a namespace left behind fails the
# test) and shows the logs of a failed test.
e2e_cleanup() {
	local rc=$?
	set +e
	netns_cleanup || rc=1
	if [ $rc != 0 ] && [ -d "$E2E_TMP" ]; then
		for f in "$E2E_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f") (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	[ -n "${E2E_KEEP:-}" ] || rm -rf "$E2E_TMP"
	exit $rc
}
trap e2e_cleanup EXIT

e2e_ns_add() {
	netns_add "$1"
}

e2e_two_hosts() {
	e2e_ns_add "$E2E_NS1"
	e2e_ns_add "$E2E_NS2"
	netns_veth "$E2E_NS1" veth1 "198.18.0.1/24 fd00:e2e::1/64" \
		"$E2E_NS2" veth2 "198.18.0.2/24 fd00:e2e::2/64"
}

# e2e_bg NAME NS COMMAND...: start COMMAND in namespace NS in the background, output
# in $E2E_TMP/NAME.log; its PID goes to E2E_PIDS and to $E2E_LAST_PID.
e2e_bg() {
	local name=$1
	shift
	netns_bg "$E2E_TMP/$name.log" "$@"
	E2E_LAST_PID=$NETNS_LAST_PID
}

# e2e_ip_tunnel: after e2e_two_hosts, a fresh key in $E2E_TMP/key, `httun server` in n1
# (198.18.0.1:8080, TUN httun-s 198.18.1.1/24) and `httun client` in n2 (TUN httun-c
# 198.18.1.2/24); sets SERVER_PID and CLIENT_PID and checks that a ping gets through.
e2e_ip_tunnel() {
	(umask 077 && "$HTTUN_BIN" genkey >"$E2E_TMP/key")
	e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
		--key-file "$E2E_TMP/key" --tun --tun-name httun-s --tun-address 198.18.1.1/24
	SERVER_PID=$E2E_LAST_PID
	e2e_wait_for 10 n1 ip link show httun-s
	e2e_bg client "$E2E_NS2" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" --tun \
		--tun-name httun-c --tun-address 198.18.1.2/24 http://198.18.0.1:8080/
	CLIENT_PID=$E2E_LAST_PID
	check "ping through the tunnel" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
}

# e2e_wait_for SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds.
e2e_wait_for() {
	netns_wait_for "$@"
}

# check DESCRIPTION COMMAND...: one assertion; the test goes on, the verdict is at the end.
check() {
	local what=$1
	shift
	if "$@"; then
		e2e_pass=$((e2e_pass + 1))
		echo "ok: $what"
	else
		e2e_fail=$((e2e_fail + 1))
		echo "FAIL: $what"
	fi
}

e2e_done() {
	echo "$e2e_pass passed, $e2e_fail failed"
	[ "$e2e_fail" = 0 ]
}

# e2e_status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM, ...), number only.
e2e_status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# e2e_ping_stats FILE: "TRANSMITTED RECEIVED" from the summary line of a ping log.
e2e_ping_stats() {
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$1"
}

# e2e_sanitized: true if $HTTUN_BIN is an ASan build (its memory figures run several
# times higher: shadow memory, quarantine), so memory bounds can be scaled for it.
e2e_sanitized() {
	# Not "ldd | grep -q": with pipefail, grep quitting early can fail the pipeline.
	case "$(ldd "$HTTUN_BIN" 2>/dev/null)" in
	*libasan*) return 0 ;;
	*) return 1 ;;
	esac
}
