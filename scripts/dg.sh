#!/usr/bin/env bash
# Builds (first run: a few minutes) and runs the dataguardian binary with
# the given arguments, e.g. `./scripts/dg.sh plugin list`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cargo build --release -q -p dataguardian
exec ./target/release/dataguardian "$@"
