#!/usr/bin/env bash
# Runs every check and test: formatting, lints (host and plugins), the
# plugins' unit tests, the host's unit and integration tests against the
# real PostgreSQL on 127.0.0.1:5432, and schemathesis against the live API.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Test-only: property-based API tests (scripts/api_fuzz.sh).
if ! command -v st >/dev/null || ! st --version 2>/dev/null | grep -q 'version 4\.'; then
  python3 -m pip install -q 'schemathesis>=4.32,<5'
fi

cargo fmt --all -- --check
(cd plugins && cargo fmt --all -- --check)
cargo clippy --workspace --all-targets -- -D warnings
(cd plugins && cargo clippy --release -- -D warnings)
# The plugins' own unit tests, natively (they need no host imports).
(cd plugins && cargo test --target "$(rustc -vV | sed -n 's/^host: //p')" -q \
  -p engine-files -p engine-sqlite -p engine-postgres -p storage-local)
cargo test --workspace -- --test-threads=2
# The live API against its own OpenAPI document (schemathesis, bounded).
./scripts/api_fuzz.sh target/debug/dataguardian
