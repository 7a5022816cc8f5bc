#!/usr/bin/env bash
# Webhook benchmark: the release agent (TLS, spool, file output) under the
# load generator. Prints one JSON line per run: throughput with N connections
# back to back, then ack latency at a fixed 20k events/s.
#   bench/webhook.sh [runs]   (default 3; report the median)
# AGENT=path/to/auth0-ingest (and LOADGEN=path/to/loadgen) bench another
# build, e.g. the previous commit's, for a same-run comparison; without them
# the release build of this tree is built and used.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
if [ -z "${AGENT:-}" ]; then
  cargo build --release --quiet --bin auth0-ingest --example loadgen
fi
agent_bin=$(realpath "${AGENT:-target/release/auth0-ingest}")
loadgen_bin=$(realpath "${LOADGEN:-target/release/examples/loadgen}")
work=$(mktemp -d)
trap 'kill "$agent" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$agent_bin" --version >/dev/null
# Certificate via the embedded default's generator: run it once in $work.
(cd "$work" && timeout 3 "$agent_bin" run >/dev/null 2>&1 || true)
data="$work/auth0-ingest-data"
# GeoIP enrichment with MaxMind's test databases when ../shared has them
# (the generated events' IP is in them); without, GeoIP is off.
geoip='geoip_city = ""
geoip_asn = ""'
if [ -f ../shared/geoip/GeoLite2-City-Test.mmdb ]; then
  geoip="geoip_city = \"$PWD/../shared/geoip/GeoLite2-City-Test.mmdb\"
geoip_asn = \"$PWD/../shared/geoip/GeoLite2-ASN-Test.mmdb\""
fi
cat > "$work/bench.toml" <<TOML
[webhook]
listen = "127.0.0.1:18383"
tokens_file = "$data/token"
[webhook.tls]
cert = "$data/certs/dev-cert.pem"
key = "$data/certs/dev-key.pem"
[spool]
dir = "$work/spool"
max_bytes = "4GiB"
[output.file]
dir = "$work/out"
max_file_bytes = "256MiB"
# Old files are deleted so the page cache does not fill up run after run.
max_files = 2
[enrich]
user_agent = "uap"
$geoip
[log]
format = "json"
level = "warn"
[admin]
listen = "127.0.0.1:18384"
TOML
"$agent_bin" run --config "$work/bench.toml" 2>"$work/agent.log" &
agent=$!
for _ in $(seq 100); do curl -skf https://127.0.0.1:18383/healthz >/dev/null && break; sleep 0.1; done
token=$(cat "$data/token")
common=(--url https://127.0.0.1:18383/auth0/logs --token "$token" --cacert "$data/certs/dev-cert.pem" --metrics http://127.0.0.1:18384/metrics)
for run in $(seq "$runs"); do
  "$loadgen_bin" "${common[@]}" --connections 8 --seconds 10
done
# Let the throughput runs' writeback finish: it competes with every fsync.
sync
for run in $(seq "$runs"); do
  "$loadgen_bin" "${common[@]}" --connections 8 --seconds 10 --rate 20000
done
