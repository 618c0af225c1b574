#!/bin/bash
# A key holder's crafted offload header, both directions. Each endpoint runs with
# test/e2e/vnet_rewrite.c preloaded: the first TCP segment with data to or from port 7777
# that it reads from its TUN gets a virtio_net_hdr asking for GSO with gso_size 1, and
# the endpoint seals and sends it as an IP_GSO record. Taken as it is, that record would
# have the receiving kernel cut the segment into one packet per payload byte.
#
#   n1 (server)                            n2 (client)
#   httun server + vnet_rewrite            httun client + vnet_rewrite
#   echo 198.18.1.1:7777  <--- TCP, 1000 bytes, and back ---  python3 client
#   tun httun-s 198.18.1.1/24  <== tunnel ==>  tun httun-c 198.18.1.2/24
#   veth 198.18.0.1 ---------------------------------- veth 198.18.0.2
#
# Checks: the shim rewrote one segment in each endpoint; each receiver refused it,
# counted it and said why (one log line); TCP's retransmission carries the bytes and the
# echo completes; the tunnel stays up (pings answered, both processes running).
source "$(dirname "$0")/lib.sh"
e2e_need_root
command -v python3 >/dev/null || e2e_skip "python3 is missing: scripts/deps.sh test"
[ -f "${HTTUN_VNET_REWRITE:-}" ] ||
	e2e_skip "HTTUN_VNET_REWRITE must name the built vnet_rewrite.so (ctest sets it)"
e2e_two_hosts

SHIM_ENV=(env LD_PRELOAD="$HTTUN_VNET_REWRITE" VNET_REWRITE_PORT=7777)
# A preloaded library comes before the sanitizer runtime, which would refuse to start.
e2e_sanitized && SHIM_ENV+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")

(umask 077 && "$HTTUN_BIN" genkey >"$E2E_TMP/key")
e2e_bg server "$E2E_NS1" "${SHIM_ENV[@]}" "$HTTUN_BIN" server --listen 198.18.0.1:8080 \
	--key-file "$E2E_TMP/key" --tun --tun-name httun-s --tun-address 198.18.1.1/24
SERVER_PID=$E2E_LAST_PID
e2e_wait_for 10 n1 ip link show httun-s
e2e_bg client "$E2E_NS2" "${SHIM_ENV[@]}" "$HTTUN_BIN" client --key-file "$E2E_TMP/key" \
	--tun --tun-name httun-c --tun-address 198.18.1.2/24 http://198.18.0.1:8080/
CLIENT_PID=$E2E_LAST_PID
check "ping through the tunnel" e2e_wait_for 10 n2 ping -c 1 -W 1 198.18.1.1

# One TCP exchange of 1000 bytes: "serve" echoes them back, "send" checks the echo.
ECHO_PY='
import socket, sys
data = bytes(i * 7 % 251 for i in range(1000))
if sys.argv[1] == "serve":
    s = socket.socket()
    s.bind(("198.18.1.1", 7777))
    s.listen(1)
    c, _ = s.accept()
else:
    c = socket.create_connection(("198.18.1.1", 7777), timeout=9)
    c.sendall(data)
got = b""
while len(got) < len(data):
    d = c.recv(4096)
    if not d:
        break
    got += d
if sys.argv[1] == "serve":
    c.sendall(got)
c.close()
sys.exit(got != data)
'
e2e_bg echo "$E2E_NS1" python3 -c "$ECHO_PY" serve
e2e_wait_for 10 n1 sh -c "ss -ltn | grep -q '198.18.1.1:7777 '"
check "1000 bytes echoed through the tunnel" n2 timeout 10 python3 -c "$ECHO_PY" send

check "client's shim made a gso_size 1 segment" \
	grep -q "vnet_rewrite: httun-c: gso_size 1" "$E2E_TMP/client.log"
check "server's shim made a gso_size 1 segment" \
	grep -q "vnet_rewrite: httun-s: gso_size 1" "$E2E_TMP/server.log"
REFUSED="refused a packet to write: GSO segment size below the minimum or not below the payload (1 refused)"
check "server refused and counted the client's record" \
	grep -q "httun-s: $REFUSED" "$E2E_TMP/server.log"
check "client refused and counted the server's record" \
	grep -q "httun-c: $REFUSED" "$E2E_TMP/client.log"
check "nothing else refused" test "$(grep -c "refused a packet" "$E2E_TMP"/{server,client}.log |
	awk -F: '{ n += $2 } END { print n }')" = 2

check "5 pings after, none lost" n2 ping -q -c 5 -i 0.1 -W 1 198.18.1.1
check "server still running" kill -0 "$SERVER_PID"
check "client still running" kill -0 "$CLIENT_PID"
e2e_done
