#!/bin/bash
# api.sh - the wire API of DESIGN.md §1 end to end: input forms, result
# fields, output formats, per-item errors, whole-request errors,
# clamping, the loop guard, /healthz and /metrics.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd "[server]
max_items = 8
max_json_items = 4
max_request_bytes = 4096"

# --- the object form, result fields, summary --------------------------
out=$(batch "{\"requests\":[\"$UP/text/5\",
	{\"id\":\"b\",\"url\":\"$UP/status/404\"},
	{\"id\":7,\"url\":\"$UP/bytes/10\"}]}")
check "one line per item, then the summary" \
	"$(printf '%s\n' "$out" | wc -l)" 4
check "the summary comes last" \
	"$(printf '%s\n' "$out" | tail -n 1 | jq -c '.summary | [.total,.ok,.failed,.retries]')" \
	"[3,2,1,0]"
check "utf8 body with its fields" \
	"$(results "$out" | jq -r 'select(.index==0) | [.url,.ok,.status,.body,.body_encoding,.body_bytes,.truncated,.attempts] | @tsv')" \
	"$UP/text/5	true	200	abcde	utf8	5	false	1"
check "an HTTP error status is a result, not an error" \
	"$(results "$out" | jq -c 'select(.index==1) | [.id,.ok,.status,has("error")]')" \
	'["b",false,404,false]'
check "an integer id is echoed as a number" \
	"$(results "$out" | jq -c 'select(.index==2) | .id')" 7
check "a binary body is base64" \
	"$(results "$out" | jq -r 'select(.index==2) | .body_encoding')" base64
check "the base64 body decodes to the upstream's bytes" \
	"$(results "$out" | jq -r 'select(.index==2) | .body' | base64 -d | od -An -tx1 | tr -d ' \n')" \
	"$(curl -sS "$UP/bytes/10" | od -An -tx1 | tr -d ' \n')"
check "response header names are lower-cased" \
	"$(results "$out" | jq -r 'select(.index==0) | .headers | keys | map(select(. != ascii_downcase)) | length')" 0
check "content-type is reported" \
	"$(results "$out" | jq -r 'select(.index==0) | .headers["content-type"]')" "text/plain"
check "elapsed_ms is a number" \
	"$(results "$out" | jq -s -r 'map(.elapsed_ms | type) | unique | .[]')" number

# --- the bare array, URL lists, sniffing -------------------------------
out=$(batch "[\"$UP/text/1\",\"$UP/text/2\"]")
check "a bare array is a batch" "$(summary "$out" | jq -c '[.total,.ok]')" "[2,2]"

out=$(printf '# a comment\n\n%s/text/3\r\n  %s/text/4  \n' "$UP" "$UP" |
	curl -sS "$FO/v1/batch?concurrency=1&timeout_ms=2000" \
		-H 'Content-Type: text/plain' --data-binary @-)
check "a text/plain URL list skips comments and blank lines" \
	"$(summary "$out" | jq -c '[.total,.ok,.effective.concurrency,.effective.timeout_ms]')" \
	"[2,2,1,2000]"
check "URL list items keep their order as indexes" \
	"$(results "$out" | jq -r 'select(.index==1) | .body')" abcd

out=$(curl -sS "$FO/v1/batch" -d "[\"$UP/text/2\"]")
check "curl's default form type holding JSON is sniffed as JSON" \
	"$(summary "$out" | jq -c '[.total,.ok]')" "[1,1]"
out=$(printf '%s/text/2\n%s/text/3\n' "$UP" "$UP" |
	curl -sS "$FO/v1/batch" --data-binary @-)
check "curl's default form type holding URLs is sniffed as a URL list" \
	"$(summary "$out" | jq -c '[.total,.ok]')" "[2,2]"

# --- formats ------------------------------------------------------------
req="[\"$UP/delay/300\",\"$UP/delay/1\",\"$UP/delay/150\"]"
out=$(batch "$req")
check "NDJSON lines come in completion order" \
	"$(results "$out" | jq -r .index | tr '\n' ' ')" "1 2 0 "
out=$(batch "$req" -H 'Accept: application/json')
check "Accept: application/json buffers results in input order" \
	"$(printf '%s' "$out" | jq -r '.results[].index' | tr '\n' ' ')" "0 1 2 "
check "the JSON document carries the summary" \
	"$(printf '%s' "$out" | jq -c '.summary | [.total,.ok]')" "[3,3]"
out=$(curl -sS -X POST "$FO/v1/batch?format=json" --data-binary "$req")
check "?format=json does the same" \
	"$(printf '%s' "$out" | jq -r '.results | length')" 3
out=$(curl -sS -D "$T/h" -X POST "$FO/v1/batch" -H 'Accept: text/event-stream' \
	--data-binary "[\"$UP/text/1\",\"$UP/text/2\"]")
check "SSE: one result event per item and one summary event" \
	"$(printf '%s\n' "$out" | grep -c '^event: ' | tr -d ' ')/$(printf '%s\n' "$out" | grep -c '^event: summary')" "3/1"
check "SSE data lines are the result objects" \
	"$(printf '%s\n' "$out" | sed -n 's/^data: //p' | head -n 2 | jq -s -r 'map(.ok) | all')" true
check "SSE content type" \
	"$(grep -i '^content-type:' "$T/h" | tr -d '\r' | cut -d' ' -f2)" "text/event-stream"
curl -sS -D "$T/h" -o /dev/null -X POST "$FO/v1/batch" --data-binary '[]'
check "NDJSON content type" \
	"$(grep -i '^content-type:' "$T/h" | tr -d '\r' | cut -d' ' -f2)" "application/x-ndjson"
out=$(batch '[]')
check "an empty batch answers with just the summary" \
	"$(printf '%s\n' "$out" | wc -l | tr -d ' ')/$(printf '%s' "$out" | jq .summary.total)" "1/0"

# --- requests as sent ---------------------------------------------------
out=$(batch "[{\"url\":\"$UP/echo?a=1&b=%20x\",\"method\":\"POST\",
	\"headers\":{\"X-Custom\":\"v1\",\"Content-Type\":\"text/plain\"},
	\"body\":\"hello\"},
	{\"url\":\"$UP/echo\",\"method\":\"PATCH\",\"body_base64\":\"AP8=\"},
	{\"url\":\"$UP/echo\",\"method\":\"HEAD\"}]")
echo0=$(results "$out" | jq -r 'select(.index==0) | .body')
check "method is sent" "$(printf '%s' "$echo0" | jq -r .method)" POST
check "path and query are sent as given" \
	"$(printf '%s' "$echo0" | jq -r .target)" "/echo?a=1&b=%20x"
check "Host names the upstream" \
	"$(printf '%s' "$echo0" | jq -r '.headers[] | select(.[0]=="Host") | .[1]')" "${UP#http://}"
check "item headers are sent" \
	"$(printf '%s' "$echo0" | jq -r '.headers[] | select(.[0]=="X-Custom") | .[1]')" v1
check "the body is sent" \
	"$(printf '%s' "$echo0" | jq -r .body_base64 | base64 -d)" hello
check "the hop counter is sent" \
	"$(printf '%s' "$echo0" | jq -r '.headers[] | select(.[0]=="X-Fanoutd-Hops") | .[1]')" 1
check "body_base64 is sent as bytes, with a Content-Length" \
	"$(results "$out" | jq -r 'select(.index==1) | .body | fromjson | [.method, .body_base64, (.headers[] | select(.[0]=="Content-Length") | .[1])] | @tsv')" \
	"PATCH	AP8=	2"
check "HEAD gets a status and no body" \
	"$(results "$out" | jq -c 'select(.index==2) | [.status,.body_bytes]')" "[200,0]"

# --- per-item errors never fail the batch -------------------------------
out=$(batch "{\"requests\":[\"ftp://example.test/\",
	{\"url\":\"$UP/text/1\",\"method\":\"BREW\"},
	{\"url\":\"$UP/text/1\",\"headers\":{\"Connection\":\"close\"}},
	\"http://exa mple.test/\", 42, {\"id\":\"x\"},
	\"$UP/text/3\"]}")
check "a bad item gets an invalid_request line; the rest run" \
	"$(summary "$out" | jq -c '[.total,.ok,.failed]')" "[7,1,6]"
check "each bad item is reported at its index" \
	"$(results "$out" | jq -r 'select(.error.type=="invalid_request") | .index' | sort -n | tr '\n' ' ')" \
	"0 1 2 3 4 5 "
check "the message names the path" \
	"$(results "$out" | jq -r 'select(.index==1) | .error.message' | cut -d: -f1)" \
	"requests[1].method"
check "an invalid item keeps its id" \
	"$(results "$out" | jq -r 'select(.index==5) | .id')" x
check "every index appears exactly once" \
	"$(results "$out" | jq -r .index | sort -n | uniq | wc -l | tr -d ' ')" 7

# --- whole-request errors -----------------------------------------------
# req_error NAME EXPECTED-STATUS EXPECTED-TYPE CURL-ARGS...
req_error() {
	local name=$1 status=$2 type=$3 code
	shift 3
	code=$(curl -sS -o "$T/body" -w '%{http_code}' "$@")
	check "$name: status" "$code" "$status"
	check "$name: JSON error type" "$(jq -r .error.type "$T/body")" "$type"
}
req_error "not JSON" 400 bad_request -X POST "$FO/v1/batch" \
	-H 'Content-Type: application/json' --data-binary '{"requests":'
check "the 400 says it is not JSON" \
	"$(jq -r .error.message "$T/body" | grep -c 'not valid JSON')" 1
req_error "requests not an array" 400 bad_request -X POST "$FO/v1/batch" \
	-H 'Content-Type: application/json' --data-binary '{"requests":5}'
check "the message names the path" "$(jq -r .error.message "$T/body" | cut -d: -f1)" requests
req_error "bad option type" 400 bad_request -X POST "$FO/v1/batch" \
	-H 'Content-Type: application/json' \
	--data-binary '{"requests":[],"options":{"timeout_ms":"x"}}'
check "the message names the option" "$(jq -r .error.message "$T/body" | cut -d: -f1)" options.timeout_ms
req_error "unknown option" 400 bad_request -X POST "$FO/v1/batch" \
	-H 'Content-Type: application/json' \
	--data-binary '{"requests":[],"options":{"nope":1}}'
req_error "bad query option" 400 bad_request -X POST \
	"$FO/v1/batch?concurrency=abc" -H 'Content-Type: text/plain' \
	--data-binary "$UP/text/1"
check "the message names the query key" "$(jq -r .error.message "$T/body" | cut -d: -f1)" query.concurrency
req_error "unknown endpoint" 404 not_found "$FO/nope"
req_error "wrong method" 405 method_not_allowed "$FO/v1/batch"
check "405 carries Allow" \
	"$(curl -sS -D - -o /dev/null "$FO/v1/batch" | grep -i '^allow:' | tr -d '\r')" "Allow: POST"
req_error "too many items" 413 too_large -X POST "$FO/v1/batch" \
	--data-binary "$(jq -cn --arg u "$UP/text/1" '[range(9)] | map($u)')"
req_error "JSON format over max_json_items" 413 too_large -X POST \
	"$FO/v1/batch?format=json" \
	--data-binary "$(jq -cn --arg u "$UP/text/1" '[range(5)] | map($u)')"
check "the 413 points to NDJSON" "$(jq -r .error.message "$T/body" | grep -c NDJSON)" 1
# A body over max_request_bytes: the JSON 413 comes from the head, before
# the body is read - whether the caller waits for 100-continue (curl does
# past 1 MiB) or sends it all at once.
head -c 5000 /dev/zero | tr '\0' a >"$T/big"
req_error "a body over max_request_bytes" 413 too_large -X POST "$FO/v1/batch" \
	-H 'Content-Type: text/plain' --data-binary @"$T/big"
check "the 413 names max_request_bytes" \
	"$(jq -r .error.message "$T/body")" \
	"the request body is 5000 bytes, over 4096 ([server] max_request_bytes)"
head -c 3000000 /dev/zero | tr '\0' a >"$T/big"
req_error "a 3 MB body, announced with Expect: 100-continue" 413 too_large \
	-X POST "$FO/v1/batch" -H 'Content-Type: text/plain' \
	-H 'Expect: 100-continue' --data-binary @"$T/big"
req_error "a 3 MB body sent without waiting" 413 too_large \
	-X POST "$FO/v1/batch" -H 'Content-Type: text/plain' -H 'Expect:' \
	--data-binary @"$T/big"
# The same when the head arrives in pieces (split inside the header).
HOSTPORT=${FO#http://}
exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT##*:}"
for piece in 'POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Le' \
	'ngth: 99999\r\n\r' '\n'; do
	printf "$piece" >&3
	sleep 0.1 # the pieces' own pace, so they arrive as separate reads
done
reply=$(timeout 10 cat <&3 | tr -d '\r')
exec 3<&-
check "a head in pieces: 413" "$(echo "$reply" | head -n 1)" "HTTP/1.1 413 Content Too Large"
check "... with the JSON error" "$(echo "$reply" | tail -n 1 | jq -r .error.type)" too_large
# ... and when it is pipelined behind another request, in one write.
exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT##*:}"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n' >&3
reply=$(timeout 10 cat <&3 | tr -d '\r')
exec 3<&-
check "pipelined: 200 for the first, 413 for the second" \
	"$(echo "$reply" | grep '^HTTP/1.1' | cut -d' ' -f2 | tr '\n' ' ')" "200 413 "
check "... the second with the JSON error" "$(echo "$reply" | tail -n 1 | jq -r .error.type)" too_large
# The same on a keep-alive connection, as its second request.
out=$(curl -sS -o /dev/null "$FO/healthz" --next -o "$T/body" \
	-w '%{http_code} %{num_connects}' -X POST -H 'Content-Type: text/plain' \
	-H 'Expect:' --data-binary @"$T/big" "$FO/v1/batch")
check "a second request on a kept-alive connection: 413, no new connection" \
	"$out" "413 0"
check "... with the JSON error" "$(jq -r .error.type "$T/body")" too_large
check "the daemon still serves after refusing bodies" \
	"$(curl -sS "$FO/healthz" -o /dev/null -w '%{http_code}')" 200
req_error "unsupported content type" 415 unsupported_media_type -X POST \
	"$FO/v1/batch" -H 'Content-Type: application/xml' --data-binary '<a/>'
req_error "a batch sent by another fanoutd (hop limit 1)" 508 loop_detected \
	-X POST "$FO/v1/batch" -H 'X-Fanoutd-Hops: 1' --data-binary "[\"$UP/text/1\"]"
out=$(batch "[{\"url\":\"$FO/v1/batch\",\"method\":\"POST\",\"body\":\"[]\"}]")
check "fanoutd posting to itself is denied: its listener is never a target" \
	"$(results "$out" | jq -c '[.error.type, (.error.message | test("fanoutd.s own listener"))]')" '["denied",true]'
check "a batch with hop count 0 is fine" \
	"$(batch "[\"$UP/text/1\"]" -H 'X-Fanoutd-Hops: 0' | jq -r 'select(.summary) | .summary.ok')" 1

# --- clamping to the server caps ------------------------------------------
out=$(batch '{"requests":[],"options":{"concurrency":99999,"per_host_concurrency":5000,"timeout_ms":99999999,"max_body_bytes":999999999999}}')
check "values over a cap are clamped and reported" \
	"$(summary "$out" | jq -c '.effective | [.concurrency,.per_host_concurrency,.timeout_ms,.max_body_bytes]')" \
	"[1024,100,300000,16777216]"
out=$(batch '{"requests":[],"options":{"concurrency":3}}')
check "a batch may lower a cap" "$(summary "$out" | jq .effective.concurrency)" 3

# --- /healthz and /metrics -------------------------------------------------
check "/healthz" "$(curl -sS "$FO/healthz" | jq -r .status)" ok
m=$(curl -sS "$FO/metrics")
check "/metrics counts batches" \
	"$(printf '%s\n' "$m" | grep -c '^fanoutd_batches_total [1-9]')" 1
check "/metrics counts items by outcome" \
	"$(printf '%s\n' "$m" | grep -c '^fanoutd_items_total{outcome="invalid_request"} 6$')" 1
check "/metrics has the in-flight gauge" \
	"$(printf '%s\n' "$m" | grep -c '^fanoutd_inflight 0$')" 1
check "/metrics has the queued gauge" \
	"$(printf '%s\n' "$m" | grep -c '^fanoutd_queued 0$')" 1
check "/metrics counts attempts" \
	"$(printf '%s\n' "$m" | grep -c '^fanoutd_upstream_attempts_total [1-9]')" 1

# --- a reload lowers max_request_bytes under an open connection ---------------
# evhttp keeps the body limit a connection opened with; the guard applies
# the reloaded one at once: the caller gets the 413 and the batch it sent
# never runs, though evhttp reads it whole.
# read_reply: one HTTP reply from fd 3; prints its status code, leaves
# its body in $T/body.
read_reply() {
	local line len=0
	IFS= read -r -t 10 line <&3 || return 1
	line=${line%$'\r'}
	echo "${line#* }" | cut -d' ' -f1
	while IFS= read -r -t 10 line <&3; do
		line=${line%$'\r'}
		[ -z "$line" ] && break
		case ${line,,} in content-length:*) len=${line#*:} len=${len// /} ;; esac
	done
	: >"$T/body"
	if [ "$len" -gt 0 ]; then
		IFS= read -r -N "$len" -t 10 line <&3
		printf '%s' "$line" >"$T/body"
	fi
}
exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT##*:}"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&3
check "the connection is open and kept alive" "$(read_reply)" 200
sed -i 's/^max_request_bytes = 4096$/max_request_bytes = 200/' "$T/fanoutd.conf"
kill -HUP "$FANOUTD_PID"
reloaded() {
	grep -q 'reload: configuration .* applied' "$T/fanoutd.log"
}
check_true "the reload lowering max_request_bytes is applied" wait_until 5 reloaded
batches() {
	curl -sS "$FO/metrics" | sed -n 's/^fanoutd_batches_total //p'
}
before=$(batches)
body=$(jq -cn --arg u "$UP/text/1?tag=refused" '[range(6)] | map($u)')
printf 'POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
	"${#body}" "$body" >&3
check "a ${#body}-byte batch on that connection: 413" "$(read_reply)" 413
check "... with the JSON error" "$(jq -r .error.type "$T/body")" too_large
exec 3<&-
check "... and no batch was started for it" "$(batches)" "$before"
check "... so none of its items ran" \
	"$(upstream_stats | jq '.tags.refused.requests // 0')" 0

finish
