#!/bin/bash
# ui.sh - the web dashboard (issue #20) and the stats stream it reads.
# curl: /ui's files with their types, the Content-Security-Policy and
# nosniff, no inline script in the page, a POST from another site's page
# refused (Origin, Sec-Fetch-Site), a browser's request under a host
# name refused (DNS rebinding), [server] ui (off, loopback
# only, a bad value), GET /v1/stats and ?follow=true (SSE and NDJSON,
# errors, auth), a stored body sandboxed, the stream ended at SIGTERM.
# A real headless Chromium, driven over the DevTools protocol by
# ui_driver.py: submit a job from the page, watch its bar reach 100%,
# see its failures grouped with their errors, retry and see the counts
# change and only the failures that stand listed (each item once in the
# latest results, with its body link), downloads saved under their file
# names, finished jobs in the overview, an unknown job, Cancel in two
# clicks and the page following the job until it settles, both a file
# and pasted URLs refused, a job name and a capped value shown, the page
# at 400 px wide, a hostile title and URL shown as text with no script
# run, eight tabs each live (one in the background lets its stream go:
# six connections per host), a dropped stream shown (counting down) and
# resumed, the token prompt with auth on (and a file of URLs uploaded),
# a 300-character URL wrapped (its message in view), all results paged
# (every body reachable), a cancelled job grey in All jobs, All jobs
# following a running job, a click held across a redraw (and a body
# link on a running job's page), a waiting job saying so, a blank name
# linked by the ID, and 100 active jobs (20 listed, all on asking) plus
# a 1,000,000-item job with the page's DOM small (its failures' count
# following it on page 2).
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

PY=/usr/bin/python3
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
DRIVER="${SRCDIR:?SRCDIR must name the source tree}/tests/integration/ui_driver.py"
for need in "$PY" "$CHROMIUM"; do
	if [ ! -x "$need" ]; then
		echo "ui.sh: $need is missing (script/bootstrap installs it)"
		exit 1
	fi
done

CHROME_PID=
# stop_chromium: the browser and every process it started (its group).
stop_chromium() {
	if [ -n "$CHROME_PID" ]; then
		kill -TERM -- "-$CHROME_PID" 2>/dev/null
		wait "$CHROME_PID" 2>/dev/null
		CHROME_PID=
	fi
}
trap 'rc=$?; stop_chromium; (exit $rc); cleanup' EXIT

# start_chromium: headless, on a DevTools port of its choosing (read
# from DevToolsActivePort by the driver), no network but loopback.
start_chromium() {
	mkdir -p "$T/chrome"
	setsid "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome" --remote-debugging-port=0 \
		--no-first-run --no-default-browser-check --disable-extensions \
		--disable-background-networking --disable-sync \
		--disable-component-update --no-proxy-server \
		--host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1' \
		about:blank >>"$T/chrome.log" 2>&1 &
	CHROME_PID=$!
	wait_until 30 test -s "$T/chrome/DevToolsActivePort" || {
		echo "Chromium did not start" >&2
		cat "$T/chrome.log" >&2
		exit 1
	}
}

# browser SCENARIO ARGS...: one scenario of ui_driver.py; its checks
# count as this test's.
browser() {
	local out rc
	out=$(timeout 120 "$PY" "$DRIVER" "$T/chrome" "$@" 2>&1)
	rc=$?
	driver_checks "$1" "$rc" "$out"
}

# driver_checks SCENARIO STATUS OUTPUT: count the driver's checks.
driver_checks() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			TESTS_RUN=$((TESTS_RUN + 1))
			echo "$line"
			;;
		"FAIL: "*)
			TESTS_RUN=$((TESTS_RUN + 1))
			fail "${line#FAIL: }"
			;;
		*) echo "# $line" ;;
		esac
	done <<<"$3"
	if [ "$2" != 0 ] && ! grep -q '^FAIL: ' <<<"$3"; then
		fail "browser $1: exit status $2"
	fi
}

# header NAME RESPONSE: a header's value in curl -i/-I output.
header() {
	printf '%s\n' "$2" | tr -d '\r' | sed -n "s/^$1: //Ip" | head -n 1
}

ROOT="$T/root"
mkdir -p "$ROOT"
printf '<html><head><title>&lt;img src=x onerror=window.__pwned=1&gt;</title></head><body><script>window.__pwned=2</script></body></html>\n' >"$ROOT/evil.html"
# Two listeners: two hosts to fanoutd (hosts are keyed by host:port).
start_upstream 127.0.0.1:0 127.0.0.1:0 --root "$ROOT"
start_fanoutd
start_chromium

# --- the page's files and headers ----------------------------------------------
CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
h=$(curl -sS -D - -o "$T/index.html" "$FO/ui")
check "GET /ui is the page" "$(printf '%s' "$h" | head -n 1 | cut -d' ' -f2)/$(header Content-Type "$h")" \
	"200/text/html; charset=utf-8"
check "with a strict Content-Security-Policy" "$(header Content-Security-Policy "$h")" "$CSP"
check "and nosniff, no framing, no referrer" \
	"$(header X-Content-Type-Options "$h")/$(header X-Frame-Options "$h")/$(header Referrer-Policy "$h")" \
	"nosniff/DENY/no-referrer"
check "/ui/ is the same page" "$(curl -sS "$FO/ui/" | cmp - "$T/index.html" && echo same)" same
h=$(curl -sS -I "$FO/ui/app.js")
check "app.js is JavaScript, with the same headers" \
	"$(header Content-Type "$h")/$(header X-Content-Type-Options "$h")/$(header Content-Security-Policy "$h")" \
	"text/javascript; charset=utf-8/nosniff/$CSP"
check "app.css is CSS" "$(header Content-Type "$(curl -sS -I "$FO/ui/app.css")")" "text/css; charset=utf-8"
check "the files served are the ones in ui/" \
	"$(curl -sS "$FO/ui/app.js" | cmp - "$SRCDIR/ui/app.js" && curl -sS "$FO/ui/job.js" |
		cmp - "$SRCDIR/ui/job.js" && echo same)" same
check "the page has no inline script, style or handler" \
	"$(grep -ciE '<script>|<script [^>]*>[^<]|<style|style=| on[a-z]+=' "$T/index.html")" 0
check "every script of the page is fanoutd's own" \
	"$(grep -o '<script[^>]*>' "$T/index.html" | tr '\n' ' ')" \
	'<script src="/ui/app.js" defer> <script src="/ui/job.js" defer> '
check "an unknown file is a JSON 404" \
	"$(curl -sS "$FO/ui/nope.js" | jq -r .error.type)" not_found
check "/ui takes GET and HEAD only" \
	"$(curl -sS -X POST -o /dev/null -w '%{http_code}' "$FO/ui")" 405
check "/uix is not the page" "$(curl -sS "$FO/uix" | jq -r .error.type)" not_found

# --- another site's page cannot drive the API (cross-site request forgery) ------
# A browser sends a page's text/plain or form POST anywhere with no CORS
# preflight; with no token set, such a page must not create jobs.
xpost() { # xpost PATH HEADER...: the error type (or "created") and status
	local path=$1 code
	shift
	code=$(curl -sS -o "$T/xpost" -w '%{http_code}' -X POST "$FO$path" \
		-H 'Content-Type: text/plain' "$@" --data-binary "$UP/status/204")
	printf '%s %s' "$(jq -r '.error.type // "created"' "$T/xpost")" "$code"
}
check "a job POSTed by another site's page (Origin) is refused" \
	"$(xpost /v1/jobs -H 'Origin: http://evil.example')" "forbidden 403"
check "... and by one the browser calls cross-site (Sec-Fetch-Site)" \
	"$(xpost /v1/jobs -H 'Sec-Fetch-Site: cross-site')" "forbidden 403"
check "... or same-site (another port of the same host)" \
	"$(xpost /v1/jobs -H 'Sec-Fetch-Site: same-site' -H "Origin: http://127.0.0.1:1")" "forbidden 403"
check "... an Origin of null (a sandboxed page) too" \
	"$(xpost /v1/jobs -H 'Origin: null')" "forbidden 403"
check "a batch POSTed by another site's page is refused" \
	"$(curl -sS -X POST "$FO/v1/batch" -H 'Origin: http://evil.example' \
		-d "{\"requests\":[\"$UP/status/204\"]}" | jq -r .error.type)" forbidden
check "the page's own POST (same origin) is taken" \
	"$(xpost '/v1/jobs?retries=0' -H "Origin: $FO" -H 'Sec-Fetch-Site: same-origin')" "created 201"
check "... as is one with its Origin only (a browser with no Sec-Fetch-Site)" \
	"$(xpost '/v1/jobs?retries=0' -H "Origin: $FO")" "created 201"
check "a GET with a foreign Origin is answered (no CORS header: the page cannot read it)" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' "$FO/v1/stats")" 200

# --- DNS rebinding: a page that pointed its own name at 127.0.0.1 -------------
# reaches fanoutd as the same origin; a browser's request (Sec-Fetch-Site)
# under a host name other than localhost is refused unless ui = true.
hp=${FO#http://}
port=${hp##*:}
rebound() { # rebound HOST PATH [HEADER]: the status of a GET under HOST
	curl -sS -o /dev/null -w '%{http_code}' -H "Host: $1" ${3:+-H "$3"} "$FO$2"
}
check "a browser's request under a foreign host name is refused (DNS rebinding)" \
	"$(rebound "evil.example:$port" /v1/stats 'Sec-Fetch-Site: same-origin')/$(curl -sS \
		-H "Host: evil.example:$port" -H 'Sec-Fetch-Site: same-origin' "$FO/v1/stats" | jq -r .error.type)" \
	403/forbidden
check "... the page too, saying how to open it" \
	"$(curl -sS -H "Host: evil.example:$port" -H 'Sec-Fetch-Site: none' "$FO/ui" | jq -r .error.message)" \
	"refused: a browser's request under a host name (DNS rebinding); open the dashboard as 127.0.0.1, [::1] or localhost, or set [server] ui = true"
check "under localhost, a name under .localhost, [::1] or an address it is answered" \
	"$(rebound "localhost:$port" /ui 'Sec-Fetch-Site: none') $(rebound "x.localhost:$port" /v1/stats 'Sec-Fetch-Site: same-origin') $(rebound "[::1]:$port" /v1/stats 'Sec-Fetch-Site: same-origin') $(rebound "10.9.8.7:$port" /v1/stats 'Sec-Fetch-Site: same-origin')" \
	"200 200 200 200"
check "a caller that is not a browser may use any name" \
	"$(rebound "fanout.example:$port" /v1/stats)" 200
# A browser sends Sec-Fetch-Site only to trustworthy origins, which a
# rebound name is not: its User-Agent and (on a POST) Origin tell it.
check "a browser's GET under a foreign name, with its User-Agent only, is refused" \
	"$(rebound "evil.example:$port" /v1/stats 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0')" 403
check "... and its POST, same-origin for the browser (Origin = Host), too" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Host: evil.example:$port" \
		-H "Origin: http://evil.example:$port" -H 'Content-Type: text/plain' \
		--data-binary "$UP/status/204" "$FO/v1/jobs")" 403

# --- GET /v1/stats --------------------------------------------------------------
s=$(curl -sS -D "$T/h" "$FO/v1/stats")
check "GET /v1/stats is one JSON snapshot" \
	"$(jq -c '[(.server | has("in_flight") and has("queued") and has("items_per_s") and has("errors")), (.server.history | length), (.batches | type), (.jobs | type), (.hosts | type)]' <<<"$s")" \
	'[true,60,"array","array","array"]'
check "as application/json" "$(header Content-Type "$(cat "$T/h")")" application/json
curl -sS -N --max-time 5 "$FO/v1/stats?follow=true" -H 'Accept: text/event-stream' -D "$T/h" >"$T/sse" &
sse_pid=$!
two_events() { [ "$(grep -c '^event: stats' "$T/sse" 2>/dev/null)" -ge 2 ] 2>/dev/null; }
wait_until 5 two_events
kill "$sse_pid" 2>/dev/null
wait "$sse_pid" 2>/dev/null
check "?follow=true with Accept: text/event-stream streams SSE" \
	"$(header Content-Type "$(cat "$T/h")")/$(sed -n 1p "$T/sse")" "text/event-stream/event: stats"
check "one snapshot a second, each a JSON object" \
	"$(sed -n 's/^data: //p' "$T/sse" | head -n 2 | jq -s -c 'map(.server | type)')" '["object","object"]'
check "?format=ndjson: one line per snapshot" \
	"$(curl -sS -N --max-time 5 "$FO/v1/stats?follow=true&format=ndjson" 2>/dev/null | head -n 1 | jq -r '.server | type')" object
check "a bad format is a JSON 400" \
	"$(curl -sS "$FO/v1/stats?follow=true&format=xml" | jq -r .error.message)" "format: expected ndjson or sse"
check "format=json (one document) is not a stats format" \
	"$(curl -sS "$FO/v1/stats?format=json" | jq -r .error.message)" "format: expected ndjson or sse"
check "a bad follow is a JSON 400" \
	"$(curl -sS "$FO/v1/stats?follow=maybe" | jq -r .error.message)" "follow: expected true or false"
h=$(curl -sS -I "$FO/v1/stats")
check "HEAD /v1/stats: the snapshot's type and length, as GET has them" \
	"$(header Content-Type "$h")/$(($(header Content-Length "$h") > 100))" application/json/1
check "HEAD of the stream: its type, and no stream opened" \
	"$(header Content-Type "$(curl -sS -I --max-time 5 "$FO/v1/stats?follow=true&format=sse")")" \
	text/event-stream
check "POST /v1/stats is 405" \
	"$(curl -sS -X POST -o /dev/null -w '%{http_code}' "$FO/v1/stats")" 405

# A running batch and a job, as the snapshot shows them.
curl -sS --max-time 30 -X POST "$FO/v1/batch" -H 'Content-Type: application/json' \
	--data-binary "{\"requests\":[\"$UP/delay/3000\",\"$UP/status/503\"],\"options\":{\"retries\":0}}" >/dev/null &
batch_pid=$!
wait_until 10 sh -c "curl -sS '$FO/v1/stats' | jq -e '.batches | length == 1' >/dev/null"
s=$(curl -sS "$FO/v1/stats")
check "the running batch: progress, ok and failed, rate, age, ETA" \
	"$(jq -c '.batches[0] | [.total, (.done <= .total), has("ok"), has("failed"), has("rate"), has("age_s"), has("eta_s"), (.peer | startswith("127.0.0.1:"))]' <<<"$s")" \
	'[2,true,true,true,true,true,true,true]'
check "the busiest host, with its in-flight count and error share" \
	"$(jq -c --arg h "${UP#http://}" '.hosts | map(select(.host | endswith($h))) | .[0] | [.in_flight >= 0, has("rate"), has("error_share")]' <<<"$s")" \
	'[true,true,true]'
wait "$batch_pid"
check "errors by type count the 503 as an HTTP error" \
	"$(curl -sS "$FO/v1/stats" | jq '.server.errors.http_error >= 1')" true
id=$(printf '%s\n' "$UP/delay/2000" "$UP/status/500" | curl -sS -X POST "$FO/v1/jobs?retries=0" \
	-H 'Content-Type: text/plain' --data-binary @- | jq -r .job.id)
wait_until 10 sh -c "curl -sS '$FO/v1/stats' | jq -e --arg id $id '.jobs | map(.id) | index(\$id)' >/dev/null"
check "an active job: its counts, rate, age and ETA" \
	"$(curl -sS "$FO/v1/stats" | jq -c --arg id "$id" '.jobs | map(select(.id == $id)) | .[0] | [.total, .state, has("done"), has("ok"), has("failed"), has("rate"), has("age_s"), has("eta_s")]')" \
	'[2,"running",true,true,true,true,true,true]'
curl -sS -o /dev/null --max-time 20 "$FO/v1/jobs/$id/results?follow=true" # until it ends
body=$(curl -sS -D - -o /dev/null "$FO/v1/jobs/$id/items/1/body")
check "a stored body is sandboxed (an upstream's page runs no script here)" \
	"$(header Content-Security-Policy "$body")" "sandbox; default-src 'none'"

# --- in the browser ---------------------------------------------------------------
if [ -n "${UI_SCREENSHOTS:-}" ]; then
	# Something more to see in the overview's picture: a batch running.
	curl -sS -o /dev/null --max-time 60 -X POST "$FO/v1/batch?concurrency=3" \
		-H 'Content-Type: text/plain' --data-binary "$(for i in $(seq 40); do
			echo "${UPS[1]}/delay/$((300 * (i % 7) + 200))"
		done)" &
	PIDS+=($!)
fi
browser main "$FO" "$UP" "$ROOT" ${UI_SCREENSHOTS:-}
browser layout "$FO" "$UP"
browser tabs "$FO"

# --- the stream ends cleanly at SIGTERM ----------------------------------------------
curl -sS -N --max-time 20 "$FO/v1/stats?follow=true&format=ndjson" >"$T/follow" 2>"$T/follow.err" &
follow_pid=$!
wait_until 5 test -s "$T/follow"
t0=$(ms_now)
kill -TERM "$FANOUTD_PID"
wait "$follow_pid"
check "SIGTERM ends a stats stream cleanly (curl status 0)" "$?" 0
check_true "... at once (under 5 s), running batches or not" test $(($(ms_now) - t0)) -lt 5000
wait "$FANOUTD_PID"
check "fanoutd then exits 0" "$?" 0
FANOUTD_PID=

# --- [server] ui ---------------------------------------------------------------------
start_fanoutd 'ui = false'
check "ui = false: /ui is a 404" "$(curl -sS "$FO/ui" | jq -r .error.message)" \
	"the web dashboard is off ([server] ui = false)"
check "... and the API still answers" "$(curl -sS "$FO/v1/stats" | jq -r '.server | type')" object
stop_fanoutd
start_fanoutd 'ui = true'
check "ui = true: a browser may use any host name" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: fanout.example:${FO##*:}" \
		-H 'Sec-Fetch-Site: same-origin' "$FO/v1/stats")" 200
stop_fanoutd
printf '[server]\nui = sometimes\n' >"$T/bad.conf"
out=$("$FANOUTD" -t -c "$T/bad.conf" 2>&1)
check "a bad ui value is refused, naming the key and what it takes" \
	"$(printf '%s' "$out" | grep -c 'ui.*expected true, false or loopback')" 1
# A connection over a non-loopback address: the default does not serve
# the page there; ui = true does. (Skipped on a host with no such address.)
addr=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
if [ -n "$addr" ]; then
	start_fanoutd $'listen = 0.0.0.0:0'
	port=${FO##*:}
	check "default (loopback): served over 127.0.0.1" \
		"$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ui")" 200
	check "default (loopback): not over $addr" \
		"$(curl -sS "http://$addr:$port/ui" | jq -r .error.type)" not_found
	stop_fanoutd
	start_fanoutd $'listen = 0.0.0.0:0\nui = true'
	port=${FO##*:}
	check "ui = true: served over $addr too" \
		"$(curl -sS -o /dev/null -w '%{http_code}' "http://$addr:$port/ui")" 200
	stop_fanoutd
else
	echo "ok - a non-loopback connection # SKIP no global IPv4 address"
fi

# --- the stream drops, the page says so and comes back -------------------------------
start_fanoutd
port=${FO##*:}
timeout 120 "$PY" "$DRIVER" "$T/chrome" reconnect "$FO" "$T/signal" >"$T/reconnect.out" 2>&1 &
driver=$!
wait_until 30 test -e "$T/signal.live"
stop_fanoutd
wait_until 30 test -e "$T/signal.down"
start_fanoutd "listen = 127.0.0.1:$port"
wait "$driver"
driver_checks reconnect "$?" "$(cat "$T/reconnect.out")"
stop_fanoutd

# --- with auth on ---------------------------------------------------------------------
printf 'the-token\n' >"$T/tokens"
start_fanoutd "auth_tokens_file = $T/tokens"
check "with auth, the page itself needs no token (it holds no data)" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$FO/ui")" 200
check "... /v1/stats does" "$(curl -sS -o /dev/null -w '%{http_code}' "$FO/v1/stats")" 401
check "... and takes the bearer token" \
	"$(curl -sS -H 'Authorization: Bearer the-token' "$FO/v1/stats" | jq -r '.server | type')" object
browser auth "$FO" "$UP" the-token "$T"
stop_fanoutd

# --- 100 active jobs and a 1,000,000-item job ----------------------------------------------
# Each of the 100 holds one item for 240 s (cancelled at the end): a
# loaded machine may take many seconds to create them all.
if [ -n "$FANOUTD_WRAPPER" ]; then
	echo "ok - 100 jobs and a 1,000,000-item job # SKIP under a wrapper (too slow)"
else
	start_fanoutd $'max_request_bytes = 64M\ndrain_timeout_ms = 2000'
	for i in $(seq 100); do
		curl -sS -o /dev/null -X POST "$FO/v1/jobs?concurrency=1&timeout_ms=300000" \
			-H 'Content-Type: text/plain' --data-binary "${UPS[1]}/delay/240000"
	done
	awk -v u="$UP/status/500" 'BEGIN { for (i = 0; i < 1000000; i++) print u }' >"$T/big.txt"
	big=$(curl -sS --max-time 60 -X POST "$FO/v1/jobs?concurrency=4&rate=300&retries=0" \
		-H 'Content-Type: text/plain' --data-binary @"$T/big.txt" | jq -r .job.id)
	check "101 jobs are active, one of 1,000,000 items" \
		"$(curl -sS "$FO/v1/stats" | jq -c '[(.jobs | length), (.jobs | map(.total) | max)]')" '[101,1000000]'
	browser load "$FO" "$big"
	for j in $(curl -sS "$FO/v1/stats" | jq -r '.jobs[].id'); do
		curl -sS -X POST -o /dev/null "$FO/v1/jobs/$j/cancel"
	done
	stop_fanoutd
fi

finish
