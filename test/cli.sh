#!/bin/bash
# The command-line contract of PRODUCT.md that needs no network: exit codes, --help,
# --version, genkey output, key file checks.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0

expect() { # expect EXITCODE DESCRIPTION -- command...
	local want=$1 what=$2 got
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then
		pass=$((pass + 1))
	else
		echo "FAIL: $what: exit $got, want $want"
		sed 's/^/  stdout: /' "$tmp/out"
		sed 's/^/  stderr: /' "$tmp/err"
		fail=$((fail + 1))
	fi
}
contains() { # contains FILE PATTERN DESCRIPTION
	if grep -q -- "$2" "$1"; then
		pass=$((pass + 1))
	else
		echo "FAIL: $3: '$2' not in output"
		sed 's/^/  /' "$1"
		fail=$((fail + 1))
	fi
}

expect 0 "--version" -- "$bin" --version
contains "$tmp/out" "^httun [0-9]" "--version prints the version"
expect 0 "--help" -- "$bin" --help
cp "$tmp/out" "$tmp/help"
for c in server client fcgi genkey; do
	contains "$tmp/help" "^  $c " "--help lists $c"
	expect 0 "$c --help" -- "$bin" $c --help
	contains "$tmp/out" "Usage: httun $c" "$c --help prints usage"
done
expect 2 "no arguments" -- "$bin"
expect 2 "unknown command" -- "$bin" frobnicate
contains "$tmp/err" "frobnicate" "unknown command is named"
expect 2 "genkey with an argument" -- "$bin" genkey extra
expect 2 "genkey with an unknown flag" -- "$bin" genkey --nope

expect 0 "genkey" -- "$bin" genkey
if [ "$(wc -l <"$tmp/out")" = 1 ] && grep -qE '^[A-Za-z0-9+/]{43}=$' "$tmp/out" &&
	[ "$(base64 -d <"$tmp/out" | wc -c)" = 32 ]; then
	pass=$((pass + 1))
else
	echo "FAIL: genkey output is not one line of base64 of 32 bytes"; fail=$((fail + 1))
fi
cp "$tmp/out" "$tmp/k1"
expect 0 "genkey again" -- "$bin" genkey
if cmp -s "$tmp/out" "$tmp/k1"; then
	echo "FAIL: two genkey runs printed the same key"; fail=$((fail + 1))
else
	pass=$((pass + 1))
fi

# A channel must carry something; -L and --l7-allow are accepted and checked.
(umask 077 && "$bin" genkey >"$tmp/key")
expect 2 "client with neither --tun nor -L" -- "$bin" client --key-file "$tmp/key" http://127.0.0.1:9/
contains "$tmp/err" "carries nothing.*forwards (-L)" "the client says what is missing"
expect 2 "server with neither --tun nor --l7-allow" -- \
	"$bin" server --listen 127.0.0.1:9 --key-file "$tmp/key"
contains "$tmp/err" "carries nothing.*--l7-allow" "the server says what is missing"
expect 2 "-L with a bad target" -- "$bin" client --key-file "$tmp/key" -L 8022:host http://127.0.0.1:9/
expect 2 "--l7-allow with host bits set" -- \
	"$bin" server --listen 127.0.0.1:9 --key-file "$tmp/key" --l7-allow 198.18.1.5/24
contains "$tmp/err" "host bits" "the rule error says why"
expect 0 "server --help" -- "$bin" server --help
contains "$tmp/out" "l7-allow RULE" "server --help describes --l7-allow"
contains "$tmp/out" "allowed-ips CIDR" "server --help describes --allowed-ips"
# Source addresses: a tun channel must allow some; allowed-ips is checked and the server's.
expect 2 "server --tun with no source allowed" -- \
	"$bin" server --listen 127.0.0.1:9 --key-file "$tmp/key" --tun
contains "$tmp/err" "no source address.*--allowed-ips" "the server says what is missing"
expect 2 "--allowed-ips with host bits set" -- "$bin" server --listen 127.0.0.1:9 \
	--key-file "$tmp/key" --tun --tun-address 198.18.1.1/24 --allowed-ips 198.18.1.5/24
contains "$tmp/err" "--allowed-ips '198.18.1.5/24': host bits are set" "names flag and value"
expect 2 "--allowed-ips without --tun" -- \
	"$bin" server --listen 127.0.0.1:9 --key-file "$tmp/key" --allowed-ips 198.18.1.0/24
contains "$tmp/err" "--allowed-ips needs --tun" "allowed-ips is for IP channels"
expect 2 "--allowed-ips on the client" -- "$bin" client --key-file "$tmp/key" --tun \
	--allowed-ips 198.18.1.0/24 http://127.0.0.1:9/
if grep -q "l7-allow.*not in this version" "$tmp/out"; then
	echo "FAIL: server --help still says L7 is missing"; fail=$((fail + 1))
else
	pass=$((pass + 1))
fi
expect 0 "client --help" -- "$bin" client --help
contains "$tmp/out" "forward \[BIND:\]PORT:HOST:PORT" "client --help describes -L"
contains "$tmp/out" "0: off); cuts latency" "client --help names busy-poll's default"
expect 2 "--busy-poll out of range" -- \
	"$bin" client --key-file "$tmp/key" -L 8022:h:22 --busy-poll 1001 http://127.0.0.1:9/
contains "$tmp/err" "--busy-poll '1001': must be 0..1000" "the busy-poll error names the range"
expect 2 "--busy-poll on the server" -- \
	"$bin" server --listen 127.0.0.1:9 --key-file "$tmp/key" --tun --busy-poll 50
contains "$tmp/err" "busy-poll" "the server names the option it refuses"
# httun fcgi: stdin must be a listening socket unless --listen names one.
expect 2 "fcgi with stdin not a socket" -- "$bin" fcgi </dev/null
contains "$tmp/err" "stdin is not a listening socket" "fcgi says why it cannot run by hand"
expect 2 "fcgi --listen without unix:" -- "$bin" fcgi --listen 127.0.0.1:9000
contains "$tmp/err" "unix:/absolute/path" "fcgi --listen says what it wants"
expect 2 "fcgi --server-socket relative" -- "$bin" fcgi --server-socket run/fcgi.sock
expect 2 "fcgi with an argument" -- "$bin" fcgi extra
expect 0 "fcgi --help" -- "$bin" fcgi --help
contains "$tmp/out" "/run/httun/fcgi.sock" "fcgi --help names the default relay socket"
expect 2 "server --fcgi-user that is no user name" -- "$bin" server --fcgi-socket /run/x.sock \
	--fcgi-user "-x" --key-file /nonexistent --tun
contains "$tmp/err" "fcgi-user" "server names the bad fcgi-user"

# --user: an unknown user is a config error (exit 2) before anything is set up.
expect 2 "client --user with an unknown user" -- "$bin" client --key-file "$tmp/key" \
	-L 8022:h:22 --user httun-no-such-user http://127.0.0.1:9/
contains "$tmp/err" "user httun-no-such-user: no such user" "the client names the unknown user"
expect 2 "server --user with an unknown user" -- "$bin" server --listen 127.0.0.1:9 \
	--key-file "$tmp/key" --l7-allow 198.18.0.0/15:22 --user httun-no-such-user
contains "$tmp/err" "user httun-no-such-user: no such user" "the server names the unknown user"
printf '[channel a]\nuser = x\n' >"$tmp/chan-user.conf"
expect 2 "user in a channel section" -- "$bin" client -c "$tmp/chan-user.conf" http://127.0.0.1:9/
contains "$tmp/err" "'user' belongs in \[server\] or \[client\]" "user's sections are named"

# A server that keeps root says so; one that drops it does not. On a Unix socket in $tmp,
# so no port is needed; each runs until its start-up lines are out.
server_start_log() { # server_start_log LOG LINE [FLAGS...]: run until LINE is logged
	local log=$1 line=$2 pid
	shift 2
	"$bin" server --fcgi-listen "$tmp/web.sock" --key-file "$tmp/key" \
		--l7-allow 198.18.0.0/15:22 "$@" 2>"$log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "$line" "$log" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
}
if [ "$(id -u)" = 0 ]; then
	server_start_log "$tmp/root.log" "serving FastCGI"
	contains "$tmp/root.log" "warning: running as root.*--user USER" "a server kept root warns"
	if id nobody >/dev/null 2>&1; then
		server_start_log "$tmp/nobody.log" "running as user" --user nobody
		contains "$tmp/nobody.log" "running as user nobody" "--user nobody drops root"
		if grep -q "running as root" "$tmp/nobody.log"; then
			echo "FAIL: a server that dropped root warns about root"; fail=$((fail + 1))
		else
			pass=$((pass + 1))
		fi
	else
		echo "SKIPPED: --user nobody: no user nobody on this system"
	fi
else
	server_start_log "$tmp/user.log" "serving FastCGI"
	if grep -q "running as root" "$tmp/user.log"; then
		echo "FAIL: a server not run as root warns about root"; fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
