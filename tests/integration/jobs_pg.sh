#!/bin/bash
# jobs_pg.sh - durable jobs in PostgreSQL (issue #19, [jobs] store =
# postgresql://...): the whole of jobs.sh and job_bodies.sh again with
# the store in a throwaway PostgreSQL (tests/fleet/pg.sh), each in a
# database of its own; then the database stopped mid-job: new jobs are
# refused with a JSON error naming the cause, /healthz says degraded,
# the running job pauses and, once PostgreSQL is back, ends with every
# item's line exactly once and seq gapless.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../fleet/pg.sh"

start_pg
base=${PG_URI%/*}

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
r=$(curl -sS --max-time 30 -X POST "$FO/v1/jobs" -H 'Content-Type: application/json' \
	--data-binary "{\"requests\":$reqs,\"options\":{\"concurrency\":10}}")
id=$(printf '%s' "$r" | jq -r .job.id)
check "a job of $n items is created" "$(printf '%s' "$r" | jq -r .job.state)" queued
wait_until 20 sh -c "[ \$(curl -sS '$FO/v1/jobs/$id' | jq .job.last_seq) -ge 20 ]" ||
	fail "the job did not start"
pg_stop fast
wait_until 20 sh -c "curl -sS '$FO/healthz' | grep -q degraded" ||
	fail "/healthz did not turn degraded"
h=$(curl -sS "$FO/healthz")
check "/healthz names PostgreSQL as the cause" \
	"$(printf '%s' "$h" | grep -c PostgreSQL)" 1
r=$(curl -sS -i --max-time 30 -X POST "$FO/v1/jobs" -H 'Content-Type: application/json' \
	--data-binary "{\"requests\":[\"$UP/text/1\"]}" | tr -d '\r')
check_true "a new job is refused with 507 or 503" \
	grep -qE '^HTTP/1.1 (507|503)' <<<"$r"
check "the JSON error names the cause" \
	"$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -r '.error.message' | grep -c PostgreSQL)" 1
# The outage lasts a while (a duration, not an event to await): results
# keep arriving and wait in memory meanwhile.
sleep 2
pg_start
wait_until 60 sh -c "curl -sS '$FO/v1/jobs/$id' | jq -e '.job.state == \"done\"' >/dev/null" ||
	fail "the job did not finish after PostgreSQL came back"
out=$(curl -sS --max-time 30 "$FO/v1/jobs/$id/results?limit=10000")
check "every item has exactly one line" \
	"$(results "$out" | jq -s -c 'map(.index) | sort == [range('"$n"')]')" true
check "seq runs 1..$n with no gap" \
	"$(results "$out" | jq -s -c 'map(.seq) | sort == [range(1; '"$n"' + 1)]')" true
wait_until 20 sh -c "curl -sS '$FO/healthz' | grep -vq degraded" ||
	fail "/healthz did not turn healthy again"
stop_fanoutd
finish
