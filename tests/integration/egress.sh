#!/bin/bash
# egress.sh - the egress policy (DESIGN.md §2) attacked from a batch:
# denied literals in every notation a URL parser accepts, names that
# resolve (or rebind) to a denied address, redirects into a denied
# range, the built-in ranges, deny_private, allow winning, and a reload.
#
# It runs inside its own network namespace (unshare -n) where only
# loopback exists, so a denial that fails shows up as a connection
# (or a connect error), never as a packet leaving the machine. A trap
# listener on 127.0.0.3 - denied by deny = 127.0.0.3/32 - counts every
# TCP accept: it must stay at the one its own /stats query makes.
. "$(dirname "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}")/netns.sh"
. "$TESTLIB"

start_upstream 127.0.0.3:0
TRAP=$UP
TRAP_PORT=${TRAP##*:}
start_upstream
PORT=${UP##*:}

# The trap's TCP accepts so far, its own /stats connection included.
trap_accepts() {
	upstream_stats "$TRAP" | jq .accepted
}
check "the trap counts connections (its own /stats query)" "$(trap_accepts)" 1

printf '127.0.0.1 rebind.test\n' >"$T/hosts"
start_dnsmasq --address=/trap.test/127.0.0.3 --address=/good.test/127.0.0.1 \
	--address=/mixed.test/127.0.0.1 --address=/mixed.test/127.0.0.3 \
	--address=/mapped.test/::ffff:127.0.0.3 --addn-hosts="$T/hosts"
start_fanoutd "[upstream]
nameservers = 127.0.0.1:$DNS_PORT
deny = 127.0.0.3/32
dns_cache_ms = 1"

# error_of NDJSON INDEX: "type|message" of one result line.
error_of() {
	results "$1" | jq -r "select(.index==$2) | \"\(.error.type)|\(.error.message)\""
}

# --- the trap address in every spelling -----------------------------------
urls=(
	"http://127.0.0.3:$TRAP_PORT/"
	"http://2130706435:$TRAP_PORT/"
	"http://0177.0.0.3:$TRAP_PORT/"
	"http://0x7f.0.0.3:$TRAP_PORT/"
	"http://0x7f.3:$TRAP_PORT/"
	"http://127.3:$TRAP_PORT/"
	"http://127.0.0.3.:$TRAP_PORT/"
	"http://[::ffff:127.0.0.3]:$TRAP_PORT/"
	"http://[::ffff:7f00:3]:$TRAP_PORT/"
	"http://[::127.0.0.3]:$TRAP_PORT/"
	"http://[64:ff9b::127.0.0.3]:$TRAP_PORT/"
	"http://[2002:7f00:3::1]:$TRAP_PORT/"
	"http://trap.test:$TRAP_PORT/"
	"http://TRAP.test.:$TRAP_PORT/"
	"http://mixed.test:$TRAP_PORT/"
	"http://mapped.test:$TRAP_PORT/"
)
out=$(batch "$(printf '%s\n' "${urls[@]}" | jq -R . | jq -cs .)")
check "every spelling of the trap address is denied" \
	"$(results "$out" | jq -r .error.type | sort | uniq -c | tr -s ' ')" \
	" ${#urls[@]} denied"
check "a literal says which range" "$(error_of "$out" 0)" \
	"denied|127.0.0.3 is in the denied range 127.0.0.3/32"
check "an odd notation is reported as the address it means" \
	"$(error_of "$out" 1)" "denied|127.0.0.3 is in the denied range 127.0.0.3/32"
check "an IPv4-mapped address is checked as IPv4" "$(error_of "$out" 7 | cut -d'|' -f1)" denied
check "a name says what it resolved to" "$(error_of "$out" 12)" \
	"denied|trap.test resolves to a denied address: 127.0.0.3 is in the denied range 127.0.0.3/32"
check "a name with one denied address among allowed ones is denied" \
	"$(error_of "$out" 14 | cut -d'|' -f1)" denied
check "denied items were never retried (no attempt was made)" \
	"$(summary "$out" | jq .retries)" 0
check "the trap saw no connection" "$(trap_accepts)" 2

# --- redirects pass the policy at every hop -------------------------------
enc=$(jq -rn --arg u "http://127.0.0.3:$TRAP_PORT/x" '$u | @uri')
out=$(batch "[\"$UP/redirect-to?url=$enc\",\"http://good.test:$PORT/redirect-to?url=$(jq -rn --arg u "http://trap.test:$TRAP_PORT/" '$u | @uri')\"]")
check "a redirect to a denied address is denied" \
	"$(results "$out" | jq -r .error.type | sort -u)" denied
check "the trap saw no connection after the redirects" "$(trap_accepts)" 3

# --- DNS rebinding: allowed first, denied next ----------------------------
out=$(batch "[\"http://rebind.test:$PORT/text/3\"]")
check "rebind.test first resolves to the upstream and is fetched" \
	"$(results "$out" | jq -c '[.ok,.body]')" '[true,"abc"]'
printf '127.0.0.3 rebind.test\n' >"$T/hosts"
kill -HUP "$DNS_PID"
rebound() {
	out=$(batch "[\"http://rebind.test:$TRAP_PORT/text/3\"]")
	test "$(results "$out" | jq -r .error.type)" = denied
}
check_true "after the rebind the same name is denied" wait_until 10 rebound
check "the trap saw no connection after the rebind" "$(trap_accepts)" 4

# --- the built-in ranges -----------------------------------------------------
builtin=(
	"http://169.254.169.254/latest/meta-data/"
	"http://0xa9fea9fe/"
	"http://[fd00:ec2::254]/"
	"http://[fe80::1]/"
	"http://0.0.0.0:$PORT/"
	"http://0/"
	"http://[::]:$PORT/"
	"http://224.0.0.1/"
	"http://[ff02::1]/"
	"http://255.255.255.255/"
	"http://240.0.0.1/"
	"http://[::ffff:169.254.169.254]/"
	"http://[2001:0:a9fe:a9fe::1]/"
)
out=$(batch "$(printf '%s\n' "${builtin[@]}" | jq -R . | jq -cs .)")
check "link-local, metadata, unspecified, multicast, broadcast, reserved: denied" \
	"$(results "$out" | jq -r .error.type | sort | uniq -c | tr -s ' ')" \
	" ${#builtin[@]} denied"
check "loopback is allowed by default" \
	"$(batch "[\"$UP/text/2\"]" | jq -r 'select(.index==0) | .ok')" true

# --- a reload applies a new policy, also to pooled connections -------------
conf="$T/fanoutd.conf"
printf '[upstream]\nnameservers = 127.0.0.1:%s\ndeny_private = true\nallow = 127.0.0.3/32\n' \
	"$DNS_PORT" >>"$conf"
before=$(grep -c 'reload: configuration' "$T/fanoutd.log")
kill -HUP "$FANOUTD_PID"
reloaded() {
	test "$(grep -c 'reload: configuration' "$T/fanoutd.log")" -gt "$before"
}
check_true "fanoutd reloads" wait_until 10 reloaded
out=$(batch "[\"$UP/text/1\",\"http://good.test:$PORT/\",\"http://[::1]:$PORT/\",\"http://10.1.2.3/\",\"http://100.64.0.1/\",\"http://[fd12::1]/\",\"http://[::ffff:192.168.1.1]/\"]")
check "deny_private denies loopback, RFC 1918, CGNAT, ULA (pooled conns too)" \
	"$(results "$out" | jq -r .error.type | sort | uniq -c | tr -s ' ')" " 7 denied"
out=$(batch "[\"$TRAP/text/2\"]")
check "allow wins over deny: the trap is reachable now" \
	"$(results "$out" | jq -c '[.ok,.body]')" '[true,"ab"]'
check "and the trap counted that connection" "$(trap_accepts)" 6

stop_fanoutd
finish
