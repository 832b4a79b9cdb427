#!/bin/bash
# config.sh - configuration faults an operator makes, at `fanoutd -t`,
# at start-up and at reload, all found by the one set of checks (issue
# #14 points 10 and 11, #13 point 13): a directory or an empty file as
# the configuration, files it names that are missing, empty or
# directories, a unix socket in a missing directory, a key set twice; a
# reload that would apply such a file keeps the old configuration, and
# one that turns auth off or loosens the egress policy says so at
# warning level. Then two instances on one unix socket path (point 12).
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
. "$(dirname "$TESTLIB")/pki.sh"

P=$T/pki
make_pki "$P" || exit 1
printf 'token-one\n' >"$T/tokens"
: >"$T/empty"
mkdir -p "$T/dir"

# refused NAME FILE-TEXT MESSAGE: -t and start-up both exit 1 with
# MESSAGE (which names the file, line and key).
refused() {
	local name=$1 msg=$3 out listen=(--listen 127.0.0.1:0)
	printf '%b' "$2" >"$T/bad.conf"
	out=$("$FANOUTD" -t -c "$T/bad.conf" 2>&1)
	check "-t: $name" "$?: $out" "1: fanoutd: configuration error: $msg"
	# (Never on the default port; a file with its own listen keeps it.)
	case $2 in *listen*) listen=() ;; esac
	out=$(timeout 10 "$FANOUTD" -c "$T/bad.conf" "${listen[@]}" 2>&1)
	check "start-up: $name" "$?: $(printf '%s\n' "$out" | tail -n 1 | sed 's/^fanoutd: //')" \
		"1: configuration error: $msg"
}

# --- the configuration file itself (point 10) -------------------------------
out=$("$FANOUTD" -t -c "$T/dir" 2>&1)
check "-t on a directory" "$?: $out" \
	"1: fanoutd: configuration error: $T/dir: is a directory, not a file"
out=$(timeout 10 "$FANOUTD" -c "$T/dir" --listen 127.0.0.1:0 2>&1)
check "... and start-up refuses it (no built-in defaults)" "$?" 1
out=$(timeout 10 "$FANOUTD" -c "$T/empty" --listen 127.0.0.1:0 2>&1)
check "... as it refuses an empty file" "$?" 1
out=$("$FANOUTD" -t -c "$T/empty" 2>&1)
check "-t on an empty file" "$?: $out" \
	"1: fanoutd: configuration error: $T/empty: is empty (to run on the built-in defaults, give no -c)"
chmod 000 "$T/empty"
if [ "$(id -u)" != 0 ]; then
	check "-t on an unreadable file" "$("$FANOUTD" -t -c "$T/empty" >/dev/null 2>&1; echo $?)" 1
fi
chmod 644 "$T/empty"
printf '# only comments\n[server]\n' >"$T/comments.conf"
check "a file of comments is a choice: valid" \
	"$("$FANOUTD" -t -c "$T/comments.conf" >/dev/null 2>&1; echo $?)" 0

# --- what the file names (point 11) -------------------------------------------
B="$T/bad.conf"
refused "a missing auth_tokens_file" \
	"[server]\nauth_tokens_file = $T/nope\n" \
	"$B:2: [server] auth_tokens_file: cannot open $T/nope: No such file or directory"
refused "an empty auth_tokens_file" \
	"[limits]\nrate = 5\n[server]\nauth_tokens_file = $T/empty\n" \
	"$B:4: [server] auth_tokens_file: $T/empty holds no token"
refused "a directory as auth_tokens_file" \
	"[server]\nauth_tokens_file = $T/dir\n" \
	"$B:2: [server] auth_tokens_file: $T/dir is a directory, not a file"
refused "a missing tls_cert" \
	"[server]\ntls_cert = $T/nope.pem\ntls_key = $P/good.key\n" \
	"$B:2: [server] tls_cert: cannot open $T/nope.pem: No such file or directory"
refused "a missing tls_key" \
	"[server]\ntls_cert = $P/good.pem\ntls_key = $T/nope.key\n" \
	"$B:3: [server] tls_key: cannot open $T/nope.key: No such file or directory"
refused "a tls_key that does not match tls_cert" \
	"[server]\ntls_cert = $P/good.pem\n\ntls_key = $P/other.key\n" \
	"$B:2: [server] tls_cert: cannot load $P/good.pem with $P/other.key"
refused "tls_cert without tls_key" \
	"[server]\n\ntls_cert = $P/good.pem\n" \
	"$B:3: [server] tls_cert: needs tls_key too"
refused "a missing ca_file" \
	"[upstream]\nca_file = $T/nope.pem\n" \
	"$B:2: [upstream] ca_file: cannot open $T/nope.pem: No such file or directory"
refused "a ca_file that holds no certificate" \
	"[upstream]\nca_file = $T/tokens\n" \
	"$B:2: [upstream] ca_file: cannot load $T/tokens"
refused "a unix socket in a missing directory" \
	"[server]\nlisten = 127.0.0.1:0, unix:$T/nope/f.sock\n" \
	"$B:2: [server] listen: cannot listen on unix:$T/nope/f.sock: its directory does not exist"
out=$("$FANOUTD" -t --listen "unix:$T/nope/f.sock" 2>&1)
check "... named by --listen" "$?: $out" \
	"1: fanoutd: configuration error: command line: [server] listen: cannot listen on unix:$T/nope/f.sock: its directory does not exist"
printf '[server]\nauth_tokens_file = %s\ntls_cert = %s\ntls_key = %s\n[upstream]\nca_file = %s\n' \
	"$T/tokens" "$P/good.pem" "$P/good.key" "$P/ca.pem" >"$T/good.conf"
check "-t accepts what start-up accepts" \
	"$("$FANOUTD" -t -c "$T/good.conf" 2>&1)" "fanoutd: configuration $T/good.conf is valid"

# --- a key set twice (issue #13 point 13) ---------------------------------------
refused "a key set twice" \
	"[server]\nmax_items = 5\n[limits]\nrate = 1\n[server]\nmax_items = 6\n" \
	"$B:6: [server] max_items: set twice, on lines 2 and 6: a key is set once (only listen, deny, allow, nameservers and retry_on add up)"
printf '[server]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:0\n' >"$T/two.conf"
check "listen twice: valid, the lists add up" \
	"$("$FANOUTD" -t -c "$T/two.conf" 2>&1)" "fanoutd: configuration $T/two.conf is valid"
"$FANOUTD" -c "$T/two.conf" 2>"$T/two.log" &
FANOUTD_PID=$!
two_listeners() {
	test "$(grep -c 'listening on http://' "$T/two.log")" = 2
}
check_true "... and fanoutd listens on both" wait_until 10 two_listeners
for p in $(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/two.log"); do
	check "port $p answers" "$(curl -sS "http://127.0.0.1:$p/healthz" | jq -r .status)" ok
done
stop_fanoutd

# --- reload (point 10): a bad file keeps the old configuration -----------------
start_fanoutd "auth_tokens_file = $T/tokens
[upstream]
deny_private = true
deny = 192.0.2.0/24, 198.51.100.0/24"
conf=$T/fanoutd.conf
cp "$conf" "$T/kept.conf"
metrics_code() {
	curl -sS -o /dev/null -w '%{http_code}' "$FO/metrics"
}
check "auth is on: /metrics without a token is 401" "$(metrics_code)" 401
# reload_with DESCRIPTION: SIGHUP, then wait for its log line.
reload_with() {
	local before
	before=$(grep -c 'reload: ' "$T/fanoutd.log")
	kill -HUP "$FANOUTD_PID"
	reloaded() {
		test "$(grep -c 'reload: configuration' "$T/fanoutd.log")" -gt \
			"$(printf '%s' "$before")"
	}
	wait_until 5 reloaded
}
kept() {
	check "reload $1: the old configuration stays (/metrics still 401)" \
		"$(metrics_code)" 401
	check "... and the log says why" \
		"$(grep -c "reload: configuration error, keeping the old one: $2" "$T/fanoutd.log")" 1
}
: >"$conf"
reload_with
kept "of a truncated file" "$conf: is empty"
rm "$conf"
mkdir "$conf"
reload_with
kept "of a directory" "$conf: is a directory, not a file"
rmdir "$conf"
sed "s|^auth_tokens_file = .*|auth_tokens_file = $T/gone|" "$T/kept.conf" >"$conf"
reload_with
kept "naming a missing auth_tokens_file" \
	"$conf:[0-9]*: \[server\] auth_tokens_file: cannot open $T/gone"
cp "$T/kept.conf" "$conf"
printf '[server]\nmax_items = 5\nmax_items = 6\n' >>"$conf"
reload_with
kept "with a key set twice" "$conf:[0-9]*: \[server\] max_items: set twice"
# A reload that turns auth off and loosens the egress policy: applied,
# and each loosening logged at warning level.
printf '[server]\nlisten = 127.0.0.1:0\n[upstream]\ndeny = 192.0.2.0/24\nallow = 10.9.0.0/16\n' >"$conf"
reload_with
check "a reload without auth_tokens_file applies: /metrics is 200" "$(metrics_code)" 200
warned() {
	grep -c "warn  reload: $1" "$T/fanoutd.log"
}
check "... with a warning that auth is off" \
	"$(warned '\[server\] auth_tokens_file is no longer set: authentication is OFF')" 1
check "... one that deny_private is off" "$(warned '\[upstream\] deny_private is now false')" 1
check "... one per dropped deny range" "$(warned '\[upstream\] deny no longer lists 198.51.100.0/24')" 1
check "... one per added allow range" "$(warned '\[upstream\] allow now lists 10.9.0.0/16')" 1
check "... and none for what stayed" "$(warned '\[upstream\] deny no longer lists 192.0.2.0/24')" 0
# Keys read once at start-up: a reload says they need a restart.
printf '[server]\nlisten = 127.0.0.1:0\nunix_mode = 0600\n[upstream]\ndeny = 192.0.2.0/24\nallow = 10.9.0.0/16\ndns_cache_ms = 5\n' >"$conf"
reload_with
check "a changed dns_cache_ms needs a restart, and the reload says so" \
	"$(warned '\[upstream\] nameservers, dns_cache_ms and TLS changes need a restart')" 1
check "... as does unix_mode" \
	"$(warned '\[server\] listen and unix_mode changes need a restart')" 1
stop_fanoutd

# --- two instances on one unix socket (point 12) ---------------------------------
sock=$T/f.sock
printf '[server]\nlisten = unix:%s\n' "$sock" >"$T/unix.conf"
"$FANOUTD" -c "$T/unix.conf" 2>"$T/first.log" &
FIRST=$!
PIDS+=("$FIRST")
wait_until 10 grep -q 'listening on unix:' "$T/first.log"
ino=$(stat -c %i "$sock")
check "the first instance answers on the socket" \
	"$(curl -sS --unix-socket "$sock" http://fanoutd/healthz | jq -r .status)" ok
out=$(timeout 10 "$FANOUTD" -c "$T/unix.conf" 2>&1)
check "a second instance on the same path refuses to start" "$?" 1
check "... saying another process listens there" \
	"$(printf '%s\n' "$out" | grep -c "cannot listen on unix:$sock: another process (is fanoutd running?) listens there")" 1
check "... and the socket is still the first instance's" "$(stat -c %i "$sock")" "$ino"
check "which still answers" \
	"$(curl -sS --unix-socket "$sock" http://fanoutd/healthz | jq -r .status)" ok
# The path replaced under the first instance: at exit it leaves the new one.
mv "$sock" "$T/old.sock"
# (A second daemon needs a job store of its own: the first holds its lock.)
STATE_DIRECTORY=$T/state2 "$FANOUTD" -c "$T/unix.conf" 2>"$T/second.log" &
SECOND=$!
PIDS+=("$SECOND")
wait_until 10 grep -q 'listening on unix:' "$T/second.log"
ino2=$(stat -c %i "$sock")
kill -TERM "$FIRST"
wait "$FIRST"
check "the first instance exits 0" "$?" 0
check "... leaving the second's socket in place" "$(stat -c %i "$sock" 2>&1)" "$ino2"
check "... which still answers" \
	"$(curl -sS --unix-socket "$sock" http://fanoutd/healthz | jq -r .status)" ok
kill -TERM "$SECOND"
wait "$SECOND"
check "the second removes its own socket at exit" "$(test -e "$sock" && echo there || echo gone)" gone
# A stale socket (nobody listens) is replaced.
mv "$T/old.sock" "$sock"
"$FANOUTD" -c "$T/unix.conf" 2>"$T/third.log" &
THIRD=$!
PIDS+=("$THIRD")
wait_until 10 grep -q 'listening on unix:' "$T/third.log"
check "a stale socket is replaced, and said so" \
	"$(grep -c "unix:$sock: removing a stale socket" "$T/third.log")" 1
check "... and answers" \
	"$(curl -sS --unix-socket "$sock" http://fanoutd/healthz | jq -r .status)" ok
kill -TERM "$THIRD"
wait "$THIRD"
# A path that is no socket is never touched.
echo data >"$sock"
out=$(timeout 10 "$FANOUTD" -c "$T/unix.conf" 2>&1)
check "a regular file at the path: refused, left alone" \
	"$?/$(cat "$sock")" "1/data"


# --- cpu_list and store_cpu_list pin the loop and the store's threads -------------------
# (both on CPU 0 on a one-CPU machine: the check is the same)
other=$(( $(nproc) > 1 ? 1 : 0 ))
start_fanoutd $'cpu_list = 0\n[jobs]\nstore_cpu_list = '"$other"
cpus_of() { # COMM: the Cpus_allowed_list of fanoutd's thread named COMM
	local t
	for t in /proc/"$FANOUTD_PID"/task/*; do
		if [ "$(cat "$t/comm")" = "$1" ]; then
			awk '/^Cpus_allowed_list/ {print $2}' "$t/status"
			return
		fi
	done
}
check "the event loop runs on cpu_list, the store's threads on store_cpu_list" \
	"$(awk '/^Cpus_allowed_list/ {print $2}' /proc/"$FANOUTD_PID"/task/"$FANOUTD_PID"/status) $(cpus_of store-writer) $(cpus_of store-reader) $(cpus_of store-files)" \
	"0 $other $other $other"
check "the log says where the loop runs" "$(grep -c 'event loop on CPUs 0$' "$T/fanoutd.log")" 1
stop_fanoutd
printf '[server]\nlisten = 127.0.0.1:0\ncpu_list = 0-\n' >"$T/cpus.conf"
check "a bad CPU list is a configuration error naming it" \
	"$("$FANOUTD" -t -c "$T/cpus.conf" 2>&1 | sed 's/ (this.*//')" \
	"fanoutd: configuration error: $T/cpus.conf:3: [server] cpu_list: \"0-\" is not a CPU or a range of CPUs from 0 to $(($(getconf _NPROCESSORS_CONF) - 1))"

finish
