#!/bin/bash
# limits.sh - hostile callers and hostile upstreams (issue #6): a caller
# trickling its request is cut at request_read_timeout_ms (a total
# deadline, not an inactivity timeout); too many or too large headers get
# 431, a long target 414, all as JSON; idle keep-alive connections close;
# max_connections holds new callers back until one closes. Upstreams:
# too many or too large response headers are protocol errors, and a body
# dripped a byte at a time cannot stretch an attempt past timeout_ms.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd "request_read_timeout_ms = 1500
keepalive_timeout_ms = 2500
max_connections = 4
max_headers = 20
max_header_bytes = 4096
max_url_bytes = 1024
[upstream]
max_response_headers = 50
max_response_header_bytes = 8192"
HOSTPORT=${FO#http://}
HOST=${HOSTPORT%:*}
PORT=${HOSTPORT##*:}

# error_type: the JSON error type of the last reply in $T/body.
error_type() {
	jq -r .error.type "$T/body"
}
# req CURL ARGS...: the status code; the body goes to $T/body.
req() {
	curl -sS -o "$T/body" -w '%{http_code}' --max-time 10 "$@"
}

# --- a request trickled a header line every 250 ms --------------------------
t0=$(ms_now)
exec 3<>"/dev/tcp/$HOST/$PORT"
printf 'POST /v1/batch HTTP/1.1\r\nHost: x\r\n' >&3
(
	for i in $(seq 1 60); do
		printf 'X-Slow-%d: y\r\n' "$i" >&3 2>/dev/null || exit 0
		sleep 0.25 # the attack's own pace, not a synchronisation
	done
) &
writer=$!
reply=$(timeout 15 cat <&3 2>/dev/null | tr -d '\r')
elapsed=$(($(ms_now) - t0))
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
exec 3<&-
check_true "a trickled request is cut at the 1.5 s deadline (took ${elapsed} ms)" \
	test "$elapsed" -ge 1400 -a "$elapsed" -lt 5000
case $reply in
"" | "HTTP/1.1 408 Request Timeout"*)
	check "the caller gets 408 (or the close)" ok ok
	;;
*) check "the caller gets 408 (or the close)" "$reply" "HTTP/1.1 408..." ;;
esac

# --- a body sent slowly -----------------------------------------------------
head -c 40000 /dev/zero | tr '\0' ' ' >"$T/slow.json"
t0=$(ms_now)
curl -sS -o /dev/null --max-time 20 --limit-rate 4K -X POST "$FO/v1/batch" \
	-H 'Content-Type: application/json' --data-binary @"$T/slow.json" 2>/dev/null
elapsed=$(($(ms_now) - t0))
check_true "a body trickled at 4 KiB/s is cut at the deadline (took ${elapsed} ms)" \
	test "$elapsed" -ge 1400 -a "$elapsed" -lt 5000

# --- a silent caller while a quiet one waits: 408 as JSON ---------------------
exec 3<>"/dev/tcp/$HOST/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3
reply=$(timeout 10 cat <&3 | tr -d '\r')
exec 3<&-
check "a caller that stops mid-headers gets 408" \
	"$(printf '%s\n' "$reply" | head -n 1)" "HTTP/1.1 408 Request Timeout"
check "with a JSON error naming the setting" \
	"$(printf '%s\n' "$reply" | tail -n 1 | jq -r '[.error.type, (.error.message | test("request_read_timeout_ms"))] | @tsv')" \
	"$(printf 'request_timeout\ttrue')"

# --- header and target limits ----------------------------------------------------
hdrs=()
for i in $(seq 1 25); do hdrs+=(-H "X-Many-$i: v"); done
check "25 headers get 431" "$(req "${hdrs[@]}" "$FO/healthz")" 431
check "as headers_too_large" "$(error_type)" headers_too_large
big=$(head -c 5000 /dev/zero | tr '\0' b)
check "5000 bytes of headers get 431" "$(req -H "X-Big: $big" "$FO/healthz")" 431
check "the message names the setting" \
	"$(jq -r '.error.message | test("max_header_bytes")' "$T/body")" true
long=$(head -c 1100 /dev/zero | tr '\0' a)
check "a 1100-byte target gets 414" "$(req "$FO/healthz?$long")" 414
check "as uri_too_long" "$(error_type)" uri_too_long
# Far past the limit (evhttp 2.1 answered these in HTML): the same JSON
# 431, and so for a single header line over 64 KiB (issue #13 point 12).
huge=$(head -c 20000 /dev/zero | tr '\0' h)
check "headers past twice the limit: 431" \
	"$(req -H "X-Huge: $huge" "$FO/healthz")" 431
check "as JSON naming max_header_bytes" \
	"$(jq -r '[.error.type, (.error.message | test("max_header_bytes"))] | @tsv' "$T/body")" \
	"$(printf 'headers_too_large\ttrue')"
huge=$(head -c 70000 /dev/zero | tr '\0' h)
check "one 70,000-byte header line: 431" \
	"$(req -H "X-Huge: $huge" "$FO/healthz")" 431
check "as JSON" "$(error_type)" headers_too_large
check "the daemon is fine afterwards" "$(req "$FO/healthz")" 200

# --- idle keep-alive -----------------------------------------------------------
# t0 before the request: the idle timer starts after the answer, so
# the time measured is never short of it, however late this shell runs.
t0=$(ms_now)
exec 3<>"/dev/tcp/$HOST/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&3
reply=$(timeout 10 cat <&3 | tr -d '\r')
elapsed=$(($(ms_now) - t0))
exec 3<&-
check "the keep-alive request is answered" "$(printf '%s\n' "$reply" | tail -n 1)" '{"status":"ok"}'
check_true "then the idle connection closes after keepalive_timeout_ms (took ${elapsed} ms)" \
	test "$elapsed" -ge 2400 -a "$elapsed" -lt 5000

# --- max_connections ---------------------------------------------------------------
for fd in 4 5 6 7; do
	eval "exec $fd<>/dev/tcp/$HOST/$PORT"
done
t0=$(ms_now)
out=$(curl -sS --max-time 10 "$FO/healthz")
elapsed=$(($(ms_now) - t0))
for fd in 4 5 6 7; do
	eval "exec $fd<&-"
done
check "a fifth caller is served once a connection frees" "$out" '{"status":"ok"}'
check_true "but only after the four silent ones were cut (waited ${elapsed} ms)" \
	test "$elapsed" -ge 1000

# --- hostile upstreams ---------------------------------------------------------------
out=$(batch "{\"requests\":[\"$UP/many-headers/60\",\"$UP/big-header/10000\",
	\"$UP/many-headers/40\",\"$UP/drip/100?every=100\",\"$UP/bad-status\",
	\"$UP/bad-chunk\",\"$UP/endless\"],
	\"options\":{\"timeout_ms\":1000,\"retries\":0,\"max_body_bytes\":100000}}")
rtype() {
	results "$out" | jq -r "select(.index==$1) | if .ok then \"ok\" else .error.type end"
}
check "60 response headers: protocol error" "$(rtype 0)" protocol
check "naming the setting" \
	"$(results "$out" | jq -r 'select(.index==0) | .error.message | test("max_response_headers")')" true
check "a 10000-byte response header: protocol error" "$(rtype 1)" protocol
check "naming its setting" \
	"$(results "$out" | jq -r 'select(.index==1) | .error.message | test("max_response_header_bytes")')" true
check "40 response headers are fine" "$(rtype 2)" ok
check "a body dripped past timeout_ms ends as timeout" "$(rtype 3)" timeout
check_true "at the attempt deadline, not later" \
	test "$(results "$out" | jq 'select(.index==3) | .elapsed_ms < 2000')" = true
check "a malformed status line: protocol error" "$(rtype 4)" protocol
check "broken chunk framing: protocol error" "$(rtype 5)" protocol
check "an endless body stops at max_body_bytes" \
	"$(results "$out" | jq -c 'select(.index==6) | [.ok, .truncated]')" "[true,true]"

check "/healthz after all of it" "$(req "$FO/healthz")" 200
stop_fanoutd
finish
