#!/bin/bash
# Fail when an #include points against the folder arrows (docs/DESIGN.md "Folder arrows"):
#   cmd -> transport, tun, fcgi -> core; transport, fcgi -> net -> core
# The build enforces the same through each folder library's include directory
# (CMakeLists.txt); this check reads the #include lines, needs no build, says which line
# is wrong, and also refuses "../" includes, which reach past the include directories.
# Tests follow what they test: test/unit/<folder>/ as <folder>; test/fuzz/<folder>_*.c as
# <folder>, other harnesses as core.
set -euo pipefail
cd "$(dirname "$0")/.."

folders="cmd core net transport tun fcgi"
# What each folder may include, itself first (the same as the target_link_libraries
# lines of the folders' CMakeLists.txt).
declare -A allowed=(
	[core]="core"
	[net]="net core"
	[transport]="transport net core"
	[tun]="tun core"
	[fcgi]="fcgi net core"
	[cmd]="cmd transport tun fcgi net core"
)

table=$(for k in "${!allowed[@]}"; do echo "$k=${allowed[$k]}"; done)
# grep prints FILE:LINE:TEXT for every #include; awk finds the folder whose arrows FILE
# follows and checks the included path against it.
find $folders test/unit test/fuzz -name '*.[ch]' | sort |
	xargs grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' |
	awk -v folders="$folders" -v table="$table" '
	BEGIN {
		n = split(table, rows, "\n")
		for (i = 1; i <= n; i++) {
			split(rows[i], kv, "=")
			allowed[kv[1]] = " " kv[2] " "
		}
		folders = " " folders " "
		bad = 0
	}
	{
		file = $0; sub(/:.*/, "", file)
		rest = substr($0, length(file) + 2)
		line = rest; sub(/:.*/, "", line)
		inc = rest; sub(/^[^<"]*[<"]/, "", inc); sub(/[>"].*/, "", inc)
		split(file, part, "/")
		from = part[1]
		product = index(folders, " " from " ") > 0
		if (file == "test/unit/fcgi/fcgi_app.c") {
			# httun fcgi as cmd/fcgi.c composes it: the FastCGI source and the relay
			# client (its test target links httun_transport too; test/CMakeLists.txt).
			from = "cmd"
		} else if (file ~ /^test\/unit\//) {
			from = part[3]
		} else if (file ~ /^test\/fuzz\//) {
			name = part[3]; sub(/[_.].*/, "", name)
			from = index(folders, " " name " ") ? name : "core"
		}
		if (product && inc ~ /\.\./) {
			printf "arrows: %s:%s: #include \"%s\" climbs out of %s/; name the header " \
				"as folder/file.h (docs/DESIGN.md \"Folder arrows\")\n", file, line, inc, from
			bad = 1
			next
		}
		# <...> is a system header (<net/if.h> is not net/): only "..." names ours.
		if (rest ~ /include[[:space:]]*</)
			next
		to = inc; sub(/\/.*/, "", to)
		if (to == inc || !index(folders, " " to " ") || index(allowed[from], " " to " "))
			next
		may = allowed[from]; gsub(/^ | $/, "", may); gsub(/ /, ", ", may)
		printf "arrows: %s:%s: %s/ includes %s, against the arrows; %s/ may include only " \
			"%s (docs/DESIGN.md \"Folder arrows\")\n", file, line, from, inc, from, may
		bad = 1
	}
	END {
		if (!bad)
			print "arrows: every #include follows the folder arrows"
		exit bad
	}'
