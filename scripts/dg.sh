#!/usr/bin/env bash
# Builds (first run: about 20 minutes on 2 cores) and runs the dataguardian
# binary, with the web UI (web/) built and embedded in it.
# Without arguments it runs the server on the embedded defaults (SQLite
# metadata and local storage under ./data, API on 127.0.0.1:8080); with
# arguments it runs that command, e.g. `./scripts/dg.sh plugin list`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null </dev/null
./scripts/build-ui.sh >/dev/null </dev/null
cargo build --release -q -p dataguardian </dev/null
if [ $# -eq 0 ]; then
  set -- serve
fi
exec ./target/release/dataguardian "$@"
