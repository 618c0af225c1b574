#!/bin/bash
# Install the Debian packages httun needs that are missing, and nothing else.
#   scripts/deps.sh build   compiler, CMake and libraries
#   scripts/deps.sh test    build + what the test suite runs (cmocka, clang for fuzzing,
#                           iproute2 and iperf3 for network-namespace tests, ...)
#   scripts/deps.sh bench   what bench/ runs and measures against (openvpn, httptunnel,
#                           lighttpd, valgrind, ...; bench/run.sh calls this)
# Needs root (apt-get). Prints what it installs.
set -euo pipefail

build=(cmake gcc make pkg-config libsodium-dev libuv1-dev node-llhttp libssl-dev libmnl-dev)
test=(libcmocka-dev clang libclang-rt-14-dev clang-format iproute2 iperf3 procps curl
	openvpn httptunnel iputils-ping openssl nftables
	lighttpd nginx apache2 libapache2-mod-fcgid
	python3)
bench=(gcc libsodium-dev pkg-config iproute2 iperf3 iputils-ping openssl openvpn httptunnel
	lighttpd python3 procps valgrind binutils)

case "${1:-build}" in
build) want=("${build[@]}") ;;
test) want=("${build[@]}" "${test[@]}") ;;
bench) want=("${bench[@]}") ;;
*)
	echo "usage: $0 build|test|bench" >&2
	exit 2
	;;
esac

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "httun: these Debian packages are missing: ${missing[*]}" >&2
	echo "httun: run this script as root to install them" >&2
	exit 1
fi
echo "httun: installing from Debian: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests and the bench start their own web servers inside network namespaces; keep
# the packages' own services (nginx, apache2, lighttpd on port 80) from starting during
# the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
