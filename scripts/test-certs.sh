#!/usr/bin/env bash
# Makes a throw-away certificate authority and certificates for TLS tests on 127.0.0.1.
#
#   scripts/test-certs.sh DIR
#
# Writes into DIR (created if missing), all PEM, RSA 2048, valid for 10 days:
#   ca.crt, ca.key          the test CA
#   server.crt, server.key  server certificate signed by the CA, SAN DNS:localhost,IP:127.0.0.1,
#                           CN localhost; the key is unencrypted PKCS#8 ("BEGIN PRIVATE KEY")
#   client.crt, client.key  client certificate (CN tributary-client) signed by the CA, for mTLS
#   other-ca.crt            an unrelated CA, for "certificate from an untrusted CA" tests
# When DIR already has all of these (and the server certificate is still valid for another
# hour), nothing is done. Otherwise all of them are made anew. Prints DIR on stdout.
# Needs `openssl` (Debian package: openssl).
set -euo pipefail

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

[[ $# -eq 1 && -n $1 && $1 != -* ]] || die "usage: scripts/test-certs.sh DIR"
command -v openssl >/dev/null 2>&1 || die "openssl not found: install it (Debian package: openssl)"

DIR=$1
FILES=(ca.crt ca.key server.crt server.key client.crt client.key other-ca.crt)
DAYS=10

all_present() {
    local f
    for f in "${FILES[@]}"; do
        [[ -s $DIR/$f ]] || return 1
    done
    openssl x509 -checkend 3600 -noout -in "$DIR/server.crt" >/dev/null 2>&1
}

mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)
if all_present; then
    printf '%s\n' "$DIR"
    exit 0
fi

work=$(mktemp -d "$DIR/.certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() {
    local out
    if ! out=$("$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "openssl failed: $*"
    fi
}

key() { run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# A self-signed CA certificate.
make_ca() {
    local name=$1 cn=$2
    key "$work/$name.key"
    cat >"$work/$name.ext" <<EOF
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = $cn
[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    run openssl req -new -x509 -config "$work/$name.ext" -key "$work/$name.key" \
        -days "$DAYS" -sha256 -set_serial "0x$(openssl rand -hex 8)" -out "$work/$name.crt"
}

# A leaf certificate signed by the test CA. $3 is the extended key usage, $4 an optional SAN.
make_leaf() {
    local name=$1 cn=$2 eku=$3 san=${4:-}
    key "$work/$name.key"
    run openssl req -new -key "$work/$name.key" -subj "/CN=$cn" -out "$work/$name.csr"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature, keyEncipherment"
        echo "extendedKeyUsage = $eku"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid"
        [[ -z $san ]] || echo "subjectAltName = $san"
    } >"$work/$name.ext"
    run openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days "$DAYS" -sha256 \
        -extfile "$work/$name.ext" -out "$work/$name.crt"
}

make_ca ca "Tributary test CA"
make_ca other-ca "Unrelated test CA"
make_leaf server localhost "serverAuth, clientAuth" "DNS:localhost, IP:127.0.0.1"
make_leaf client tributary-client "clientAuth"

run openssl verify -CAfile "$work/ca.crt" "$work/server.crt" "$work/client.crt"

for f in "${FILES[@]}"; do
    chmod 600 "$work/$f"
    mv -f "$work/$f" "$DIR/$f"
done
chmod 644 "$DIR/ca.crt" "$DIR/server.crt" "$DIR/client.crt" "$DIR/other-ca.crt"
printf '%s\n' "$DIR"
