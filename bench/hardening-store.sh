#!/usr/bin/env bash
# Issue 8 part B acceptance figures on the release agent (loopback, bounded):
# dead letters of a hostile gzip body, 1 MiB log_ids, a second agent on the
# same spool, a flooded 20 MiB tmpfs spool (root only). One JSON line per
# run, then the medians. See bench/hardening_store.py.
#   bench/hardening-store.sh [runs]   (default 3); ONLY=dead_letters,... to pick
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin auth0-ingest
exec python3 bench/hardening_store.py "$PWD/target/release/auth0-ingest" "${1:-3}"
