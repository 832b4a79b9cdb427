#!/bin/bash
# service.sh - fanoutd as a service (issue #5): sd_notify messages
# (READY, WATCHDOG, RELOADING, STOPPING) on a test datagram socket,
# SIGHUP reloads (a new limit for the next batch, the running batch
# untouched; a broken file keeps the old configuration), bearer tokens
# and their reload, max_active_batches, a unix socket listener, and the
# unit file's systemd-analyze verify and security score.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

start_upstream
CONF_EXTRA="[limits]
batch_concurrency = 4
[server]
listen = 127.0.0.1:0, unix:$T/fanoutd.sock
max_active_batches = 2
auth_tokens_file = $T/tokens"
printf 'token-one\n' >"$T/tokens"

# sd_notify goes to our sink; a 200 ms watchdog means a ping every 100 ms.
# Appending, so the test can empty the log while the sink writes.
"$NOTIFY_SINK" "$T/notify.sock" >>"$T/notify.log" 2>&1 &
PIDS+=($!)
wait_until 5 test -S "$T/notify.sock"
export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000
start_fanoutd "$CONF_EXTRA"
unset NOTIFY_SOCKET WATCHDOG_USEC
AUTH=(-H 'Authorization: Bearer token-one')
notified() {
	grep -aqx "$1" "$T/notify.log"
}
check_true "READY=1 once listening" wait_until 5 notified READY=1
watchdogs() {
	test "$(grep -ac "^WATCHDOG=1$" "$T/notify.log")" -ge 3
}
check_true "WATCHDOG=1 keeps coming at half of WATCHDOG_USEC" wait_until 5 watchdogs

# --- auth -------------------------------------------------------------------
check "/healthz needs no token" "$(curl -sS "$FO/healthz" | jq -r .status)" ok
code=$(curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "$FO/metrics")
check "/metrics without a token is 401" "$code" 401
check "the 401 is JSON" "$(jq -r .error.type "$T/body")" unauthorized
check "with WWW-Authenticate: Bearer" \
	"$(grep -i '^www-authenticate:' "$T/hdrs" | tr -d '\r' | cut -d' ' -f2)" Bearer
check "a wrong token is 401" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' \
		-X POST "$FO/v1/batch" --data-binary '[]')" 401
check "the right token is let in" \
	"$(batch "[\"$UP/text/2\"]" "${AUTH[@]}" | jq -r 'select(.summary) | .summary.ok')" 1

check "one access line per batch: caller, items, ok, failed, retries, time, bytes" \
	"$(grep -cE 'batch from 127\.0\.0\.1:[0-9]+: 1 items, 1 ok, 0 failed, 0 retries, [0-9.]+ ms, [0-9]+ bytes out' "$T/fanoutd.log")" 1

# --- the unix socket ---------------------------------------------------------------
check "the unix socket has mode 0660" "$(stat -c %a "$T/fanoutd.sock")" 660
out=$(curl -sS --unix-socket "$T/fanoutd.sock" "${AUTH[@]}" http://fanoutd/v1/batch \
	--data-binary "[\"$UP/text/3\"]")
check "curl --unix-socket runs a batch" "$(summary "$out" | jq -c '[.total,.ok]')" "[1,1]"
check_true "its access line names the caller 'unix'" \
	wait_until 5 grep -q 'batch from unix: 1 items, 1 ok' "$T/fanoutd.log"

# --- max_active_batches -----------------------------------------------------------
jobs=()
for t in a1 a2; do
	batch "$(jq -cn --arg u "$UP/delay/1500?tag=$t" '[range(4)] | map($u)')" \
		"${AUTH[@]}" >"$T/out.$t" &
	jobs+=($!)
done
two_running() {
	test "$(curl -sS "${AUTH[@]}" "$FO/metrics" | sed -n 's/^fanoutd_batches_active //p')" = 2
}
check_true "two batches run" wait_until 5 two_running
code=$(curl -sS -o "$T/body" -D "$T/hdrs" -w '%{http_code}' "${AUTH[@]}" \
	-X POST "$FO/v1/batch" --data-binary "[\"$UP/text/1\"]")
check "a third batch gets 429" "$code" 429
check "with Retry-After" "$(grep -ci '^retry-after: 1' "$T/hdrs")" 1
check "and a JSON error" "$(jq -r .error.type "$T/body")" too_many_batches
wait "${jobs[@]}"

# --- reload ------------------------------------------------------------------------
curl -sS -o /dev/null "$UP/stats/reset"
batch "$(jq -cn --arg u "$UP/delay/300?tag=before" '[range(16)] | map($u)')" \
	"${AUTH[@]}" >"$T/out.before" &
RUNNING=$!
started() {
	test "$(upstream_stats | jq '.tags.before.inflight // 0')" = 4
}
check_true "a batch runs at batch_concurrency 4" wait_until 5 started
printf '%s\n' "${CONF_EXTRA/batch_concurrency = 4/batch_concurrency = 2}" \
	>"$T/fanoutd.conf"
printf 'token-two\n' >"$T/tokens"
: >"$T/notify.log"
kill -HUP "$FANOUTD_PID"
reloaded() {
	grep -q 'reload: configuration .* applied' "$T/fanoutd.log"
}
check_true "SIGHUP reloads" wait_until 5 reloaded
check_true "RELOADING=1 was sent" wait_until 5 notified RELOADING=1
check_true "then READY=1" wait_until 5 notified READY=1
check "RELOADING=1 came before READY=1" \
	"$(grep -a -m2 -x "RELOADING=1\\|READY=1" "$T/notify.log" | tr '\n' ' ')" "RELOADING=1 READY=1 "
AUTH=(-H 'Authorization: Bearer token-two')
out=$(batch "$(jq -cn --arg u "$UP/delay/100?tag=after" '[range(8)] | map($u)')" "${AUTH[@]}")
check "the next batch gets the new limit" \
	"$(upstream_stats | jq '.tags.after.peak')" 2
wait "$RUNNING"
check "the running batch kept its limit and finished" \
	"$(upstream_stats | jq '.tags.before.peak')/$(summary "$(cat "$T/out.before")" | jq .ok)" "4/16"
check "reloaded tokens: the old one is refused" \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer token-one' "$FO/metrics")" 401
check "the new one is let in" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$FO/metrics")" 200
check "tokens are never logged" "$(grep -c 'token-' "$T/fanoutd.log")" 0

# A broken file: logged with file, line and key; the old configuration stays.
printf '%s\n[limits]\nbatch_concurency = 9\n' "$CONF_EXTRA" >"$T/fanoutd.conf"
kill -HUP "$FANOUTD_PID"
refused() {
	grep -q "keeping the old one: $T/fanoutd.conf:[0-9]*: \[limits\] batch_concurency: unknown key" "$T/fanoutd.log"
}
check_true "a broken file is logged with its file, line and key" wait_until 5 refused
curl -sS -o /dev/null "$UP/stats/reset"
out=$(batch "$(jq -cn --arg u "$UP/delay/100?tag=kept" '[range(8)] | map($u)')" "${AUTH[@]}")
check "and the old configuration stays" "$(upstream_stats | jq '.tags.kept.peak')" 2

# --- stop --------------------------------------------------------------------------
: >"$T/notify.log"
stop_fanoutd
check "STOPPING=1 on SIGTERM" "$(grep -acx STOPPING=1 "$T/notify.log")" 1
check "the unix socket is removed at exit" "$(test -e "$T/fanoutd.sock" && echo left || echo gone)" gone

# --- the unit file ----------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	sed -e "s|@sbindir@|$(dirname "$FANOUTD")|" -e "s|@sysconfdir@|$T|" \
		"$SYSTEMD_UNIT_IN" >"$T/fanoutd.service"
	mkdir -p "$T/man/man5" "$T/man/man8"
	cp "$MANDIR_SRC/fanoutd.8" "$T/man/man8/"
	cp "$MANDIR_SRC/fanoutd.conf.5" "$T/man/man5/"
	verify=$(MANPATH=$T/man systemd-analyze verify "$T/fanoutd.service" 2>&1)
	check "systemd-analyze verify passes" "$?/$verify" "0/"
	score=$(systemd-analyze security --offline=true "$T/fanoutd.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for fanoutd.service: \([0-9.]*\).*/\1/p')
	check_true "systemd-analyze security scores 2.0 or lower (got $score)" \
		jq -en "$score <= 2.0" >/dev/null
else
	fail "systemd-analyze is missing (script/bootstrap installs systemd)"
fi

finish
