#!/usr/bin/env bash
# Builds target/debian/auth0-ingest_*.deb: the release binary, the man page
# and completions generated from its clap definitions, then `cargo deb`
# (metadata in Cargo.toml), stripped (no debug line tables in the package).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
cargo build --release --locked --bin auth0-ingest
rm -rf target/assets
target/release/auth0-ingest generate-assets --out-dir target/assets
gzip -9n target/assets/*.1
cargo deb --no-build --locked --strip --no-dbgsym --no-separate-debug-symbols "$@"
