#!/bin/bash
# faults.sh - every way an upstream can fail maps onto one error type
# (DESIGN.md §1): timeout, deadline, connect, reset, protocol; and the
# response-shaping options: truncation at max_body_bytes, base64 bodies,
# "body": "none", "headers": false.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd

# error_of JSON-ITEMS OPTIONS: "type<TAB>message" of item 0.
error_of() {
	batch "{\"requests\":$1,\"options\":${2:-{\"retries\":0\}}}" |
		jq -r 'select(.index==0) | [.error.type, .error.message] | @tsv'
}

# --- timeouts ---------------------------------------------------------------
out=$(batch "{\"requests\":[\"$UP/hang\"],\"options\":{\"timeout_ms\":300,\"retries\":0}}")
check "a hanging upstream ends as timeout" \
	"$(results "$out" | jq -r .error.type)" timeout
check "the message says how long" \
	"$(results "$out" | jq -r .error.message)" "no response within 300 ms"
check_true "after about 300 ms" \
	test "$(results "$out" | jq '.elapsed_ms >= 290 and .elapsed_ms < 2000')" = true
out=$(batch "{\"requests\":[{\"url\":\"$UP/delay/2000\",\"timeout_ms\":200},
	\"$UP/delay/100\"],\"options\":{\"timeout_ms\":5000,\"retries\":0}}")
check "an item's timeout_ms overrides the batch's" \
	"$(results "$out" | jq -r 'select(.index==0) | .error.type')" timeout
check "without touching the other items" \
	"$(results "$out" | jq -r 'select(.index==1) | .ok')" true

# --- the batch deadline -------------------------------------------------------
t0=$(ms_now)
out=$(batch "{\"requests\":[\"$UP/text/2\",\"$UP/delay/3000\",\"$UP/delay/3000\",
	\"$UP/delay/3000\"],\"options\":{\"deadline_ms\":500,\"concurrency\":2}}")
wall=$(($(ms_now) - t0))
check "items unfinished at the deadline end as deadline" \
	"$(results "$out" | jq -r 'select(.error.type=="deadline") | .index' | sort | tr '\n' ' ')" "1 2 3 "
check "the finished item keeps its result" \
	"$(results "$out" | jq -r 'select(.index==0) | .ok')" true
check "a queued item that never ran has 0 attempts" \
	"$(results "$out" | jq -s -c 'map(select(.error.type=="deadline") | .attempts) | sort')" "[0,1,1]"
check_true "the batch ends at its deadline (took $wall ms)" \
	test "$wall" -ge 490 -a "$wall" -lt 2500
check "every item has its line and the summary comes last" \
	"$(printf '%s\n' "$out" | wc -l | tr -d ' ')/$(printf '%s\n' "$out" | tail -n 1 | jq -c '.summary | [.total,.ok,.failed]')" \
	"5/[4,1,3]"

# --- connect, reset, protocol ----------------------------------------------------
check "a closed port is a connect error" \
	"$(error_of '["http://127.0.0.1:1/"]' | cut -f1)" connect
check "the connect message names the address and the reason" \
	"$(error_of '["http://127.0.0.1:1/"]' | cut -f2)" \
	"cannot connect to 127.0.0.1:1: Connection refused"
check "a close without a response is a reset" \
	"$(error_of "[\"$UP/close\"]" | cut -f1)" reset
check "a close mid-body is a reset" \
	"$(error_of "[\"$UP/partial\"]" | cut -f1)" reset
check "the mid-body message says how far it got" \
	"$(error_of "[\"$UP/partial\"]" | cut -f2)" \
	"connection to ${UP#http://} closed after 10 bytes of the response body"
check "a response that is not HTTP is a protocol error" \
	"$(error_of "[\"$UP/garbage\"]" | cut -f1)" protocol

# --- body shaping ---------------------------------------------------------------
out=$(batch "{\"requests\":[\"$UP/text/1000\",\"$UP/bytes/200000?chunked=1\",\"$UP/text/100\"],
	\"options\":{\"max_body_bytes\":100}}")
check "a body over max_body_bytes is cut there" \
	"$(results "$out" | jq -c 'select(.index==0) | [.ok, .body_bytes, (.body|length), .truncated]')" \
	"[true,100,100,true]"
check "a chunked binary body is cut too, and still base64" \
	"$(results "$out" | jq -r 'select(.index==1) | .body' | base64 -d | wc -c | tr -d ' ')" 100
check "a body of exactly max_body_bytes is not truncated" \
	"$(results "$out" | jq -c 'select(.index==2) | [.body_bytes, .truncated]')" "[100,false]"
check "the kept bytes are the first ones" \
	"$(results "$out" | jq -r 'select(.index==1) | .body' | base64 -d | od -An -tx1 | tr -d ' \n')" \
	"$(curl -sS "$UP/bytes/100" | od -An -tx1 | tr -d ' \n')"
out=$(batch "{\"requests\":[\"$UP/text/7\"],\"options\":{\"body\":\"none\",\"headers\":false}}")
check "body none omits the body but counts its bytes" \
	"$(results "$out" | jq -c '[has("body"), has("body_encoding"), .body_bytes]')" "[false,false,7]"
check "headers false omits the headers" \
	"$(results "$out" | jq -c 'has("headers")')" false
out=$(batch "[\"$UP/headers/2\"]")
check "repeated headers are joined" \
	"$(results "$out" | jq -r '.headers["set-cookie"]')" "$(printf 'a=1\nb=2')"
check "mixed-case names are lower-cased" \
	"$(results "$out" | jq -r '.headers["x-mixed-case"]')" Yes

# --- a pooled connection is never reused with stray bytes on it -------------
curl -sS -o /dev/null "$UP/stats/reset"
out=$(batch "{\"requests\":[{\"url\":\"$UP/text/5?head_body=1\",\"method\":\"HEAD\"}],
	\"options\":{\"concurrency\":1}}")
check "HEAD gets its status even from an upstream that sends a body" \
	"$(results "$out" | jq -c '[.status, .body_bytes]')" "[200,0]"
out=$(batch "[\"$UP/text/3\"]")
check "the next request does not read that body as its response" \
	"$(results "$out" | jq -c '[.ok, .body]')" '[true,"abc"]'
check "because it went over a fresh connection" \
	"$(upstream_stats | jq .connections)" 2

# --- HEAD on fanoutd's own endpoints -------------------------------------------
check "HEAD /healthz has the length of the body and no body" \
	"$(curl -sS -I "$FO/healthz" | grep -i '^content-length:' | tr -d '\r' | cut -d' ' -f2)/$(curl -sS -X HEAD --max-time 2 "$FO/healthz" 2>/dev/null | wc -c | tr -d ' ')" \
	"16/0"
out=$(curl -sS -I "$FO/metrics" --next -sS "$FO/healthz" -w ' %{num_connects}')
check "a GET after a HEAD on one keep-alive connection still parses" \
	"$(printf '%s' "$out" | tail -n 2 | tr -d '\r\n')" '{"status":"ok"} 0'

# --- the daemon survives all of the above --------------------------------------
check "/healthz after the faults" "$(curl -sS "$FO/healthz" | jq -r .status)" ok
check "nothing is left in flight" \
	"$(curl -sS "$FO/metrics" | grep -c '^fanoutd_inflight 0$')" 1

finish
