#!/usr/bin/env bash
# Makes a self-signed development certificate for localhost / 127.0.0.1 / ::1.
# Usage: certs/make-dev-cert.sh DIR
set -euo pipefail
dir=${1:?usage: make-dev-cert.sh DIR}
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/dev-key.pem" -out "$dir/dev-cert.pem" -days 365 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
chmod 600 "$dir/dev-key.pem"
echo "wrote $dir/dev-cert.pem and $dir/dev-key.pem"
