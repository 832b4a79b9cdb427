# tests/fleet/lib.sh - the fleet harness (issue #19), on top of
# tests/integration/lib.sh (sourced here: $T, PIDS, check, wait_until,
# start_upstream, summary...). Starts, on loopback only, Redis servers
# (unix sockets under $T, no TCP port) and any number of fanoutd
# instances, and reads what the fleet did from the test upstream's own
# clock (/stats/times). Every instance must exit 0 on SIGTERM
# (stop_instances), except those the test kill -9s.
#
# Instances are numbered by the caller (any word: 1, a2, fake1...):
# FOS[ID] is the base URL, FPIDS[ID] the PID, $T/fanoutd-ID.log the log.

FLEET_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "${TESTLIB:-$FLEET_LIB_DIR/../integration/lib.sh}"

declare -A FOS FPIDS REDIS_PIDS

# need_cmd NAME: fail the test when a program is missing.
need_cmd() {
	command -v "$1" >/dev/null || {
		echo "$1 is missing (script/bootstrap installs it)" >&2
		exit 1
	}
}

# redis_sock NAME: the socket of Redis NAME.
redis_sock() {
	echo "$T/redis-$1.sock"
}

# start_redis NAME: a redis-server on the unix socket $(redis_sock NAME),
# no persistence; its PID in REDIS_PIDS[NAME].
start_redis() {
	need_cmd redis-server
	local sock
	sock=$(redis_sock "$1")
	rm -f "$sock"
	redis-server --port 0 --unixsocket "$sock" --save '' \
		--appendonly no --logfile "$T/redis-$1.log" &
	REDIS_PIDS[$1]=$!
	PIDS+=("$!")
	wait_until 10 test -S "$sock" || { echo "redis $1 did not start" >&2; exit 1; }
}

# kill_redis NAME: kill -9 Redis NAME (and reap it quietly).
kill_redis() {
	kill -9 "${REDIS_PIDS[$1]}"
	wait "${REDIS_PIDS[$1]}" 2>/dev/null
	rm -f "$(redis_sock "$1")"
}

# start_instance ID CONF [PREFIX...]: a fanoutd on 127.0.0.1:0 (unless
# CONF has a listen) with the configuration text CONF under [server]
# (its own [jobs] dir is added), run under the
# PREFIX command when given (e.g. env LD_PRELOAD=... FAKETIME=+45s),
# which must exec fanoutd (FPIDS is fanoutd's PID).
start_instance() {
	local id=$1 conf=$2 listen='listen = 127.0.0.1:0'
	shift 2
	# A listen of its own in CONF (a port fixed for HAProxy) replaces ours.
	case $'\n'"$conf" in *$'\n'listen*=*) listen= ;; esac
	printf '[server]\n%s\n%s\n[jobs]\ndir = %s\n' \
		"$listen" "$conf" "$T/jobs-$id" >"$T/fanoutd-$id.conf"
	: >"$T/fanoutd-$id.log"
	# shellcheck disable=SC2086
	"$@" $FANOUTD_WRAPPER "$FANOUTD" -c "$T/fanoutd-$id.conf" \
		2>>"$T/fanoutd-$id.log" &
	FPIDS[$id]=$!
	PIDS+=("$!")
	# (valgrind on a loaded machine may take most of a minute to start)
	wait_until "$(if [ -n "$FANOUTD_WRAPPER" ]; then echo 120; else echo 30; fi)" \
		grep -q 'listening on http://' "$T/fanoutd-$id.log" || {
		echo "fanoutd $id did not start" >&2
		cat "$T/fanoutd-$id.log" >&2
		exit 1
	}
	FOS[$id]=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' \
		"$T/fanoutd-$id.log" | head -n 1)
}

# kill_instance ID: kill -9 instance ID (no exit status to check).
kill_instance() {
	kill -9 "${FPIDS[$1]}"
	wait "${FPIDS[$1]}" 2>/dev/null
	unset "FPIDS[$1]"
}

# stop_instances: SIGTERM every instance still running; each must exit
# 0 (under valgrind: no leak, no error).
stop_instances() {
	local id rc
	for id in "${!FPIDS[@]}"; do
		kill -TERM "${FPIDS[$id]}" 2>/dev/null
	done
	for id in "${!FPIDS[@]}"; do
		wait "${FPIDS[$id]}"
		rc=$?
		check "instance $id exits 0" "$rc" 0
		if [ "$rc" != 0 ]; then
			tail -n 20 "$T/fanoutd-$id.log"
		fi
		unset "FPIDS[$id]"
	done
}

# check_timing NAME COMMAND...: check_true for a bound on time (the
# worst second of a rate): skipped under a wrapper such as valgrind,
# which slows the daemon unevenly; asserted in the plain build.
check_timing() {
	if [ -n "$FANOUTD_WRAPPER" ]; then
		echo "ok - $1 # SKIP under a wrapper"
		return
	fi
	check_true "$@"
}

# window_margin RATE: how far above rate + burst a 1-second window may
# go: 10% of the rate, 20% while the machine runs more than two
# runnable tasks per core (the 1-minute load average; a loaded CI
# runner, other tests at once), said on stdout.
window_margin() {
	local load cores
	load=$(cut -d' ' -f1 /proc/loadavg)
	cores=$(nproc)
	if jq -en "$load > 2 * $cores" >/dev/null; then
		echo "# load average $load on $cores cores: the window margin is 20%" >&2
		jq -n "$1 * 0.2 | ceil"
	else
		jq -n "$1 * 0.1 | ceil"
	fi
}

# metric BASE NAME: one sample of /metrics.
metric() {
	curl -sS --max-time 5 "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}

# metric_is NAME VALUE ID...: the metric has VALUE on every instance.
metric_is() {
	local name=$1 want=$2 id
	shift 2
	for id in "$@"; do
		[ "$(metric "${FOS[$id]}" "$name")" = "$want" ] || return 1
	done
}

# healthz_is BASE STATUS
healthz_is() {
	[ "$(curl -sS --max-time 5 "$1/healthz" | jq -r .status)" = "$2" ]
}

# times TAG...: arrival times (ms, the upstream's clock) of the tags'
# requests, merged and sorted.
times() {
	local t all='[]'
	for t in "$@"; do
		all=$(jq -cn --argjson a "$all" \
			--argjson b "$(curl -sS --max-time 10 "$UP/stats/times?tag=$t")" '$a + $b')
	done
	jq -c 'sort' <<<"$all"
}

# count TAG...: how many requests of the tags arrived.
count() {
	times "$@" | jq length
}

# mark TAG: a request of its own tag: an instant on the upstream's clock.
mark() {
	curl -sS --max-time 10 -o /dev/null "$UP/text/1?tag=$1"
}

# rate_of TIMES [FROM [TO]]: arrivals per second in the JSON array TIMES
# between the instants FROM and TO (ms; default: all), from the first
# arrival in it to the last, to 0.01.
rate_of() {
	jq -n --argjson t "$1" --argjson from "${2:--1e18}" --argjson to "${3:-1e18}" '
		[$t[] | select(. >= $from and . <= $to)] as $w |
		if ($w | length) < 2 then 0
		else (($w | length) - 1) * 1000 / ($w[-1] - $w[0]) | . * 100 | round / 100 end'
}

# maxwin_of TIMES [FROM [TO]]: the most arrivals in any one second
# (a window opening at each arrival) of the sorted JSON array TIMES.
maxwin_of() {
	jq -n --argjson t "$1" --argjson from "${2:--1e18}" --argjson to "${3:-1e18}" '
		[$t[] | select(. >= $from and . <= $to)] as $s |
		if ($s | length) == 0 then 0 else
		[range(0; $s | length) as $i |
		 ($s | bsearch($s[$i] + 999.5)) as $j |
		 (if $j < 0 then -1 - $j else $j end) - $i] | max end'
}

# rate TAG [FROM_TAG [TO_TAG]]: rate_of the tag's arrivals between the
# marks FROM_TAG and TO_TAG (default: its whole span).
rate() {
	rate_of "$(times "$1")" \
		"$(if [ -n "${2:-}" ]; then times "$2" | jq '.[0]'; fi)" \
		"$(if [ -n "${3:-}" ]; then times "$3" | jq '.[0]'; fi)"
}

# maxwin TAG...: the most arrivals of the tags in any one second.
maxwin() {
	maxwin_of "$(times "$@")"
}

# between X LO HI: LO <= X <= HI (numbers with fractions).
between() {
	jq -en "$1 >= $2 and $1 <= $3" >/dev/null
}

# items N TAG [BASE [PATH]]: N requests of tag TAG to one host of the
# upstream (BASE, default $UP; PATH, default text/1).
items() {
	jq -cn --arg u "${3:-$UP}/${4:-text/1}?tag=$2" --argjson n "$1" '[range($n)] | map($u)'
}

# run_batch BASE N TAG OUT [PATH]: a batch of N items of tag TAG (no
# retries) to the instance at BASE, in the background (curl's errors in
# OUT.err); its PID in BATCH_PID.
run_batch() {
	curl -sS --max-time 170 -X POST "$1/v1/batch" \
		-H 'Content-Type: application/json' \
		--data-binary "{\"requests\":$(items "$2" "$3" "$UP" "${5:-}"),\"options\":{\"retries\":0}}" \
		>"$4" 2>"$4.err" &
	BATCH_PID=$!
}

# batches_ok N TAG PATH ID...: a batch of N items of tag TAG (PATH, as
# for items) on each instance ID at once; each must end with N ok.
batches_ok() {
	local n=$1 tag=$2 path=$3 id
	local -A pid
	shift 3
	for id in "$@"; do
		run_batch "${FOS[$id]}" "$n" "$tag" "$T/$tag-$id" "$path"
		pid[$id]=$BATCH_PID
	done
	for id in "$@"; do
		wait "${pid[$id]}"
		check "$tag: instance $id: $n ok" "$(ok_count "$T/$tag-$id")" "$n"
	done
}

# ok_count FILE: the "ok" of the NDJSON batch response in FILE.
ok_count() {
	summary "$(cat "$1")" | jq .ok
}
