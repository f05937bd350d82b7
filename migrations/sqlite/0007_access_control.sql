-- Access control: users with one role each, custom roles (the built-in
-- admin, operator and viewer are defined in code, dg_core::access),
-- server-side sessions, API tokens and the append-only audit log.
-- The placeholder tables of 0001 were never written; they are replaced.
-- Secrets (session cookies, tokens) are stored as SHA-256 hashes only.

DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE permissions;
DROP TABLE sessions;
DROP TABLE audit_logs;
DROP TABLE users;
DROP TABLE roles;

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    permissions TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- Empty for accounts that sign in only through single sign-on.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    -- `ISSUER#SUBJECT` of an account made by single sign-on (OIDC).
    oidc_subject TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    client TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    permissions TEXT,
    expires_at TEXT,
    last_used_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE audit_logs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    client TEXT,
    outcome TEXT NOT NULL,
    status INTEGER,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_created_at ON audit_logs (created_at);
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END;
