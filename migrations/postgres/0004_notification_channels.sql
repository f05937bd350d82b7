-- External notification channels and the deliveries routed to them.
-- A delivery is one notification to one channel: its own status, attempts
-- and the message as rendered, so what was sent (or why not) stays visible.
CREATE TABLE notification_channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    config JSONB NOT NULL,
    events JSONB NOT NULL DEFAULT '[]',
    min_severity TEXT NOT NULL DEFAULT 'info',
    job_ids JSONB NOT NULL DEFAULT '[]',
    datasource_ids JSONB NOT NULL DEFAULT '[]',
    suppress_minutes BIGINT NOT NULL DEFAULT 30,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE notification_deliveries (
    id TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    suppress_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    last_error TEXT,
    subject TEXT,
    body TEXT,
    template_version BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (status, next_attempt_at);
CREATE INDEX notification_deliveries_recent ON notification_deliveries (channel_id, suppress_key, created_at);
