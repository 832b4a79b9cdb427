#!/bin/bash
# wire.sh - upstreams that answer the way real servers do (issue #13),
# each with its exact bytes from the test upstream's /wire/ endpoints
# (tests/upstream/wire.c). Every case is a two-item batch at concurrency
# 1: the case, then a plain 200 "ok" from the same upstream, which says
# (X-Served) whether it came over the case's connection; so every case
# also shows that nothing it left behind reached the next item, and
# that a connection that must not carry another request did not.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd

# pair CASE [FIRST-ITEM-JSON] [OPTIONS]: the case, then /wire/ok. Sets R0
# and R1, the two result lines.
pair() {
	local first=${2:-"\"$UP/wire/$1\""}
	local out
	out=$(batch "{\"requests\":[$first,\"$UP/wire/ok\"],
		\"options\":{\"concurrency\":1${3:-,\"retries\":0}}}")
	R0=$(results "$out" | jq -c 'select(.index==0)')
	R1=$(results "$out" | jq -c 'select(.index==1)')
}
# r0 FILTER: jq FILTER on the case's result.
r0() { printf '%s\n' "$R0" | jq -c "$1"; }
# then_ok NAME reused|fresh: the next item got its own "ok", over the
# same connection or a new one.
then_ok() {
	check "$1: the next item gets its own response" \
		"$(printf '%s\n' "$R1" | jq -r .body)" ok
	if [ "$2" = reused ]; then
		check "$1: ... over the same connection" \
			"$(printf '%s\n' "$R1" | jq -r '.headers["x-served"] != "0"')" true
	else
		check "$1: ... over a new connection" \
			"$(printf '%s\n' "$R1" | jq -r '.headers["x-served"]')" 0
	fi
}
# body_case CASE BODY reused|fresh: a response that must give BODY.
body_case() {
	pair "$1"
	check "$1: [ok, status, body]" "$(r0 '[.ok, .status, .body]')" "[true,200,\"$2\"]"
	then_ok "$1" "$3"
}
# fault_case CASE TYPE MESSAGE-START: a response that must be refused.
fault_case() {
	pair "$1"
	check "$1: $2" "$(r0 .error.type)" "\"$2\""
	check "$1: the message says why" \
		"$(r0 ".error.message | startswith(\"$3\")")" true
	then_ok "$1" fresh
}

# --- 1. interim responses (RFC 9110 §15.2) --------------------------------------
body_case early-hints hello reused
body_case processing-hints hello reused
body_case hints-dripped hello reused
body_case hints-and-final hello reused
check "the interim response's fields are not the final one's" \
	"$(r0 '.headers | has("link")')" false
fault_case switching protocol "101 Switching Protocols, but fanoutd asked for no upgrade"

# --- 2. chunked bodies (RFC 9112 §7.1) ----------------------------------------------
body_case chunk-ext hello reused
body_case chunk-ext-quoted hello reused
body_case chunk-dripped hello reused
body_case chunk-trailer hello reused
check "trailer fields are dropped, not merged into the header fields" \
	"$(r0 '.headers | has("x-sum")')" false
check "the response's own Transfer-Encoding is reported" \
	"$(r0 '.headers["transfer-encoding"]')" '"chunked"'
fault_case chunk-no-crlf protocol "chunk data not followed by CRLF"
fault_case chunk-bad-size protocol 'malformed chunk-size line \"5x\"'
fault_case chunk-huge-size protocol "a chunk size too large"

# --- 3. bodies delimited by the close (rule 8) and persistence (§9.3) ----------------
body_case keepalive-close hello fresh
check "keepalive-close: Connection reported as sent" \
	"$(r0 '.headers.connection')" '"keep-alive"'
body_case http10-keepalive "<events/>" fresh
body_case http10-keepalive-late "<events/>" fresh
body_case close-delimited hello fresh
body_case http10-length hello fresh          # HTTP/1.0 without keep-alive
body_case connection-close-list hello fresh  # "Close, TE"

# --- 4. Content-Length and Transfer-Encoding (rules 1 to 7) --------------------------
fault_case cl-conflict protocol "conflicting Content-Length values (5 and 10)"
fault_case cl-list-conflict protocol "conflicting Content-Length values (5 and 10)"
fault_case cl-invalid protocol 'invalid Content-Length \"+5\"'
body_case cl-list-equal hello reused
check "the list is reported as sent" "$(r0 '.headers["content-length"]')" '"5, 5"'
body_case cl-lines-equal hello reused
pair cl-short
check "a body shorter than its Content-Length: reset" "$(r0 .error.type)" '"reset"'
then_ok cl-short fresh
body_case te-and-cl hello fresh # rule 3: chunked wins, never reused
fault_case te-not-chunked protocol "a transfer coding other than chunked"
fault_case te-chunked-twice protocol "chunked applied twice"
body_case http10-chunked hello fresh
pair no-content
check "204 (rule 1): no body, whatever Content-Length says" \
	"$(r0 '[.status, .body_bytes]')" "[204,0]"
then_ok no-content reused
pair not-modified-chunked
check "304 with chunked (rule 1): no body" "$(r0 '[.status, .body_bytes]')" "[304,0]"
then_ok not-modified-chunked reused
pair head-length "{\"url\":\"$UP/wire/head-length\",\"method\":\"HEAD\"}"
check "HEAD with Content-Length (rule 1): no body" \
	"$(r0 '[.status, .body_bytes]')" "[200,0]"
then_ok head-length reused
body_case extra-bytes hello fresh

# --- 5. bodies far over max_body_bytes, in every framing -----------------------------
for c in huge-chunk huge-length huge-close; do
	rss0=$(awk '/VmRSS/ {print $2}' "/proc/$FANOUTD_PID/status")
	pair "$c" "" ",\"retries\":0,\"max_body_bytes\":1048576"
	check "$c: cut at max_body_bytes" \
		"$(r0 '[.ok, .status, .body_bytes, (.body | length), .truncated]')" \
		"[true,200,1048576,1048576,true]"
	then_ok "$c" fresh
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$FANOUTD_PID/status")
	check_memory "$c: RSS grew $((hwm - rss0)) kB, under 16 MiB" \
		test $((hwm - rss0)) -lt 16384
done

# --- 6. answers to an upload from its head (RFC 9112 §9.5) ---------------------------
head -c 4194304 /dev/zero | tr '\0' a >"$T/big"
for c in 'early-413:413:"too large"' 'early-401:401:"denied"' \
	'early-413-close:413:"too large"'; do
	IFS=: read -r name status body <<<"$c"
	jq -n --rawfile b "$T/big" --arg u "$UP/wire/$name?tag=$name" \
		--arg ok "$UP/wire/ok" \
		'{requests:[{url:$u,method:"PUT",body:$b},$ok],options:{concurrency:1}}' \
		>"$T/req.json"
	out=$(curl -sS --max-time 60 -X POST "$FO/v1/batch" \
		-H 'Content-Type: application/json' --data-binary @"$T/req.json")
	R0=$(results "$out" | jq -c 'select(.index==0)')
	R1=$(results "$out" | jq -c 'select(.index==1)')
	check "$name: a 4 MiB PUT gets the status sent (default retries)" \
		"$(r0 '[.status, .body, .attempts]')" "[$status,$body,1]"
	check "$name: the body went out once" \
		"$(upstream_stats | jq --arg t "$name" '.tags[$t].requests')" 1
	then_ok "$name" fresh
done

# --- 7, 8. content codings (RFC 9110 §8.4, RFC 1952 §2.2) -------------------------
body_case gzip-members "hello world" reused
check "gzip-members: decoded, so no coding left to name" \
	"$(r0 'has("content_encoding")')" false
pair gzip-members "" ",\"retries\":0,\"max_body_bytes\":8"
check "gzip-members: the cap counts the decoded total, across members" \
	"$(r0 '[.body, .body_bytes, .truncated]')" '["hello wo",8,true]'
body_case gzip-many-members "$(printf '0123456789abcdef%.0s' $(seq 64))" reused
fault_case gzip-garbage protocol "cannot decode the gzip response body"
body_case gzip-gzip-list hello reused
list_ce=$(r0 '.headers["content-encoding"]')
body_case gzip-gzip-lines hello reused
check "one field line or two: the same header reported" \
	"$(r0 '.headers["content-encoding"]')" "$list_ce"
body_case deflate-gzip hello reused
pair gzip-unknown
check "gzip-unknown: kept as sent, and said so" \
	"$(r0 '[.ok, .status, .body_encoding, .content_encoding]')" \
	'[true,200,"base64","gzip, br"]'
check "gzip-unknown: the body is the gzip as sent" \
	"$(printf '%s\n' "$R0" | jq -r .body | base64 -d | gunzip)" hello
then_ok gzip-unknown reused
pair gzip-bomb-twice "" ",\"retries\":0,\"max_body_bytes\":1048576"
check "gzip-bomb-twice: two layers of bomb stop at the cap" \
	"$(r0 '[.ok, .body_bytes, .truncated]')" "[true,1048576,true]"
then_ok gzip-bomb-twice fresh
body_case identity hello reused
check "identity is no coding" "$(r0 'has("content_encoding")')" false
pair gzip-members "" ",\"retries\":0,\"decode\":false"
check "decode false: the codings are named, the bytes as sent" \
	"$(r0 '[.content_encoding, (.body | @base64d | length > 0)]')" '["gzip",true]'
then_ok decode-false reused

finish
