-- Retry-upload is an execution of its own (operation `copy`): queued,
-- with progress, logs and cancel, like a backup or a restore.
-- A cancel is recorded on the execution (`cancel_requested_at`), so the
-- node running it sees the request whichever node's API received it.
-- The set only grows, so the rows already there need no check (see 0005
-- for why SQLite enforces these sets with triggers). A unit test
-- (domain::tests) checks the list against the enum.

DROP TRIGGER backup_executions_operation_check_insert;
DROP TRIGGER backup_executions_operation_check_update;
CREATE TRIGGER backup_executions_operation_check_insert BEFORE INSERT ON backup_executions
WHEN NEW.operation NOT IN ('backup', 'restore', 'verification', 'copy')
BEGIN SELECT RAISE(ABORT, 'backup_executions.operation: not one of backup, restore, verification, copy'); END;
CREATE TRIGGER backup_executions_operation_check_update BEFORE UPDATE OF operation ON backup_executions
WHEN NEW.operation NOT IN ('backup', 'restore', 'verification', 'copy')
BEGIN SELECT RAISE(ABORT, 'backup_executions.operation: not one of backup, restore, verification, copy'); END;
ALTER TABLE backup_executions ADD COLUMN cancel_requested_at TEXT;
