#!/bin/bash
# cancel.sh - a caller that disconnects mid-stream (DESIGN.md §2
# Cancellation): its in-flight upstream requests are closed at once (the
# upstream sees them aborted), its queue is dropped (nothing more is
# dispatched), and the daemon keeps serving everyone else.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd

items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}

# 50 hanging items, 5 at a time; the caller gives up after one second.
curl -sS --max-time 1 -X POST "$FO/v1/batch" \
	--data-binary "{\"requests\":$(items 50 "$UP/hang?tag=gone"),\"options\":{\"concurrency\":5}}" \
	>"$T/partial" 2>/dev/null
check "curl gave up (exit 28 means it timed out)" "$?" 28

aborted() {
	test "$(upstream_stats | jq '.tags.gone.aborted')" = 5
}
check_true "the upstream sees all 5 in-flight requests closed" \
	wait_until 5 aborted
check "no request is left in flight upstream" \
	"$(upstream_stats | jq '.tags.gone.inflight')" 0
check "the queued 45 were never sent" \
	"$(upstream_stats | jq '.tags.gone.requests')" 5
check "fanoutd's in-flight gauge is back to 0" \
	"$(curl -sS "$FO/metrics" | grep -c '^fanoutd_inflight 0$')" 1
check "and its queue is empty" \
	"$(curl -sS "$FO/metrics" | grep -c '^fanoutd_queued 0$')" 1
check "the cancellation is counted" \
	"$(curl -sS "$FO/metrics" | grep -c '^fanoutd_batches_cancelled_total 1$')" 1

# A caller that leaves after some results were streamed.
curl -sS -N --max-time 1.5 -X POST "$FO/v1/batch" \
	--data-binary "[\"$UP/text/3\",\"$UP/delay/5000?tag=later\"]" \
	>"$T/partial2" 2>/dev/null
check "the finished item's line reached the caller before it left" \
	"$(head -n 1 "$T/partial2" | jq -r .ok)" true
later_gone() {
	test "$(upstream_stats | jq '.tags.later.aborted')" = 1
}
check_true "the slow one was cancelled upstream" wait_until 5 later_gone

# The daemon keeps serving.
out=$(batch "[\"$UP/text/4\"]")
check "the next batch runs normally" "$(summary "$out" | jq -c '[.total,.ok]')" "[1,1]"

finish
