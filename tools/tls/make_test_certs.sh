#!/usr/bin/env bash
# Writes the TLS test fixtures checked in under tests/testdata/tls/ (run it
# only to regenerate them; tests never need openssl):
#
#   ca.crt / ca.key                 the test CA
#   server.crt / server.key         signed by the CA; SAN 127.0.0.1, ::1, localhost; serverAuth
#   client.crt / client.key         signed by the CA; clientAuth (mutual TLS)
#   wrong_ca.crt / wrong_ca.key     an unrelated CA
#   wrong_client.crt / .key         a client cert signed by the wrong CA
#   wrong_server.crt / .key         a server cert (same SANs) signed by the wrong CA
#
# Keys are EC P-256; certificates are valid for ~100 years. Test-only: the
# private keys are public.
#
#   bash tools/tls/make_test_certs.sh [OUTPUT_DIR]   # default tests/testdata/tls
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")/../.." && pwd)/tests/testdata/tls}"
days=36500
mkdir -p "$out"
cd "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # name, common name
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.crt"
}

make_leaf() {  # name, issuer, common name, extendedKeyUsage, [subjectAltName]
  local name="$1" issuer="$2" cn="$3" eku="$4" san="${5:-}"
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$tmp/$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [[ -n "$san" ]]; then echo "subjectAltName=$san"; fi
  } > "$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$days" \
    -extfile "$tmp/$name.ext" -out "$name.crt" 2>/dev/null
}

server_san="IP:127.0.0.1,IP:::1,DNS:localhost"
make_ca ca "tandem test CA"
make_leaf server ca "tandem test server" serverAuth "$server_san"
make_leaf client ca "tandem test client" clientAuth
make_ca wrong_ca "tandem wrong CA"
make_leaf wrong_client wrong_ca "tandem wrong client" clientAuth
make_leaf wrong_server wrong_ca "tandem wrong server" serverAuth "$server_san"
chmod 644 ./*.key ./*.crt
openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
openssl verify -CAfile wrong_ca.crt wrong_client.crt wrong_server.crt >/dev/null
echo "wrote $(ls "$out" | wc -l) files to $out"
