#!/bin/bash
# policy.sh - traffic policy of DESIGN.md §2 and issue #3: token-bucket
# rate limits (accuracy, spacing, no busy wait, no head-of-line
# blocking), retries (classes, statuses, Retry-After, the deadline,
# unsafe methods) and redirects (relative, absolute, limits, method
# rules, credentials across origins). Times come from the upstream's
# own clock: /stats/times lists when each request of a tag arrived.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream 127.0.0.1:0 127.0.0.1:0
A=${UPS[0]}
B=${UPS[1]}
start_fanoutd

items() {
	jq -cn --arg u "$2" --argjson n "$1" '[range($n)] | map($u)'
}
times() {
	curl -sS "$UP/stats/times?tag=$1"
}
# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# --- rate: 20/s, burst 1, for ten seconds ------------------------------------
ticks0=$(cpu_ticks "$FANOUTD_PID")
out=$(batch "{\"requests\":$(items 260 "$A/text/1?tag=r20"),
	\"options\":{\"rate\":20,\"burst\":1,\"deadline_ms\":10000,\"retries\":0}}")
ticks1=$(cpu_ticks "$FANOUTD_PID")
t=$(times r20)
n10=$(printf '%s' "$t" | jq '.[0] as $t0 | map(select(. - $t0 < 10000)) | length')
# Never more than the rate allows: at most 200 + the burst of 1 (+1 for
# the edges of the window). Fewer only when the machine wakes fanoutd
# late: with a burst of 1, a token that comes while a late wake-up is
# still due is lost - a loaded machine loses a few (196 once, under
# three parallel test runs); 5% is the floor.
check_true "rate 20/s burst 1: 190 to 202 attempts in 10 s (saw $n10)" \
	test "$n10" -ge 190 -a "$n10" -le 202
# The instants fanoutd dispatched at (timings.queued, its own clock): at
# the upstream, arrivals carry the scheduling jitter of a loaded
# machine, and two could bunch up there though sent 50 ms apart.
mingap=$(results "$out" | jq -s '[.[] | select(.status) | .timings.queued] |
	sort | [range(1; length) as $i | .[$i] - .[$i-1]] | min')
check_true "no burst beyond 1: no two dispatches under 49 ms apart (min gap $mingap ms)" \
	jq -en "$mingap >= 49" >/dev/null
median=$(printf '%s' "$t" | jq '[range(1; length) as $i | .[$i] - .[$i-1]] | sort | .[length/2|floor]')
check_true "evenly spaced: the median gap is 50 ms (got $median)" \
	jq -en "$median >= 49 and $median <= 52" >/dev/null
check "items past the deadline end as deadline" \
	"$(summary "$out" | jq '.failed > 0 and .ok >= 190')" true
check_true "waiting for tokens costs no CPU ($((ticks1 - ticks0)) ticks in 10 s)" \
	test $((ticks1 - ticks0)) -lt 100
check "the wait is in /metrics" \
	"$(curl -sS "$FO/metrics" | awk '/^fanoutd_rate_limit_wait_seconds_total/ {print ($2 > 5)}')" 1

# --- a rate-limited host does not hold up other hosts --------------------------
reqs=$(jq -cn --arg a "$A/text/1?tag=hol" --arg b "$B/text/2" \
	'[range(12) | $a] + [range(2) | $b]')
out=$(batch "{\"requests\":$reqs,\"options\":{\"per_host_rate\":4,\"retries\":0}}")
check "host B's items are not held behind host A's queue" \
	"$(results "$out" | jq -s 'map(select(.url | contains("'"${B##*:}"'"))) | map(.elapsed_ms) | max < 1000')" true
check "host A is held to 4/s (12 items take about 2 s)" \
	"$(times hol | jq '.[-1] - .[0] >= 1900')" true

# --- each hop and each retry takes a token ---------------------------------------
t0=$(ms_now)
out=$(batch "{\"requests\":[\"$A/redirect/4?tag=hop\"],\"options\":{\"rate\":5,\"burst\":1}}")
check "a redirect chain under rate 5/s: 5 attempts" \
	"$(results "$out" | jq -c '[.ok,.attempts,.redirects]')" "[true,5,4]"
check_true "spaced by the rate (took $(($(ms_now) - t0)) ms)" test $(($(ms_now) - t0)) -ge 790

# --- retries --------------------------------------------------------------------
out=$(batch "{\"requests\":[\"$A/flaky/r1?fail=2\"],\"options\":{\"retries\":2,\"backoff_ms\":20}}")
check "503 twice, then 200: retried to success" \
	"$(results "$out" | jq -c '[.ok,.status,.attempts]')" "[true,200,3]"
check "the summary counts the retries" "$(summary "$out" | jq .retries)" 2
out=$(batch "{\"requests\":[\"$A/flaky/r2?fail=2\"],\"options\":{\"retries\":1,\"backoff_ms\":20}}")
check "out of retries: the last outcome is the result" \
	"$(results "$out" | jq -c '[.ok,.status,.attempts]')" "[false,503,2]"
out=$(batch "{\"requests\":[{\"url\":\"$A/flaky/r3?fail=1\",\"retries\":0}]}")
check "an item's retries override the batch's" \
	"$(results "$out" | jq -c '[.status,.attempts]')" "[503,1]"
out=$(batch "{\"requests\":[\"$A/flaky/r4?fail=1&status=500\"],\"options\":{\"backoff_ms\":20}}")
check "500 is not in the default retry_on" \
	"$(results "$out" | jq -c '[.status,.attempts]')" "[500,1]"
out=$(batch "{\"requests\":[\"$A/flaky/r5?fail=1&status=500\"],
	\"options\":{\"backoff_ms\":20,\"retry_on\":[\"500\"]}}")
check "retry_on [\"500\"] retries it" \
	"$(results "$out" | jq -c '[.status,.attempts]')" "[200,2]"
# Two closes: a pooled connection's close is absorbed within the attempt
# (a fresh connection, see pool.sh), so only a batch retry gets past both.
out=$(batch "{\"requests\":[\"$A/flaky/r6?fail=2&close=1\"],\"options\":{\"backoff_ms\":20}}")
check "a reset is retried by default" \
	"$(results "$out" | jq -c '[.ok, .attempts >= 2]')" "[true,true]"
out=$(batch "{\"requests\":[\"http://127.0.0.1:1/\"],\"options\":{\"backoff_ms\":20,\"retries\":2}}")
check "a connect failure is retried" \
	"$(results "$out" | jq -c '[.error.type,.attempts]')" '["connect",3]'

# Retry-After is honoured, within backoff_max_ms.
out=$(batch "{\"requests\":[\"$A/flaky/ra1?fail=1&retry_after=1&tag=ra1\"],
	\"options\":{\"backoff_ms\":1}}")
check "Retry-After: 1 is honoured" "$(results "$out" | jq .ok)" true
check "the retry came a second later" \
	"$(times ra1 | jq '.[1] - .[0] >= 990')" true
out=$(batch "{\"requests\":[\"$A/flaky/ra2?fail=1&status=429&retry_after=30\"],
	\"options\":{\"backoff_ms\":1,\"backoff_max_ms\":200}}")
check "Retry-After is capped by backoff_max_ms" \
	"$(results "$out" | jq -c '[.ok, .elapsed_ms < 2000]')" "[true,true]"
out=$(batch "{\"requests\":[\"$A/flaky/ra3?fail=1&retry_after=5\"],
	\"options\":{\"deadline_ms\":1500,\"backoff_max_ms\":10000}}")
check "a retry that would start after the deadline: the last outcome ends it" \
	"$(results "$out" | jq -c '[.status, .attempts, .elapsed_ms < 1000]')" "[503,1,true]"

# Unsafe methods.
out=$(batch "{\"requests\":[{\"url\":\"$A/flaky/p1?fail=1\",\"method\":\"POST\",\"body\":\"x\"}],
	\"options\":{\"backoff_ms\":20}}")
check "a POST that reached the upstream is not retried" \
	"$(results "$out" | jq -c '[.status,.attempts]')" "[503,1]"
out=$(batch "{\"requests\":[{\"url\":\"$A/flaky/p2?fail=1\",\"method\":\"POST\",\"body\":\"x\",
	\"retry_unsafe\":true}],\"options\":{\"backoff_ms\":20}}")
check "unless the item says retry_unsafe" \
	"$(results "$out" | jq -c '[.status,.attempts]')" "[200,2]"
out=$(batch "{\"requests\":[{\"url\":\"http://127.0.0.1:1/\",\"method\":\"PATCH\"}],
	\"options\":{\"backoff_ms\":20,\"retries\":1}}")
check "a PATCH that never connected is retried" \
	"$(results "$out" | jq -c '[.error.type,.attempts]')" '["connect",2]'

# --- redirects --------------------------------------------------------------------
out=$(batch "[\"$A/redirect/3\",\"$A/redirect/2?abs=1\"]")
check "a relative redirect chain is followed" \
	"$(results "$out" | jq -c 'select(.index==0) | [.ok,.body,.redirects,.attempts,.final_url]')" \
	"[true,\"redirected\\n\",3,4,\"$A/redirect/0\"]"
check "so is an absolute one" \
	"$(results "$out" | jq -c 'select(.index==1) | [.ok,.redirects]')" "[true,2]"
check "url stays the one given" \
	"$(results "$out" | jq -r 'select(.index==0) | .url')" "$A/redirect/3"
out=$(batch "{\"requests\":[\"$A/redirect/3\"],\"options\":{\"follow_redirects\":2}}")
check "past follow_redirects: too_many_redirects" \
	"$(results "$out" | jq -r .error.type)" too_many_redirects
out=$(batch "{\"requests\":[\"$A/redirect/3\"],\"options\":{\"follow_redirects\":0}}")
check "follow_redirects 0 returns the 302" \
	"$(results "$out" | jq -c '[.status, .headers.location, has("final_url")]')" '[302,"2",false]'
enc() {
	jq -rn --arg u "$1" '$u | @uri'
}
out=$(batch "[{\"url\":\"$A/redirect-to?status=303&url=$(enc /echo)\",\"method\":\"POST\",\"body\":\"data\"},
	{\"url\":\"$A/redirect-to?status=307&url=$(enc /echo)\",\"method\":\"POST\",\"body\":\"data\"},
	{\"url\":\"$A/redirect-to?status=302&url=$(enc /echo)\",\"method\":\"POST\",\"body\":\"data\"}]")
check "303 turns a POST into a GET without a body" \
	"$(results "$out" | jq -r 'select(.index==0) | .body | fromjson | [.method, .body_len] | @tsv')" \
	"GET	0"
check "307 keeps the method and the body" \
	"$(results "$out" | jq -r 'select(.index==1) | .body | fromjson | [.method, (.body_base64 | @base64d)] | @tsv')" \
	"POST	data"
check "302 after a POST becomes a GET" \
	"$(results "$out" | jq -r 'select(.index==2) | .body | fromjson | .method')" GET
hdrs='{"Authorization":"Bearer s3cret","Cookie":"c=1","X-Keep":"yes"}'
out=$(batch "[{\"url\":\"$A/redirect-to?url=$(enc "$B/echo")\",\"headers\":$hdrs},
	{\"url\":\"$A/redirect-to?url=$(enc /echo)\",\"headers\":$hdrs}]")
check "a cross-origin hop drops Authorization and Cookie" \
	"$(results "$out" | jq -r 'select(.index==0) | .body | fromjson | [.headers[][0]] | map(select(. == "Authorization" or . == "Cookie" or . == "X-Keep")) | join(",")')" \
	"X-Keep"
check "a same-origin hop keeps them" \
	"$(results "$out" | jq -r 'select(.index==1) | .body | fromjson | [.headers[][0]] | map(select(. == "Authorization" or . == "Cookie" or . == "X-Keep")) | join(",")')" \
	"Authorization,Cookie,X-Keep"
check "redirects are counted in /metrics" \
	"$(curl -sS "$FO/metrics" | awk '/^fanoutd_upstream_redirects_total/ {print ($2 >= 10)}')" 1
check "retries are counted in /metrics" \
	"$(curl -sS "$FO/metrics" | awk '/^fanoutd_upstream_retries_total/ {print ($2 >= 5)}')" 1

# --- the server's own buckets bind across batches ------------------------------
# run_two TAG URL: two concurrent batches of 5 items each.
run_two() {
	local jobs=() i
	for i in 1 2; do
		batch "$(items 5 "$2?tag=$1")" >/dev/null &
		jobs+=($!)
	done
	wait "${jobs[@]}"
}
stop_fanoutd
start_fanoutd "[limits]
rate = 10
burst = 1"
run_two glob "$A/text/1"
check "[limits] rate 10/s: ten attempts of two batches span 0.9 s" \
	"$(times glob | jq 'length == 10 and (.[-1] - .[0]) >= 850')" true
stop_fanoutd
start_fanoutd "[limits]
per_host_rate = 5
per_host_burst = 1"
run_two ph "$A/text/1"
check "[limits] per_host_rate 5/s: ten attempts to one host span 1.8 s" \
	"$(times ph | jq 'length == 10 and (.[-1] - .[0]) >= 1750')" true

finish
