#!/usr/bin/env bash
# Installs what building and testing DataGuardian needs beyond the
# preinstalled toolchain, and starts PostgreSQL if it is down. Idempotent.
set -euo pipefail

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

need_apt=()
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v pg_dump >/dev/null || need_apt+=(postgresql-client)
# The MySQL/MariaDB engine runs mariadb-dump / mysqldump and the client.
command -v mariadb-dump >/dev/null || command -v mysqldump >/dev/null || need_apt+=(mariadb-client)
# The SFTP storage runs OpenSSH's client (sshpass for password logins).
command -v ssh >/dev/null || need_apt+=(openssh-client)
command -v sshpass >/dev/null || need_apt+=(sshpass)
# The web UI is built with Node.js 20+ and npm (scripts/build-ui.sh).
command -v npm >/dev/null || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  fi
fi

# The API contract test validates /api/openapi.json with it.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m pip install -q openapi-spec-validator
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

