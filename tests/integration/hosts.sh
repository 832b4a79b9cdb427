#!/bin/bash
# hosts.sh - host names as a browser reads them (issue #13, RFC 3986
# §3.2.2, WHATWG URL host parsing): percent-decoded before anything
# else, so 127.0.0.%31 is 127.0.0.1 for the egress policy and no DNS
# query is made, and ex%61mple.test is looked up as example.test;
# international names in A-label form (bücher.test is
# xn--bcher-kva.test) in the DNS query, Host, SNI and the certificate
# check. A dnsmasq on a loopback port answers the .test names.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
. "$(dirname "$TESTLIB")/pki.sh"

command -v dnsmasq >/dev/null || { echo "dnsmasq is missing"; exit 1; }
P=$T/pki
make_pki "$P" || exit 1
start_upstream --listen 127.0.0.1:0 \
	--listen-tls "127.0.0.1:0,$P/idn.pem,$P/idn.key"
PORT=${UPS[0]##*:}
TLSPORT=${UPS[1]##*:}
start_dnsmasq --address=/example.test/127.0.0.1 \
	--address=/xn--bcher-kva.test/127.0.0.1
start_fanoutd "[upstream]
nameservers = 127.0.0.1:$DNS_PORT
ca_file = $P/ca.pem
retries = 0"

# one URL [jq filter]: the first result line of a one-item batch.
one() {
	jq -cn --arg u "$1" '[$u]' >"$T/one.json"
	batch "$(cat "$T/one.json")" | jq -c "select(.index==0) | ${2:-.}"
}
# sent_host URL: the Host header the upstream received.
sent_host() {
	one "$1" '.body | fromjson | .headers[] | select(.[0]=="Host") | .[1]'
}
queried() { # queried NAME: how many A queries dnsmasq saw for NAME
	grep -c "query\[A\] $1 " "$T/dns.log"
}

# --- 9. percent-encoded host names -----------------------------------------------
check "127.0.0.%31 is 127.0.0.1" \
	"$(one "http://127.0.0.%31:$PORT/text/3" '[.ok, .body, has("timings") and (.timings | has("dns"))]')" \
	'[true,"abc",false]'
check "... and Host carries the decoded address" \
	"$(sent_host "http://127.0.0.%31:$PORT/echo")" "\"127.0.0.1:$PORT\""
check "an encoded link-local address is denied as the address it is" \
	"$(one "http://169.254.169.%32%35%34/" '[.error.type, (.error.message | contains("169.254.169.254"))]')" \
	'["denied",true]'
check "ex%61mple.test is looked up as example.test" \
	"$(one "http://ex%61mple.test:$PORT/text/3" '[.ok, .body]')" '[true,"abc"]'
check "... one query for example.test" "$(queried example.test)" 1
check "... and Host carries the decoded name" \
	"$(sent_host "http://EX%41MPLE.test:$PORT/echo")" "\"example.test:$PORT\""
check "a host that decodes to a slash is refused" \
	"$(one "http://a%2Fb.test:$PORT/" '[.error.type, .error.message]')" \
	'["invalid_request","requests[0]: invalid host name"]'

# --- 10. international names ---------------------------------------------------------
check "bücher.test is fetched" \
	"$(one "http://bücher.test:$PORT/text/3" '[.ok, .body]')" '[true,"abc"]'
check "... looked up as its A-label" "$(queried xn--bcher-kva.test)" 1
check "... which Host carries" \
	"$(sent_host "http://bücher.test:$PORT/echo")" "\"xn--bcher-kva.test:$PORT\""
check "b%C3%BCcher.test is the same name" \
	"$(sent_host "http://b%C3%BCcher.test:$PORT/echo")" "\"xn--bcher-kva.test:$PORT\""
check "BÜCHER.test too (UTS #46 maps case)" \
	"$(sent_host "http://BÜCHER.test:$PORT/echo")" "\"xn--bcher-kva.test:$PORT\""
out=$(one "https://bücher.test:$TLSPORT/echo")
check "over TLS the certificate for xn--bcher-kva.test is accepted" \
	"$(printf '%s\n' "$out" | jq -c '[.ok, .status]')" '[true,200]'
check "... SNI is the A-label" \
	"$(printf '%s\n' "$out" | jq -r '.body | fromjson | .sni')" xn--bcher-kva.test
check "a URL list line in UTF-8 works the same" \
	"$(printf 'http://bücher.test:%s/text/2\n' "$PORT" |
		curl -sS -X POST "$FO/v1/batch" -H 'Content-Type: text/plain' --data-binary @- |
		jq -c 'select(.index==0) | [.ok, .body]')" '[true,"ab"]'
check "an invalid label is refused, by name" \
	"$(one "http://www.xn--zz.test:$PORT/" '[.error.type, (.error.message | startswith("requests[0]: invalid host name: \"xn--zz\": "))]')" \
	'["invalid_request",true]'
check "a label IDNA disallows is refused, by name" \
	"$(one "http://💩.test:$PORT/" '[.error.type, (.error.message | contains("\"💩\""))]')" \
	'["invalid_request",true]'

finish
