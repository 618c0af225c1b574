#!/bin/bash
# The demo (README "Try it"): installs missing Debian packages, builds httun, and shows
# what this version can do. The IP tunnel between two network namespaces joins this demo
# when `httun server` and `httun client` land; until then it makes a key, loads it the
# way the server will, and runs the core self-checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.cmake.log 2>&1 ||
	{ cat build.cmake.log; exit 1; }
cmake --build build -j"$(nproc)"
bin=build/cmd/httun
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "\$ httun --version"
"$bin" --version
echo "\$ httun genkey > key && chmod 600 key"
(umask 077 && "$bin" genkey >"$tmp/key")
echo "key: $(wc -c <"$tmp/key") bytes of base64 (32 random bytes)"
echo
echo "==== core self-checks (sealed frames, handshake, replay window, codecs, config)"
ctest --test-dir build -L unit --output-on-failure
