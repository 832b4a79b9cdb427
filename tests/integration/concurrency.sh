#!/bin/bash
# concurrency.sh - DESIGN.md §2 concurrency, head-of-line blocking and
# connection reuse, measured by the test upstream: it counts requests in
# flight per tag (one tag per batch), per listening port (one port = one
# upstream host) and overall, and the TCP connections it accepted.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

# Two listeners: two distinct upstream hosts for fanoutd.
start_upstream 127.0.0.1:0 127.0.0.1:0
A=${UPS[0]}
B=${UPS[1]}
PA=${A##*:}
PB=${B##*:}
start_fanoutd "[limits]
concurrency = 10
batch_concurrency = 8
per_host_concurrency = 6"

# items N URL: a JSON array of N copies of URL.
items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}

reset() {
	curl -sS -o /dev/null "$A/stats/reset"
}

# --- per-batch cap, default batch concurrency -----------------------------
reset
out=$(batch "{\"requests\":$(items 30 "$A/delay/100?tag=c7"),\"options\":{\"concurrency\":4}}")
check "a batch's concurrency is its exact in-flight peak" \
	"$(upstream_stats | jq '.tags.c7.peak')" 4
check "all 30 items succeed" "$(summary "$out" | jq .ok)" 30
reset
out=$(batch "{\"requests\":$(items 30 "$A/delay/100?tag=cd")}")
check "the per-host cap (6) binds below the default batch cap (8)" \
	"$(upstream_stats | jq '.tags.cd.peak')" 6

# --- server per-host cap, batch per-host cap, two hosts ----------------------
reset
reqs=$(jq -cn --arg a "$A/delay/100?tag=h2" --arg b "$B/delay/100?tag=h2" \
	'[range(20)] | map($a, $b)')
out=$(batch "{\"requests\":$reqs,\"options\":{\"concurrency\":10}}")
st=$(upstream_stats)
check "a batch spread over two hosts runs its full 10 at once" \
	"$(printf '%s' "$st" | jq '.tags.h2.peak')" 10
check "while the server per-host cap (6) holds on each host" \
	"$(printf '%s' "$st" | jq -c "[.ports[\"$PA\"].peak, .ports[\"$PB\"].peak] | map(. <= 6)")" "[true,true]"
reset
out=$(batch "{\"requests\":$reqs,\"options\":{\"per_host_concurrency\":2}}")
st=$(upstream_stats)
check "a batch's per_host_concurrency holds per host" \
	"$(printf '%s' "$st" | jq -c "[.ports[\"$PA\"].peak, .ports[\"$PB\"].peak]")" "[2,2]"

# --- the global cap across concurrent batches -------------------------------
# Three batches of 8 over two hosts could run 12 (two hosts at 6); the
# global cap of 10 must bind.
reset
jobs=()
for t in g1 g2 g3; do
	batch "{\"requests\":$(jq -cn --arg a "$A/delay/150?tag=$t" --arg b "$B/delay/150?tag=$t" \
		'[range(12)] | map($a, $b)')}" >"$T/out.$t" &
	jobs+=($!)
done
wait "${jobs[@]}"
check "the global cap (10) holds across three concurrent batches" \
	"$(upstream_stats | jq '.peak')" 10
for t in g1 g2 g3; do
	check "batch $t completes" "$(summary "$(cat "$T/out.$t")" | jq .ok)" 24
	check "batch $t kept its own cap (8)" "$(upstream_stats | jq ".tags.$t.peak <= 8")" true
done

# --- wall time of N delayed items: ceil(N/C) * delay --------------------------
t0=$(ms_now)
out=$(batch "{\"requests\":$(items 24 "$A/delay/200"),\"options\":{\"concurrency\":6}}")
wall=$(($(ms_now) - t0))
check "24 items of 200 ms at concurrency 6 all succeed" "$(summary "$out" | jq .ok)" 24
check_true "they take at least ceil(24/6)*200 = 800 ms (took $wall ms)" \
	test "$wall" -ge 795
check_true "and not much more (took $wall ms, limit 1600)" test "$wall" -lt 1600

# --- no head-of-line blocking ------------------------------------------------
# Host A is saturated by slow items listed first; host B's items must not
# wait behind them.
reqs=$(jq -cn --arg a "$A/delay/1500" --arg b "$B/delay/20" \
	'[range(4) | $a] + [range(8) | $b]')
out=$(batch "{\"requests\":$reqs,\"options\":{\"per_host_concurrency\":2}}")
check "host B's items all finish before any of host A's" \
	"$(results "$out" | jq -r '.url | contains("'"$PB"'")' | head -n 8 | sort -u | tr '\n' ' ')" "true "
check "host B's slowest item took well under host A's delay" \
	"$(results "$out" | jq -s 'map(select(.url | contains("'"$PB"'"))) | max_by(.elapsed_ms) | .elapsed_ms < 1000')" true

# --- connection reuse ----------------------------------------------------------
reset
out=$(batch "{\"requests\":$(items 100 "$A/text/10"),\"options\":{\"concurrency\":5}}")
check "100 items succeed" "$(summary "$out" | jq .ok)" 100
c1=$(upstream_stats | jq .connections)
check_true "100 items over at most 5 connections (used $c1)" test "$c1" -le 5
out=$(batch "{\"requests\":$(items 100 "$A/text/10"),\"options\":{\"concurrency\":5}}")
c2=$(upstream_stats | jq .connections)
check "a second batch reuses the pooled connections" "$c2" "$c1"

finish
