#!/bin/bash
# Two channels from one config file: each its own key and TUN, each client reaches only
# its own channel's network.
#
#   n1: httun server -c server.conf                n2: two clients
#     [channel alpha] tun 198.18.10.1/24  <======>   client alpha: tun 198.18.10.2/24
#     [channel beta]  tun 198.18.11.1/24  <======>   client beta:  tun 198.18.11.2/24
#   veth 198.18.0.1 ------------------------------- veth 198.18.0.2
source "$(dirname "$0")/lib.sh"
e2e_need_root
e2e_two_hosts

umask 077
for c in alpha beta; do
	"$HTTUN_BIN" genkey >"$E2E_TMP/$c.key"
done
cat >"$E2E_TMP/server.conf" <<CONF
# two channels, one listener
[server]
listen = 198.18.0.1:8080
path = /tunnel/

[channel alpha]
key-file = alpha.key
tun = yes
tun-name = ht-alpha
tun-address = 198.18.10.1/24

[channel beta]
key-file = beta.key
tun = yes
tun-name = ht-beta
tun-address = 198.18.11.1/24
CONF
for c in alpha beta; do
	net=$([ $c = alpha ] && echo 10 || echo 11)
	cat >"$E2E_TMP/$c.conf" <<CONF
[client]
url = http://198.18.0.1:8080/tunnel/

[channel $c]
key-file = $c.key
tun = yes
tun-name = hc-$c
tun-address = 198.18.$net.2/24
CONF
done

e2e_bg server "$E2E_NS1" "$HTTUN_BIN" server -c "$E2E_TMP/server.conf"
e2e_wait_for 10 n1 ip link show ht-beta
e2e_bg alpha "$E2E_NS2" "$HTTUN_BIN" client -c "$E2E_TMP/alpha.conf"
e2e_bg beta "$E2E_NS2" "$HTTUN_BIN" client -c "$E2E_TMP/beta.conf"

check "channel alpha carries its network" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.10.1
check "channel beta carries its network" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.11.1
check "server logged both sessions" bash -c "grep -q 'channel alpha: session established' '$E2E_TMP/server.log' && grep -q 'channel beta: session established' '$E2E_TMP/server.log'"
# Packets of one channel never come out of the other's device: alpha's client has no
# route to beta's network, and beta's server-side device sees none of alpha's pings.
before=$(n1 cat /sys/class/net/ht-beta/statistics/rx_packets 2>/dev/null || echo x)
n2 ping -c 5 -i 0.05 -W 1 198.18.10.1 >/dev/null
after=$(n1 cat /sys/class/net/ht-beta/statistics/rx_packets 2>/dev/null || echo y)
check "alpha's traffic does not reach beta's device" test "$before" = "$after"
check "the URL path is enforced: other paths get 404" bash -c \
	"ip netns exec $E2E_NS2 curl -s -o /dev/null -w '%{http_code}' http://198.18.0.1:8080/other/AAECAwQFBgcICQoLDA0ODx | grep -qx 404"

e2e_done
