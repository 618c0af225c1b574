# Shared by the bench scripts (run.sh, fcgi-ab.sh, latency.sh, footprint.sh, rss.sh;
# sourced, never run): starting processes in the namespaces, waiting for them, CPU
# accounting, the bare relay's build and start, and httun behind lighttpd via FastCGI
# deployed as docs/FASTCGI.md says. Namespaces, veths and processes are scripts/netns.sh's.
# The sourcing script sets $here (bench/), $tmp (its temporary directory) and, for the
# relay and the FastCGI deployment, $A and $B (client and server namespaces); the array
# pids holds the processes that stop_pids and the cleanup stop, by PID. It defines
# functions only, so it is sourced first thing; $prog names the script in error messages.

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/netns.sh"
# The processes start() started: scripts/netns.sh's registry, under the bench's name.
declare -n pids=NETNS_PIDS

# usage: the script's header comment (line 2 up to `set -euo`), without the '# '.
usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# usage_error MESSAGE...: print it after the script's name, exit 2 (a usage error).
usage_error() {
	echo "$prog: $*" >&2
	exit 2
}

# need_root: measurements need namespaces and TUN devices.
need_root() {
	[ "$(id -u)" = 0 ] || { echo "$prog: needs root" >&2; exit 1; }
}

# need_whole WHAT VALUE...: each VALUE a whole number, else a usage error naming WHAT.
need_whole() {
	local what=$1 v
	shift
	for v in "$@"; do
		[[ $v =~ ^[0-9]+$ ]] || usage_error "$what take whole numbers"
	done
}

# stop_pids: stop what start() started (the array pids), by PID, and reap it.
stop_pids() {
	netns_stop
}

# netns_pair MTU: namespaces $A and $B with loopback up, joined by a veth pair (va in $A,
# vb in $B) of that MTU, both ends up; the caller adds the addresses.
netns_pair() {
	netns_add "$A"
	netns_add "$B"
	netns_veth "$A" va "" "$B" vb "" "$1"
}

# bench_cleanup: the EXIT trap of a script that made its namespaces with netns_pair:
# stops its processes (pids, and $iperf_pid if set), deletes $A and $B, removes $tmp.
bench_cleanup() {
	set +e
	[ -z "${iperf_pid:-}" ] || NETNS_PIDS+=("$iperf_pid")
	netns_cleanup
	rm -rf "$tmp"
}

# relay_build OUT: compile bench/relay.c (the bare AES-256-GCM relay) to OUT; its status.
relay_build() {
	local -a sodium
	read -r -a sodium <<<"$(pkg-config --cflags --libs libsodium)"
	cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$1" "$here/relay.c" "${sodium[@]}"
}

# relay_up BINARY DEV KEY [WRAPPER...]: the relay BINARY between $A and $B over the
# carrier 198.18.0.5/.6 (UDP port 7000), TUN devices DEV-a and DEV-b at MTU 1500 with
# 198.18.1.1/30 and .2 (fd00:b1::1 and ::2), its end in $A run under WRAPPER if given
# (footprint.sh's valgrind); the two PIDs go to $relay_pa and $relay_pb.
relay_up() {
	local bin=$1 dev=$2 key=$3
	shift 3
	ip -n "$A" tuntap add dev "$dev-a" mode tun
	ip -n "$B" tuntap add dev "$dev-b" mode tun
	start "$A" "$dev-a" "$@" "$bin" "$dev-a" "$key" 1 198.18.0.5 7000 198.18.0.6 7000
	relay_pa=$started
	start "$B" "$dev-b" "$bin" "$dev-b" "$key" 2 198.18.0.6 7000 198.18.0.5 7000
	relay_pb=$started
	ip -n "$A" link set "$dev-a" mtu 1500 up
	ip -n "$B" link set "$dev-b" mtu 1500 up
	ip -n "$A" addr add 198.18.1.1/30 dev "$dev-a"
	ip -n "$B" addr add 198.18.1.2/30 dev "$dev-b"
	ip -n "$A" addr add fd00:b1::1/64 dev "$dev-a" nodad
	ip -n "$B" addr add fd00:b1::2/64 dev "$dev-b" nodad
}

# median: of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# start NS LOGNAME CMD...: run CMD in namespace NS in the background (ip netns exec
# execs, so $! is CMD itself); its PID goes to $started and to the cleanup list.
start() {
	local ns=$1 name=$2
	shift 2
	netns_bg "$tmp/$name.log" "$ns" "$@"
	started=$NETNS_LAST_PID
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
wait_for() {
	netns_wait_for "$@"
}

# wait_listen SECONDS NS PID ADDR:PORT: until something listens on PORT in NS (ADDR is
# documentation: htc binds every address of its namespace); fails at once if PID exits.
wait_listen() {
	local deadline=$((SECONDS + $1)) ns=$2 pid=$3 addr=$4
	until ip netns exec "$ns" ss -Hltn "sport = :${addr##*:}" | grep -q .; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

alive() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
}

clk_tck=$(getconf CLK_TCK)

cpu_ticks() { # cpu_ticks PID...: utime+stime summed over the processes
	local p total=0 rest
	for p in "$@"; do
		rest=$(sed 's/^.*) //' "/proc/$p/stat")
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# ---- httun behind lighttpd (FastCGI), the deployments of docs/FASTCGI.md: lighttpd in $B
# on the carrier address connects to `httun server --fcgi-listen` (fcgi_mode=direct, the
# default), or spawns `httun fcgi` (mod_fastcgi bin-path, one process), which relays to
# `httun server --fcgi-socket` (fcgi_mode=relay). lighttpd runs in the foreground with its
# config in DIR and drops to www-data as Debian's does; it is stopped by its PID, and
# `httun fcgi` dies with it (it asks for SIGTERM when its parent dies).
fcgi_user=www-data
fcgi_mode=${HTTUN_FCGI_MODE:-direct} # or relay
# Settings added to lighttpd's config, "name = value" each; one that names a setting the
# config has already replaces it (A/B of lighttpd settings in bench/fcgi-ab.sh).
lighttpd_extra=()

# fcgi_deploy BIN KEY DIR NAME ADDR_A ADDR_B LISTEN: server, lighttpd on LISTEN
# (ADDR:PORT in $B) and client, with TUN devices NAME-a / NAME-b addressed ADDR_A/30 and
# ADDR_B/30, logs as $tmp/NAME-*.log. Sets fcgi_pid_client, fcgi_pid_server,
# fcgi_pid_relay (`httun fcgi`; empty when direct), fcgi_pid_lighttpd, and fcgi_pids and
# fcgi_names (the processes on the path and their names, in the same order), and returns
# 0 once a ping crosses the tunnel; otherwise sets fcgi_why and returns 1.
fcgi_deploy() {
	local bin=$1 key=$2 d=$3 name=$4 addr_a=$5 addr_b=$6 listen=$7 pb pl pf pa line setting
	local sock sockflag fastcgi
	fcgi_pids=""
	fcgi_names=""
	fcgi_pid_client="" fcgi_pid_server="" fcgi_pid_relay="" fcgi_pid_lighttpd=""
	fcgi_why=""
	case $fcgi_mode in
	direct | relay) ;;
	*) fcgi_why="failed: fcgi_mode $fcgi_mode (direct or relay)"; return 1 ;;
	esac
	if ! id "$fcgi_user" >/dev/null 2>&1; then
		fcgi_why="failed: no user $fcgi_user for lighttpd"
		return 1
	fi
	# lighttpd starts `httun fcgi` as $fcgi_user by this path, from its own directory.
	bin=$(realpath "$bin")
	if ! runuser -u "$fcgi_user" -- test -x "$bin"; then
		fcgi_why="failed: $fcgi_user cannot run $bin (lighttpd starts httun fcgi as"
		fcgi_why+=" $fcgi_user; build where it can reach, e.g. not under /root)"
		return 1
	fi
	# lighttpd and `httun fcgi` run as www-data: they walk into $tmp (search only, no
	# listing) to reach their sockets; the keys stay mode 600.
	chmod 711 "$tmp"
	mkdir -p "$d/www" "$d/websock"
	chmod 755 "$d" "$d/www"
	chown "$fcgi_user:" "$d/websock"
	echo "httun bench" >"$d/www/index.html"
	touch "$d/lighttpd-error.log"
	chown "$fcgi_user:" "$d/lighttpd-error.log"
	# The server creates $d/run (0750, group www-data) and its socket (0660): the one
	# lighttpd connects to (direct), or the relay socket that `httun fcgi` connects to.
	if [ "$fcgi_mode" = direct ]; then
		sock=$d/run/web.sock sockflag=--fcgi-listen
		fastcgi="\"socket\" => \"$sock\","
	else
		sock=$d/run/fcgi.sock sockflag=--fcgi-socket
		fastcgi="\"bin-path\" => \"$bin fcgi --server-socket $sock\",
			\"socket\" => \"$d/websock/httun-fcgi.sock\",
			\"max-procs\" => 1,"
	fi
	start "$B" "$name-server" "$bin" server "$sockflag" "$sock" \
		--fcgi-user "$fcgi_user" --path /httun/ --key-file "$key" \
		--tun --tun-name "$name-b" --tun-address "$addr_b/30" --mtu 1500
	pb=$started
	if ! wait_for 10 test -S "$sock"; then
		fcgi_why="failed: server has no socket $sock ($(tail -1 "$tmp/$name-server.log"))"
		return 1
	fi
	# docs/FASTCGI.md "lighttpd" (fastcgi.server, the upload directory and the stream
	# settings), with the bench's paths, after the least a lighttpd of its own needs
	# (Debian's /etc/lighttpd/lighttpd.conf sets these too, user www-data included).
	cat >"$d/lighttpd.conf" <<-EOF
		server.modules += ( "mod_fastcgi" )
		server.document-root = "$d/www"
		server.bind = "${listen%:*}"
		server.port = ${listen##*:}
		server.errorlog = "$d/lighttpd-error.log"
		server.username = "$fcgi_user"
		server.groupname = "$fcgi_user"
		index-file.names = ( "index.html" )

		fastcgi.server += ( "/httun/" => ((
			$fastcgi
			"check-local" => "disable",
		)))
		server.upload-dirs := ( "/dev/shm" )
		server.stream-request-body = 1
		server.stream-response-body = 2
		server.chunkqueue-chunk-sz = 65536
	EOF
	for line in "${lighttpd_extra[@]}"; do
		setting=${line%%[ :=]*}
		grep -v "^${setting//./\\.}[ :=]" "$d/lighttpd.conf" >"$d/lighttpd.conf.new" || true
		echo "$line" >>"$d/lighttpd.conf.new"
		mv "$d/lighttpd.conf.new" "$d/lighttpd.conf"
	done
	start "$B" "$name-lighttpd" lighttpd -D -f "$d/lighttpd.conf"
	pl=$started
	if ! wait_listen 10 "$B" "$pl" "$listen"; then
		fcgi_why="failed: lighttpd does not listen ($(tail -1 "$tmp/$name-lighttpd.log") $(tail -1 "$d/lighttpd-error.log"))"
		return 1
	fi
	pf=""
	if [ "$fcgi_mode" = relay ]; then
		wait_for 10 pgrep -P "$pl" && pf=$(pgrep -P "$pl")
		if [ -z "$pf" ] || [ "$(wc -w <<<"$pf")" != 1 ]; then
			fcgi_why="failed: lighttpd did not spawn one httun fcgi ($(tail -1 "$d/lighttpd-error.log"))"
			return 1
		fi
	fi
	start "$A" "$name-client" "$bin" client --key-file "$key" --tun --tun-name "$name-a" \
		--tun-address "$addr_a/30" --mtu 1500 "http://$listen/httun/"
	pa=$started
	if ! wait_for 20 ip netns exec "$A" ping -n -c1 -W1 "$addr_b"; then
		fcgi_why="failed: no ping through the tunnel ($(tail -1 "$tmp/$name-client.log"))"
		return 1
	fi
	fcgi_pid_client=$pa fcgi_pid_server=$pb fcgi_pid_relay=$pf fcgi_pid_lighttpd=$pl
	if [ -n "$pf" ]; then
		fcgi_pids="$pa $pb $pf $pl"
		fcgi_names="client server fcgi lighttpd"
	else
		fcgi_pids="$pa $pb $pl"
		fcgi_names="client server lighttpd"
	fi
}
