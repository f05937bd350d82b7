#!/usr/bin/env bash
# Runs every check and test: formatting, lints (host and plugins), unit and
# integration tests against the real PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

cargo fmt --all -- --check
(cd plugins && cargo fmt --all -- --check)
cargo clippy --workspace --all-targets -- -D warnings
(cd plugins && cargo clippy --release -- -D warnings)
cargo test --workspace -- --test-threads=2
