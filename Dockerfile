# syntax=docker/dockerfile:1
# DataGuardian in a container: the web UI, the host and its built-in
# plugins built from source, run as an unprivileged user with the
# database clients the built-in engines call. docs/DEPLOYMENT.md.
#
#   docker build -t dataguardian --build-arg DG_GIT_COMMIT="$(git rev-parse --short=12 HEAD)" .
#
# The MongoDB (mongodump/mongorestore) and SQL Server (sqlcmd) tools are
# not in this image: add them in a layer of your own (docs/DEPLOYMENT.md,
# "Optional tools").

# --- the web UI (web/dist, embedded in the binary) ---------------------
FROM node:20-bookworm-slim AS ui
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run --silent build

# --- the host and the built-in plugins ---------------------------------
FROM rust:1.95-bookworm AS build
ARG DG_GIT_COMMIT=""
ENV DG_GIT_COMMIT=${DG_GIT_COMMIT}
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY host/ host/
COPY plugins/ plugins/
COPY plugin-sdk/ plugin-sdk/
COPY wit/ wit/
COPY migrations/ migrations/
COPY --from=ui /src/web/dist web/dist
COPY web/openapi.json web/openapi.json
RUN cargo build --release --locked -p dataguardian \
    && cp target/release/dataguardian /usr/local/bin/dataguardian

# --- the runtime --------------------------------------------------------
FROM debian:bookworm-slim
# Clients the engines run: PostgreSQL 17's pg_dump/pg_restore/psql from
# the PostgreSQL project's apt repository (a pg_dump dumps servers up to
# its own version; Debian 12 ships 15), mariadb-dump/mariadb and sqlite3
# from Debian; OpenSSH for the SFTP storage, CA roots for S3 and webhooks,
# curl for the health check. Other versions follow the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        postgresql-client-17 mariadb-client sqlite3 openssh-client sshpass tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/dataguardian \
        --shell /usr/sbin/nologin dataguardian \
    && install -d -o dataguardian -g dataguardian -m 0700 /var/lib/dataguardian /backups
COPY --from=build /usr/local/bin/dataguardian /usr/local/bin/dataguardian
USER 10001:10001
ENV DG_DATA_DIR=/var/lib/dataguardian \
    DG_LISTEN=0.0.0.0:8080 \
    DG_LOG_FORMAT=json
VOLUME ["/var/lib/dataguardian", "/backups"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/dataguardian"]
CMD ["serve"]
