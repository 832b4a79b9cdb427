# tests/integration/lib.sh - shared harness for the integration tests.
#
# Each test script sources this file, starts the test upstream and
# fanoutd on free loopback ports (port 0, real port read back from the
# ready file / the log), drives them with curl and checks output with jq.
# Everything a test starts is killed when it exits; fanoutd is stopped
# with SIGTERM and must exit 0 (with FANOUTD_WRAPPER=valgrind... that
# also checks for leaks).
#
# Environment (set by `make check`): FANOUTD, UPSTREAM.

set -u
set -o pipefail

: "${FANOUTD:?FANOUTD must point to the fanoutd binary}"
: "${UPSTREAM:?UPSTREAM must point to the fanout-upstream binary}"
FANOUTD_WRAPPER=${FANOUTD_WRAPPER:-}

T=$(mktemp -d "${TMPDIR:-/tmp}/fanoutd-test.XXXXXX")
# Each test its own job store (the daemon reads systemd's variable when
# [jobs] dir is not set), never /var/lib/fanoutd.
export STATE_DIRECTORY="$T/state"
PIDS=()
FANOUTD_PID=
TESTS_RUN=0
TESTS_FAILED=0

cleanup() {
	local rc=$?
	local p
	if [ -n "$FANOUTD_PID" ]; then
		stop_fanoutd || rc=1
	fi
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$rc" != 0 ] || [ "$TESTS_FAILED" != 0 ]; then
		echo "--- fanoutd log (last 40 lines)"
		tail -n 40 "$T/fanoutd.log" 2>/dev/null
	fi
	rm -rf "$T"
	if [ "$TESTS_FAILED" != 0 ]; then
		exit 1
	fi
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	TESTS_FAILED=$((TESTS_FAILED + 1))
}

# check NAME ACTUAL EXPECTED: one named assertion.
check() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if [ "$2" == "$3" ]; then
		echo "ok - $1"
	else
		fail "$1: expected [$3], got [$2]"
	fi
}

# check_true NAME COMMAND...: the command must succeed.
check_true() {
	local name=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	if "$@"; then
		echo "ok - $name"
	else
		fail "$name: [$*] is false"
	fi
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.02
	done
}

# start_upstream [LISTEN | --option VALUE ...]: start the test upstream
# (default: one listener on 127.0.0.1:0); a bare address is a --listen.
# Sets UP (first base URL) and UPS (one http:// URL per listener, in
# order; make it https:// for --listen-tls ones).
start_upstream() {
	local ready="$T/upstream.ready.$RANDOM"
	local args=()
	if [ "$#" = 0 ]; then
		set -- 127.0.0.1:0
	fi
	while [ "$#" -gt 0 ]; do
		case $1 in
		--*) args+=("$1" "$2"); shift 2 ;;
		*) args+=(--listen "$1"); shift ;;
		esac
	done
	"$UPSTREAM" "${args[@]}" --ready-file "$ready" \
		>>"$T/upstream.log" 2>&1 &
	PIDS+=($!)
	wait_until 10 test -s "$ready" || {
		echo "upstream did not start" >&2
		exit 1
	}
	UPS=()
	local l
	while read -r l; do
		UPS+=("http://$l")
	done <"$ready"
	UP=${UPS[0]}
}

# start_fanoutd [INI TEXT]: start fanoutd on 127.0.0.1:0 with the given
# extra configuration. Sets FO (base URL).
start_fanoutd() {
	local conf="$T/fanoutd.conf" listen='listen = 127.0.0.1:0'
	# A section may appear twice in an INI file: the extra text can
	# add [server] keys after ours. A key may not (listen would add up):
	# when the text has its own listen, ours is left out.
	case $'\n'"${1:-}" in *$'\n'listen*=*) listen= ;; esac
	printf '[server]\n%s\n%s\n' "$listen" "${1:-}" >"$conf"
	# FANOUTD_JOB_STORE (tests/integration/jobs_pg.sh): the jobs in
	# that store (PostgreSQL) instead of SQLite.
	if [ -n "${FANOUTD_JOB_STORE:-}" ]; then
		printf '\n[jobs]\nstore = %s\n' "$FANOUTD_JOB_STORE" >>"$conf"
	fi
	: >"$T/fanoutd.log"
	# shellcheck disable=SC2086
	$FANOUTD_WRAPPER "$FANOUTD" -c "$conf" 2>>"$T/fanoutd.log" &
	FANOUTD_PID=$!
	wait_until 30 grep -q 'listening on https\?://' "$T/fanoutd.log" || {
		echo "fanoutd did not start" >&2
		cat "$T/fanoutd.log" >&2
		exit 1
	}
	FO=$(sed -n 's/.*listening on \(https\?:[^ ]*\).*/\1/p' \
		"$T/fanoutd.log" | head -n 1)
}

# stop_fanoutd: SIGTERM, wait, and require exit status 0.
stop_fanoutd() {
	local rc
	kill -TERM "$FANOUTD_PID" 2>/dev/null
	wait "$FANOUTD_PID"
	rc=$?
	FANOUTD_PID=
	if [ "$rc" != 0 ]; then
		fail "fanoutd exited with status $rc"
		return 1
	fi
	return 0
}

# batch JSON [CURL ARGS...]: POST a JSON batch, print the response body.
batch() {
	local body=$1
	shift
	curl -sS --max-time 60 -X POST "$FO/v1/batch" \
		-H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# upstream_stats [BASE]: the upstream's /stats document.
upstream_stats() {
	curl -sS --max-time 10 "${1:-$UP}/stats"
}

# check_memory NAME COMMAND...: like check_true, for memory figures,
# which mean nothing under AddressSanitizer (shadow memory, quarantine)
# or a wrapper such as valgrind (its own heap): skipped there, asserted
# in the plain build.
check_memory() {
	if [ -n "${FANOUTD_SANITIZED:-}" ] || [ -n "$FANOUTD_WRAPPER" ]; then
		echo "ok - $1 # SKIP under sanitizers or a wrapper"
		return
	fi
	check_true "$@"
}

# ms_now: milliseconds since the epoch.
ms_now() {
	date +%s%3N
}

# start_dnsmasq [DNSMASQ ARGS...]: a resolver for .test names on a free
# loopback UDP port (everything else in .test is NXDOMAIN, nothing is
# forwarded). Sets DNS_PORT and DNS_PID; logs queries to $T/dns.log.
start_dnsmasq() {
	local try p
	command -v dnsmasq >/dev/null || { echo "dnsmasq is missing"; exit 1; }
	for try in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + RANDOM % 40000))
		: >"$T/dns.log"
		dnsmasq --keep-in-foreground --conf-file=/dev/null \
			--listen-address=127.0.0.1 --bind-interfaces --port="$p" \
			--no-resolv --no-hosts --local=/test/ "$@" \
			--log-queries --log-facility="$T/dns.log" \
			--pid-file="$T/dns.pid" --user=root --group=root \
			2>>"$T/dns.err" &
		DNS_PID=$!
		# Ready once it answers (or gone if the port was taken).
		if wait_until 5 sh -c "grep -q started '$T/dns.log' 2>/dev/null || ! kill -0 $DNS_PID 2>/dev/null" &&
			kill -0 "$DNS_PID" 2>/dev/null; then
			PIDS+=("$DNS_PID")
			DNS_PORT=$p
			return 0
		fi
	done
	echo "cannot start dnsmasq" >&2
	cat "$T/dns.err" >&2
	exit 1
}

# summary NDJSON: the summary object of an NDJSON response.
summary() {
	printf '%s\n' "$1" | jq -c 'select(.summary) | .summary'
}

# results NDJSON: the result lines, one JSON object per line.
results() {
	printf '%s\n' "$1" | jq -c 'select(.summary | not)'
}

finish() {
	echo "# $TESTS_RUN checks, $TESTS_FAILED failed"
}
