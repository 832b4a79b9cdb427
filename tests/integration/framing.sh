#!/bin/bash
# framing.sh - fanoutd's own HTTP server attacked with raw bytes (issue
# #14), on a plain and on an HTTPS listener: every request framing that
# proxies and servers in the wild were bitten by (RFC 9112 §6.1 and
# §6.3's rules, §5's field syntax, §3's request line and target) gets a
# JSON error naming the fault and the connection closes, and in every
# smuggling case the request hidden in the body ($S, a GET /metrics) is
# never answered. Then what a caller may send in a request's body and
# head: chunk extensions, Content-Encoding, Accept with weights, a
# byte-order mark; and a caller that half-closes its side.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
. "$(dirname "$TESTLIB")/pki.sh"
: "${RAWHTTP:?RAWHTTP must point to the rawhttp test client}"

P=$T/pki
make_pki "$P" || exit 1
start_upstream
LIMITS="max_request_bytes = 4096
max_json_items = 5
request_read_timeout_ms = 1000
max_header_bytes = 2048
max_url_bytes = 512"

H='POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
S='GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'

# raw BYTES [RAWHTTP ARGS...]: send BYTES (backslash escapes expanded)
# as they are to fanoutd; the reply goes to $T/reply with CRs dropped,
# RAW_RC is 0 when fanoutd closed the connection, 3 when it kept it open.
raw() {
	local bytes=$1
	shift
	printf '%b' "$bytes" | "$RAWHTTP" $TLS --wait-ms 1000 "$@" "$HOST" "$PORT" \
		>"$T/reply.raw"
	RAW_RC=$?
	tr -d '\r' <"$T/reply.raw" >"$T/reply"
}
# statuses: the status codes of the replies in $T/reply, in order.
statuses() {
	grep -a '^HTTP/1\.[01] [0-9][0-9][0-9]' "$T/reply" | cut -d' ' -f2 | tr '\n' ' '
}
# message: the JSON error message of the last reply.
message() {
	grep -a '^{' "$T/reply" | tail -n 1 | jq -r .error.message
}

# smuggle NAME STATUS MESSAGE BYTES [RAWHTTP ARGS]: the request is
# refused with STATUS, the connection closed, the request hidden after
# it never answered; MESSAGE (- for none: a HEAD reply has no body) is
# part of the JSON error.
smuggle() {
	local name=$1 status=$2 msg=$3 bytes=$4
	shift 4
	raw "$bytes" "$@"
	check "$LABEL $name: $status and closed, the hidden request unanswered" \
		"$(statuses)/$(grep -ac '^# HELP' "$T/reply")/$RAW_RC" "$status /0/0"
	if [ "$msg" != - ]; then
		check "$LABEL $name: the JSON error says so" \
			"$(message | grep -cF -- "$msg")" 1
	fi
}

# answered NAME STATUSES RC BYTES [RAWHTTP ARGS]: fanoutd answered with
# these statuses, and closed (0) or kept the connection (3).
answered() {
	local name=$1 want=$2 rc=$3 bytes=$4
	shift 4
	raw "$bytes" "$@"
	check "$LABEL $name: $want(rc $rc)" "$(statuses)(rc $RAW_RC)" "$want(rc $rc)"
}

framing_cases() {
	# --- 1. Content-Length (RFC 9112 §6.3 rule 5, RFC 9110 §8.6) ----------
	smuggle "two Content-Length values" 400 \
		"two different Content-Length values (0 and 35)" \
		"${H}Content-Length: 0\r\nContent-Length: 35\r\n\r\n${S}"
	smuggle "two Content-Length values, the other way" 400 \
		"two different Content-Length values (35 and 0)" \
		"${H}Content-Length: 35\r\nContent-Length: 0\r\n\r\n${S}"
	smuggle "a list of two lengths" 400 "(35 and 0)" \
		"${H}Content-Length: 35, 0\r\n\r\n${S}"
	smuggle "a signed length" 400 'Content-Length "+35" is not a number' \
		"${H}Content-Length: +35\r\n\r\n${S}"
	smuggle "Content-Length and Transfer-Encoding (rule 3)" 400 \
		"both Content-Length and Transfer-Encoding" \
		"${H}Content-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${S}"
	answered "the same length twice (31, 31) is one length" "200 " 0 \
		"${H}Content-Length: 2, 2\r\nConnection: close\r\n\r\n[]"
	# --- 2. Transfer-Encoding (RFC 9112 §6.1, §6.3 rule 4) ------------------
	smuggle "Transfer-Encoding: identity" 400 \
		"the last transfer coding is identity, not chunked" \
		"${H}Transfer-Encoding: identity\r\n\r\n${S}"
	smuggle "chunked, then another coding" 400 \
		"the last transfer coding is gzip" \
		"${H}Transfer-Encoding: chunked, gzip\r\n\r\n${S}"
	smuggle "a second Transfer-Encoding line" 400 \
		"the last transfer coding is identity" \
		"${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${S}"
	smuggle "a look-alike coding" 400 "the last transfer coding is xchunked" \
		"${H}Transfer-Encoding: xchunked\r\n\r\n${S}"
	smuggle "chunked applied twice" 400 "applied twice" \
		"${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n${S}"
	smuggle "an unknown coding before chunked" 501 \
		"the transfer coding gzip is not implemented" \
		"${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${S}"
	# --- 3. field syntax (RFC 9112 §5.1, §5.2, RFC 9110 §5.5) ----------------
	smuggle "whitespace before the colon" 400 \
		'whitespace between the header name "Content-Length" and its colon' \
		"${H}Content-Length : 35\r\n\r\n${S}"
	smuggle "a tab before the colon" 400 \
		'whitespace between the header name "Transfer-Encoding"' \
		"${H}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n${S}"
	smuggle "obsolete line folding" 400 "obsolete line folding" \
		"${H}Transfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n${S}"
	smuggle "a bare CR inside a header line" 400 "a bare CR in a header" \
		"${H}X-A: 1\rContent-Length: 35\r\n\r\n${S}"
	smuggle "a NUL in a header" 400 "a NUL byte in a header" \
		"${H}X-A: a\0b\r\nContent-Length: 35\r\n\r\n${S}"
	smuggle "a header line without a colon" 400 "without a colon" \
		"${H}Content-Length 35\r\n\r\n${S}"
	smuggle "two Host headers" 400 "more than one Host header" \
		"${H}Host: y\r\nContent-Length: 35\r\n\r\n${S}"
	# --- 4. a body on HEAD or TRACE ----------------------------------------
	smuggle "HEAD with a body" 400 - \
		"HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\n${S}"
	smuggle "TRACE with a body" 400 "a TRACE request with a body" \
		"TRACE /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\n${S}"
	answered "HEAD with Content-Length: 0 keeps the connection" "200 200 " 3 \
		"HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	# --- 5. HTTP/1.0 (RFC 9112 §6.1) -------------------------------------
	smuggle "HTTP/1.0 keep-alive with Transfer-Encoding" 400 \
		"Transfer-Encoding in an HTTP/1.0 request" \
		"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${S}"
	answered "HTTP/1.0 keep-alive with a length stays open" "200 200 " 3 \
		"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\nGET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	answered "HTTP/1.0 without keep-alive: one reply, then closed" "200 " 0 \
		"GET /healthz HTTP/1.0\r\n\r\n${S}"
	# --- 6. the request target (RFC 9112 §3.2) ------------------------------
	smuggle "a fragment in the target" 400 "invalid character '#'" \
		"GET /metrics#x HTTP/1.1\r\nHost: x\r\n\r\n"
	answered "//anything/v1/batch is a path: 404" "404 " 0 \
		"POST //anything/v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
	check "$LABEL ... naming the path as sent" "$(message)" \
		"no such endpoint: //anything/v1/batch; use POST /v1/batch"
	answered "//x/metrics is a path: 404" "404 " 0 \
		"GET //x/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	answered "an absolute-form target is read as its path (RFC 9112 §3.2.2)" \
		"200 " 0 "GET http://x/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	# --- 7. chunked bodies (RFC 9112 §7.1) -----------------------------------
	body="[\"$UP/text/3\"]"
	answered "chunk extensions are ignored" "200 " 0 \
		"${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4;name=value\r\n${body:0:4}\r\n$(printf '%x' $((${#body} - 4)));a=\"q\\\\\"\"\r\n${body:4}\r\n0;last\r\nX-Trailer: dropped\r\n\r\n"
	check "$LABEL ... and the batch ran" \
		"$(grep -a '^{"summary"' "$T/reply" | jq -c '[.summary.total, .summary.ok]')" "[1,1]"
	answered "the same, one byte per write" "200 " 0 \
		"${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;x=y\r\n[]\r\n0\r\n\r\n" \
		--pieces 1 --pause-ms 1
	smuggle "a chunk size that is not hex" 400 "a chunk size is not hexadecimal" \
		"${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n${S}"
	smuggle "chunk data not followed by CR LF" 400 \
		"chunk data is not followed by CR LF" \
		"${H}Transfer-Encoding: chunked\r\n\r\n2\r\n[]XX\r\n0\r\n\r\n${S}"
	smuggle "a chunk-size line ending in a bare LF" 400 \
		"a malformed chunk extension" \
		"${H}Transfer-Encoding: chunked\r\n\r\n2\n[]\r\n0\r\n\r\n${S}"
	smuggle "a chunked body past max_request_bytes" 413 \
		"the chunked request body is over 4096 bytes ([server] max_request_bytes)" \
		"${H}Transfer-Encoding: chunked\r\n\r\n2000\r\n${S}"
	# --- the request line (RFC 9112 §3) and its neighbours ------------------
	smuggle "two spaces in the request line" 400 "malformed request line" \
		"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	smuggle "HTTP/2.0" 505 "HTTP/2.0 is not supported" \
		"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"
	smuggle "an unknown method" 501 "method FOO is not implemented" \
		"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	smuggle "CONNECT" 501 "fanoutd is not a proxy" \
		"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n"
	smuggle "HTTP/1.1 without Host" 400 "without a Host header" \
		"GET /healthz HTTP/1.1\r\n\r\n${S}"
	smuggle "an Expect fanoutd does not meet" 417 "only 100-continue" \
		"${H}Expect: 200-ok\r\nContent-Length: 2\r\n\r\n[]"
	head="${H}Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
	answered "Expect: 100-continue gets a 100, then the reply" "100 200 " 0 \
		"${head}[]" --pieces "$(printf '%b' "$head" | wc -c)" --pause-ms 300
	# --- limits, answered in JSON on every listener ---------------------------
	smuggle "a body over max_request_bytes" 413 \
		"the request body is 99999 bytes, over 4096 ([server] max_request_bytes)" \
		"${H}Content-Length: 99999\r\n\r\n"
	smuggle "a head over max_header_bytes" 431 "max_header_bytes" \
		"${H}X-Big: $(head -c 3000 /dev/zero | tr '\0' b)\r\n\r\n"
	smuggle "a target over max_url_bytes" 414 "max_url_bytes" \
		"GET /$(head -c 600 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n"
	smuggle "a head that never ends: 408" 408 "request_read_timeout_ms" \
		"GET /healthz HTTP/1.1\r\nHost: x\r\n" --wait-ms 3000
	# --- pieces and pipelines ---------------------------------------------------
	smuggle "two Content-Length values, a byte per write" 400 \
		"two different Content-Length values (0 and 35)" \
		"${H}Content-Length: 0\r\nContent-Length: 35\r\n\r\n${S}" \
		--pieces 1 --pause-ms 1
	answered "three pipelined requests, three replies in order" \
		"200 404 200 " 3 \
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	slow="[\"$UP/delay/500\"]"
	many=$(printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n%.0s' $(seq 36000))
	answered "over 1 MiB pipelined behind a running batch: dropped, closed after its reply" \
		"200 " 0 \
		"${H}Content-Length: ${#slow}\r\n\r\n${slow}${many}" --wait-ms 3000
	answered "a pipelined fault after a good request: its reply, then 400" \
		"200 400 " 0 \
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n${H}Content-Length: 0\r\nContent-Length: 35\r\n\r\n${S}"
}

# half_close_cases: a caller that sends its request, then shuts its
# side (shutdown(SHUT_WR), as nc -N and socat do), still reads the whole
# response; if it then goes away, its batch is cancelled.
half_close_cases() {
	local b="[\"$UP/delay/300?tag=half\",\"$UP/text/3\"]" v
	for v in 1.1 1.0; do
		raw "POST /v1/batch HTTP/$v\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${#b}\r\n\r\n$b" \
			--half-close --wait-ms 5000
		check "$LABEL half-closed HTTP/$v caller: every line and the summary" \
			"$(grep -a '^ *{' "$T/reply" | jq -sc '[(map(select(.index != null)) | length), (map(select(.summary)) | .[0].summary.ok)]')" \
			"[2,2]"
		if [ $v = 1.1 ]; then
			check "$LABEL ... and the last chunk" \
				"$(tail -c 3 "$T/reply" | od -An -c | tr -d ' ')" '0\n\n'
		fi
		check "$LABEL ... then the connection closes" "$RAW_RC" 0
	done
	raw "POST /v1/batch HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Length: ${#b}\r\n\r\n$b" \
		--half-close --wait-ms 5000
	check "$LABEL half-closed SSE caller: both results and the summary" \
		"$(grep -ac '^event: result' "$T/reply")/$(grep -ac '^event: summary' "$T/reply")" "2/1"
	# Half-closed, then gone while its items hang: the probes find it.
	curl -sS -o /dev/null "$UP/stats/reset"
	b="[\"$UP/hang?tag=halfgone\",\"$UP/hang?tag=halfgone\",\"$UP/hang?tag=halfgone\"]"
	raw "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: ${#b}\r\n\r\n$b" \
		--half-close --wait-ms 300
	gone() {
		test "$(upstream_stats | jq '.tags.halfgone.aborted // 0')" = 3
	}
	check_true "$LABEL a half-closed caller that leaves: its batch is cancelled" \
		wait_until 8 gone
}

# --- the plain listener ----------------------------------------------------------
start_fanoutd "$LIMITS"
HOSTPORT=${FO#http://}
HOST=${HOSTPORT%:*}
PORT=${HOSTPORT##*:}
TLS=
LABEL=http:
framing_cases
half_close_cases

# Request semantics (plain listener): Accept (RFC 9110 §12.5.1).
ctype() {
	curl -sS -o "$T/body" -w '%{http_code} %{content_type}' "$FO/v1/batch" \
		-H 'Content-Type: application/json' --data-binary '[]' "$@"
}
check "Accept: text/event-stream;q=0, application/x-ndjson is NDJSON" \
	"$(ctype -H 'Accept: text/event-stream;q=0, application/x-ndjson')" \
	"200 application/x-ndjson"
check "Accept: application/x-ndjson, application/json;q=0.1 is NDJSON" \
	"$(ctype -H 'Accept: application/x-ndjson, application/json;q=0.1')" \
	"200 application/x-ndjson"
items=$(jq -cn --arg u "$UP/text/1" '[range(6)] | map($u)')
check "... so a batch over max_json_items (5) is streamed, not refused" \
	"$(curl -sS "$FO/v1/batch" -H 'Accept: application/x-ndjson, application/json;q=0.1' \
		--data-binary "$items" | summary "$(cat)" | jq .total)" 6
check "Accept lines are joined: the second one counts" \
	"$(ctype -H 'Accept: text/html' -H 'Accept: application/json;q=0.5')" \
	"200 application/json"
check "nothing acceptable: 406" "$(ctype -H 'Accept: text/html')" \
	"406 application/json"
check "... as JSON naming the formats" \
	"$(jq -r '[.error.type, (.error.message | test("application/x-ndjson"))] | @tsv' "$T/body")" \
	"$(printf 'not_acceptable\ttrue')"
check "?format= wins over Accept" \
	"$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$FO/v1/batch?format=sse" \
		-H 'Accept: text/html' --data-binary '[]')" "200 text/event-stream"

# Content-Encoding on the request body (RFC 9110 §8.4).
post_coded() {
	curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$FO/v1/batch" \
		-H 'Content-Type: application/json' "$@"
}
printf '["%s"]' "$UP/text/2" | gzip >"$T/batch.gz"
check "a gzip body is decoded" \
	"$(post_coded -H 'Content-Encoding: gzip' --data-binary @"$T/batch.gz")/$(summary "$(cat "$T/body")" | jq .ok)" "200/1"
# Raw deflate, as many clients send "deflate": gzip's, without its
# 10-byte header and 8-byte trailer.
tail -c +11 "$T/batch.gz" | head -c -8 >"$T/batch.z"
check "a deflate body is decoded" \
	"$(post_coded -H 'Content-Encoding: deflate' --data-binary @"$T/batch.z")/$(summary "$(cat "$T/body")" | jq .ok)" "200/1"
check "identity is nothing to undo" \
	"$(post_coded -H 'Content-Encoding: identity' --data-binary '[]')" 200
check "a plain body labelled br: 415" \
	"$(post_coded -H 'Content-Encoding: br' --data-binary '[]')" 415
check "... naming the coding, with Accept-Encoding" \
	"$(jq -r .error.message "$T/body" | grep -c '^Content-Encoding br is not supported')/$(grep -ci '^accept-encoding: gzip, deflate' "$T/hdrs")" "1/1"
head -c 5000000 /dev/zero | gzip >"$T/bomb.gz"
check "a gzip bomb stops at max_request_bytes: 413 (it is $(wc -c <"$T/bomb.gz") bytes)" \
	"$(post_coded -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz")/$(jq -r .error.type "$T/body")" "413/too_large"
head -c 12 "$T/batch.gz" >"$T/cut.gz"
check "a truncated gzip body: 400" \
	"$(post_coded -H 'Content-Encoding: gzip' --data-binary @"$T/cut.gz")/$(jq -r .error.message "$T/body")" \
	"400/the gzip request body is truncated"
# The same list rules as for responses (body.h): stacked codings undone
# in turn; bytes after the end of a stream are never dropped silently.
gzip -c "$T/batch.gz" >"$T/batch.gz.gz"
check "a body gzipped twice, Content-Encoding: gzip, gzip: decoded" \
	"$(post_coded -H 'Content-Encoding: gzip, gzip' --data-binary @"$T/batch.gz.gz")/$(summary "$(cat "$T/body")" | jq .ok)" "200/1"
{ cat "$T/batch.gz"; printf 'junk'; } >"$T/trail.gz"
check "bytes after the gzip stream: 400" \
	"$(post_coded -H 'Content-Encoding: gzip' --data-binary @"$T/trail.gz")/$(jq -r .error.message "$T/body")" \
	"400/the gzip request body is corrupt"

# A batch file an editor saved with a byte-order mark (issue #13 point 11).
printf '\xef\xbb\xbf["%s"]' "$UP/text/2" >"$T/bom.json"
out=$(curl -sS "$FO/v1/batch" -H 'Content-Type:' --data-binary @"$T/bom.json")
check "a JSON batch behind a BOM, no content type: parsed as JSON" \
	"$(summary "$out" | jq -c '[.total, .ok]')" "[1,1]"
stop_fanoutd

# --- the HTTPS listener: the same guard, the same answers -------------------
start_fanoutd "$LIMITS
tls_cert = $P/good.pem
tls_key = $P/good.key"
HOSTPORT=${FO#https://}
HOST=${HOSTPORT%:*}
PORT=${HOSTPORT##*:}
TLS=--tls
LABEL=https:
framing_cases
half_close_cases
stop_fanoutd
finish
