#!/bin/bash
# user_agent.sh - the user_agent batch option (one row of the options
# table) end to end: the upstream sees the User-Agent from each source -
# [upstream] user_agent, the batch's option in JSON and in the query
# string, the item's own field, the item's headers - in that order of
# precedence, lowest first; "effective" reports it; an empty value sends
# none; a value that could split the request is refused; a reload
# changes the default of the next batches.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
start_fanoutd "[upstream]
user_agent = conf-bot/1"

# ua NDJSON INDEX: the User-Agent the upstream's /echo saw for item INDEX
# ("-" when none was sent).
ua() {
	results "$1" | jq -r --argjson i "$2" 'select(.index==$i) | .body |
		fromjson | [.headers[] | select(.[0]=="User-Agent") | .[1]] |
		if length == 0 then "-" else join("|") end'
}

# --- the configuration's default ----------------------------------------
out=$(batch "[\"$UP/echo\"]")
check "[upstream] user_agent is sent by default" "$(ua "$out" 0)" conf-bot/1
check "... and effective reports it" \
	"$(summary "$out" | jq -r .effective.user_agent)" conf-bot/1

# --- item > batch > config -------------------------------------------------
out=$(batch "{\"options\":{\"user_agent\":\"batch-bot/2\"},\"requests\":[
	\"$UP/echo\",
	{\"url\":\"$UP/echo\",\"user_agent\":\"item-bot/3\"},
	{\"url\":\"$UP/echo\",\"user_agent\":\"item-bot/3\",
	 \"headers\":{\"User-Agent\":\"header-bot/4\"}},
	{\"url\":\"$UP/echo\",\"user_agent\":\"\"}]}")
check "the batch's option beats the configuration" "$(ua "$out" 0)" batch-bot/2
check "the item's field beats the batch's option" "$(ua "$out" 1)" item-bot/3
check "the item's User-Agent header beats its field" \
	"$(ua "$out" 2)" header-bot/4
check "an empty user_agent sends none" "$(ua "$out" 3)" -
check "effective reports the batch's value" \
	"$(summary "$out" | jq -r .effective.user_agent)" batch-bot/2

# --- the query string --------------------------------------------------------
out=$(curl -sS --max-time 60 -H 'Content-Type: text/plain' \
	--data-binary "$UP/echo" "$FO/v1/batch?user_agent=query%20bot%2F5")
check "the query string sets it" "$(ua "$out" 0)" "query bot/5"
check "... and effective reports it" \
	"$(summary "$out" | jq -r .effective.user_agent)" "query bot/5"

# --- refused values ------------------------------------------------------------
out=$(batch "{\"options\":{\"user_agent\":\"a\\r\\nX-Evil: 1\"},\"requests\":[\"$UP/echo\"]}" \
	-w '\n%{http_code}')
check "a batch user_agent with CR LF is refused with 400" \
	"$(printf '%s\n' "$out" | tail -n 1)" 400
check "... naming the option" \
	"$(printf '%s\n' "$out" | head -n 1 | jq -r .error.message)" \
	"options.user_agent: expected a string of at most 127 bytes without CR, LF or NUL"
out=$(batch "[{\"url\":\"$UP/echo\",\"user_agent\":7},\"$UP/echo\"]")
check "an item's bad user_agent is that item's invalid_request line" \
	"$(results "$out" | jq -r 'select(.index==0) | [.error.type, .error.message] | @tsv')" \
	"invalid_request	requests[0].user_agent: expected a string of at most 127 bytes without CR, LF or NUL"
check "... and the other item still runs with the default" "$(ua "$out" 1)" conf-bot/1

# --- a reload changes the default of the next batches ---------------------------
printf '[server]\nlisten = %s\n[upstream]\nuser_agent = reloaded-bot/6\n' \
	"${FO#http://}" >"$T/fanoutd.conf"
kill -HUP "$FANOUTD_PID"
wait_until 10 grep -q 'reload: configuration' "$T/fanoutd.log" ||
	fail "fanoutd did not reload"
out=$(batch "[\"$UP/echo\"]")
check "after a reload the new [upstream] user_agent is sent" \
	"$(ua "$out" 0)" reloaded-bot/6

stop_fanoutd
finish
