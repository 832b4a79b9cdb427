#!/bin/bash
# jobs.sh - durable jobs (issue #16): the /v1/jobs API against the real
# daemon and its SQLite store: create (201, Location, Idempotency-Key),
# state and counts, results (seq, ?after, ?state=failed, follow, SSE with
# Last-Event-ID, JSON, ?latest), cancel, retry, delete, list, every error as JSON;
# a job survives a restart (SIGTERM returns what was not sent) and kill -9
# (an unsafe item in flight ends `interrupted`, unless retry_unsafe); a
# job is not one of the batches max_active_batches counts; auth covers
# every endpoint; a store that cannot open leaves batches working.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd $'max_active_batches = 1\n[jobs]\nmax_items = 500\nmax_active = 3'

# post_job BODY [CURL ARGS...]: POST /v1/jobs; prints the headers and body.
post_job() {
	local body=$1
	shift
	curl -sS -i --max-time 30 -X POST "$FO/v1/jobs" \
		-H 'Content-Type: application/json' --data-binary "$body" "$@" |
		tr -d '\r'
}
# job_id RESPONSE: the ID of the job in a create response.
job_id() {
	printf '%s\n' "$1" | sed -n '/^{/p' | jq -r .job.id
}
status_of() {
	printf '%s\n' "$1" | head -n 1 | cut -d' ' -f2
}
# follow ID [QUERY]: the results, following until the job ends.
follow() {
	curl -sS -N --max-time 60 "$FO/v1/jobs/$1/results?follow=true${2:+&$2}"
}
error_of() {
	printf '%s\n' "$1" | sed -n '/^{/p' | jq -r '.error.type + ": " + .error.message'
}

# --- create, follow, state ---------------------------------------------------
r=$(post_job "{\"requests\":[\"$UP/delay/200\",\"$UP/status/500\",{\"url\":\"$UP/text/5\",\"id\":\"t\"},\"ftp://x/\"],\"options\":{\"concurrency\":2,\"retries\":0},\"job\":{\"name\":\"first\",\"ttl_s\":3600}}")
check "a job is created with 201" "$(status_of "$r")" 201
id=$(job_id "$r")
check "its ID is 128 random bits as 32 hex digits" \
	"$(printf '%s' "$id" | grep -cE '^[0-9a-f]{32}$')" 1
check "Location names it" "$(printf '%s\n' "$r" | sed -n 's/^Location: //p')" "/v1/jobs/$id"
check "the answer has its name, ttl and options" \
	"$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -c '.job | [.name, .ttl_s, .options.concurrency, .counts.total]')" \
	'["first",3600,2,4]'
out=$(follow "$id")
check "following gives one line per item, then the summary" \
	"$(results "$out" | jq -s -c 'map(.index) | sort')" '[0,1,2,3]'
check "seq runs 1, 2, 3, 4 in completion order" \
	"$(results "$out" | jq -s -c 'map(.seq)')" '[1,2,3,4]'
check "each line is the batch line plus seq" \
	"$(results "$out" | jq -s -c 'map(select(.index == 2)) | .[0] | [.id, .ok, .status, .body]')" \
	'["t",true,200,"abcde"]'
check "errors are values: the 500 and the invalid item" \
	"$(results "$out" | jq -s -c 'sort_by(.index) | map(.error.type // .status)')" \
	'[200,500,200,"invalid_request"]'
check "the summary is the job, done, with its counts" \
	"$(summary "$out" | jq -c '[.job.state, .job.counts, .lines]')" \
	'["done",{"total":4,"pending":0,"in_flight":0,"ok":2,"failed":2},4]'
j=$(curl -sS "$FO/v1/jobs/$id")
check "GET says done, with start and finish times" \
	"$(printf '%s' "$j" | jq -c '.job | [.state, (.started_at | type), (.finished_at | type), .last_seq]')" \
	'["done","string","string",4]'

# --- reading results ------------------------------------------------------------
check "?after resumes from a seq" \
	"$(curl -sS "$FO/v1/jobs/$id/results?after=2" | jq -s -c 'map(.seq // "summary")')" \
	'[3,4,"summary"]'
check "?state=failed gives the failed lines only" \
	"$(curl -sS "$FO/v1/jobs/$id/results?state=failed" | jq -s -c 'map(select(.seq)) | map(.index) | sort')" \
	'[1,3]'
sse=$(curl -sS -H 'Accept: text/event-stream' "$FO/v1/jobs/$id/results")
check "SSE events carry id = seq" "$(printf '%s\n' "$sse" | grep -c '^id: [1-4]$')" 4
check "Last-Event-ID resumes" \
	"$(curl -sS -H 'Accept: text/event-stream' -H 'Last-Event-ID: 3' "$FO/v1/jobs/$id/results" | grep '^id:' | tr '\n' ' ')" \
	'id: 4 '
check "format=json is one document" \
	"$(curl -sS "$FO/v1/jobs/$id/results?format=json" | jq -c '[(.results | length), .summary.job.state]')" \
	'[4,"done"]'

# --- idempotency ------------------------------------------------------------------
body="[\"$UP/text/1\"]"
a=$(post_job "$body" -H 'Idempotency-Key: order-42')
b=$(post_job "$body" -H 'Idempotency-Key: order-42')
check "a repeated Idempotency-Key answers 200 with the same job" \
	"$(status_of "$a") $(status_of "$b") $(test "$(job_id "$a")" = "$(job_id "$b")" && echo same)" \
	"201 200 same"
follow "$(job_id "$a")" >/dev/null

# --- a job is not a batch for max_active_batches ---------------------------------
r=$(post_job "{\"requests\":[\"$UP/delay/60000?tag=slow\"],\"options\":{\"timeout_ms\":120000}}")
slow=$(job_id "$r")
running() {
	test "$(upstream_stats | jq '.tags.slow.inflight // 0')" = 1
}
check_true "the slow job is in flight" wait_until 10 running
check "a batch is still admitted while a job runs (max_active_batches = 1)" \
	"$(batch "[\"$UP/text/2\"]" | jq -c 'select(.summary) | .summary.ok')" 1

# --- cancel, delete --------------------------------------------------------------
r=$(curl -sS -i -X DELETE "$FO/v1/jobs/$slow" | tr -d '\r')
check "a running job cannot be deleted" "$(status_of "$r") $(error_of "$r" | cut -d: -f1)" "409 conflict"
# A follower already there when the job is cancelled: it gets the line
# of the attempt that was in flight before its summary.
follow "$slow" >"$T/follower" &
fpid=$!
r=$(curl -sS -X POST "$FO/v1/jobs/$slow/cancel")
check "cancel answers the job, cancelled" "$(printf '%s' "$r" | jq -r .job.state)" cancelled
wait "$fpid"
check "a follower sees the in-flight item's cancelled line, then the summary with nothing in flight" \
	"$(jq -c 'if .summary then [.summary.job.state, .summary.job.counts.in_flight, .summary.lines] else .error.type end' "$T/follower" | tr '\n' ' ')" \
	'"cancelled" ["cancelled",0,1] '
out=$(follow "$slow")
check "the item in flight ends with a cancelled line" \
	"$(results "$out" | jq -c '[.index, .error.type]')" '[0,"cancelled"]'
check "the upstream saw the attempt closed" \
	"$(upstream_stats | jq '.tags.slow.aborted')" 1
r=$(curl -sS -i -X POST "$FO/v1/jobs/$slow/cancel" | tr -d '\r')
check "cancelling again is a conflict" "$(status_of "$r")" 409
r=$(curl -sS -i -X DELETE "$FO/v1/jobs/$slow" | tr -d '\r')
check "a cancelled job is deleted with 204" "$(status_of "$r")" 204
r=$(curl -sS -i "$FO/v1/jobs/$slow" | tr -d '\r')
check "then it is gone" "$(status_of "$r") $(error_of "$r")" "404 not_found: no such job: $slow"

# --- counts: in_flight is what is on the wire, not every leased item -------------
# (With the jobs in PostgreSQL - jobs_pg.sh - it is every leased item: the
# one definition every instance can answer alike.)
r=$(post_job "{\"requests\":[\"$UP/delay/60000?tag=c1\",\"$UP/delay/60000?tag=c1\",\"$UP/delay/60000?tag=c1\",\"$UP/delay/60000?tag=c1\"],\"options\":{\"concurrency\":1,\"timeout_ms\":120000}}")
cj=$(job_id "$r")
want='[3,1,0]' what="one in flight, the rest pending"
if [ -n "${FANOUTD_JOB_STORE:-}" ]; then
	want='[0,4,0]' what="all four in flight (leased)"
fi
wait_until 10 sh -c "curl -sS '$FO/v1/jobs/$cj' | jq -c '.job.counts | [.pending, .in_flight, .ok]' | grep -qF '$want'"
check "concurrency 1: $what, while the runner holds all four" \
	"$(curl -sS "$FO/v1/jobs/$cj" | jq -c '.job.counts | [.pending, .in_flight, .ok]')" "$want"
check "the upstream agrees: one request in flight" "$(upstream_stats | jq -c '[.tags.c1.inflight, .tags.c1.peak]')" '[1,1]'
r=$(curl -sS -X POST "$FO/v1/jobs/$cj/cancel")
check "right after a cancel, nothing is pending" "$(printf '%s' "$r" | jq -c '.job.counts.pending')" 0
follow "$cj" >/dev/null
check "(the job is deleted once its lines are in)" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$FO/v1/jobs/$cj")" 204

# --- retry -----------------------------------------------------------------------
r=$(curl -sS -X POST "$FO/v1/jobs/$id/retry")
check "retry queues the failed items again" "$(printf '%s' "$r" | jq -c '.job.counts | [.pending, .failed]')" '[2,0]'
out=$(follow "$id" after=4)
check "their new lines follow with seq 5 and 6; the old ones stay" \
	"$(results "$out" | jq -s -c 'map(.seq) | sort')" '[5,6]'
check "the job has 6 lines in all, item 1 and 3 twice" \
	"$(curl -sS "$FO/v1/jobs/$id/results" | jq -s -c 'map(select(.seq) | .index) | sort')" '[0,1,1,2,3,3]' 

# --- ?latest=true: each item's current line only ----------------------------------
# Item 0 fails twice then succeeds, item 1 always fails, item 2 is ok:
# after two retries the job holds 7 lines, 3 of them current.
r=$(post_job "{\"requests\":[\"$UP/flaky/latest-$$?fail=2\",\"$UP/status/500?tag=lt\",\"$UP/status/200?tag=lt\"],\"options\":{\"retries\":0}}")
lt=$(job_id "$r")
follow "$lt" >/dev/null
curl -sS -o /dev/null -X POST "$FO/v1/jobs/$lt/retry"
follow "$lt" >/dev/null
curl -sS -o /dev/null -X POST "$FO/v1/jobs/$lt/retry"
follow "$lt" >/dev/null
check "after two retries: 7 lines, items 0 and 1 three times" \
	"$(curl -sS "$FO/v1/jobs/$lt/results" | jq -s -c 'map(select(.seq) | .index) | sort')" '[0,0,0,1,1,1,2]'
# (Within a round the items end in any order: each item's newest seq is
# read from all the lines.)
check "?latest=true: one line per item, its newest, in seq order" \
	"$(curl -sS "$FO/v1/jobs/$lt/results?latest=true" | jq -s -c 'map(select(.seq) | [.index, .ok, .seq])')" \
	"$(curl -sS "$FO/v1/jobs/$lt/results" | jq -s -c 'map(select(.seq)) | group_by(.index) | map(max_by(.seq) | [.index, .ok, .seq]) | sort_by(.[2])')"
check "... which are item 0 ok at last, item 1 failed, item 2 ok" \
	"$(curl -sS "$FO/v1/jobs/$lt/results?latest=true" | jq -s -c 'map(select(.seq) | [.index, .ok]) | sort')" \
	'[[0,true],[1,false],[2,true]]'
check "?latest=true&state=failed: the failures that stand (counts.failed of them)" \
	"$(curl -sS "$FO/v1/jobs/$lt/results?latest=true&state=failed" | jq -s -c '[map(select(.seq) | .index), (.[-1].summary.job.counts.failed)]')" \
	'[[1],1]'
check "?latest pages with ?after= as the other filters do" \
	"$(curl -sS "$FO/v1/jobs/$lt/results?latest=true&after=3" | jq -s -c 'map(select(.seq) | .seq)')" '[6,7]'
check "a bad latest is a JSON 400" \
	"$(curl -sS "$FO/v1/jobs/$lt/results?latest=maybe" | jq -r .error.message)" "latest: expected true or false"

# --- list --------------------------------------------------------------------------
check "GET /v1/jobs lists the jobs in creation order" \
	"$(curl -sS "$FO/v1/jobs" | jq -c '[.jobs[].name] | .[0]')" '"first"'
check "state filters" "$(curl -sS "$FO/v1/jobs?state=cancelled" | jq '.jobs | length')" 0
p1=$(curl -sS "$FO/v1/jobs?limit=1")
check "limit pages, next names where the next page starts" \
	"$(curl -sS "$FO/v1/jobs?limit=1&after=$(printf '%s' "$p1" | jq -r .next)" | jq -r '.jobs[0].id')" \
	"$(job_id "$a")"

all=$(curl -sS "$FO/v1/jobs" | jq -c '[.jobs[].id]')
check "?order=newest: the same jobs, the newest first" \
	"$(curl -sS "$FO/v1/jobs?order=newest" | jq -c '[.jobs[].id] | reverse')" "$all"
p1=$(curl -sS "$FO/v1/jobs?order=newest&limit=1")
check "... paged with after= in that order" \
	"$(curl -sS "$FO/v1/jobs?order=newest&limit=1&after=$(printf '%s' "$p1" | jq -r .next)" | jq -r '.jobs[0].id')" \
	"$(jq -r '.[-2]' <<<"$all")"
check "a bad order is a JSON 400" \
	"$(curl -sS "$FO/v1/jobs?order=random" | jq -r .error.message)" "order: expected oldest or newest"

r=$(post_job "[\"$UP/status/500?tag=ff\",\"$UP/delay/300?tag=ff\"]")
ff=$(job_id "$r")
check "following only the failed lines ends with the job (its last line was ok)" \
	"$(curl -sS --max-time 20 "$FO/v1/jobs/$ff/results?follow=true&state=failed" | jq -c '.index // .summary.lines' | tr '\n' ' ')" \
	'0 1 '

# --- errors ------------------------------------------------------------------------
e() {
	local r
	r=$(curl -sS -i "$@" | tr -d '\r')
	echo "$(status_of "$r") $(error_of "$r")"
}
check "not JSON" "$(e -X POST "$FO/v1/jobs" -H 'Content-Type: application/json' --data-binary '{')" \
	"400 bad_request: body is not valid JSON: string or '}' expected near end of file (line 1, column 1)"
check "job.name must be a string" \
	"$(e -X POST "$FO/v1/jobs" --data-binary "{\"requests\":[\"$UP/\"],\"job\":{\"name\":5}}")" \
	"400 bad_request: job.name: expected a string of 1 to 200 bytes"
check "job.name may not be empty (no name: leave it out)" \
	"$(e -X POST "$FO/v1/jobs" --data-binary "{\"requests\":[\"$UP/\"],\"job\":{\"name\":\"\"}}")" \
	"400 bad_request: job.name: expected a string of 1 to 200 bytes"
check "unknown job keys are refused" \
	"$(e -X POST "$FO/v1/jobs" --data-binary "{\"requests\":[\"$UP/\"],\"job\":{\"ttl\":5}}")" \
	"400 bad_request: job.ttl: unknown key"
check "a deadline is a batch's: a job refuses one" \
	"$(e -X POST "$FO/v1/jobs?deadline_ms=1000" --data-binary "[\"$UP/\"]")" \
	"400 bad_request: options.deadline_ms: a job has no deadline (it runs until every item has its result; cancel it to stop it)"
check "and its options do not show one" \
	"$(curl -sS "$FO/v1/jobs/$id" | jq '.job.options | has("deadline_ms")')" false
check "an empty job is refused" "$(e -X POST "$FO/v1/jobs" --data-binary '[]')" \
	"400 bad_request: requests: a job needs at least one item"
check "[jobs] max_items" \
	"$(e -X POST "$FO/v1/jobs" --data-binary "$(jq -cn --arg u "$UP/" '[range(501)] | map($u)')")" \
	"413 too_large: requests: 501 items exceed the limit of 500 ([jobs] max_items)"
check "a bad Idempotency-Key" \
	"$(e -X POST "$FO/v1/jobs" -H 'Idempotency-Key: a b' --data-binary "[\"$UP/\"]")" \
	"400 bad_request: Idempotency-Key: expected 1 to 255 visible ASCII characters"
check "an unknown job" "$(e "$FO/v1/jobs/0123456789abcdef0123456789abcdef")" \
	"404 not_found: no such job: 0123456789abcdef0123456789abcdef"
check "a malformed ID" "$(e --path-as-is "$FO/v1/jobs/../etc")" "404 not_found: no such job: .."
check "a wrong method says what is allowed" "$(e -X PUT "$FO/v1/jobs")" \
	"405 method_not_allowed: /v1/jobs accepts GET, HEAD, POST only"
check "results: a bad cursor" "$(e "$FO/v1/jobs/$id/results?after=x")" \
	"400 bad_request: after: expected a seq (an integer >= 0)"
check "results: json cannot follow" "$(e "$FO/v1/jobs/$id/results?format=json&follow=true")" \
	"400 bad_request: format json is one document and cannot follow; use NDJSON or SSE with follow=true"
check "list: a bad state" "$(e "$FO/v1/jobs?state=lost")" \
	"400 bad_request: state: expected queued, running, done or cancelled, not \"lost\""
check "list: a bad limit" "$(e "$FO/v1/jobs?limit=0")" \
	"400 bad_request: limit: expected an integer from 1 to 1000"
hang=()
for i in 1 2 3; do
	hang+=("$(job_id "$(post_job "[\"$UP/delay/5000?tag=full\"]")")")
done
early=$(grep -c 'while it is stored' "$T/fanoutd.log")
check "[jobs] max_active: one more is 429 with Retry-After" \
	"$(e -X POST "$FO/v1/jobs" --data-binary "[\"$UP/status/200?tag=refused\"]")" \
	"429 too_many_jobs: 3 jobs are queued or running, the most [jobs] max_active allows; retry later"
check "a job bound to be refused is not started early (it would send its first items)" \
	"$(grep -c 'while it is stored' "$T/fanoutd.log") $(upstream_stats | jq '.tags.refused.requests // 0')" "$early 0"
for i in "${hang[@]}"; do
	curl -sS -o /dev/null -X POST "$FO/v1/jobs/$i/cancel"
done
check "metrics count jobs by state" \
	"$(curl -sS "$FO/metrics" | grep -c '^fanoutd_jobs{state="cancelled"} 3$')" 1

# --- an early start: the first safe items run while the job is stored ---------------
# (not with the jobs in PostgreSQL: FANOUTD_JOB_STORE, jobs_pg.sh)
early_runs=1
[ -n "${FANOUTD_JOB_STORE:-}" ] && early_runs=0
r=$(post_job "[\"$UP/status/200?tag=e1\",\"$UP/status/200?tag=e1\",{\"url\":\"$UP/status/200?tag=e2\",\"method\":\"POST\",\"body\":\"x\"},\"$UP/status/200?tag=e1\"]")
id=$(job_id "$r")
out=$(follow "$id")
check "an early start runs the safe items before the first unsafe one" \
	"$(grep -c "job $id: running its first 2 items while it is stored" "$T/fanoutd.log")" "$early_runs"
check "an early-started job ends with one ok line per item" \
	"$(results "$out" | jq -s -c 'map(select(.ok) | .index) | sort')" '[0,1,2,3]'
r=$(post_job "[\"$UP/status/200?tag=e3\"]" -H 'Idempotency-Key: early-1')
id=$(job_id "$r")
check "no early start with an Idempotency-Key (a repeat sends nothing)" \
	"$(grep -c "job $id: running its first" "$T/fanoutd.log")" 0
stop_fanoutd

# --- a follower that has caught up is fed from the commits, not the store ------------
# Each record's answer carries its committed line; a follower waiting at
# the head writes it as it is. Reading instead would take a page per
# commit (about 100 here: 200 items at 4 x 10 ms, 5 ms per commit).
start_fanoutd $'[log]\nlevel = debug'
r=$(post_job "$(jq -cn --arg u "$UP" '{requests: [range(200) | "\($u)/delay/10?tag=live"], options: {concurrency: 4}}')")
id=$(job_id "$r")
out=$(follow "$id")
check "a follower gets every line once, in seq order, then the summary" \
	"$(results "$out" | jq -s -c '[length, (map(.seq) == [range(1; 201)]), (map(.index) | unique | length)]')$(printf '%s\n' "$out" | tail -n 1 | jq -c '.summary.lines')" \
	'[200,true,200]200'
reads=$(grep -c "job $id reader: waiting -> reading" "$T/fanoutd.log")
check_true "... from the commits' answers: $reads reads of the store, not one per commit" \
	test "$reads" -le 5
stop_fanoutd

# --- SIGTERM mid-job: nothing failed because of the stop; the job resumes ----------
start_fanoutd
r=$(post_job "$(jq -cn --arg u "$UP" '{requests: [range(20) | "\($u)/delay/300?tag=drain"], options: {concurrency: 2}}')")
id=$(job_id "$r")
two_done() {
	test "$(curl -sS "$FO/v1/jobs/$id" | jq .job.counts.ok)" -ge 2
}
check_true "the job is under way" wait_until 10 two_done
stop_fanoutd
j=$(sqlite3 -readonly "$STATE_DIRECTORY/jobs.db" "select state, pending, inflight, failed from jobs where key = '$id'" 2>/dev/null || echo nosqlite)
if [ "$j" != nosqlite ]; then
	check "after SIGTERM nothing is failed or left in flight" "$(printf '%s' "$j" | cut -d'|' -f3,4)" "0|0"
fi
start_fanoutd
out=$(follow "$id")
check "after the restart the job completes, one line per item" \
	"$(results "$out" | jq -s -c '[length, (map(.index) | unique | length), (map(select(.ok)) | length)]')" \
	'[20,20,20]'
check "with seq 1..20, no gap" "$(results "$out" | jq -s -c 'map(.seq) == [range(1; 21)]')" true

# --- kill -9 with a POST in flight: interrupted, unless retry_unsafe ---------------
r=$(post_job "[{\"url\":\"$UP/delay/4000?tag=unsafe\",\"method\":\"POST\",\"body\":\"x\"},{\"url\":\"$UP/delay/4000?tag=again\",\"method\":\"POST\",\"body\":\"x\",\"retry_unsafe\":true},\"$UP/delay/4000?tag=safe\"]")
id=$(job_id "$r")
three() {
	test "$(upstream_stats | jq '[.tags.unsafe.inflight, .tags.again.inflight, .tags.safe.inflight] | add')" = 3
}
check_true "all three are in flight" wait_until 10 three
kill -9 "$FANOUTD_PID"
wait "$FANOUTD_PID" 2>/dev/null
FANOUTD_PID=
start_fanoutd
out=$(follow "$id")
check "the POST that may have been sent ends interrupted, not sent again" \
	"$(results "$out" | jq -c 'select(.index == 0) | .error.type')" '"interrupted"'
check "the retry_unsafe POST and the GET are fetched again" \
	"$(results "$out" | jq -s -c 'map(select(.index > 0)) | sort_by(.index) | map(.ok)')" '[true,true]'
check "the upstream got the unsafe POST once, the others twice" \
	"$(upstream_stats | jq -c '[.tags.unsafe.requests, .tags.again.requests, .tags.safe.requests]')" '[1,2,2]'
stop_fanoutd

# --- a job and a batch share the caps, fairly -----------------------------------------
start_fanoutd $'[limits]\nconcurrency = 2'
curl -sS -o /dev/null "$UP/stats/reset"
r=$(post_job "$(jq -cn --arg u "$UP" '[range(40) | "\($u)/delay/300?tag=fairjob"]')")
fair=$(job_id "$r")
going() {
	test "$(upstream_stats | jq '.tags.fairjob.inflight // 0')" = 2
}
check_true "the job holds both global slots" wait_until 10 going
out=$(batch "[\"$UP/delay/300?tag=fairbatch\",\"$UP/delay/300?tag=fairbatch\"]")
check "a batch posted meanwhile gets its share: done while the job still runs" \
	"$(summary "$out" | jq .ok) $(curl -sS "$FO/v1/jobs/$fair" | jq -r '.job.state + " " + (.job.counts.ok < 40 | tostring)')" \
	"2 running true"
check "in-flight attempts never passed the global cap of 2" \
	"$(upstream_stats | jq '.peak')" 2
follow "$fair" >/dev/null

# --- finished jobs expire after ttl_s: swept (at start, then every minute) -------------
r=$(post_job "{\"requests\":[\"$UP/text/1\"],\"job\":{\"ttl_s\":1}}")
short=$(job_id "$r")
follow "$short" >/dev/null
expiry=$(curl -sS "$FO/v1/jobs/$short" | jq -r '.job.expires_at')
check "a finished job has its expiry, finish + ttl_s" \
	"$(curl -sS "$FO/v1/jobs/$short" | jq -r '.job | ((.expires_at | sub("\\.[0-9]+Z$"; "Z") | fromdate) - (.finished_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)) | . >= 0 and . <= 2')" true
expired() {
	test "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \> "$expiry"
}
check_true "its expiry passes" wait_until 5 expired
stop_fanoutd
start_fanoutd
gone() {
	test "$(curl -sS -o /dev/null -w '%{http_code}' "$FO/v1/jobs/$short")" = 404
}
check_true "the sweeper removes it" wait_until 10 gone
check "a job whose ttl has not passed is kept" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$FO/v1/jobs/$fair")" 200
stop_fanoutd

# --- auth covers every job endpoint ---------------------------------------------------
printf 'secret-token\n' >"$T/tokens"
start_fanoutd "auth_tokens_file = $T/tokens"
for ep in "GET /v1/jobs" "POST /v1/jobs" "GET /v1/jobs/$id" "GET /v1/jobs/$id/results" \
	"GET /v1/jobs/$id/items/0/body" "POST /v1/jobs/$id/cancel" "POST /v1/jobs/$id/retry" \
	"DELETE /v1/jobs/$id"; do
	check "$ep needs the token" \
		"$(curl -sS -o /dev/null -w '%{http_code}' -X "${ep%% *}" "$FO${ep#* }")" 401
done
check "with it, the job is there" \
	"$(curl -sS -H 'Authorization: Bearer secret-token' "$FO/v1/jobs/$id" | jq -r .job.state)" done
check "and so is a stored body" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer secret-token' "$FO/v1/jobs/$id/items/2/body")" 200
stop_fanoutd

# --- a store that cannot open: batches still work, jobs say why ---------------------
printf 'x' >"$T/not-a-dir"
start_fanoutd $'[jobs]\ndir = '"$T/not-a-dir/jobs"
check "/healthz says degraded, and why" \
	"$(curl -sS "$FO/healthz" | jq -r '.status + " " + (.reason | startswith("jobs are unavailable: ") | tostring)')" \
	"degraded true"
r=$(e -X POST "$FO/v1/jobs" --data-binary "[\"$UP/\"]")
check "job endpoints answer 503 unavailable" "${r%%:*}" "503 unavailable"
check "batches are served" "$(batch "[\"$UP/text/1\"]" | jq -c 'select(.summary) | .summary.ok')" 1
stop_fanoutd
finish
