#!/bin/bash
# shared.sh - rate limits shared in Redis (issue #19, [limits] shared):
# two fanoutd instances pointed at one redis-server (a unix socket under
# $T, no TCP port) both fetch from the upstream's one host with
# per_host_rate = 50. Together they stay at about 50/s, not 100/s. Then
# Redis is killed mid-run: every item still ends ok, /healthz says
# degraded with the reason, /metrics shows the fallback, the log says it
# once, and the pair runs at about 50/s again (each at 25/s, the limit
# divided by the two live instances). Redis restarted: both go back to
# it. Redis hung (SIGSTOP): the command deadline turns the limits local,
# and SIGCONT brings them back. Then: 1,000/s together with few round
# trips; the global rate shared; a third instance over TCP in database 1,
# which carries on after SCRIPT FLUSH (NOSCRIPT -> EVAL). Times come
# from the upstream's clock (/stats/times); the phases are marked there
# by requests of their own tag.
. "$(dirname "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}")/../fleet/lib.sh"

command -v redis-server >/dev/null || {
	echo "redis-server is missing (script/bootstrap installs it)" >&2
	exit 1
}
SOCK="$T/redis.sock"
REDIS_PID=

start_redis() {
	redis-server --port 0 --unixsocket "$SOCK" --save '' \
		--appendonly no --logfile "$T/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_until 10 test -S "$SOCK" || { echo "redis did not start" >&2; exit 1; }
}

start_upstream 127.0.0.1:0 127.0.0.1:0
start_redis

conf() {
	printf '[limits]\nper_host_rate = 50\nper_host_burst = 5\nshared = unix:%s\n[jobs]\ndir = %s\n' \
		"$SOCK" "$T/jobs$1"
}
# Instance 1 is lib.sh's (FO, FANOUTD_PID); instance 2 is started here
# the same way, and stopped (exit status 0 required) at the end.
start_fanoutd "$(conf 1)"
FO1=$FO
printf '[server]\nlisten = 127.0.0.1:0\n%s\n' "$(conf 2)" >"$T/fanoutd2.conf"
# shellcheck disable=SC2086
$FANOUTD_WRAPPER "$FANOUTD" -c "$T/fanoutd2.conf" 2>"$T/fanoutd2.log" &
FO2_PID=$!
PIDS+=("$FO2_PID")
wait_until 30 grep -q 'listening on http://' "$T/fanoutd2.log" || {
	echo "fanoutd 2 did not start" >&2
	exit 1
}
FO2=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/fanoutd2.log" | head -n 1)

instances_are() {
	[ "$(metric "$FO1" fanoutd_shared_limits_instances)" = "$1" ] &&
		[ "$(metric "$FO2" fanoutd_shared_limits_instances)" = "$1" ]
}
check_true "both instances use Redis and count each other" \
	wait_until 10 instances_are 2
check "healthz is ok while shared" "$(curl -sS "$FO1/healthz")" '{"status":"ok"}'

# --- shared: two instances, one host, 50/s together ---------------------------
run_batch "$FO1" 150 p1 "$T/p1a"
A=$BATCH_PID
run_batch "$FO2" 150 p1 "$T/p1b"
B=$BATCH_PID
wait "$A" "$B"
check "instance 1: 150 ok" "$(summary "$(cat "$T/p1a")" | jq .ok)" 150
check "instance 2: 150 ok" "$(summary "$(cat "$T/p1b")" | jq .ok)" 150
r=$(rate p1)
# Local buckets alone would give 100/s; the band leaves room for a
# loaded machine's late wake-ups below and the burst of 5 above.
check_true "together at about 50/s, not 100/s (saw $r/s over $(count p1) requests)" \
	between "$r" 42 55
w=$(maxwin p1)
# The burst plus 10% of the rate (20% under a heavy load), as
# tests/fleet/rate.sh: a reservation answered late shifts its slots
# towards the next ones (55 to 62 seen on a 2-core machine, 64 under
# valgrind there: not asserted).
m=$(window_margin 50)
check_timing "no second holds more than 50 + the burst of 5 (+$m; saw $w)" \
	test "$w" -le $((55 + m))
res=$(metric "$FO1" fanoutd_shared_limits_reservations_total)
slots=$(metric "$FO1" fanoutd_shared_limits_slots_total)
check_true "several slots per Redis round trip ($res reservations, $slots slots)" \
	test "$res" -gt 0 -a "$slots" -ge $((3 * res))

# --- Redis killed mid-run: local buckets at 25/s each ---------------------------
run_batch "$FO1" 200 p2a "$T/p2a"
A=$BATCH_PID
run_batch "$FO2" 200 p2b "$T/p2b"
B=$BATCH_PID
check_true "the batches are under way" wait_until 10 \
	sh -c "[ \$(curl -sS '$UP/stats/times?tag=p2a' | jq length) -ge 30 ]"
# (A slow start, under valgrind, may have fallen back once already.)
falls0=$(metric "$FO1" fanoutd_shared_limits_fallbacks_total)
log1=$(wc -l <"$T/fanoutd.log")
log2=$(wc -l <"$T/fanoutd2.log")
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null # (bash reports the kill)
mark killed
check_true "instance 1: /healthz degraded within 2 s" wait_until 2 healthz_is "$FO1" degraded
check_true "instance 2: /healthz degraded within 2 s" wait_until 2 healthz_is "$FO2" degraded
mark degraded
why=$(curl -sS "$FO1/healthz" | jq -r .reason)
check_true "the reason names Redis and the share ($why)" \
	grep -q 'shared limits: Redis at unix:.* is unreachable .*1/2 of the limits' <<<"$why"
check "/metrics: degraded" "$(metric "$FO1" fanoutd_shared_limits_degraded)" 1
check "/metrics: state degraded" \
	"$(metric "$FO2" 'fanoutd_shared_limits_state{state="degraded"}')" 1
check "/metrics: one more fallback" \
	"$(metric "$FO1" fanoutd_shared_limits_fallbacks_total)" $((falls0 + 1))
# Two seconds of fallback, measured by arrivals, not by sleeping.
n0=$(count p2a)
check_true "fallback runs: 50 more arrivals at instance 1's 25/s" wait_until 10 \
	sh -c "[ \$(curl -sS '$UP/stats/times?tag=p2a' | jq length) -ge $((n0 + 50)) ]"
mark restart
ra=$(rate p2a degraded restart)
rb=$(rate p2b degraded restart)
check_true "fallback: instance 1 at about 25/s (saw $ra/s)" \
	between "$ra" 19 28
check_true "fallback: instance 2 at about 25/s (saw $rb/s)" \
	between "$rb" 19 28
check_true "fallback: together about 50/s (saw $ra + $rb)" \
	between "$ra + $rb" 40 55
check "instance 1 logged the fallback once" \
	"$(tail -n +$((log1 + 1)) "$T/fanoutd.log" | grep -c 'shared limits: .* unreachable')" 1
check "instance 2 logged the fallback once" \
	"$(tail -n +$((log2 + 1)) "$T/fanoutd2.log" | grep -c 'shared limits: .* unreachable')" 1

# --- Redis back: both return to it -------------------------------------------
rm -f "$SOCK"
start_redis
check_true "instance 1 back on Redis within 5 s" wait_until 5 healthz_is "$FO1" ok
check_true "instance 2 back on Redis within 5 s" wait_until 5 healthz_is "$FO2" ok
check_true "the return is logged" \
	sh -c "tail -n +$((log1 + 1)) '$T/fanoutd.log' | grep -q 'shared limits: back on Redis'"
mark back
wait "$A" "$B"
check "no item failed (instance 1: 200 ok)" "$(summary "$(cat "$T/p2a")" | jq .ok)" 200
check "no item failed (instance 2: 200 ok)" "$(summary "$(cat "$T/p2b")" | jq .ok)" 200
check_true "both count each other again" wait_until 5 instances_are 2
run_batch "$FO1" 100 p3 "$T/p3a"
A=$BATCH_PID
run_batch "$FO2" 100 p3 "$T/p3b"
B=$BATCH_PID
wait "$A" "$B"
r=$(rate p3)
check_true "shared again: together about 50/s (saw $r/s)" \
	between "$r" 42 56

# --- Redis hung (SIGSTOP): the command deadline hiredis lacks -----------------
run_batch "$FO1" 100 p4 "$T/p4a"
A=$BATCH_PID
run_batch "$FO2" 100 p4 "$T/p4b"
B=$BATCH_PID
check_true "the batches are under way" wait_until 10 \
	sh -c "[ \$(curl -sS '$UP/stats/times?tag=p4' | jq length) -ge 20 ]"
kill -STOP "$REDIS_PID"
check_true "hung Redis: degraded within 2 s" wait_until 2 healthz_is "$FO1" degraded
why=$(curl -sS "$FO1/healthz" | jq -r .reason)
check_true "the reason is the deadline ($why)" \
	grep -q 'no answer within 250 ms' <<<"$why"
check_true "/metrics counts the timeout" \
	test "$(metric "$FO1" fanoutd_shared_limits_timeouts_total)" -ge 1
kill -CONT "$REDIS_PID"
check_true "Redis answers again: back within 5 s" wait_until 5 healthz_is "$FO1" ok
wait "$A" "$B"
check "hung Redis: no item failed (instance 1)" "$(summary "$(cat "$T/p4a")" | jq .ok)" 100
check "hung Redis: no item failed (instance 2)" "$(summary "$(cat "$T/p4b")" | jq .ok)" 100

# reload_both SED: edit both configuration files, SIGHUP both, wait
# until both logged the reload.
reload_both() {
	local f r1 r2
	for f in "$T/fanoutd.conf" "$T/fanoutd2.conf"; do
		sed -i "$1" "$f"
	done
	r1=$(grep -c 'reload: configuration' "$T/fanoutd.log")
	r2=$(grep -c 'reload: configuration' "$T/fanoutd2.log")
	kill -HUP "$FANOUTD_PID" "$FO2_PID"
	wait_until 10 sh -c \
		"[ \$(grep -c 'reload: configuration' '$T/fanoutd.log') -gt $r1 ] &&
		 [ \$(grep -c 'reload: configuration' '$T/fanoutd2.log') -gt $r2 ]"
}

# --- a high rate: 1,000/s together, a round trip per many items --------------
# (800 at the least: a loaded machine under valgrind; lost slots showed
# as 509.)
check_true "both reloaded: per_host_rate 1000" \
	reload_both 's/^per_host_rate = .*/per_host_rate = 1000/; s/^per_host_burst = .*/per_host_burst = 20/'
res0=$(( $(metric "$FO1" fanoutd_shared_limits_reservations_total) +
	$(metric "$FO2" fanoutd_shared_limits_reservations_total) ))
run_batch "$FO1" 1500 hi "$T/hia"
A=$BATCH_PID
run_batch "$FO2" 1500 hi "$T/hib"
B=$BATCH_PID
wait "$A" "$B"
check "high rate: 3,000 ok" \
	"$(( $(summary "$(cat "$T/hia")" | jq .ok) + $(summary "$(cat "$T/hib")" | jq .ok) ))" 3000
r=$(rate hi)
check_true "high rate: together about 1,000/s, not 2,000/s (saw $r/s)" \
	between "$r" 800 1030
res=$(( $(metric "$FO1" fanoutd_shared_limits_reservations_total) +
	$(metric "$FO2" fanoutd_shared_limits_reservations_total) - res0 ))
check_true "high rate: a Redis round trip per 50 items or more ($res for 3,000)" \
	test "$res" -le 60

# --- the global rate, shared too (set by a reload) ----------------------------
# rate = 40 and no per-host rate; each instance sends to both of the
# upstream's hosts: 40/s for the fleet across hosts.
check_true "both reloaded: rate 40, no per-host rate" \
	reload_both 's/^per_host_rate = .*/per_host_rate = 0\nrate = 40\nburst = 4/'
for base in "$FO1" "$FO2"; do
	curl -sS --max-time 60 -X POST "$base/v1/batch" \
		-H 'Content-Type: application/json' --data-binary \
		"{\"requests\":$(jq -cn --argjson a "$(items 60 g "${UPS[0]}")" \
			--argjson b "$(items 60 g "${UPS[1]}")" '$a + $b'),\"options\":{\"retries\":0}}" \
		>"$T/g.$RANDOM" &
	PIDS+=($!)
done
wait "${PIDS[-1]}" "${PIDS[-2]}"
r=$(rate g)
check_true "global rate 40/s shared by both instances over two hosts (saw $r/s, $(count g) requests)" \
	between "$r" 33 44

# --- over TCP, database 1; NOSCRIPT after SCRIPT FLUSH --------------------------
# A third instance on its own Redis at 127.0.0.1:PORT/1 (a free port
# picked at random: redis cannot listen on port 0).
for try in 1 2 3 4 5 6 7 8 9 10; do
	RPORT=$((20000 + RANDOM % 40000))
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
		--logfile "$T/redis-tcp.log" &
	R2=$!
	if wait_until 5 sh -c "redis-cli -p $RPORT ping 2>/dev/null | grep -q PONG || ! kill -0 $R2 2>/dev/null" &&
		kill -0 "$R2" 2>/dev/null; then
		PIDS+=("$R2")
		break
	fi
	R2=
done
check_true "a redis-server on a free TCP port" test -n "$R2"
printf '[server]\nlisten = 127.0.0.1:0\n[limits]\nper_host_rate = 100\nshared = redis://127.0.0.1:%s/1\n[jobs]\ndir = %s\n' \
	"$RPORT" "$T/jobs3" >"$T/fanoutd3.conf"
# shellcheck disable=SC2086
$FANOUTD_WRAPPER "$FANOUTD" -c "$T/fanoutd3.conf" 2>"$T/fanoutd3.log" &
FO3_PID=$!
PIDS+=("$FO3_PID")
check_true "instance 3 uses Redis over TCP" wait_until 30 \
	grep -q 'shared limits: using Redis at 127.0.0.1:' "$T/fanoutd3.log"
FO3=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/fanoutd3.log" | head -n 1)
FO=$FO3 batch "{\"requests\":$(items 20 tcp),\"options\":{\"retries\":0}}" >"$T/tcp1"
check "over TCP: 20 ok" "$(summary "$(cat "$T/tcp1")" | jq .ok)" 20
check "its keys are in database 1" \
	"$(redis-cli -p "$RPORT" -n 1 --scan --pattern 'fanoutd:*' | sort | tr '\n' ' ')" \
	"fanoutd:instances fanoutd:rate:host:${UP} "
check "and not in database 0" "$(redis-cli -p "$RPORT" -n 0 dbsize)" 0
redis-cli -p "$RPORT" script flush >/dev/null
FO=$FO3 batch "{\"requests\":$(items 20 tcp2),\"options\":{\"retries\":0}}" >"$T/tcp2"
check "after SCRIPT FLUSH (NOSCRIPT, then EVAL): 20 ok" \
	"$(summary "$(cat "$T/tcp2")" | jq .ok)" 20
check "and never degraded" "$(metric "$FO3" fanoutd_shared_limits_fallbacks_total)" 0
check "still shared" "$(metric "$FO3" 'fanoutd_shared_limits_state{state="shared"}')" 1
kill -TERM "$FO3_PID"
wait "$FO3_PID"
check "instance 3 exits 0" "$?" 0

# --- configuration -------------------------------------------------------------
printf '[limits]\nshared = redis://h:99999\n' >"$T/bad.conf"
out=$("$FANOUTD" -t -c "$T/bad.conf" 2>&1)
check_true "a bad address is refused, naming the key ($out)" \
	grep -q 'shared.*HOST, HOST:PORT' <<<"$out"

kill -TERM "$FO2_PID"
wait "$FO2_PID"
check "instance 2 exits 0" "$?" 0
finish
