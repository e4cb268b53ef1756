#!/usr/bin/env bash
# Regenerates the TLS test fixtures of tests/suite/tls.rs (test-only keys; never use them
# for anything else): a CA, a server certificate it signed for 127.0.0.1 and localhost,
# and an unrelated CA a client may wrongly trust. Valid for 100 years, so the committed
# files do not expire under the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
days=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ec "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$days" -subj "/CN=codex exec-server test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

ec server.key
openssl req -new -key server.key -subj "/CN=localhost" -out "$tmp/server.csr"
cat > "$tmp/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAserial "$tmp/ca.srl" -CAcreateserial \
  -sha256 -days "$days" -extfile "$tmp/server.ext" -out server.pem

ec "$tmp/other.key"
openssl req -x509 -new -key "$tmp/other.key" -sha256 -days "$days" -subj "/CN=some other CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out other-ca.pem
