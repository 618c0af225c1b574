#!/bin/bash
# The examples of docs/IP-TUNNEL.md, run as written (placeholders filled in). The config
# files, the nftables file and the systemd units are taken from the document itself;
# the commands are repeated here, so keep the two in step. Three namespaces: the client, the server, and "the internet" behind the server:
#
#   n2 (client)              n1 (server)                       n3 (internet)
#   veth2 198.18.0.2 ------- veth1 198.18.0.1
#                            wan0 198.19.0.1 fd00:3::1 ------- wan1 198.19.0.2 fd00:3::2
#   httun0 198.18.1.2 <====> httun0 198.18.1.1
#          fd00:1::2                fd00:1::1
#
# n3 has no route back to the tunnel networks, so the client reaches it only through the
# server's forwarding and masquerade (the guide's sysctl and nftables file). Also: the
# config files of the guide, --route, the systemd-style start (bounded capabilities,
# --user), and the error messages its troubleshooting section quotes.
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v nft >/dev/null || e2e_skip "nft is missing: apt-get install nftables"
command -v setpriv >/dev/null || e2e_skip "setpriv (util-linux) is missing"
GUIDE="$(dirname "$0")/../../docs/IP-TUNNEL.md"
# guide_block FIRST-LINE: the indented block of the guide that starts with FIRST-LINE,
# up to the next prompt (`server# `, `client# `, `# systemctl`), without the indent.
guide_block() {
	python3 - "$GUIDE" "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
start = lines.index("    " + sys.argv[2])
out = [lines[start]]
for l in lines[start + 1:]:
	if re.match(r"^    (server|client)# |^    # systemctl", l) or (l and not l.startswith("    ")):
		break
	out.append(l)
while out and not out[-1].strip():
	out.pop()
print("\n".join(x[4:] for x in out))
PY
}
e2e_two_hosts
E2E_NS3=httun-test-$$-3
e2e_ns_add "$E2E_NS3"
n3() { ip netns exec "$E2E_NS3" "$@"; }
ip link add wan0 netns "$E2E_NS1" type veth peer name wan1 netns "$E2E_NS3"
n1 ip addr add 198.19.0.1/24 dev wan0
n1 ip addr add fd00:3::1/64 dev wan0 nodad
n3 ip addr add 198.19.0.2/24 dev wan1
n3 ip addr add fd00:3::2/64 dev wan1 nodad
n1 ip link set wan0 up
n3 ip link set wan1 up

d=$E2E_TMP
mkdir -p "$d/etc/httun" "$d/client"

# Keys: the guide's commands.
(cd "$d/etc/httun" && umask 077 && "$HTTUN_BIN" genkey >office.key)
check "genkey under umask 077 makes a mode 600 key" test "$(stat -c %a "$d/etc/httun/office.key")" = 600
cp "$d/etc/httun/office.key" "$d/client/office.key"
chmod 644 "$d/client/office.key"
rc=0
out=$("$HTTUN_BIN" client --key-file "$d/client/office.key" --tun http://198.18.0.1:8080/ 2>&1) || rc=$?
check "a key readable by others: exit 2" test $rc = 2
check "a key readable by others: says chmod 600" grep -q "chmod 600" <<<"$out"
echo "$out"
chmod 600 "$d/client/office.key"

guide_block "# /etc/httun/server.conf" | sed 's/^user = httun$/user = nobody/' \
	>"$d/etc/httun/server.conf"
guide_block "# /etc/httun/client.conf" | sed 's/server.example.org/198.18.0.1/' |
	sed 's/^user = httun$/user = nobody/' >"$d/client/client.conf"
check "the guide's server.conf names user httun (replaced by nobody here)" \
	grep -qx "user = nobody" "$d/etc/httun/server.conf"
check "the guide's client.conf has its url" grep -qx "url = http://198.18.0.1:8080/" "$d/client/client.conf"
check "the guide's client.conf names user httun (replaced by nobody here)" \
	grep -qx "user = nobody" "$d/client/client.conf"
chmod 600 "$d/etc/httun/server.conf" "$d/client/client.conf"

# The server as the systemd unit starts it: root, but only these capabilities.
e2e_bg server "$E2E_NS1" setpriv \
	--bounding-set -all,+net_admin,+net_bind_service,+setuid,+setgid \
	"$HTTUN_BIN" server -c "$d/etc/httun/server.conf"
SERVER_PID=$E2E_LAST_PID
check "server up from its config file" e2e_wait_for 10 n1 ip link show httun0
e2e_wait_for 5 grep -q "running as user nobody" "$d/server.log"
check "server dropped to --user nobody" test "$(ps -o user= -p "$SERVER_PID")" = nobody

e2e_bg client "$E2E_NS2" setpriv --bounding-set -all,+net_admin,+setuid,+setgid \
	"$HTTUN_BIN" client -c "$d/client/client.conf"
CLIENT_PID=$E2E_LAST_PID
check "client from its config file: ping the server's tunnel address" \
	e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1
check "client dropped to user nobody" test "$(ps -o user= -p "$CLIENT_PID")" = nobody
check "client: IPv6 through the tunnel" e2e_wait_for 5 n2 ping -6 -c 1 -W 1 fd00:1::1
check "client: --route put 198.19.0.0/16 into the tunnel" \
	bash -c "ip -n $E2E_NS2 route show 198.19.0.0/16 | grep -q 'dev httun0'"
check "no forwarding yet: the internet is not reachable" \
	bash -c "! ip netns exec $E2E_NS2 ping -c 1 -W 1 198.19.0.2 >/dev/null"

# Forwarding and NAT on the server: the guide's commands and nft file.
n1 sysctl -q -w net.ipv4.ip_forward=1
n1 sysctl -q -w net.ipv6.conf.all.forwarding=1
guide_block "#!/usr/sbin/nft -f" | sed 's/^define WAN = "eth0"/define WAN = "wan0"/' \
	>"$d/etc/httun/nat.nft"
check "the guide's nft file has WAN defined" grep -q '^define WAN = "wan0"' "$d/etc/httun/nat.nft"
check "nft -c accepts the guide's file" n1 nft -c -f "$d/etc/httun/nat.nft"
check "nft loads it" n1 nft -f "$d/etc/httun/nat.nft"
check "nft loads it a second time (reload)" n1 nft -f "$d/etc/httun/nat.nft"
# n3 has no route to the tunnel networks: an answer proves the masquerade.
check "through the server to the internet, IPv4" n2 ping -c 2 -i 0.2 -W 1 198.19.0.2
check "through the server to the internet, IPv6" n2 ping -6 -c 2 -i 0.2 -W 1 fd00:3::2
check "MSS clamp rule inserts" n1 nft insert rule inet httun forward \
	tcp flags syn tcp option maxseg size set rt mtu
check "still through to the internet with the clamp" n2 ping -c 1 -W 1 198.19.0.2
printf 'flush ruleset\ninclude "%s"\n' "$d/etc/httun/nat.nft" >"$d/nftables.conf"
check "the file can be included from nftables.conf" n1 nft -c -f "$d/nftables.conf"
printf 'net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n' >"$d/90-httun.conf"
check "the sysctl.d file is valid" n1 sysctl -q -p "$d/90-httun.conf"
check "nothing from the internet gets into the tunnel" \
	bash -c "ip netns exec $E2E_NS3 ip route add 198.18.1.0/24 via 198.19.0.1 &&
		! ip netns exec $E2E_NS3 ping -c 1 -W 1 198.18.1.2 >/dev/null"

# The whole internet through the tunnel: two /1 routes per family, the guide's way.
kill -TERM "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null || true
e2e_bg client2 "$E2E_NS2" "$HTTUN_BIN" client --key-file "$d/client/office.key" --tun \
	--tun-name httun0 --tun-address 198.18.1.2/24 --tun-address fd00:1::2/64 \
	--route 0.0.0.0/1 --route 128.0.0.0/1 --route ::/1 --route 8000::/1 \
	http://198.18.0.1:8080/
CLIENT_PID=$E2E_LAST_PID
check "default-route client: the internet through the tunnel, IPv4" \
	e2e_wait_for 10 n2 ping -c 1 -W 1 198.19.0.2
check "default-route client: IPv6" e2e_wait_for 5 n2 ping -6 -c 1 -W 1 fd00:3::2
check "default-route client: the server itself stays outside the tunnel" \
	bash -c "ip -n $E2E_NS2 route get 198.18.0.1 | grep -q 'dev veth2'"

# The systemd units: systemd-analyze prints nothing for a unit it fully understands.
if command -v systemd-analyze >/dev/null; then
	for u in httun-server httun-client; do
		guide_block "# /etc/systemd/system/$u.service" | tail -n +2 |
			sed "s|/usr/local/bin/httun|$HTTUN_BIN|" >"$d/$u.service"
		check "$u.service: systemd-analyze verify is silent" \
			bash -c "out=\$(systemd-analyze verify --man=no '$d/$u.service' 2>&1) && [ -z \"\$out\" ] && grep -q ExecStart '$d/$u.service'"
	done
fi

# Troubleshooting messages the guide quotes.
"$HTTUN_BIN" genkey >"$d/wrong.key"
chmod 600 "$d/wrong.key"
e2e_bg wrong "$E2E_NS2" "$HTTUN_BIN" client --key-file "$d/wrong.key" --tun \
	--tun-name httun9 http://198.18.0.1:8080/
WRONG_PID=$E2E_LAST_PID
check "wrong key: the server says so" \
	e2e_wait_for 10 grep -q "handshake for no channel of this server (wrong key?)" "$d/server.log"
kill -TERM "$WRONG_PID"
wait "$WRONG_PID" 2>/dev/null || true
echo "wrong-key client log:"
cat "$d/wrong.log"
rc=0
out=$("$HTTUN_BIN" client --key-file "$d/client/office.key" --tun https://198.18.0.1/ 2>&1) || rc=$?
echo "$out"
check "https:// is refused with exit 2" test $rc = 2
check "https:// refusal says why" grep -q "https is not supported" <<<"$out"

# Server restart: the client comes back by itself.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
e2e_bg server2 "$E2E_NS1" "$HTTUN_BIN" server -c "$d/etc/httun/server.conf"
SERVER_PID=$E2E_LAST_PID
check "after a server restart the client recovers" e2e_wait_for 30 n2 ping -c 1 -W 1 198.18.1.1
check "client logged it" grep -q "handshaking again" "$d/client2.log"

# Logging: HTTUN_LOG and -v.
check "HTTUN_LOG=bogus warns" bash -c "HTTUN_LOG=bogus '$HTTUN_BIN' genkey 2>&1 >/dev/null | grep -q 'is not debug'"
e2e_done
