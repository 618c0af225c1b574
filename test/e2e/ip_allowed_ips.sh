#!/bin/bash
# Source addresses (cryptokey routing, docs/IP-TUNNEL.md "Source addresses"): a key
# holder's packets leave the server only with source addresses its channel allows.
#
#   n1: httun server -c server.conf                 n2: three clients
#     [channel alpha] ht-alpha 198.18.1.1/24  <====>  hc-alpha 198.18.1.2/24
#                              fd00:1::1/64                    fd00:1::2/64
#                     route 198.18.5.0/24, fd00:5::/64 (the admin's, "site behind alpha")
#                                                     + 198.18.5.5, fd00:5::5 (forged)
#     [channel beta]  ht-beta  198.18.2.1/24  <====>  hc-beta  198.18.2.2/24
#     [channel site]  ht-site  198.18.3.1/24  <====>  hc-site  198.18.3.2/24
#                     allowed-ips 198.18.3.0/24,      + 198.18.30.1 (its LAN, allowed)
#                                 198.18.30.0/24; route 198.18.30.0/24
#   veth 198.18.0.1 -------------------------------- veth 198.18.0.2
#
# Checks: alpha's client with an address outside its allowed set (IPv4 and IPv6) pings
# the server from it (ping -I): no answer, although the server has a route back (the old
# behaviour answered); the server logs and counts each drop, and nothing of it reaches
# its device; alpha's client posing as beta's address: no answer; the server's own
# address as source: dropped; normal pings still answered on every channel; a listed
# subnet behind the site client (allowed-ips) gets through. Then the client-side rule:
# allowed-ips in a client's channel is refused, exit 2.
source "$(dirname "$0")/lib.sh"
e2e_need_root
e2e_two_hosts

umask 077
for c in alpha beta site; do
	"$HTTUN_BIN" genkey >"$E2E_TMP/$c.key"
done
cat >"$E2E_TMP/server.conf" <<CONF
[server]
listen = 198.18.0.1:8080

[channel alpha]
key-file = alpha.key
tun = yes
tun-name = ht-alpha
tun-address = 198.18.1.1/24
tun-address = fd00:1::1/64

[channel beta]
key-file = beta.key
tun = yes
tun-name = ht-beta
tun-address = 198.18.2.1/24

[channel site]
key-file = site.key
tun = yes
tun-name = ht-site
tun-address = 198.18.3.1/24
allowed-ips = 198.18.3.0/24
allowed-ips = 198.18.30.0/24
CONF
client_conf() { # NAME NET [EXTRA-LINES]
	printf '[client]\nurl = http://198.18.0.1:8080/\n\n[channel %s]\nkey-file = %s.key\n' "$1" "$1"
	printf 'tun = yes\ntun-name = hc-%s\ntun-address = 198.18.%s.2/24\n%s' "$1" "$2" "${3:-}"
}
client_conf alpha 1 "tun-address = fd00:1::2/64
" >"$E2E_TMP/alpha.conf"
client_conf beta 2 >"$E2E_TMP/beta.conf"
client_conf site 3 >"$E2E_TMP/site.conf"

e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server -c "$E2E_TMP/server.conf"
SERVER_PID=$E2E_LAST_PID
e2e_wait_for 10 n1 ip link show ht-site
for c in alpha beta site; do
	e2e_bg "$c" "$E2E_NS2" "$HTTUN_BIN" client -c "$E2E_TMP/$c.conf"
done
check "alpha: ping answered" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "alpha: IPv6 ping answered" e2e_wait_for 10 n2 ping -6 -c 1 -W 1 fd00:1::1
check "beta: ping answered" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.2.1
check "site: ping answered" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.3.1
check "server logged the default sources" \
	grep -q "channel alpha: client sources 198.18.1.0/24 (tun-address network)" "$E2E_TMP/server.log"
check "server logged the given sources" \
	grep -q "channel site: client sources 198.18.30.0/24$" "$E2E_TMP/server.log"

# The admin routes a "site behind alpha" into alpha's device, so the server could answer
# a packet from 198.18.5.5 (and did, before cryptokey routing): only the source check
# stands between a key holder and that network.
n1 ip route add 198.18.5.0/24 dev ht-alpha
n1 ip -6 route add fd00:5::/64 dev ht-alpha
n2 ip addr add 198.18.5.5/32 dev hc-alpha
n2 ip -6 addr add fd00:5::5/128 dev hc-alpha nodad
rx() { n1 cat /sys/class/net/ht-alpha/statistics/rx_packets; }
# "(N so far)" of the server's last drop line for a channel: its rx_bad_source count.
drops() {
	sed -n "s/.*channel $1: dropped a packet .*(\([0-9]*\) so far)$/\1/p" "$E2E_TMP/server.log" |
		tail -n 1
}

rx0=$(rx)
check "forged IPv4 source: no answer" \
	bash -c "! ip netns exec $E2E_NS2 ping -c 2 -i 0.2 -W 1 -I 198.18.5.5 198.18.1.1 >/dev/null"
check "forged IPv4 source: the server says so" \
	grep -q "channel alpha: dropped a packet from 198.18.5.5/32, not in its allowed-ips" \
	"$E2E_TMP/server.log"
check "forged IPv6 source: no answer" \
	bash -c "! ip netns exec $E2E_NS2 ping -6 -c 2 -i 0.2 -W 1 -I fd00:5::5 fd00:1::1 >/dev/null"
check "forged IPv6 source: the server says so" \
	grep -q "channel alpha: dropped a packet from fd00:5::5/128" "$E2E_TMP/server.log"
# Beta's address is local in n2 too, so the server's answer through beta's tunnel would
# reach this ping (it did, before): alpha's key must not speak for beta's client.
check "alpha posing as beta's client: no answer" \
	bash -c "! ip netns exec $E2E_NS2 ping -c 2 -i 0.2 -W 1 -I 198.18.2.2 198.18.1.1 >/dev/null"
check "alpha posing as beta's client: the server says so" \
	grep -q "channel alpha: dropped a packet from 198.18.2.2/32" "$E2E_TMP/server.log"
n=$(drops alpha)
echo "alpha's drops so far: ${n:-none}; device rx_packets $rx0 -> $(rx)"
check "every forged packet counted (6 pings at least)" test "${n:-0}" -ge 6
check "none of them reached the server's device" test "$(rx)" = "$rx0"

# The server's own address inside the channel's network: allowed by the network, refused
# as the server's (Linux would drop it silently as a martian; httun counts it).
n2 ip addr add 198.18.3.1/32 dev hc-site
check "the server's own address as source: no answer" \
	bash -c "! ip netns exec $E2E_NS2 ping -c 1 -W 1 -I 198.18.3.1 198.18.3.7 >/dev/null"
check "the server's own address as source: dropped and logged" \
	grep -q "channel site: dropped a packet from 198.18.3.1/32" "$E2E_TMP/server.log"
n2 ip addr del 198.18.3.1/32 dev hc-site

check "alpha: still answered after the drops" n2 ping -c 3 -i 0.1 -W 1 198.18.1.1
check "alpha: IPv6 still answered" n2 ping -6 -c 1 -W 1 fd00:1::1
check "beta: still answered" n2 ping -c 1 -W 1 198.18.2.1
check "alpha's session was never lost" \
	test "$(grep -c 'channel alpha: session established' "$E2E_TMP/server.log")" = 1

# Site to site: the network behind the site client is in its allowed-ips.
n1 ip route add 198.18.30.0/24 dev ht-site
n2 ip addr add 198.18.30.1/32 dev hc-site
check "a subnet listed in allowed-ips gets through" \
	n2 ping -c 2 -i 0.2 -W 1 -I 198.18.30.1 198.18.3.1
check "site: no drop for it" bash -c "! grep -q 'channel site: dropped a packet from 198.18.30' '$E2E_TMP/server.log'"

# The client takes what the server sends; allowed-ips is the server's (exit 2).
rc=0
out=$(printf 'allowed-ips = 198.18.1.0/24\n' | cat "$E2E_TMP/alpha.conf" - >"$E2E_TMP/bad.conf" &&
	"$HTTUN_BIN" client -c "$E2E_TMP/bad.conf" 2>&1) || rc=$?
check "allowed-ips on a client: exit 2" test $rc = 2
check "allowed-ips on a client: says it is a server setting" \
	grep -q "allowed-ips in \[channel alpha\] is a server setting" <<<"$out"

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGTERM" test $rc = 0
e2e_done
