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

HTTUN_BIN=${HTTUN_BIN:?HTTUN_BIN must name the httun binary}
E2E_NS1=httun-test-$$-1
E2E_NS2=httun-test-$$-2
E2E_TMP=$(mktemp -d /tmp/httun-e2e.XXXXXX)
E2E_PIDS=()
E2E_NAMESPACES=()
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

e2e_cleanup() {
	local rc=$? pid ns
	set +e
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		# Give each process a moment to remove its devices and routes, then insist.
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${E2E_NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for ns in "${E2E_NAMESPACES[@]}"; do
		if ip netns list | grep -qw "$ns"; then
			echo "FAIL: namespace $ns left behind"
			rc=1
		fi
	done
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
	ip netns add "$1"
	E2E_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

e2e_two_hosts() {
	e2e_ns_add "$E2E_NS1"
	e2e_ns_add "$E2E_NS2"
	ip link add veth1 netns "$E2E_NS1" type veth peer name veth2 netns "$E2E_NS2"
	n1 ip addr add 198.18.0.1/24 dev veth1
	n2 ip addr add 198.18.0.2/24 dev veth2
	n1 ip addr add fd00:e2e::1/64 dev veth1 nodad
	n2 ip addr add fd00:e2e::2/64 dev veth2 nodad
	n1 ip link set veth1 up
	n2 ip link set veth2 up
}

# e2e_bg NAME NS COMMAND...: start COMMAND in namespace NS in the background, output
# in $E2E_TMP/NAME.log; its PID goes to E2E_PIDS and to $E2E_LAST_PID.
e2e_bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$E2E_TMP/$name.log" 2>&1 &
	E2E_LAST_PID=$!
	E2E_PIDS+=("$E2E_LAST_PID")
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
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
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
