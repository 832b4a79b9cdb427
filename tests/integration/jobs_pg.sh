#!/bin/bash
# jobs_pg.sh - durable jobs in PostgreSQL (issue #19, [jobs] store =
# postgresql://...): the whole of jobs.sh and job_bodies.sh again with
# the store in a throwaway PostgreSQL (tests/fleet/pg.sh), each in a
# database of its own; then the database stopped mid-job: new jobs are
# refused with a JSON error naming the cause, /healthz says degraded,
# the running job pauses and, once PostgreSQL is back, ends with every
# item's line exactly once and seq gapless; an idle instance follows the
# database's comings and goings (the store's probe); and an instance
# started while PostgreSQL is down serves batches, answers 507 for jobs,
# and opens the store (schema included) once PostgreSQL is there; a
# second instance answers the same counts for a job as the first, helps
# with a small job, and their commits never deadlock; a job's own limits
# are shared by the instances running it; and an outage of
# the database longer than a lease expires no live instance's leases.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../fleet/pg.sh"

start_pg
base=${PG_URI%/*}

# status_line_code TEXT: the status code of the response in TEXT (curl -i).
status_line_code() {
	printf '%s\n' "$1" | head -n 1 | cut -d' ' -f2
}
# post_job URL BODY [CURL ARGS...]: POST a job to the fanoutd at URL;
# its response.
post_job() {
	curl -sS --max-time 30 -X POST "$1/v1/jobs" \
		-H 'Content-Type: application/json' --data-binary "$2" "${@:3}"
}
# job_is URL ID STATE: is job ID in STATE, read through URL?
job_is() {
	curl -sS "$1/v1/jobs/$2" | jq -e --arg s "$3" '.job.state == $s' >/dev/null
}
# counts URL ID: job ID's counts, read through URL.
counts() {
	curl -sS "$1/v1/jobs/$2" | jq -c .job.counts
}
# start_second STORE: a second fanoutd on the jobs store STORE, with a
# [jobs] dir of its own: FO2 its URL, FO2_PID its PID.
start_second() {
	printf '[server]\nlisten = 127.0.0.1:0\n[jobs]\nstore = %s\ndir = %s\n' \
		"$1" "$T/state2" >"$T/fanoutd2.conf"
	$FANOUTD_WRAPPER "$FANOUTD" -c "$T/fanoutd2.conf" 2>"$T/fanoutd2.log" &
	FO2_PID=$!
	PIDS+=("$FO2_PID")
	wait_until 30 grep -q 'listening on http://' "$T/fanoutd2.log" || {
		cat "$T/fanoutd2.log"
		exit 1
	}
	FO2=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/fanoutd2.log" | head -n 1)
}
# healthz_ok URL: does that instance say ok?
healthz_ok() {
	curl -sS "$1/healthz" | jq -e '.status == "ok"' >/dev/null
}

# --- the SQLite store's tests, against PostgreSQL -----------------------
for t in jobs job_bodies; do
	pg_run "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres "t_$t"
	if FANOUTD_JOB_STORE="$base/t_$t" bash "$here/$t.sh" >"$T/$t.out" 2>&1; then
		check "$t.sh passes with the jobs in PostgreSQL" ok ok
	else
		check "$t.sh passes with the jobs in PostgreSQL" "$(grep -E '^(FAIL|not ok)' "$T/$t.out" | head -n 5)" ok
		tail -n 60 "$T/$t.out"
	fi
done

# --- PostgreSQL stopped mid-job ------------------------------------------
start_upstream
FANOUTD_JOB_STORE=$PG_URI start_fanoutd
n=600
reqs=$(jq -c -n --arg up "$UP" --argjson n "$n" '[range($n) | "\($up)/delay/100?i=\(.)"]')
r=$(post_job "$FO" "{\"requests\":$reqs,\"options\":{\"concurrency\":10}}")
id=$(printf '%s' "$r" | jq -r .job.id)
check "a job of $n items is created" "$(printf '%s' "$r" | jq -r .job.state)" queued
wait_until 20 sh -c "[ \$(curl -sS '$FO/v1/jobs/$id' | jq .job.last_seq) -ge 20 ]" ||
	fail "the job did not start"
# A follower through the outage: it waits, then ends with the summary.
curl -sS -N --max-time 120 "$FO/v1/jobs/$id/results?follow=true" >"$T/outage_follow.ndjson" &
follower=$!
wait_until 10 test -s "$T/outage_follow.ndjson" || fail "the follower got nothing"
pg_stop fast
wait_until 20 sh -c "curl -sS '$FO/healthz' | grep -q degraded" ||
	fail "/healthz did not turn degraded"
h=$(curl -sS "$FO/healthz")
check "/healthz names PostgreSQL as the cause" \
	"$(printf '%s' "$h" | grep -c PostgreSQL)" 1
r=$(post_job "$FO" "{\"requests\":[\"$UP/text/1\"]}" -i | tr -d '\r')
check_true "a new job is refused with 507 or 503" \
	grep -qE '^HTTP/1.1 (507|503)' <<<"$r"
check "the JSON error names the cause" \
	"$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -r '.error.message' | grep -c PostgreSQL)" 1
# The outage lasts a while (a duration, not an event to await): results
# keep arriving and wait in memory meanwhile.
sleep 2
pg_start
wait_until 60 job_is "$FO" "$id" done ||
	fail "the job did not finish after PostgreSQL came back"
out=$(curl -sS --max-time 30 "$FO/v1/jobs/$id/results?limit=10000")
check "every item has exactly one line" \
	"$(results "$out" | jq -s -c 'map(.index) | sort == [range('"$n"')]')" true
check "seq runs 1..$n with no gap" \
	"$(results "$out" | jq -s -c 'map(.seq) | sort == [range(1; '"$n"' + 1)]')" true
wait "$follower"
check "a follower through the outage gets every line, then the summary" \
	"$(jq -s -c '[(map(select(.summary | not) | .index) | sort == [range('"$n"')]), .[-1].summary.job.state]' "$T/outage_follow.ndjson")" \
	'[true,"done"]'
wait_until 20 sh -c "curl -sS '$FO/healthz' | grep -vq degraded" ||
	fail "/healthz did not turn healthy again"

# --- an idle instance follows PostgreSQL (the store's probe) -------------
# Nothing runs and nothing is written: /healthz still turns degraded soon
# after PostgreSQL stops (the writer probes every second), ok once it is
# back, and the first new job is then accepted (no failed write first).
pg_stop fast
wait_until 10 sh -c "curl -sS '$FO/healthz' | grep -q PostgreSQL" ||
	fail "an idle instance did not see PostgreSQL go"
check "an idle instance says degraded" \
	"$(curl -sS "$FO/healthz" | jq -r .status)" degraded
pg_start
wait_until 10 healthz_ok "$FO" ||
	fail "an idle instance did not see PostgreSQL come back"
check "the first job after the outage is created (201)" \
	"$(post_job "$FO" "{\"requests\":[\"$UP/text/1\"]}" -o /dev/null -w '%{http_code}')" 201
stop_fanoutd

# --- PostgreSQL unreachable when fanoutd starts -----------------------------
# A database never set up: fanoutd starts, serves batches, answers the job
# endpoints 507 naming the cause, says degraded, and once PostgreSQL is
# there creates the schema and runs jobs, without a restart.
pg_run "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres t_late
pg_stop fast
FANOUTD_JOB_STORE="$base/t_late" start_fanoutd
h=$(curl -sS "$FO/healthz")
check "/healthz says degraded: cannot open the job store" \
	"$(printf '%s' "$h" | jq -r '.status + " " + (.reason | test("cannot open the job store: PostgreSQL unreachable") | tostring)')" \
	"degraded true"
r=$(batch "[\"$UP/text/3\"]")
check "batches are served meanwhile" "$(results "$r" | jq -s -c "map(.ok)")" "[true]"
r=$(post_job "$FO" "{\"requests\":[\"$UP/text/1\"]}" -i | tr -d '\r')
check "a new job is refused with 507" "$(status_line_code "$r")" 507
check "its JSON error says the store cannot be opened, and why" \
	"$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -r '.error.message | test("cannot open the job store: PostgreSQL unreachable: ")')" true
check "reading jobs is refused with 507 too" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$FO/v1/jobs")" 507
pg_start
wait_until 20 healthz_ok "$FO" ||
	fail "the store did not open once PostgreSQL was there"
reqs=$(jq -c -n --arg up "$UP" '[range(20) | "\($up)/text/\(.)"]')
id=$(post_job "$FO" "{\"requests\":$reqs}" | jq -r .job.id)
check "then a job is created" "$(printf '%s' "$id" | grep -cE '^[0-9a-f]{32}$')" 1
wait_until 30 job_is "$FO" "$id" done || fail "the job did not finish"
out=$(curl -sS --max-time 30 "$FO/v1/jobs/$id/results")
check "and it ends with every item's line" \
	"$(results "$out" | jq -s -c 'map(select(.ok)) | map(.index) | sort == [range(20)]')" true

# --- one job, the same counts through every instance ---------------------
# A second instance on that database: a job's counts read through either
# are the same (in flight: the items leased, by whichever instance), for
# a finished job and for one running on the first instance only (it
# leases all of a job this small, so the second has nothing to run).
start_second "$base/t_late"
check "a finished job's counts are the same through both instances" \
	"$(counts "$FO2" "$id")" "$(counts "$FO" "$id")"
reqs=$(jq -c -n --arg up "$UP" '[range(6) | "\($up)/delay/3000?i=\(.)"]')
id=$(post_job "$FO" "{\"requests\":$reqs,\"options\":{\"concurrency\":2}}" | jq -r .job.id)
wait_until 20 job_is "$FO" "$id" running || fail "the job did not start"
# Both read within one quiet moment: the first again unchanged after.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	a=$(counts "$FO" "$id")
	b=$(counts "$FO2" "$id")
	[ "$a" == "$(counts "$FO" "$id")" ] && break
done
check "a running job's counts are the same through both instances" "$b" "$a"
check "(read while items were in flight)" \
	"$(printf '%s' "$a" | jq '.in_flight > 0 and .ok < .total')" true
wait_until 20 job_is "$FO" "$id" done || fail "the job did not finish"

# --- a small job spreads over the instances -----------------------------
# 40 items, concurrency 4 (2 per instance, its share): an instance
# leases only what it will run soon (4 per slot), so the other finds the
# rest pending and runs some too: the upstream sees up to 4 at once, not
# the 2 one instance allows.
reqs=$(jq -c -n --arg up "$UP" '[range(40) | "\($up)/delay/1000?tag=spread&i=\(.)"]')
id=$(post_job "$FO" "{\"requests\":$reqs,\"options\":{\"concurrency\":4}}" | jq -r .job.id)
wait_until 15 sh -c "curl -sS '$UP/stats' | jq -e '.tags.spread.peak >= 3' >/dev/null"
check "a small job runs on both instances (the upstream's peak is above 2)" \
	"$(upstream_stats | jq '.tags.spread.peak >= 3')" true
curl -sS -o /dev/null -X POST "$FO/v1/jobs/$id/cancel"
wait_until 20 sh -c "curl -sS '$FO/v1/jobs/$id' | jq -e '.job.counts.in_flight == 0' >/dev/null" ||
	fail "the cancelled job kept items in flight"
# --- three jobs on two instances: no deadlock between their commits ---------
# Each instance's group commits hold results (and leases) of several jobs;
# job rows are locked in key order, so PostgreSQL never has a deadlock
# to break (it would fail one group after deadlock_timeout).
before=$(grep -c 'deadlock detected' "$PG_DIR/server.log")
reqs=$(jq -c -n --arg up "$UP" '[range(3000) | "\($up)/text/1?i=\(.)"]')
js=()
for fo in "$FO" "$FO2" "$FO"; do
	js+=("$(post_job "$fo" "{\"requests\":$reqs,\"options\":{\"concurrency\":20}}" | jq -r .job.id)")
done
for j in "${js[@]}"; do
	wait_until 120 job_is "$FO" "$j" done || fail "job ${j:0:8} did not finish"
done
for j in "${js[@]}"; do
	out=$(curl -sS --max-time 30 "$FO2/v1/jobs/$j/results?limit=10000")
	check "job ${j:0:8}: one line per item, seq gapless" \
		"$(results "$out" | jq -s -c '[(map(.index) | sort == [range(3000)]), (map(.seq) | sort == [range(1; 3001)])]')" \
		'[true,true]'
done
check "no deadlock between the instances' commits" \
	"$(($(grep -c 'deadlock detected' "$PG_DIR/server.log") - before))" 0

# --- a job's own limits hold for the fleet, not per instance ---------------
# Two instances run a job of concurrency 2 and rate 8/s: each takes half
# (1 in flight, 4/s), so the upstream sees at most 2 at once (each
# instance applying the whole would allow 4) and the job as a whole
# keeps its rate.
reqs=$(jq -c -n --arg up "$UP" '[range(12) | "\($up)/delay/1000?tag=share&i=\(.)"]')
id=$(post_job "$FO" "{\"requests\":$reqs,\"options\":{\"concurrency\":2,\"rate\":8}}" | jq -r .job.id)
wait_until 60 job_is "$FO" "$id" done || fail "the shared-limits job did not finish"
check "a job of concurrency 2 on two instances: 2 in flight at most, together" \
	"$(upstream_stats | jq '.tags.share.peak')" 2
check_true "each instance ran its half (1 in flight, 4/s)" \
	sh -c "grep -q 'job $id: this instance runs its share (1/2) of the job.s limits: concurrency 1, rate 4/s' '$T/fanoutd.log' &&
		grep -q 'job $id: this instance runs its share (1/2) of the job.s limits: concurrency 1, rate 4/s' '$T/fanoutd2.log'"

# --- a database outage longer than a lease, every instance alive ---------
# PostgreSQL stops for 12 s (past the 10 s after which a silent
# instance's leases expire) while both instances run a job of POSTs,
# each holding leased items it has not sent yet when it comes back.
# Once it is back, an instance beats for a whole lease time before it
# judges the others, so no lease of a live instance expires: every item
# ends ok (none `interrupted`: answered, then refused) and each POST is
# sent once.
reqs=$(jq -c -n --arg up "$UP" '[range(16) | {url: "\($up)/delay/4000?tag=outage&i=\(.)", method: "POST", body: "x"}]')
id=$(post_job "$FO" "{\"requests\":$reqs,\"options\":{\"concurrency\":4,\"retries\":0}}" | jq -r .job.id)
wait_until 15 sh -c "curl -sS '$UP/stats' | jq -e '.tags.outage.peak >= 3' >/dev/null" ||
	fail "the POST job does not run on both instances"
pg_stop fast
# The outage lasts longer than a lease (a duration, not an event).
sleep 12
pg_start
wait_until 90 job_is "$FO" "$id" done || fail "the POST job did not finish"
check "after an outage both instances lived through, every POST ends ok" \
	"$(counts "$FO" "$id" | jq -c '[.ok, .failed]')" "[16,0]"
check "each POST was sent once" "$(upstream_stats | jq '.tags.outage.requests')" 16

kill -TERM "$FO2_PID"
wait "$FO2_PID"
check "the second instance exits 0" "$?" 0
stop_fanoutd
finish
