#!/bin/bash
# pool.sh - keep-alive connections (DESIGN.md §2 Connection reuse): the
# idle pool is bounded per host, idle connections close after
# idle_timeout_ms, and an upstream that closes idle connections between
# batches (its keep-alive timeout) never fails the next batch.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd "[upstream]
max_idle_per_host = 3
idle_timeout_ms = 2000"

items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}
open_conns() {
	upstream_stats | jq .open_connections
}
idle_gauge() {
	curl -sS "$FO/metrics" | sed -n 's/^fanoutd_upstream_connections{state="idle"} //p'
}

out=$(batch "{\"requests\":$(items 40 "$UP/delay/50"),\"options\":{\"concurrency\":10}}")
check "a batch over 10 connections succeeds" "$(summary "$out" | jq .ok)" 40
check "10 connections were used" "$(upstream_stats | jq .connections)" 10
# The stats request itself holds one connection open.
at_most_idle_cap() {
	test "$(open_conns)" -le 4
}
check_true "only max_idle_per_host (3) stay open afterwards" wait_until 5 at_most_idle_cap
check "fanoutd reports 3 idle connections" "$(idle_gauge)" 3
# The states partition the connections (issue #14 point 14): active and
# idle, whose sum() is the number open - not open + idle.
check "none active, and sum() over the states is the 3 open" \
	"$(curl -sS "$FO/metrics" | awk '/^fanoutd_upstream_connections\{/ {n[$1] = $2; s += $2} END {print n["fanoutd_upstream_connections{state=\"active\"}"], s}')" \
	"0 3"
batch "{\"requests\":$(items 5 "$UP/delay/1500"),\"options\":{\"concurrency\":5}}" >/dev/null &
bg=$!
five_active() {
	curl -sS "$FO/metrics" | grep -qx 'fanoutd_upstream_connections{state="active"} 5'
}
check_true "5 active while a 5-wide batch runs" wait_until 5 five_active
check "and those 5 are not idle too" "$(idle_gauge)" 0
wait "$bg"

# The upstream drops its idle connections, as a keep-alive timeout does.
curl -sS -o /dev/null "$UP/close-idle"
out=$(batch "{\"requests\":$(items 20 "$UP/text/3"),\"options\":{\"concurrency\":5}}")
check "a batch after the upstream closed idle connections succeeds" \
	"$(summary "$out" | jq -c '[.ok,.failed]')" "[20,0]"
check "with one attempt per item" \
	"$(results "$out" | jq -s 'map(.attempts) | max')" 1

# A pooled connection the upstream drops just as it is reused: one
# fresh connection within the same attempt, for idempotent methods only.
curl -sS -o /dev/null "$UP/stats/reset"
out=$(batch "{\"requests\":[\"$UP/text/1?tag=s\",\"$UP/text/2?tag=s&close_reused=1\"],
	\"options\":{\"concurrency\":1}}")
check "a stale pooled connection is retried on a fresh one" \
	"$(results "$out" | jq -c 'select(.index==1) | [.ok,.body,.attempts]')" '[true,"ab",1]'
check "the retry went over a new connection" "$(upstream_stats | jq .tags.s.requests)" 3
out=$(batch "{\"requests\":[\"$UP/text/1\",{\"url\":\"$UP/echo?close_reused=1\",\"method\":\"POST\",\"body\":\"x\"}],
	\"options\":{\"concurrency\":1}}")
check "a POST on a stale connection is not sent twice" \
	"$(results "$out" | jq -r 'select(.index==1) | .error.type')" reset

# idle_timeout_ms closes what stays idle.
curl -sS -o /dev/null "$UP/stats/reset"
out=$(batch "[\"$UP/text/1\",\"$UP/text/2\"]")
pool_empty() {
	test "$(idle_gauge)" = 0
}
check_true "idle connections close after idle_timeout_ms" wait_until 5 pool_empty
check "and the upstream sees them closed" "$(open_conns)" 1
out=$(batch "[\"$UP/text/4\"]")
check "the next batch opens a new one" "$(summary "$out" | jq .ok)" 1

finish
