#!/bin/bash
# jobs_crash.sh - issue #16's crash safety, measured: a 100,000-item job
# (JOBS_CRASH_ITEMS), fanoutd killed with SIGKILL at ten moments spread
# over the run (each when a reader has seen another tenth of the lines,
# plus a random few ms), restarted each time on the same store. Then:
# exactly one result line per item; seq strictly increasing with no gap;
# every line a reader received before a kill is still there, unchanged;
# the POST items (1 in 100) end ok or `interrupted`, never sent twice.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

# Under the sanitizers (pass 4) a fifth of it: the same kills, in time.
if [ -n "${FANOUTD_SANITIZED:-}" ]; then
	N=${JOBS_CRASH_ITEMS:-20000}
else
	N=${JOBS_CRASH_ITEMS:-100000}
fi
KILLS=10
start_upstream
# Not fsync'd: a crash of the process loses nothing committed either way
# (the database survives kill -9 without it); fsync only guards against
# power loss, and it would make the run ten times longer on this VM.
CONF=$'[jobs]\ndurable = false'
start_fanoutd "$CONF"

jq -cn --arg u "$UP" --argjson n "$N" '{requests: [range($n) |
	if . % 100 == 7 then {url: "\($u)/echo?tag=post\(.)", method: "POST", body: "x"}
	else "\($u)/text/8" end], options: {concurrency: 64, retries: 0}}' >"$T/job.json"
id=$(curl -sS --max-time 120 -X POST "$FO/v1/jobs" -H 'Content-Type: application/json' \
	--data-binary "@$T/job.json" | jq -r .job.id)
check "the job is created" "$(printf '%s' "$id" | grep -cE '^[0-9a-f]{32}$')" 1

# The reader: follows the results from its cursor; what it receives is
# kept (complete lines only) and checked at the end.
last=0
read_from() {
	curl -sS -N --max-time 120 "$FO/v1/jobs/$id/results?follow=true&after=$last" \
		>"$T/read.$1" 2>/dev/null &
	READER=$!
}
lines_seen() {
	cat "$T"/read.* 2>/dev/null | grep -c '^{"seq"'
}
for k in $(seq 1 "$KILLS"); do
	read_from "$k"
	want=$((N * k / (KILLS + 2)))
	enough() {
		test "$(lines_seen)" -ge "$want"
	}
	if ! wait_until 60 enough; then
		fail "kill $k: the reader never saw $want lines"
		break
	fi
	# A random moment just after: mid-commit, mid-lease, mid-write.
	sleep "0.0$((RANDOM % 50))"
	kill -9 "$FANOUTD_PID"
	wait "$FANOUTD_PID" 2>/dev/null
	FANOUTD_PID=
	wait "$READER" 2>/dev/null
	last=$(jq -R -r 'fromjson? | .seq // empty' "$T/read.$k" | tail -n 1)
	last=${last:-0}
	echo "# kill $k at $(lines_seen) lines read (cursor $last)"
	start_fanoutd "$CONF"
done
read_from final
wait "$READER"
check "the job ends done" \
	"$(jq -R -c 'fromjson? | select(.summary) | .summary.job.state' "$T/read.final")" '"done"'

curl -sS --max-time 120 "$FO/v1/jobs/$id/results" | grep '^{"seq"' >"$T/all"
check "exactly one result line per item" \
	"$(jq -s -c '[length, (map(.index) | unique | length)]' "$T/all")" "[$N,$N]"
check "seq is 1..N, strictly increasing, no gap" \
	"$(jq -s -c --argjson n "$N" 'map(.seq) == [range(1; $n + 1)]' "$T/all")" true
# A kill cuts the last line of a read short: only newline-ended lines.
for f in "$T"/read.*; do
	if [ -n "$(tail -c 1 "$f")" ]; then sed '$d' "$f"; else cat "$f"; fi
done | grep '^{"seq"' | sort -u >"$T/seen"
sort -u "$T/all" >"$T/all.sorted"
check "every line a reader received is still there, unchanged ($(wc -l <"$T/seen") lines)" \
	"$(comm -23 "$T/seen" "$T/all.sorted" | wc -l)" 0
check "GET items all ok; POST items ok or interrupted" \
	"$(jq -s 'map(select(.ok | not)) | all(.index % 100 == 7 and .error.type == "interrupted")' "$T/all")" true
check "no POST was sent twice" \
	"$(upstream_stats | jq '[.tags | to_entries[] | select(.key | startswith("post")) | .value.requests] | max')" 1
echo "# $(jq -s 'map(select(.error.type == "interrupted")) | length' "$T/all") POST items ended interrupted"
stop_fanoutd
finish
