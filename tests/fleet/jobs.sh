#!/bin/bash
# tests/fleet/jobs.sh - a fleet sharing its jobs in PostgreSQL (issue
# #19): a throwaway PostgreSQL (pg.sh), three fanoutd on loopback with
# [jobs] store pointing at it, HAProxy in front of them (a copy of
# etc/haproxy.cfg with this test's ports) and the test upstream. A
# 20,000-item job is submitted through HAProxy and followed through one
# instance; mid-run one instance is kill -9'd (its leased items come
# back after the lease expiry and are done by the others) and another is
# restarted (SIGTERM gives back what it has not sent). Every item ends
# with exactly one result line, seq runs 1..20000 with no gap, and the
# lines read back through a different instance are the same; all of it
# well under 3 minutes. Then a job cancelled through one instance stops
# on the instance running it.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$here/pg.sh"
need_cmd haproxy

t0=$(ms_now)
N=20000
start_pg
start_upstream

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

declare -a PORT
# pg_instance I: fanoutd I on PORT[I] (fixed: HAProxy's backend, and
# the same after a restart), jobs in PostgreSQL, its own [jobs] dir
# (its instance ID, bodies in transit) from start_instance.
pg_instance() {
	start_instance "$1" "$(printf 'listen = 127.0.0.1:%s\n[jobs]\nstore = %s' \
		"${PORT[$1]}" "$PG_URI")"
}
for i in 1 2 3; do
	PORT[$i]=$(free_port)
	pg_instance "$i"
done

# HAProxy: etc/haproxy.cfg with our ports.
HA_PORT=$(free_port)
sed -e "s/bind 127.0.0.1:8080/bind 127.0.0.1:$HA_PORT/" \
	-e "s/127.0.0.1:8081/127.0.0.1:${PORT[1]}/" \
	-e "s/127.0.0.1:8082/127.0.0.1:${PORT[2]}/" \
	-e "s/127.0.0.1:8083/127.0.0.1:${PORT[3]}/" \
	"$SRCDIR/etc/haproxy.cfg" >"$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
PIDS+=($!)
HA="http://127.0.0.1:$HA_PORT"
wait_until 10 curl -sf -o /dev/null "$HA/healthz" || { cat "$T/haproxy.log"; exit 1; }

# --- a 20,000-item job through HAProxy ------------------------------------
jq -c -n --arg up "$UP" --argjson n "$N" \
	'{requests: [range($n) | "\($up)/delay/100?i=\(.)"], options: {concurrency: 100, retries: 0}}' \
	>"$T/job.json"
r=$(curl -sS --max-time 60 -X POST "$HA/v1/jobs" -H 'Content-Type: application/json' \
	--data-binary @"$T/job.json")
id=$(printf '%s' "$r" | jq -r .job.id)
check "the job is created through HAProxy" "$(printf '%s' "$r" | jq -r '.job.counts.total')" "$N"
# Followed through instance 3 from the start: lines committed by every
# instance reach it (it polls; no NOTIFY).
curl -sS -N --max-time 170 "http://127.0.0.1:${PORT[3]}/v1/jobs/$id/results?follow=true" \
	>"$T/follow.ndjson" &
follower=$!

# Every instance takes part; then one dies mid-run, another restarts.
wait_until 30 sh -c "grep -q 'job $id: running' '$T/fanoutd-1.log' && grep -q 'job $id: running' '$T/fanoutd-2.log' && grep -q 'job $id: running' '$T/fanoutd-3.log'" ||
	fail "not every instance ran the job"
wait_until 60 sh -c "[ \$(curl -sS '$HA/v1/jobs/$id' | jq .job.last_seq) -ge 3000 ]" ||
	fail "the job does not progress"
kill_instance 1
killed_at=$(ms_now)
kill -TERM "${FPIDS[2]}"
wait "${FPIDS[2]}"
check "instance 2 drains and exits 0" "$?" 0
pg_instance 2
check_true "instance 2 recovered nothing of its own (it gave everything back)" \
	sh -c "! grep -q 'recovered this instance' '$T/fanoutd-2.log'"

wait_until 150 sh -c "curl -sS '$HA/v1/jobs/$id' | jq -e '.job.state == \"done\"' >/dev/null" ||
	fail "the job did not finish"
check_true "the items instance 1 held came back after the lease expiry" \
	grep -q 'leases of a silent instance expired' "$T/fanoutd-2.log" "$T/fanoutd-3.log"
wait "$follower"
j=$(curl -sS "http://127.0.0.1:${PORT[2]}/v1/jobs/$id")
check "the job ends done with every item ok (read through instance 2)" \
	"$(printf '%s' "$j" | jq -c '[.job.state, .job.counts.ok, .job.counts.failed, .job.counts.pending, .job.counts.in_flight, .job.last_seq]')" \
	"[\"done\",$N,0,0,0,$N]"

# --- exactly one line per item, seq gapless, the same through any instance ---
curl -sS --max-time 60 "http://127.0.0.1:${PORT[2]}/v1/jobs/$id/results" >"$T/read2.ndjson"
jq -c 'select(.summary | not) | [.seq, .index]' "$T/read2.ndjson" >"$T/pairs2"
check "every item has exactly one line" \
	"$(jq -s 'map(.[1]) | sort == [range('"$N"')]' "$T/pairs2")" true
check "seq runs 1..$N with no gap, in order" \
	"$(jq -s 'map(.[0]) == [range(1; '"$N"' + 1)]' "$T/pairs2")" true
jq -c 'select(.summary | not) | [.seq, .index]' "$T/follow.ndjson" >"$T/pairs3"
check "the follower on instance 3 saw the very same lines" \
	"$(cmp -s "$T/pairs2" "$T/pairs3" && echo same)" same
check "its stream ended with the summary" \
	"$(jq -r 'select(.summary) | .summary.job.state' "$T/follow.ndjson")" done
# --- cancelled through one instance, stopped on the one running it ---------
# 2,000 five-second items at concurrency 20 (10 per live instance),
# created on instance 3, cancelled through instance 2: instance 3 sees
# the state within a scan (1 s) and ends its attempts, instead of
# fetching the 40 items it leased (4 per slot) for 20 s.
jq -c -n --arg up "$UP" \
	'{requests: [range(2000) | "\($up)/delay/5000?c=\(.)"], options: {concurrency: 20, retries: 0}}' \
	>"$T/cancel.json"
cid=$(curl -sS --max-time 30 -X POST "http://127.0.0.1:${PORT[3]}/v1/jobs" \
	-H 'Content-Type: application/json' --data-binary @"$T/cancel.json" | jq -r .job.id)
wait_until 30 sh -c "[ \$(curl -sS 'http://127.0.0.1:${PORT[3]}/v1/jobs/$cid' | jq .job.last_seq) -ge 20 ]" ||
	fail "the job to cancel does not run"
check "cancelled through instance 2" \
	"$(curl -sS -X POST "http://127.0.0.1:${PORT[2]}/v1/jobs/$cid/cancel" | jq -r .job.state)" cancelled
wait_until 10 sh -c "curl -sS 'http://127.0.0.1:${PORT[3]}/v1/jobs/$cid' | jq -e '.job.counts.pending == 0 and .job.counts.in_flight == 0' >/dev/null" ||
	fail "instance 3 still runs the items of a job cancelled through instance 2: $(curl -sS "http://127.0.0.1:${PORT[3]}/v1/jobs/$cid" | jq -c .job.counts)"
check "every item of the cancelled job has its one line" \
	"$(curl -sS --max-time 30 "http://127.0.0.1:${PORT[2]}/v1/jobs/$cid/results" | jq -s 'map(select(.summary | not) | .index) | sort == [range(2000)]')" true

took=$(($(ms_now) - t0))
echo "# fleet job test: $N items in $((took / 1000)) s (instance 1 killed at +$(((killed_at - t0) / 1000)) s)"
check_true "all of it in under 3 minutes" test "$took" -lt 180000

stop_instances
finish
