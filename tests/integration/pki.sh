# tests/integration/pki.sh - a private CA and the certificates the TLS
# tests need, made at test time with the openssl command line (no
# network): a valid leaf for localhost and 127.0.0.1, an expired leaf, a
# self-signed leaf, a leaf for another host name, a leaf for 127.0.0.1
# only, a leaf for the A-label xn--bcher-kva.test (bücher.test), and a
# client certificate. Sourced by tls.sh and hosts.sh; make_pki DIR
# writes DIR/NAME.pem and DIR/NAME.key for ca, good, expired, self,
# other, iponly, idn and client.

# _key FILE: a P-256 private key.
_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1" 2>/dev/null
}

make_pki() {
	local d=$1 n
	mkdir -p "$d"
	_key "$d/ca.key"
	openssl req -x509 -new -key "$d/ca.key" -sha256 -days 2 \
		-subj "/CN=fanoutd test CA" -out "$d/ca.pem" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	# `openssl ca` is the one way in OpenSSL 3.0 to set arbitrary
	# validity dates (for the expired leaf).
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $d/index.txt
serial = $d/serial
new_certs_dir = $d
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
[server]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
CNF
	# _leaf NAME CN SAN EXT [STARTDATE ENDDATE]
	_leaf() {
		_key "$d/$1.key"
		openssl req -new -key "$d/$1.key" -subj "/CN=$2" \
			-addext "subjectAltName=$3" -out "$d/$1.csr" 2>/dev/null
		if [ -n "${5:-}" ]; then
			openssl ca -batch -config "$d/ca.cnf" -extensions "$4" \
				-startdate "$5" -enddate "$6" -notext \
				-in "$d/$1.csr" -out "$d/$1.pem" 2>/dev/null
		else
			openssl ca -batch -config "$d/ca.cnf" -extensions "$4" \
				-days 2 -notext -in "$d/$1.csr" -out "$d/$1.pem" \
				2>/dev/null
		fi
	}
	_leaf good localhost "DNS:localhost,IP:127.0.0.1" server
	_leaf expired localhost "DNS:localhost,IP:127.0.0.1" server \
		20200101000000Z 20200102000000Z
	_leaf other other.test "DNS:other.test" server
	_leaf iponly 127.0.0.1 "IP:127.0.0.1" server
	_leaf idn xn--bcher-kva.test "DNS:xn--bcher-kva.test" server
	_leaf client "fanoutd client" "DNS:client.test" client
	_key "$d/self.key"
	openssl req -x509 -new -key "$d/self.key" -sha256 -days 2 \
		-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-out "$d/self.pem" 2>/dev/null
	for n in ca good expired other iponly idn client self; do
		test -s "$d/$n.pem" || {
			echo "make_pki: $n.pem was not made" >&2
			return 1
		}
	done
}
