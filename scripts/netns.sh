#!/bin/bash
# Network namespaces for the scripts that build a small network on this machine (the
# end-to-end tests' test/e2e/lib.sh, the benchmark's bench/lib.sh, scripts/demo.sh);
# sourced, never run. It keeps two registries: the namespaces a script made and the
# processes it started. netns_cleanup, from the script's EXIT trap, stops those processes
# by their PIDs, deletes those namespaces, and says what was left behind. Nothing else on
# the machine is touched.
#
#   netns_add NS                      a namespace, loopback up, registered
#   netns_veth NS1 DEV1 ADDRS1 NS2 DEV2 ADDRS2 [MTU]
#                                     a veth pair between them, addressed, up
#   netns_run NS COMMAND...           COMMAND in NS
#   netns_bg LOG NS COMMAND...        the same in the background, output in LOG; its PID
#                                     is registered and in $NETNS_LAST_PID
#   netns_wait_for SECONDS COMMAND... retry COMMAND every 0.1 s until it succeeds
#   netns_stop                        stop the registered processes (netns_cleanup does)
#   netns_cleanup                     stop them, delete the namespaces, report leftovers
#
# NETNS_SHOW, if set, names a function that is shown every command these functions run,
# as "NS COMMAND..." (NS empty for the host; "&" after a background one) before it runs:
# the demo prints them as a user would type them.

NETNS_PIDS=()       # started processes, stopped by PID
NETNS_NAMESPACES=() # namespaces made, deleted
NETNS_LAST_PID=
# Tenths of a second a stopped process gets to remove its devices before SIGKILL.
NETNS_GRACE_TENTHS=${NETNS_GRACE_TENTHS:-50}

_netns_show() {
	[ -z "${NETNS_SHOW:-}" ] || "$NETNS_SHOW" "$@"
}

netns_add() {
	_netns_show "" ip netns add "$1"
	ip netns add "$1"
	NETNS_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

# netns_veth NS1 DEV1 ADDRS1 NS2 DEV2 ADDRS2 [MTU]: DEV1 in NS1 and DEV2 in NS2, joined;
# each gets its ADDRS (CIDRs separated by spaces; IPv6 ones without duplicate address
# detection, so they are usable at once) and MTU if given, and is set up.
netns_veth() {
	local ns1=$1 dev1=$2 addrs1=$3 ns2=$4 dev2=$5 addrs2=$6 mtu=${7:-}
	_netns_show "" ip link add "$dev1" netns "$ns1" type veth peer name "$dev2" netns "$ns2"
	ip link add "$dev1" netns "$ns1" type veth peer name "$dev2" netns "$ns2"
	_netns_link_up "$ns1" "$dev1" "$addrs1" "$mtu"
	_netns_link_up "$ns2" "$dev2" "$addrs2" "$mtu"
}

_netns_link_up() {
	local ns=$1 dev=$2 mtu=$4 a
	local -a addrs nodad
	read -r -a addrs <<<"$3"
	for a in "${addrs[@]}"; do
		nodad=()
		[[ $a != *:* ]] || nodad=(nodad)
		netns_run "$ns" ip addr add "$a" dev "$dev" "${nodad[@]}"
	done
	if [ -n "$mtu" ]; then
		netns_run "$ns" ip link set "$dev" mtu "$mtu" up
	else
		netns_run "$ns" ip link set "$dev" up
	fi
}

netns_run() {
	local ns=$1
	shift
	_netns_show "$ns" "$@"
	ip netns exec "$ns" "$@"
}

# netns_bg LOG NS COMMAND...: ip netns execs COMMAND, so the PID is COMMAND's own.
netns_bg() {
	local log=$1 ns=$2
	shift 2
	_netns_show "$ns" "$@" "&"
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	NETNS_LAST_PID=$!
	NETNS_PIDS+=("$NETNS_LAST_PID")
}

netns_wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# netns_stop: SIGTERM to every registered process, NETNS_GRACE_TENTHS for each to exit,
# then SIGKILL; all reaped, the registry emptied.
netns_stop() {
	local pid i
	for pid in "${NETNS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${NETNS_PIDS[@]}"; do
		for ((i = 0; i < NETNS_GRACE_TENTHS; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	NETNS_PIDS=()
}

# netns_cleanup: netns_stop, then each registered namespace is deleted. A process still
# in one (started there by the script without netns_bg, or a child of one) is named and
# killed first: the namespace is the script's own. Prints "FAIL: namespace NS left
# behind" for one that is still there afterwards and returns 1; else 0.
netns_cleanup() {
	local ns pid rc=0
	netns_stop
	for ns in "${NETNS_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			echo "netns: killing $pid ($(cat "/proc/$pid/comm" 2>/dev/null)), left in $ns"
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for ns in "${NETNS_NAMESPACES[@]}"; do
		if ip netns list | grep -qw "$ns"; then
			echo "FAIL: namespace $ns left behind"
			rc=1
		fi
	done
	NETNS_NAMESPACES=()
	return $rc
}
