#!/bin/bash
# dns.sh - names are resolved asynchronously with evdns against the
# resolvers of [upstream] nameservers: a dnsmasq on a loopback port that
# this test starts, answering good.test and NXDOMAIN for the rest of
# .test. Nothing leaves the machine. Also pins one lookup per name:
# fifty items for one name cost one query per record type, and the
# special-use names of RFC 6761 are answered without a query.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

command -v dnsmasq >/dev/null || { echo "dnsmasq is missing"; exit 1; }

start_upstream
PORT=${UP##*:}

start_dnsmasq --address=/good.test/127.0.0.1 --address=/other.test/127.0.0.1
start_fanoutd "[upstream]
nameservers = 127.0.0.1:$DNS_PORT"

out=$(batch "[\"http://good.test:$PORT/text/3\",\"http://nxdomain.test:$PORT/\"]")
check "a name the resolver knows is fetched" \
	"$(results "$out" | jq -c 'select(.index==0) | [.ok,.body]')" '[true,"abc"]'
check "the dns timing is reported" \
	"$(results "$out" | jq 'select(.index==0) | .timings.dns >= 0')" true
check "NXDOMAIN is a dns error" \
	"$(results "$out" | jq -r 'select(.index==1) | .error.type')" dns
check "the message names the host and the reason" \
	"$(results "$out" | jq -r 'select(.index==1) | .error.message')" \
	"cannot resolve nxdomain.test: no such host"

queries() {
	grep -c "query\[A\] other.test" "$T/dns.log"
}
out=$(batch "$(jq -cn --arg u "http://other.test:$PORT/text/1" '[range(50)] | map($u)')")
check "fifty items for one name all succeed" "$(summary "$out" | jq .ok)" 50
check "with one A query for the name" "$(queries)" 1
check "the Host header keeps the name" \
	"$(batch "[\"http://good.test:$PORT/echo\"]" | jq -r 'select(.index==0) | .body | fromjson | .headers[] | select(.[0]=="Host") | .[1]')" \
	"good.test:$PORT"

# RFC 6761: .invalid and .localhost are answered without asking anyone.
out=$(batch "[\"http://no-such-host.invalid:$PORT/\",\"http://api.localhost:$PORT/text/2\"]")
check "a .invalid name is a dns error at once" \
	"$(results "$out" | jq -r 'select(.index==0) | .error.message')" \
	"cannot resolve no-such-host.invalid: no such host"
check "a .localhost name is loopback" \
	"$(results "$out" | jq -c 'select(.index==1) | [.ok,.body]')" '[true,"ab"]'
check "neither was sent to the resolver" \
	"$(grep -c 'query\[.*\(invalid\|localhost\)' "$T/dns.log")" 0

finish
