#!/bin/bash
# tls.sh - HTTPS upstreams (issue #4): verification against ca_file with
# SNI and host name checks; each failure as a `tls` error that says why
# in words; the private CA refused without ca_file; keep-alive reuse of
# TLS connections and their replacement after the peer closes them;
# mutual TLS; a handshake that stalls ends as a timeout; tls_verify =
# false; and the HTTPS listener. Certificates come from pki.sh.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
. "$(dirname "$TESTLIB")/pki.sh"

P=$T/pki
make_pki "$P" || exit 1
start_upstream \
	--listen-tls "127.0.0.1:0,$P/good.pem,$P/good.key" \
	--listen-tls "127.0.0.1:0,$P/expired.pem,$P/expired.key" \
	--listen-tls "127.0.0.1:0,$P/self.pem,$P/self.key" \
	--listen-tls "127.0.0.1:0,$P/other.pem,$P/other.key" \
	--listen-tls "127.0.0.1:0,$P/good.pem,$P/good.key,$P/ca.pem" \
	--listen-hold 127.0.0.1:0 \
	--listen-tls "127.0.0.1:0,$P/iponly.pem,$P/iponly.key"
port() {
	printf '%s' "${UPS[$1]##*:}"
}
GOOD=https://localhost:$(port 0)
EXPIRED=https://localhost:$(port 1)
SELF=https://localhost:$(port 2)
OTHER=https://localhost:$(port 3)
MTLS=https://localhost:$(port 4)
# An address, not localhost: localhost is ::1 too (RFC 6761), and after
# the stalled handshake fanoutd would try [::1], where nothing listens.
HOLD=https://127.0.0.1:$(port 5)
IPONLY=$(port 6)
start_fanoutd "[upstream]
ca_file = $P/ca.pem
retries = 0"

# tls_error URL: "type<TAB>message" of one item.
tls_error() {
	batch "[\"$1\"]" | jq -r 'select(.index==0) | [.error.type, .error.message] | @tsv'
}

out=$(batch "[\"$GOOD/text/5\",\"https://127.0.0.1:$(port 0)/text/3\"]")
check "a valid certificate for the name is accepted" \
	"$(results "$out" | jq -c 'select(.index==0) | [.ok,.body]')" '[true,"abcde"]'
check "a valid certificate for the IP address is accepted" \
	"$(results "$out" | jq -c 'select(.index==1) | [.ok,.body]')" '[true,"abc"]'
check "an expired certificate is a tls error that says so" \
	"$(tls_error "$EXPIRED/text/1")" "tls	127.0.0.1:$(port 1): certificate has expired"
check "a self-signed certificate is a tls error that says so" \
	"$(tls_error "$SELF/text/1")" "tls	127.0.0.1:$(port 2): self-signed certificate"
check "a certificate for another name is a host name mismatch" \
	"$(tls_error "$OTHER/text/1" | cut -f2 | grep -c 'host name mismatch')" 1
# A certificate for 127.0.0.1 only: fine for https://127.0.0.1, but
# https://localhost resolves to that address and must still fail.
check "the URL's IP address is checked against the certificate" \
	"$(batch "[\"https://127.0.0.1:$IPONLY/text/2\"]" | jq -r 'select(.index==0) | .ok')" true
check "the URL's name is checked, not the address it resolved to" \
	"$(tls_error "https://localhost:$IPONLY/text/1" | cut -f2 | grep -c 'host name mismatch')" 1
check "mutual TLS without a client certificate fails the handshake" \
	"$(tls_error "$MTLS/text/1" | cut -f1)" tls
out=$(batch "{\"requests\":[\"$HOLD/text/1\"],\"options\":{\"connect_timeout_ms\":300}}")
check "a peer that stalls mid-handshake ends as timeout" \
	"$(results "$out" | jq -r '[.error.type, .error.message] | @tsv')" \
	"timeout	could not connect to 127.0.0.1:$(port 5) within 300 ms"

# Keep-alive reuse, and replacement after the peer closes.
curl -sS -o /dev/null --cacert "$P/ca.pem" "$GOOD/stats/reset"
out=$(batch "{\"requests\":$(jq -cn --arg u "$GOOD/text/10" '[range(100)] | map($u)'),
	\"options\":{\"concurrency\":5}}")
check "100 HTTPS items succeed" "$(summary "$out" | jq .ok)" 100
conns=$(curl -sS --cacert "$P/ca.pem" "$GOOD/stats" | jq ".ports[\"$(port 0)\"].connections")
check_true "over at most 5 TLS connections (used $conns)" test "$conns" -le 5
curl -sS -o /dev/null --cacert "$P/ca.pem" "$GOOD/close-idle"
out=$(batch "{\"requests\":$(jq -cn --arg u "$GOOD/text/10" '[range(20)] | map($u)'),
	\"options\":{\"concurrency\":5}}")
check "after the upstream closed its idle TLS connections, the next batch succeeds" \
	"$(summary "$out" | jq -c '[.ok,.failed]')" "[20,0]"

# Without ca_file the private CA is not trusted.
stop_fanoutd
start_fanoutd "[upstream]
retries = 0"
check "without ca_file the private CA is refused as an unknown CA" \
	"$(tls_error "$GOOD/text/1" | cut -f2 | grep -c 'unknown CA')" 1

# Mutual TLS with a client certificate.
stop_fanoutd
start_fanoutd "[upstream]
ca_file = $P/ca.pem
client_cert = $P/client.pem
client_key = $P/client.key"
out=$(batch "[\"$MTLS/text/4\"]")
check "mutual TLS with client_cert and client_key" \
	"$(results "$out" | jq -c '[.ok,.body]')" '[true,"abcd"]'

# tls_verify = false: a warning at start-up, and no verification.
stop_fanoutd
start_fanoutd "[upstream]
tls_verify = false"
check "tls_verify = false is logged as a warning" \
	"$(grep -c 'tls_verify is false' "$T/fanoutd.log")" 1
check "and a self-signed upstream is then accepted" \
	"$(batch "[\"$SELF/text/2\"]" | jq -r 'select(.index==0) | .ok')" true
check "tls_verify is not a batch option" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$FO/v1/batch" \
		--data-binary '{"requests":[],"options":{"tls_verify":false}}')" 400

# The HTTPS listener.
stop_fanoutd
start_fanoutd "[server]
tls_cert = $P/good.pem
tls_key = $P/good.key
[upstream]
ca_file = $P/ca.pem"
check "the listener speaks HTTPS" "${FO%%:*}" https
FOS=https://localhost:${FO##*:}
check "curl --cacert reaches /healthz over TLS" \
	"$(curl -sS --cacert "$P/ca.pem" "$FOS/healthz" | jq -r .status)" ok
out=$(curl -sS --cacert "$P/ca.pem" "$FOS/v1/batch" --data-binary "[\"$GOOD/text/3\"]")
check "a batch over the HTTPS listener" "$(summary "$out" | jq .ok)" 1
check "plain HTTP to it fails" \
	"$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://localhost:${FO##*:}/healthz" 2>/dev/null)" 000

finish
