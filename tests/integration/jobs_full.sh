#!/bin/bash
# jobs_full.sh - a full disk under the job store (issue #16): on a small
# tmpfs (its own mount namespace, so root; skipped without it) filled by
# a file, a new job gets 507 with a JSON error and /healthz says
# degraded; a running job pauses when the disk fills under it (its state
# says why), nothing stored is lost, and once space returns it resumes
# and completes with exactly one line per item.
if [ -z "${FANOUTD_MOUNTNS:-}" ]; then
	if ! unshare -m true 2>/dev/null; then
		echo "unshare -m is not permitted here (needs root): skipped"
		exit 77
	fi
	exec unshare -m env FANOUTD_MOUNTNS=1 bash "$0" "$@"
fi
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

mkdir "$T/small"
mount -t tmpfs -o size=32m tmpfs "$T/small" || exit 1
start_upstream
start_fanoutd $'[jobs]\ndir = '"$T/small/jobs"

# fill [KEEP_KB]: fill the tmpfs up to all but KEEP_KB.
fill() {
	dd if=/dev/zero of="$T/small/filler" bs=64k status=none 2>/dev/null
	[ "${1:-0}" -gt 0 ] && truncate -s "-${1}K" "$T/small/filler"
	sync
}
post() {
	curl -sS -i --max-time 30 -X POST "$FO/v1/jobs" \
		-H 'Content-Type: application/json' --data-binary "$1" | tr -d '\r'
}

fill
r=$(post "[\"$UP/text/1\"]")
check "a new job on a full disk gets 507" "$(printf '%s' "$r" | head -n 1 | cut -d' ' -f2)" 507
check "with a JSON error saying so" \
	"$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -r .error.type)" insufficient_storage
# It was started early (the store did not know yet): its attempt is
# cancelled, its result dropped, and no job is left.
check "an early start whose job could not be stored is dropped" \
	"$(grep -c "while it is stored" "$T/fanoutd.log") $(grep -c "not stored (.*): its first items' results are dropped" "$T/fanoutd.log") $(curl -sS "$FO/v1/jobs" | jq '.jobs | length')" \
	"1 1 0"
degraded() {
	curl -sS "$FO/healthz" | jq -e '.status == "degraded"' >/dev/null
}
check_true "/healthz says degraded" wait_until 10 degraded
rm -f "$T/small/filler"
healthy() {
	curl -sS "$FO/healthz" | jq -e '.status == "ok"' >/dev/null
}
created() {
	r=$(post "[\"$UP/text/1\"]")
	printf '%s' "$r" | head -n 1 | grep -q ' 201 '
}
check_true "with space back, jobs are created again" wait_until 10 created
check_true "and /healthz is ok" wait_until 10 healthy

# A job of 3,000 lines of about 2 KB each (6 MB) on a disk with 1 MB
# left: it fills the disk, pauses, and resumes when the filler goes
# (the tmpfs holds the database and its write-ahead log twice over).
fill 1024
r=$(post "$(jq -cn --arg u "$UP" '{requests: [range(3000) | "\($u)/text/1500"], options: {concurrency: 16}}')")
id=$(printf '%s\n' "$r" | sed -n '/^{/p' | jq -r .job.id)
check "the job is accepted" "$(printf '%s' "$r" | head -n 1 | cut -d' ' -f2)" 201
paused() {
	curl -sS "$FO/v1/jobs/$id" | jq -e '.job.paused' >/dev/null
}
check_true "the job pauses when the disk fills, and says why" wait_until 30 paused
echo "# paused: $(curl -sS "$FO/v1/jobs/$id" | jq -c '[.job.paused, .job.counts]')"
check_true "/healthz says degraded meanwhile" wait_until 10 degraded
before=$(curl -sS --max-time 30 "$FO/v1/jobs/$id/results" | grep -c '^{"seq"')
rm -f "$T/small/filler"
out=$(curl -sS -N --max-time 60 "$FO/v1/jobs/$id/results?follow=true")
check "with space back it completes: one line per item" \
	"$(results "$out" | jq -s -c '[length, (map(.index) | unique | length), (map(select(.ok)) | length)]')" \
	'[3000,3000,3000]'
check "the $before lines stored before the pause are kept (seq 1..N, no gap)" \
	"$(results "$out" | jq -s -c 'map(.seq) == [range(1; 3001)]')" true
check_true "/healthz is ok again" wait_until 10 healthy
stop_fanoutd
umount "$T/small"
finish
