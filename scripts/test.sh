#!/bin/bash
# The whole test suite, as CI runs it (README "Run the tests"): installs missing Debian
# packages, then
#   1. checks formatting,
#   2. builds with -Werror and runs every CTest test (unit, CLI, end-to-end in netns),
#   3. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs them again,
#   4. builds the libFuzzer harnesses with clang and runs each briefly on its corpus.
# Build trees go to build/, build-asan/ and build-fuzz/. Needs root (packages, netns, TUN).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${HTTUN_FUZZ_SECONDS:-15}

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
scripts/deps.sh test

step "format check"
scripts/format-check.sh

run_suite() { # run_suite BUILD_DIR CMAKE_ARGS...
	local dir=$1
	shift
	cmake -S . -B "$dir" -DHTTUN_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 ||
		{ cat "$dir.cmake.log"; return 1; }
	cmake --build "$dir" -j"$jobs"
	# Unit tests in parallel; end-to-end tests one at a time (they measure and share CPU).
	ctest --test-dir "$dir" --output-on-failure -j"$jobs" -LE e2e
	ctest --test-dir "$dir" --output-on-failure -L e2e
}

step "build (-Werror) and tests"
mkdir -p build build-asan build-fuzz
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "sanitizer build (ASan + UBSan) and tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DHTTUN_SANITIZE=ON

step "fuzzers (${fuzz_seconds}s each)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DHTTUN_FUZZ=ON -DHTTUN_TESTS=OFF \
	-DHTTUN_FUZZ_SECONDS="$fuzz_seconds" >build-fuzz.cmake.log 2>&1 ||
	{ cat build-fuzz.cmake.log; exit 1; }
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz

step "all test stages passed"
