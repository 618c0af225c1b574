#!/bin/bash
# Install the Debian packages the benchmark needs that are missing, and nothing else
# (same pattern as scripts/deps.sh). Needs root for apt-get. Prints what it installs.
set -euo pipefail

want=(gcc libsodium-dev pkg-config iproute2 iperf3 iputils-ping openssl openvpn httptunnel
	lighttpd python3 procps valgrind binutils)

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "httun bench: these Debian packages are missing: ${missing[*]}" >&2
	echo "httun bench: run this script as root to install them" >&2
	exit 1
fi
echo "httun bench: installing from Debian: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The bench starts lighttpd itself inside its namespace; keep the package's own service
# (port 80 of this host) from starting during the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
