-- Several nodes on one metadata database.
-- `scheduled_for` is the due time a scheduled run was queued for: unique
-- per job, so a due run is queued once even when two leaders overlap
-- across a failover (the second insert fails and queues nothing).
-- `nodes` is what each `serve` process reports about itself every few
-- seconds (GET /api/system/nodes).

ALTER TABLE backup_executions ADD COLUMN scheduled_for TIMESTAMPTZ;
CREATE UNIQUE INDEX backup_executions_scheduled_once
    ON backup_executions (job_id, scheduled_for) WHERE scheduled_for IS NOT NULL;

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    running BIGINT NOT NULL
);
