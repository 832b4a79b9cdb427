#!/bin/bash
# drain.sh - SIGTERM (DESIGN.md §2 Shutdown, issue #5): fanoutd stops
# accepting, answers new batches 503 with Retry-After, lets running
# batches finish within drain_timeout_ms, then ends what remains with
# cancelled lines and a summary, and exits 0. A second SIGTERM stops at
# once.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}
# term_and_wait: SIGTERM fanoutd and wait for it (in this shell, which
# is its parent); sets rc (exit status) and ms (how long it took).
term_and_wait() {
	local t0
	t0=$(ms_now)
	kill -TERM "$FANOUTD_PID"
	wait "$FANOUTD_PID"
	rc=$?
	FANOUTD_PID=
	ms=$(($(ms_now) - t0))
}
inflight_is() {
	test "$(upstream_stats | jq ".tags.$1.inflight // 0")" = "$2"
}

# --- a 500-item batch finishes within the drain -----------------------------
start_fanoutd "[server]
drain_timeout_ms = 10000"
PORT=${FO##*:}
batch "{\"requests\":$(items 500 "$UP/delay/100?tag=d"),\"options\":{\"concurrency\":50}}" \
	>"$T/out.d" &
RUNNING=$!
check_true "the batch is running" wait_until 5 inflight_is d 50
exec 4<>"/dev/tcp/127.0.0.1/$PORT" # connected before the signal
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
kill -TERM "$FANOUTD_PID"
draining() {
	grep -q 'draining' "$T/fanoutd.log"
}
check_true "SIGTERM starts the drain" wait_until 5 draining
printf 'POST /v1/batch HTTP/1.1\r\nHost: f\r\nContent-Length: 2\r\n\r\n[]' >&4
IFS= read -r -t 5 status <&4
check "a new batch on an open connection gets 503" "${status%$'\r'}" "HTTP/1.1 503 Service Unavailable"
head=$(timeout 5 sed -n '/^\r$/q;p' <&4)
check "with Retry-After" "$(printf '%s\n' "$head" | grep -ci '^retry-after: 1')" 1
printf 'GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n' >&5
IFS= read -r -t 5 status <&5
check "/healthz says 503 while draining" "${status%$'\r'}" "HTTP/1.1 503 Service Unavailable"
exec 4<&- 5<&-
check "new connections are refused" \
	"$(curl -sS -o /dev/null --max-time 5 "$FO/healthz" 2>/dev/null; echo $?)" 7
t0=$(ms_now)
wait "$FANOUTD_PID"
rc=$?
FANOUTD_PID=
check "fanoutd exits 0 once the batch is done" "$rc" 0
check_true "within the drain timeout ($(($(ms_now) - t0)) ms)" test $(($(ms_now) - t0)) -lt 10000
wait "$RUNNING"
check "every item got its line" "$(grep -c '"index"' "$T/out.d")" 500
check "all of them results, none cancelled" "$(summary "$(cat "$T/out.d")" | jq -c '[.ok,.failed]')" "[500,0]"

# --- what outlives the drain timeout ends as cancelled ------------------------
start_fanoutd "[server]
drain_timeout_ms = 500"
batch "{\"requests\":$(items 20 "$UP/hang?tag=h"),\"options\":{\"concurrency\":5}}" >"$T/out.h" &
RUNNING=$!
check_true "a hanging batch is running" wait_until 5 inflight_is h 5
term_and_wait
check "fanoutd exits 0 after the drain timeout" "$rc" 0
check_true "about drain_timeout_ms after SIGTERM (took $ms ms)" test "$ms" -ge 450 -a "$ms" -lt 4000
wait "$RUNNING"
check "every item ends with a cancelled line" \
	"$(results "$(cat "$T/out.h")" | jq -r .error.type | sort | uniq -c | tr -s ' ')" " 20 cancelled"
check "the message says why" \
	"$(results "$(cat "$T/out.h")" | jq -r .error.message | sort -u)" \
	"fanoutd is shutting down (the drain timeout passed)"
check "and the summary comes last" \
	"$(tail -n 1 "$T/out.h" | jq -c '.summary | [.total,.failed]')" "[20,20]"
check_true "the upstream saw the hanging requests closed" wait_until 5 inflight_is h 0

# --- a second SIGTERM stops at once --------------------------------------------
start_fanoutd "[server]
drain_timeout_ms = 30000"
batch "[\"$UP/hang?tag=x\"]" >/dev/null 2>&1 &
check_true "a hanging batch is running" wait_until 5 inflight_is x 1
kill -TERM "$FANOUTD_PID"
wait_until 5 draining
term_and_wait
check "a second SIGTERM exits" "$rc" 0
check_true "at once (took $ms ms)" test "$ms" -lt 2000

finish
