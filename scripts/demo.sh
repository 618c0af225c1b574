#!/bin/bash
# The demo (README "Try it"): installs the Debian packages that are missing, builds httun
# into build/, and runs a real IP tunnel between two network namespaces on this machine:
#
#   httun-demo-PID-server                              httun-demo-PID-client
#   veth-s 198.18.0.1/24  --------- veth ---------  veth-c 198.18.0.2/24
#   httun server --listen 198.18.0.1:8080  <== HTTP ==  httun client http://198.18.0.1:8080/
#   TUN httun-s 198.18.1.1/24 fd00:1::1/64            TUN httun-c 198.18.1.2/24 fd00:1::2/64
#
# It pings through the tunnel (IPv4 and IPv6), measures iperf3 TCP throughput both ways
# through the tunnel and once over the bare veth for comparison, prints a summary, and
# removes everything it made (its processes by PID, its two namespaces) on exit, also on
# failure or Ctrl-C. Exits non-zero if the tunnel does not come up.
# Needs root (packages, namespaces, TUN devices). DEMO_SECONDS sets each iperf3 run (3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${DEMO_SECONDS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root: it installs packages and creates network namespaces" >&2
	exit 1
fi
scripts/deps.sh test
echo "==== building httun into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.cmake.log 2>&1 ||
	{
		cat build.cmake.log
		exit 1
	}
cmake --build build -j"$(nproc)" --target httun >build/make.log 2>&1 ||
	{
		cat build/make.log
		exit 1
	}
[ -c /dev/net/tun ] || {
	echo "demo: /dev/net/tun is missing: this kernel or container has no TUN support" >&2
	exit 1
}
# `httun` below is the binary just built, so the commands read as a user types them.
export PATH="$root/build/cmd:$PATH"

ns_s=httun-demo-$$-server
ns_c=httun-demo-$$-client
tmp=$(mktemp -d /tmp/httun-demo.XXXXXX)
# Namespaces, the veth, background processes and their cleanup.
source "$root/scripts/netns.sh"
NETNS_GRACE_TENTHS=30

cleanup() {
	local rc=$? made=${#NETNS_NAMESPACES[@]} removed="${NETNS_NAMESPACES[*]}"
	set +e
	trap - INT TERM
	netns_cleanup || rc=1
	if [ "$rc" != 0 ]; then
		for f in "$tmp"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f" .log) log (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	rm -rf "$tmp"
	[ "$made" = 0 ] || echo "==== removed namespaces $removed and everything in them"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n==== %s\n' "$*"; }
# show NS COMMAND...: a command at the prompt of the namespace it runs in (the host: none).
show() {
	local ns=$1
	shift
	case $ns in
	"$ns_s") echo "server# $*" ;;
	"$ns_c") echo "client# $*" ;;
	*) echo "# $*" ;;
	esac
}
NETNS_SHOW=show
# on WHO COMMAND...: show COMMAND at WHO's prompt, then run it in WHO's namespace.
on() {
	local who=$1
	shift
	netns_run "httun-demo-$$-$who" "$@"
}
# bg WHO NAME COMMAND...: the same, in the background, output in $tmp/NAME.log.
bg() {
	local who=$1 name=$2
	shift 2
	netns_bg "$tmp/$name.log" "httun-demo-$$-$who" "$@"
}
wait_for() { netns_wait_for "$@"; }
mbits() { # mbits FILE: receiver-side Mbit/s of an iperf3 -J result
	python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]
print(round(e["sum_received"]["bits_per_second"] / 1e6))' "$1"
}
# iperf NAME ADDR ARGS...: iperf3 client in the client namespace against ADDR.
iperf() {
	local name=$1 addr=$2
	shift 2
	echo "client# iperf3 -c $addr -t $secs${*:+ $*}"
	ip netns exec "$ns_c" iperf3 -c "$addr" -t "$secs" "$@" -J >"$tmp/$name.json" 2>&1 || {
		cat "$tmp/$name.json"
		return 1
	}
	echo "        $(mbits "$tmp/$name.json") Mbit/s"
}

say "two network namespaces, $ns_s and $ns_c, joined by a veth pair (198.18.0.0/24)"
netns_add "$ns_s"
netns_add "$ns_c"
netns_veth "$ns_s" veth-s 198.18.0.1/24 "$ns_c" veth-c 198.18.0.2/24

cd "$tmp"
say "a channel key, copied to both sides (here they share this directory)"
echo "# httun genkey > key && chmod 600 key"
httun genkey >key && chmod 600 key

say "the tunnel: httun server in $ns_s, httun client in $ns_c"
bg server server httun server --listen 198.18.0.1:8080 --key-file key \
	--tun --tun-name httun-s --tun-address 198.18.1.1/24 --tun-address fd00:1::1/64
wait_for 10 ip -n "$ns_s" link show httun-s || {
	echo "demo: httun server did not come up" >&2
	exit 1
}
bg client client httun client --key-file key \
	--tun --tun-name httun-c --tun-address 198.18.1.2/24 --tun-address fd00:1::2/64 \
	http://198.18.0.1:8080/
if ! wait_for 10 ip netns exec "$ns_c" ping -c 1 -W 1 198.18.1.1; then
	echo "demo: FAILED: no ping through the tunnel within 10 s" >&2
	exit 1
fi
echo "(server log) $(grep -m1 'session established' "$tmp/server.log" || true)"
echo "(client log) $(grep -m1 'connected' "$tmp/client.log" || true)"

say "ping through the tunnel"
on client ping -c 5 -i 0.2 198.18.1.1 | tee "$tmp/ping4.txt"
on client ping -6 -c 3 -i 0.2 fd00:1::1
echo
on client ping -c 5 -i 0.2 198.18.0.1 | tee "$tmp/ping-direct.txt"
echo "(the same over the bare veth, for comparison)"

say "throughput, iperf3 TCP, $secs s each"
bg server iperf3 iperf3 -s
wait_for 5 ip netns exec "$ns_s" sh -c "ss -ltn | grep -q ':5201 '"
echo "through the tunnel, client to server (up):"
iperf up 198.18.1.1
echo "through the tunnel, server to client (down):"
iperf down 198.18.1.1 -R
echo "over the bare veth, no tunnel (for comparison):"
iperf direct 198.18.0.1

rtt() { # rtt FILE: median round trip of a ping output, in ms
	sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
say "summary"
echo "httun IP tunnel between two namespaces: up $(mbits "$tmp/up.json") Mbit/s," \
	"down $(mbits "$tmp/down.json") Mbit/s (bare veth: $(mbits "$tmp/direct.json") Mbit/s);" \
	"ping median $(rtt "$tmp/ping4.txt") ms (bare veth: $(rtt "$tmp/ping-direct.txt") ms)"
cd "$root"
