#!/bin/bash
# job_bodies.sh - a job's stored response bodies (issue #16): with
# "body": "auto" every body streams to the store as it arrives (the
# first 64 KiB in the database, the rest in a file), never whole in
# memory; GET /v1/jobs/ID/items/INDEX/body serves it raw with the
# upstream's Content-Type and a Content-Length; the line carries it
# inline only up to what a batch could carry ([upstream]
# max_body_bytes_cap), and "body_url" always; a job's max_body_bytes is
# capped by [jobs] max_body_bytes_cap; the body of the attempt that gave
# the result is the one stored (retries, redirects); DELETE removes the
# files.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

BIG=60000000 # bytes: past the batch cap below, under the upstream's 64 MiB
start_upstream
start_fanoutd $'[upstream]\nmax_body_bytes_cap = 1000000\n[jobs]\nmax_body_bytes_cap = 100000000'

# job JSON [QUERY]: create a job, follow it to its end; prints its ID.
job() {
	local id
	id=$(curl -sS --max-time 30 -X POST "$FO/v1/jobs${2:+?$2}" \
		-H 'Content-Type: application/json' --data-binary "$1" | jq -r .job.id)
	curl -sS -N --max-time 120 "$FO/v1/jobs/$id/results?follow=true" >"$T/lines.$id"
	printf '%s\n' "$id"
}
# line ID INDEX: the item's result line.
line() {
	jq -c "select(.index == $2)" "$T/lines.$1"
}
# get ID INDEX [CURL ARGS]: the body endpoint; headers to $T/h, body to stdout.
get() {
	local id=$1 i=$2
	shift 2
	curl -sS --max-time 60 -D "$T/h" "$FO/v1/jobs/$id/items/$i/body" "$@"
}
header() {
	tr -d '\r' <"$T/h" | sed -n "s/^$1: //Ip" | head -n 1
}
status() {
	head -n 1 "$T/h" | cut -d' ' -f2
}

# --- small and large bodies ----------------------------------------------
id=$(job "{\"requests\":[\"$UP/text/100\",\"$UP/bytes/$BIG\",\"$UP/status/404\",\"http://127.0.0.1:1/\",\"$UP/gzip/3000\"],\"options\":{\"max_body_bytes\":$BIG,\"retries\":0}}")
check "a job may ask for a max_body_bytes over the batch cap" \
	"$(curl -sS "$FO/v1/jobs/$id" | jq .job.options.max_body_bytes)" "$BIG"
check "a small body is inline on its line, with its body_url" \
	"$(line "$id" 0 | jq -c '[(.body | length), .body_bytes, .body_url]')" \
	"[100,100,\"/v1/jobs/$id/items/0/body\"]"
get "$id" 0 >"$T/b0"
check "the stored small body is the upstream's" "$(cat "$T/b0")" "$(curl -sS "$UP/text/100")"
check "it is served with the upstream's Content-Type" "$(header Content-Type)" "text/plain"
check "and a Content-Length" "$(header Content-Length)" 100
check "a large body is not on its line; its size and body_url are" \
	"$(line "$id" 1 | jq -c '[has("body"), has("body_encoding"), .body_bytes, .truncated, .body_url]')" \
	"[false,false,$BIG,false,\"/v1/jobs/$id/items/1/body\"]"
check "the stored large body is the upstream's, byte for byte" \
	"$(get "$id" 1 | sha256sum)" "$(curl -sS "$UP/bytes/$BIG" | sha256sum)"
check "served as application/octet-stream with its length" \
	"$(header Content-Type) $(header Content-Length)" "application/octet-stream $BIG"
if [ -z "${FANOUTD_JOB_STORE:-}" ]; then
	check "past 64 KiB it is a file in the store" \
		"$(stat -c %s "$STATE_DIRECTORY/bodies/$id/1.0")" "$BIG"
else # jobs_pg.sh: in the database, the file only on the way there
	wait_until 10 test ! -e "$STATE_DIRECTORY/bodies/$id"
	check "past 64 KiB it goes to the database, and its file goes" \
		"$(test -e "$STATE_DIRECTORY/bodies/$id" && echo present || echo gone)" gone
fi
check_memory "fanoutd never held the $BIG-byte body whole (VmHWM < 32 MiB)" \
	test "$(awk '/VmHWM/ {print $2}' "/proc/$FANOUTD_PID/status")" -lt 32768
check "an error status keeps its body" "$(get "$id" 2)" "status 404"
get "$id" 3 >"$T/b3"
check "an item that got no response has none: 404" "$(status)" 404
check "and says why" "$(jq -r .error.message "$T/b3")" \
	"item 3 of job $id has no stored body (no such job or item, no result yet, an error, or \"body\": \"none\")"
check "no body_url on a line without a response" "$(line "$id" 3 | jq 'has("body_url")')" false
check "a gzip body is stored decoded" "$(get "$id" 4 | md5sum)" "$(curl -sS --compressed "$UP/gzip/3000" | md5sum)"
check "and served without Content-Encoding" "$(header Content-Encoding)" ""
idz=$(job "[\"$UP/gzip/3000\"]" "decode=false")
check "with decode false, it is stored as sent and served with its coding" \
	"$(get "$idz" 0 | gunzip | md5sum) $(header Content-Encoding)" \
	"$(curl -sS --compressed "$UP/gzip/3000" | md5sum) gzip"
check "HEAD gives the head alone" \
	"$(curl -sS -I "$FO/v1/jobs/$id/items/1/body" | tr -d '\r' | sed -n 's/^Content-Length: //p')" "$BIG"
get "$id" 99 >/dev/null
check "an index past the job: 404" "$(status)" 404
get "$id" x >"$T/bx"
check "a malformed path: 404 naming the endpoint" "$(jq -r .error.message "$T/bx")" \
	"no such endpoint: /v1/jobs/$id/items/x/body (expected /v1/jobs/ID/items/INDEX/body)"
get "$id" 0 -X POST >/dev/null
check "POST: 405 with Allow" "$(status) $(header Allow)" "405 GET, HEAD"
get 0123456789abcdef0123456789abcdef 0 >/dev/null
check "an unknown job: 404" "$(status)" 404

# --- caps, truncation ------------------------------------------------------
id2=$(job "[\"$UP/bytes/5000\"]" "max_body_bytes=1000000000")
check "a job's max_body_bytes is capped by [jobs] max_body_bytes_cap" \
	"$(curl -sS "$FO/v1/jobs/$id2" | jq .job.options.max_body_bytes)" 100000000
id3=$(job "[\"$UP/bytes/5000\"]" "max_body_bytes=1000")
check "a body cut at max_body_bytes is stored as cut" \
	"$(line "$id3" 0 | jq -c '[.body_bytes, .truncated]') $(get "$id3" 0 | wc -c)" "[1000,true] 1000"

# --- the attempt that gave the result -------------------------------------
id4=$(job "[\"$UP/flaky/jb-$$?fail=1\",\"$UP/redirect/2\"]" "retries=2")
check "after a retry, the stored body is the last attempt's" "$(get "$id4" 0)" "ok after 1"
check "after redirects, the stored body is the final response's" "$(get "$id4" 1)" "redirected"

# --- body none, delete --------------------------------------------------------
id5=$(job "[\"$UP/text/10\"]" "body=none")
check "with body none, nothing is stored and the line has no body_url" \
	"$(line "$id5" 0 | jq -c '[has("body"), has("body_url")]')" "[false,false]"
get "$id5" 0 >/dev/null
check "and the body endpoint says 404" "$(status)" 404
curl -sS --max-time 60 --limit-rate 4M -o "$T/partial" "$FO/v1/jobs/$id/items/1/body" 2>/dev/null &
dl=$!
wait_until 10 test -s "$T/partial"
check "DELETE removes a job with its body files" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$FO/v1/jobs/$id")" 204
wait_until 10 test ! -e "$STATE_DIRECTORY/bodies/$id"
check "its body directory is gone" "$(test -e "$STATE_DIRECTORY/bodies/$id" && echo present || echo gone)" gone
get "$id" 1 >/dev/null
check "and its bodies are no longer served" "$(status)" 404
wait "$dl"
rc=$?
check "a download under way ends short (curl: partial file), never as if complete" \
	"$rc $([ "$(stat -c %s "$T/partial")" -lt "$BIG" ] && echo short)" "18 short"
check "fanoutd still answers" "$(curl -sS "$FO/healthz" | jq -r .status)" ok

stop_fanoutd
finish
