#!/bin/bash
# Fail when a C file differs from what clang-format (and .clang-format) makes of it, or
# an #include points against the folder arrows (scripts/lint-arrows.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "format: $f differs from clang-format; fix with: clang-format -i $f"
		bad=1
	fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find cmd core transport tun fcgi test bench -name '*.[ch]')
[ $bad = 0 ] && echo "format: all C files match .clang-format"
scripts/lint-arrows.sh || bad=1
exit $bad
