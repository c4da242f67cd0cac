#!/bin/sh
# Creates the secret files docker/compose.yaml mounts, in docker/secrets/ (or the directory given
# as the first argument). Existing files are kept, so running it again never replaces a key that
# data depends on. Needs openssl. The container runs as uid 10001 and refuses secret files other
# users can read: run as root to have ownership set, or chown them afterwards as printed.
#
#   TLS_HOSTNAME=vault.example.com docker/generate-secrets.sh
set -eu

dir="${1:-$(dirname "$0")/secrets}"
host="${TLS_HOSTNAME:-localhost}"
uid="${CALLVAULT_UID:-10001}"
umask 077
mkdir -p "$dir"

missing() {
  if [ -e "$dir/$1" ]; then echo "kept     $1"; return 1; fi
  echo "creating $1"
}

# Symmetric secrets: 32 random bytes, base64 (LINK_SIGNING_KEY_FILE, PHONE_HASH_KEY_FILE).
if missing link_signing_key; then openssl rand -base64 32 > "$dir/link_signing_key"; fi
if missing phone_hash_key; then openssl rand -base64 32 > "$dir/phone_hash_key"; fi

# Ed25519 key that signs audit anchors (AUDIT_ANCHOR_KEY_FILE); keep a copy of its public half
# with whoever verifies exports.
if missing audit_anchor_key; then
  openssl genpkey -algorithm ed25519 -out "$dir/audit_anchor_key"
  openssl pkey -in "$dir/audit_anchor_key" -pubout -out "$dir/audit_anchor_key.pub.pem"
fi

# TLS server identity (TLS_CERT_FILE, TLS_KEY_FILE). Self-signed: replace with a certificate
# from your CA for anything but a trial.
if missing tls_key; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 825 \
    -keyout "$dir/tls_key" -out "$dir/tls_cert" -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null
fi

# A demonstration token issuer (ES256). Only its public key is mounted (JWT_PUBLIC_KEY_FILE);
# the private key stays here to mint trial tokens (docs/operations.md). With a real identity
# provider, put its public key in jwt_issuer_public_key instead.
if missing jwt_demo_issuer_key; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/jwt_demo_issuer_key"
  openssl pkey -in "$dir/jwt_demo_issuer_key" -pubout -out "$dir/jwt_issuer_public_key"
fi

# Private material for the container user only; certificates and public keys may be read by all
# (clients need tls_cert to trust a self-signed server: curl --cacert docker/secrets/tls_cert).
chmod 600 "$dir"/*_key
chmod 644 "$dir"/tls_cert "$dir"/jwt_issuer_public_key "$dir"/audit_anchor_key.pub.pem
if [ "$(id -u)" = "0" ]; then
  chown "$uid:$uid" "$dir"/*
else
  echo "now run: sudo chown $uid:$uid $dir/*   (the container user must own its secrets)"
fi
