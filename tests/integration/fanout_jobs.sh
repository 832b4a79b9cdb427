#!/bin/bash
# fanout_jobs.sh - fanout(1) on durable jobs (issue #18 with #16):
# `fanout --job` submits the batch as a job and follows it to its end
# (exit status from the job's counts); `fanout jobs`, `status`,
# `results` (--follow, --failed, --after), `retry`, `cancel`; errors in
# words with exit 2; Ctrl-C while following leaves the job running and
# prints the command that resumes, which then prints the rest.
# FANOUT_WRAPPER (script/test's valgrind pass) runs fanout under a checker.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
: "${FANOUT:?FANOUT must point to the fanout binary}"

start_upstream
start_fanoutd $'[upstream]\nmax_body_bytes_cap = 1000000'
export FANOUTD_URL=$FO
cd "$T" || exit 1

# fo ARGS...: run fanout, stdout to $T/out, stderr to $T/err; sets RC.
fo() {
	RC=0
	# shellcheck disable=SC2086
	timeout 120 ${FANOUT_WRAPPER:-} "$FANOUT" "$@" >"$T/out" 2>"$T/err" || RC=$?
}
lines() {
	jq -c 'select(.seq) | [.seq, .index, (.status // .error.type)]' "$T/out" | tr '\n' ' '
}

# --- --job: submit, follow, exit status from the job's counts
fo --job --name nightly --retries 0 --headers false "$UP/text/3" "$UP/status/500"
check "--job follows the job to its end; one item failed: exit 3" "$RC" 3
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
check "it says the job's ID on stderr" "$(printf '%s' "$id" | grep -cE '^[0-9a-f]{32}$')" 1
check "one line per item, with seq" \
	"$(jq -c 'select(.seq) | [.index, .status]' "$T/out" | sort | tr '\n' ' ')" '[0,200] [1,500] '
check "then the job's summary" "$(jq -c 'select(.summary) | .summary.job | [.name, .state, .counts.ok]' "$T/out")" \
	'["nightly","done",1]'

# --- jobs, status, results
fo jobs
check "fanout jobs: one JSON line per job" "$(jq -r .id "$T/out")" "$id"
fo jobs --state running
check "--state filters" "$RC $(wc -l <"$T/out")" "0 0"
fo status "$id"
check "fanout status ID: the job" "$RC $(jq -c '[.state, .counts.failed]' "$T/out")" '0 ["done",1]'
fo results "$id" --failed
check "fanout results ID --failed: the failed lines" "$RC $(lines)" '3 [2,1,500] '
fo results "$id" --after 1
check "--after SEQ resumes after a line" "$(lines)" '[2,1,500] '

# --- retry, cancel, errors
fo retry "$id"
check "fanout retry ID: the job, queued again" "$RC $(jq -r .state "$T/out")" "0 queued"
fo results "$id" --follow --after 2
check "the retried item's new line follows" "$(lines)" '[3,1,500] '
fo cancel "$id"
check "cancelling a done job: exit 2, said in words" \
	"$RC $(cat "$T/err")" \
	"2 fanout: fanoutd refused the request (HTTP 409, conflict): job $id is not in a state that allows this"
fo status 0123456789abcdef0123456789abcdef
check "an unknown job: exit 2" "$RC $(cat "$T/err")" \
	"2 fanout: fanoutd refused the request (HTTP 404, not_found): no such job: 0123456789abcdef0123456789abcdef"
fo results
check "a command without its ID is a usage error" "$RC $(head -n 1 "$T/err")" \
	"1 fanout: fanout results takes one job ID"
fo status "$id" --follow
check "--follow belongs to results" "$RC $(head -n 1 "$T/err")" \
	"1 fanout: --follow, --failed and --after are for fanout results"
fo --job --deadline-ms 1000 "$UP/text/1"
check "a job the daemon refuses: exit 2, its reason" "$RC $(cat "$T/err")" \
	"2 fanout: fanoutd refused the job (HTTP 400, bad_request): options.deadline_ms: a job has no deadline (it runs until every item has its result; cancel it to stop it)"

# --- --job --fail-fast: the first failure cancels the job, not just the reading
job_state() { curl -sS "$FO/v1/jobs/$1" | jq -r .job.state; }
job_ended() { case $(job_state "$1") in queued | running) return 1 ;; esac; }
fo --job --fail-fast -j 1 --retries 0 "$UP/status/500" \
	"$UP/delay/1000?tag=jff" "$UP/delay/1000?tag=jff"
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
check "--job --fail-fast: exit 3 at the first failure" "$RC" 3
check "it says the job is cancelled" "$(tail -n 1 "$T/err")" \
	"fanout: --fail-fast: item 0 failed; job $id is cancelled"
check_true "the job ends" wait_until 10 job_ended "$id"
check "the job's state is cancelled" "$(job_state "$id")" cancelled
check_true "the upstream saw fewer than the 2 requests after the failure" \
	test "$(upstream_stats | jq '.tags.jff.requests // 0')" -lt 2
fo results "$id" --fail-fast
check "results --fail-fast stops reading, and says the job is left as it is" \
	"$RC $(tail -n 1 "$T/err")" \
	"3 fanout: --fail-fast: item 0 failed; stopped reading job $id, which is not cancelled (fanout cancel $id)"

# --- Ctrl-C while following: the job runs on; the printed command resumes
# (the last command's out and err go first: the shell below may look
# before the background command has opened its own)
rm -f "$T/out" "$T/err"
# shellcheck disable=SC2086
${FANOUT_WRAPPER:-} "$FANOUT" --job --concurrency 1 "$UP/text/2" "$UP/delay/4000?tag=later" >"$T/out" 2>"$T/err" &
pid=$!
first() {
	grep -q '^{"seq":1,' "$T/out"
}
check_true "the first line arrives" wait_until 20 first
kill -INT "$pid"
RC=0
wait "$pid" || RC=$?
check "Ctrl-C: exit 130" "$RC" 130
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
check "it says how to resume" "$(tail -n 1 "$T/err")" \
	"fanout: interrupted; job $id keeps running. Resume with: fanout results $id --follow --after 1"
check "the job keeps running" "$(curl -sS "$FO/v1/jobs/$id" | jq -r .job.state)" running
# shellcheck disable=SC2046
fo $(sed -n 's/.*Resume with: fanout //p' "$T/err")
check "the resume command prints the rest, then the summary: exit 0" \
	"$RC $(lines)$(jq -r 'select(.summary) | .summary.job.state' "$T/out")" '0 [2,1,200] done'
# --- Ctrl-C with -d, --format table and -o: the resume command does the
# same (saves the bodies to that directory, a table, appended to the file)
# and survives a shell as printed (the directory's name has a space and a
# quote)
dir3="$T/dl 3's"
rm -f "$T/err"
# shellcheck disable=SC2086
${FANOUT_WRAPPER:-} "$FANOUT" --job --concurrency 1 -d "$dir3" --format table \
	-o "$T/res 1.txt" "$UP/text/2" "$UP/delay/4000?tag=later2" 2>"$T/err" &
pid=$!
first_row() { grep -q '/text/2' "$T/res 1.txt" 2>/dev/null; }
check_true "the first row arrives" wait_until 20 first_row
kill -INT "$pid"
RC=0
wait "$pid" || RC=$?
check "Ctrl-C: exit 130" "$RC" 130
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
hint=$(sed -n 's/.*Resume with: //p' "$T/err")
check "the resume command carries -d, --format and an append to the file" \
	"$hint" \
	"fanout results $id --follow --after 1 -d '$T/dl 3'\\''s' --format table >> '$T/res 1.txt'"
# shellcheck disable=SC2317
fanout() { ${FANOUT_WRAPPER:-} "$FANOUT" "$@"; }
RC=0
eval "$hint" || RC=$?
check "run as printed: exit 0" "$RC" 0
check "it saved the rest of the bodies in that directory" \
	"$(cat "$dir3/2")/$(cat "$dir3/4000")" "ab/delayed 4000"
check "and appended the rest of the table to the file" \
	"$(grep -c '/text/2' "$T/res 1.txt") $(grep -c '/delay/4000' "$T/res 1.txt") $(grep -c '^2 items: 2 ok' "$T/res 1.txt")" \
	"1 1 1"

# --- --job -d: bodies of any size, streamed to disk from the job's store
BIG=30000000 # past the daemon's batch cap above: not on the line
fo --job -d dl --headers false "$UP/files/$BIG/big.bin" "$UP/files/5/small.txt" "$UP/status/404"
check "--job -d: every body saved (the 404 is an error): exit 3" "$RC" 3
check "a large body comes through its body_url, byte for byte" \
	"$(sha256sum <dl/big.bin)" "$(curl -sS "$UP/files/$BIG/big.bin" | sha256sum)"
check "its line has no inline body, and says where it went" \
	"$(jq -c 'select(.index == 0) | [has("body"), .body_bytes, .saved_path]' "$T/out")" "[false,$BIG,\"dl/big.bin\"]"
check "a small one was inline and is saved all the same" "$(cat dl/small.txt)" abcde
check "no .part file is left" "$(find dl -name '*.part' | wc -l)" 0
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
fo results "$id" -d dl
check "fanout results ID -d again: files already saved are skipped" \
	"$RC $(jq -c 'select(.saved_path) | [.index, .saved_path, .save_skipped]' "$T/out" | sort | tr '\n' ' ')" \
	'3 [0,"dl/big.bin",true] [1,"dl/small.txt",true] '
check "and no second copy appears" "$(find dl -name 'big*' -o -name 'small*' | sort | tr '\n' ' ')" "dl/big.bin dl/small.txt "
rm dl/small.txt
truncate -s 100 dl/big.bin
fo results "$id" -d dl
check "a file gone or changed is saved again" \
	"$RC $(jq -c 'select(.saved_path) | [.index, .save_skipped]' "$T/out" | sort | tr '\n' ' ')$(cat dl/small.txt)" \
	'3 [0,null] [1,null] abcde'
check "the changed one is kept; the new copy gets the next name" \
	"$(stat -c %s dl/big.bin) $(sha256sum <dl/big-1.bin)" "100 $(curl -sS "$UP/files/$BIG/big.bin" | sha256sum)"
fo -d dl2 --max-body-bytes 10 "$UP/files/50/cut.txt"
check "a body cut at max_body_bytes is not saved as if whole: exit 4" \
	"$RC $(test -e dl2/cut.txt && echo saved || echo absent)" "4 absent"
check "the line says why, and how to get it whole" \
	"$(jq -r "select(.save_error) | .save_error" "$T/out")" \
	"the body was cut at max_body_bytes (10 bytes); ask for more with --max-body-bytes (and --job for bodies past the daemon's batch cap)"
check "stderr says 'not saved' once" "$(cat "$T/err")" \
	"fanout: $UP/files/50/cut.txt: not saved: the body was cut at max_body_bytes (10 bytes); ask for more with --max-body-bytes (and --job for bodies past the daemon's batch cap)"
fo --job --max-body-bytes 10 --headers false "$UP/files/50/cut.txt"
id=$(sed -n 's/^fanout: job \([0-9a-f]*\) submitted.*/\1/p' "$T/err")
fo results "$id" -d dl2
check "fanout results -d of a body the job stored cut: exit 4 (a failed save counts)" \
	"$RC $(test -e dl2/cut.txt && echo saved || echo absent)" "4 absent"
check "and the way out is to submit the job again, not to read it again" \
	"$(tail -n 1 "$T/err")" \
	"fanout: $UP/files/50/cut.txt: not saved: the job stored the body cut at max_body_bytes (10 bytes); submit the job again with a larger --max-body-bytes (up to the daemon's [jobs] max_body_bytes_cap)"

stop_fanoutd
finish
