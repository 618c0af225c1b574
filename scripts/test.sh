#!/bin/bash
# The test suite (README "Run the tests").
#
#   scripts/test.sh                    everything, as CI runs it (.ci/run): installs missing
#                                      Debian packages, then
#     1. checks formatting,
#     2. builds with -Werror and runs every CTest test (unit, CLI, end-to-end in netns),
#     3. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs them again,
#     4. builds the libFuzzer harnesses with clang and runs each briefly on its corpus.
#   scripts/test.sh [--asan] REGEX     a subset: installs missing packages, builds with
#                                      -Werror and runs only the CTest tests whose name
#                                      matches REGEX (ctest -R): unit/core/config, e2e/l7,
#                                      unit/ (the cmocka tests), 'e2e/(ip_tunnel|l7_forward)$'.
#                                      No format check, sanitizer or fuzz stage; --asan
#                                      runs the same tests in the sanitizer build too.
#
# Build trees go to build/, build-asan/ and build-fuzz/. Needs root (packages, netns, TUN).
# In a tree already built, ctest alone is faster still: ctest --test-dir build -R NAME,
# -L unit (no root needed) or -L e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${HTTUN_FUZZ_SECONDS:-15}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
asan=0
regex=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--asan) asan=1; shift ;;
	-*) echo "test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*)
		[ -z "$regex" ] || { echo "test.sh: one REGEX only (join them with |)" >&2; exit 2; }
		regex=$1
		shift
		;;
	esac
done
if [ "$asan" = 1 ] && [ -z "$regex" ]; then
	echo "test.sh: --asan goes with a REGEX (the whole suite runs the sanitizer stage anyway)" >&2
	exit 2
fi
subset=() matching=""
[ -z "$regex" ] || { subset=(-R "$regex" --no-tests=ignore); matching=" matching '$regex'"; }

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh test

if [ -z "$regex" ]; then
	step "format check"
	scripts/format-check.sh
fi

run_suite() { # run_suite BUILD_DIR CMAKE_ARGS...
	local dir=$1
	shift
	cmake -S . -B "$dir" -DHTTUN_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 ||
		{ cat "$dir.cmake.log"; return 1; }
	cmake --build "$dir" -j"$jobs"
	if [ -n "$regex" ] &&
		[ "$(ctest --test-dir "$dir" -N -R "$regex" | sed -n 's/^Total Tests: //p')" = 0 ]; then
		echo "test.sh: no test matches '$regex' (ctest --test-dir $dir -N lists them)" >&2
		return 2
	fi
	# Unit tests in parallel; end-to-end tests one at a time (they measure and share CPU).
	ctest --test-dir "$dir" --output-on-failure -j"$jobs" -LE e2e "${subset[@]}"
	ctest --test-dir "$dir" --output-on-failure -L e2e "${subset[@]}"
}

step "build (-Werror) and tests$matching"
mkdir -p build build-asan build-fuzz
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

if [ -z "$regex" ] || [ "$asan" = 1 ]; then
	step "sanitizer build (ASan + UBSan) and tests$matching"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DHTTUN_SANITIZE=ON
fi

if [ -n "$regex" ]; then
	step "tests$matching passed"
	exit 0
fi

step "fuzzers (${fuzz_seconds}s each)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DHTTUN_FUZZ=ON -DHTTUN_TESTS=OFF \
	-DHTTUN_FUZZ_SECONDS="$fuzz_seconds" >build-fuzz.cmake.log 2>&1 ||
	{ cat build-fuzz.cmake.log; exit 1; }
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz

step "all test stages passed"
