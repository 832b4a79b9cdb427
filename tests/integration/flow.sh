#!/bin/bash
# flow.sh - how results flow back (issue #3): fairness between batches,
# backpressure against a caller that does not read, progress lines, and
# gzip / deflate bodies decoded under max_body_bytes (a bomb stops at the
# cap).
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd "[limits]
concurrency = 20
batch_concurrency = 20
per_host_concurrency = 20"
PORT=${FO##*:}

items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}
rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$FANOUTD_PID/status"
}

# --- fairness -------------------------------------------------------------------
small=$(items 10 "$UP/delay/200")
t0=$(ms_now)
batch "$small" >/dev/null
solo=$(($(ms_now) - t0))
# A 100,000-item batch of short items takes every slot of the global
# cap (its items finish at 400/s, so slots free up all the time)...
jq -cn --arg u "$UP/delay/50?tag=big" '[range(100000)] | map($u)' >"$T/big.json"
curl -sS -X POST "$FO/v1/batch" --data-binary @"$T/big.json" >/dev/null 2>&1 &
BIG=$!
full() {
	test "$(upstream_stats | jq '.tags.big.inflight // 0')" = 20
}
check_true "the big batch holds all 20 slots" wait_until 20 full
# ...yet a small batch that arrives later gets its share at once.
t0=$(ms_now)
out=$(batch "$small")
shared=$(($(ms_now) - t0))
check "the small batch completes" "$(summary "$out" | jq .ok)" 10
check_true "in under twice its solo time (solo $solo ms, shared $shared ms)" \
	test "$shared" -lt $((2 * solo))
kill "$BIG" 2>/dev/null
wait "$BIG" 2>/dev/null
idle() {
	test "$(upstream_stats | jq '.inflight')" = 0
}
check_true "cancelling the big batch frees every slot" wait_until 10 idle

# --- backpressure ------------------------------------------------------------------
# 10,000 items of ~2.7 KiB lines (27 MiB of output) for a caller that
# reads nothing for five seconds.
body=$(jq -cn --arg u "$UP/text/2000?tag=bp" '{requests: [range(10000)] | map($u), options: {headers: false}}')
curl -sS -o /dev/null "$UP/stats/reset"
rss0=$(rss_kb)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/batch HTTP/1.1\r\nHost: fanoutd\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"${#body}" "$body" >&3
sleep 5 # the caller reads nothing for 5 s: the scenario, not a wait
rss1=$(rss_kb)
sent=$(upstream_stats | jq '.tags.bp.requests')
check_memory "RSS grew by under 16 MiB while the caller did not read ($(((rss1 - rss0) / 1024)) MiB)" \
	test $((rss1 - rss0)) -lt 16384
check_true "the batch stopped dispatching ($sent of 10000 sent)" test "$sent" -lt 5000
lines=$(cat <&3 | grep -c '"index":\|"summary":')
exec 3<&-
check "every line arrives once the caller reads" "$lines" 10001
check "and every item was fetched" "$(upstream_stats | jq '.tags.bp.requests')" 10000

# --- progress lines -------------------------------------------------------------------
out=$(batch "{\"requests\":$(items 4 "$UP/delay/300"),
	\"options\":{\"concurrency\":1,\"progress_ms\":250}}")
prog=$(printf '%s\n' "$out" | jq -c 'select(.progress) | .progress')
check_true "progress lines arrive while the batch runs" \
	test "$(printf '%s\n' "$prog" | grep -c total)" -ge 3
check "they count up" \
	"$(printf '%s\n' "$prog" | jq -s 'map(.done) | . == sort')" true
check "with total, in_flight and queued" \
	"$(printf '%s\n' "$prog" | head -n 1 | jq -c '[.total, .in_flight, (.queued | type)]')" '[4,1,"number"]'
check "the summary is still last" \
	"$(printf '%s\n' "$out" | tail -n 1 | jq -c 'keys')" '["summary"]'
out=$(curl -sS -X POST "$FO/v1/batch?format=sse&progress_ms=200" \
	--data-binary "$(items 2 "$UP/delay/300")" -H 'Content-Type: application/json')
check_true "SSE progress is an event of its own" \
	test "$(printf '%s\n' "$out" | grep -c '^event: progress')" -ge 1

# --- compressed bodies ---------------------------------------------------------------
out=$(batch "[\"$UP/gzip/1000\",\"$UP/deflate/100\",\"$UP/deflate-raw/100\",\"$UP/gzip-bad\"]")
check "a gzip body is decoded" \
	"$(results "$out" | jq -c 'select(.index==0) | [.body_encoding, .body_bytes, (.body | .[0:5])]')" \
	'["utf8",1000,"abcde"]'
check "a zlib deflate body is decoded" \
	"$(results "$out" | jq -c 'select(.index==1) | [.body_bytes, .truncated]')" '[100,false]'
check "a raw deflate body is decoded" \
	"$(results "$out" | jq -c 'select(.index==2) | [.body_bytes, (.body | .[0:3])]')" '[100,"abc"]'
check "a corrupt gzip body is a protocol error" \
	"$(results "$out" | jq -r 'select(.index==3) | .error.type')" protocol
out=$(batch "{\"requests\":[\"$UP/gzip-bomb/200\"],\"options\":{\"max_body_bytes\":1048576}}")
check "a gzip bomb stops at max_body_bytes of decoded data" \
	"$(results "$out" | jq -c '[.ok, .body_bytes, .truncated]')" "[true,1048576,true]"
check_memory "without fanoutd blowing up (RSS $(($(rss_kb) / 1024)) MiB)" test "$(rss_kb)" -lt 200000
out=$(batch "{\"requests\":[\"$UP/gzip/1000\"],\"options\":{\"decode\":false}}")
check "decode false passes the compressed bytes through" \
	"$(results "$out" | jq -c '[.body_encoding, .body_bytes < 1000]')" '["base64",true]'
out=$(batch "[\"$UP/echo\",{\"url\":\"$UP/echo\",\"headers\":{\"Accept-Encoding\":\"br\"}}]")
check "fanoutd asks for gzip and deflate" \
	"$(results "$out" | jq -r 'select(.index==0) | .body | fromjson | .headers[] | select(.[0]=="Accept-Encoding") | .[1]')" \
	"gzip, deflate"
check "unless the item asks for its own encoding" \
	"$(results "$out" | jq -r 'select(.index==1) | .body | fromjson | .headers[] | select(.[0]=="Accept-Encoding") | .[1]')" \
	"br"

finish
