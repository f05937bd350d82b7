-- Retry-upload is an execution of its own (operation `copy`): queued,
-- with progress, logs and cancel, like a backup or a restore.
-- A cancel is recorded on the execution (`cancel_requested_at`), so the
-- node running it sees the request whichever node's API received it.
-- A unit test (domain::tests) checks the list against the enum.

ALTER TABLE backup_executions DROP CONSTRAINT backup_executions_operation_check;
ALTER TABLE backup_executions ADD CONSTRAINT backup_executions_operation_check
    CHECK (operation IN ('backup', 'restore', 'verification', 'copy'));
ALTER TABLE backup_executions ADD COLUMN cancel_requested_at TIMESTAMPTZ;
