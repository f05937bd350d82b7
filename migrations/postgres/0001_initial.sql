-- DataGuardian metadata, PostgreSQL flavour: same tables and columns as
-- migrations/sqlite, native types.

CREATE TABLE datasources (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    connection_config JSONB NOT NULL,
    status TEXT NOT NULL DEFAULT 'unknown',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    tags JSONB NOT NULL DEFAULT '[]',
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_health_check_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE storage_locations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    config JSONB NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL DEFAULT 'unknown',
    available_space_gb DOUBLE PRECISION,
    last_health_check_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE backup_jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    datasource_id TEXT NOT NULL REFERENCES datasources(id),
    storage_location_id TEXT NOT NULL REFERENCES storage_locations(id),
    storage_strategy TEXT NOT NULL DEFAULT 'fallback',
    schedule_cron TEXT NOT NULL,
    schedule_timezone TEXT NOT NULL DEFAULT 'UTC',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    retention_policy JSONB NOT NULL,
    backup_options JSONB NOT NULL,
    last_execution_at TIMESTAMPTZ,
    next_execution_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX backup_jobs_due ON backup_jobs (enabled, next_execution_at);

-- Every storage of a job, in order (position 0 = storage_location_id).
CREATE TABLE backup_job_storages (
    job_id TEXT NOT NULL REFERENCES backup_jobs(id) ON DELETE CASCADE,
    storage_location_id TEXT NOT NULL REFERENCES storage_locations(id),
    position BIGINT NOT NULL,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE backup_executions (
    id TEXT PRIMARY KEY,
    job_id TEXT REFERENCES backup_jobs(id) ON DELETE SET NULL,
    datasource_id TEXT REFERENCES datasources(id) ON DELETE SET NULL,
    storage_location_id TEXT REFERENCES storage_locations(id) ON DELETE SET NULL,
    operation TEXT NOT NULL DEFAULT 'backup',
    trigger_type TEXT NOT NULL DEFAULT 'scheduled',
    status TEXT NOT NULL,
    source_execution_id TEXT,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    duration_seconds DOUBLE PRECISION,
    size_bytes BIGINT,
    compressed_size_bytes BIGINT,
    progress_bytes BIGINT NOT NULL DEFAULT 0,
    backup_path TEXT,
    backup_type TEXT NOT NULL DEFAULT 'full',
    checksum TEXT,
    error_message TEXT,
    error_stack TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    restored_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX backup_executions_job ON backup_executions (job_id, status, created_at);
CREATE INDEX backup_executions_datasource ON backup_executions (datasource_id, status);

-- Where each backup was stored, one row per storage it was meant for.
CREATE TABLE execution_storages (
    execution_id TEXT NOT NULL REFERENCES backup_executions(id) ON DELETE CASCADE,
    storage_location_id TEXT NOT NULL REFERENCES storage_locations(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    backup_path TEXT,
    error_message TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (execution_id, storage_location_id)
);

CREATE TABLE backup_chunks (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id) ON DELETE CASCADE,
    chunk_number BIGINT NOT NULL,
    file_path TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE INDEX backup_chunks_execution ON backup_chunks (execution_id, chunk_number);

CREATE TABLE execution_logs (
    id BIGSERIAL PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id) ON DELETE CASCADE,
    ts TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX execution_logs_execution ON execution_logs (execution_id, id);

CREATE TABLE health_checks (
    id TEXT PRIMARY KEY,
    datasource_id TEXT NOT NULL REFERENCES datasources(id) ON DELETE CASCADE,
    checked_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    latency_ms BIGINT,
    error_message TEXT,
    metadata JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX health_checks_datasource ON health_checks (datasource_id, checked_at);

CREATE TABLE storage_health_checks (
    id TEXT PRIMARY KEY,
    storage_location_id TEXT NOT NULL REFERENCES storage_locations(id) ON DELETE CASCADE,
    checked_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    latency_ms BIGINT,
    available_space_gb DOUBLE PRECISION,
    error_message TEXT
);
CREATE INDEX storage_health_checks_storage ON storage_health_checks (storage_location_id, checked_at);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    read_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_created ON notifications (created_at);

CREATE TABLE system_settings (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL,
    description TEXT,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The durable queue of the embedded mode.
CREATE TABLE work_items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id) ON DELETE CASCADE,
    priority BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after TIMESTAMPTZ NOT NULL,
    claimed_by TEXT,
    heartbeat_at TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX work_items_claim ON work_items (status, kind, priority, run_after);

-- Short leases (the scheduler leader lock).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Access control and templates; filled by later features.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE permissions (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    description TEXT
);
CREATE TABLE role_permissions (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE audit_logs (
    id TEXT PRIMARY KEY,
    user_id TEXT,
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    details JSONB NOT NULL DEFAULT '{}',
    ip TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE notification_templates (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    active_version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (channel, type)
);
CREATE TABLE notification_template_versions (
    template_id TEXT NOT NULL REFERENCES notification_templates(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (template_id, version)
);
CREATE TABLE plugins (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    builtin BOOLEAN NOT NULL,
    sha256 TEXT NOT NULL,
    grant_json JSONB NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    installed_at TIMESTAMPTZ NOT NULL
);
