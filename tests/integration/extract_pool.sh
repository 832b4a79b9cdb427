#!/bin/bash
# extract_pool.sh - HTML extraction runs on the parser threads, not on
# the event loop (issue #17, [extract] threads): while 10 MB pages parse,
# the loop answers /healthz and /metrics (and /metrics shows a page
# being parsed both before and after /healthz answered); the bytes waiting for the
# parser stay bounded (the upstream's reads pause above the high-water
# mark); a caller that goes away mid-parse, and a batch deadline that
# passes mid-parse, free the extractions the workers hold (the ASan and
# valgrind passes run this test); every item still gets exactly one line.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

R="$T/root"
mkdir -p "$R"
awk 'BEGIN { s = "<p>filler paragraph with <b>some</b> markup &amp; text</p>\n";
	printf "<html><head><title>Big</title></head><body>\n";
	for (n = 0; n < 10 * 1024 * 1024; n += length(s)) printf "%s", s;
	printf "<a href=\"/the-end\">the end</a></body></html>\n" }' >"$R/big.html"

start_upstream 127.0.0.1:0 --root "$R"
start_fanoutd "$(printf '[extract]\nthreads = 2')"
BIG="$UP/files/big.html"
# big_batch N [OPTIONS]: N of the page, extract title and links.
big_batch() {
	jq -n -c --arg u "$BIG" --argjson n "$1" --argjson o "${2:-{\}}" \
		'{requests: [range($n) | $u],
		  options: ({extract: ["title", "links"], body: "none",
		            max_body_bytes: 16777216, timeout_ms: 120000} + $o)}'
}
metric() {
	curl -sS --max-time 30 "$FO/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
busy() { [ "$(metric fanoutd_extract_busy)" -ge 1 ]; }
idle() { [ "$(metric fanoutd_extract_busy)" = 0 ] && [ "$(metric fanoutd_extract_queued_bytes)" = 0 ]; }

# --- the loop answers while pages parse ----------------------------------------------
batch "$(big_batch 6)" >"$T/big.out" &
bpid=$!
check_true "/metrics answered while a 10 MB page is being parsed" \
	wait_until 120 busy
# /healthz answered during a parse: a parse was seen before and after the
# answer. One try can race the end of the last page on a fast machine, so
# try again while the batch runs; one such sandwich is the proof.
during=no
while kill -0 "$bpid" 2>/dev/null; do
	busy || continue
	hz=$(curl -sS --max-time 30 "$FO/healthz")
	[ "$hz" = '{"status":"ok"}' ] || break
	busy && { during=yes; break; }
done
check "/healthz answered between two looks at /metrics that saw a page parsing" \
	"$during" yes
maxq=0
while kill -0 "$bpid" 2>/dev/null; do
	q=$(metric fanoutd_extract_queued_bytes)
	[ "${q:-0}" -gt "$maxq" ] && maxq=$q
	sleep 0.02
done
wait "$bpid"
check_true "bytes waiting for the parser stay bounded: $maxq < 1 MiB (of 60 MB)" \
	test "$maxq" -lt 1048576
out=$(cat "$T/big.out")
check "every page: its one line, with the link at the end" \
	"$(results "$out" | jq -s -c "map(.extract | [.title, .links[0].url]) | unique")" \
	"[[\"Big\",\"$UP/the-end\"]]"
check "six lines and the summary" \
	"$(summary "$out" | jq -c '[.total, .ok]')" '[6,6]'

# --- the caller goes away mid-parse -------------------------------------------------
curl -sS --max-time 60 -X POST "$FO/v1/batch" -H 'Content-Type: application/json' \
	--data-binary "$(big_batch 6)" -o /dev/null &
cpid=$!
check_true "a page is being parsed" wait_until 120 busy
kill "$cpid"
wait "$cpid" 2>/dev/null
check_true "the cancelled batch's extractions are freed" wait_until 120 idle
check "fanoutd is fine" "$(curl -sS --max-time 30 "$FO/healthz")" '{"status":"ok"}'

# --- the batch deadline passes mid-parse ----------------------------------------------
out=$(batch "$(big_batch 6 '{"deadline_ms": 400}')")
check "a deadline mid-parse: one line per item, each ok or a deadline error" \
	"$(results "$out" | jq -s -c 'length, (map(if .ok then "ok" else .error.type end) - ["ok", "deadline"])')" \
	$'6\n[]'
check "and the summary" "$(summary "$out" | jq -c .total)" 6
check_true "those extractions are freed too" wait_until 120 idle

stop_fanoutd
finish
