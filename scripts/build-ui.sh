#!/usr/bin/env bash
# Builds the web UI (web/ → web/dist), which the Rust binary embeds; run
# it before `cargo build`. Installs the npm packages from the lockfile
# (`npm ci`) when they are missing or the lockfile changed: the stamp
# holds the lockfile's hash, so a node_modules left from another lockfile
# is never reused.
set -euo pipefail
cd "$(dirname "$0")/../web"
command -v npm >/dev/null || { echo "the web UI needs Node.js 20+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.dg-lock-sha256 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.dg-lock-sha256
fi
npm run --silent build
