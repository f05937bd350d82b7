-- Several nodes on one metadata database (see the PostgreSQL twin; a
-- SQLite store serves one node, but the schema stays the same).

ALTER TABLE backup_executions ADD COLUMN scheduled_for TEXT;
CREATE UNIQUE INDEX backup_executions_scheduled_once
    ON backup_executions (job_id, scheduled_for) WHERE scheduled_for IS NOT NULL;

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    running INTEGER NOT NULL
);
