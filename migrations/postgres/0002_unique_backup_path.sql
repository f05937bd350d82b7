-- One execution per backup folder: two runs of a job in the same second
-- must not share `{job}/{YYYY-MM-DD_HHmmss}` (the second waits a second).
CREATE UNIQUE INDEX backup_executions_backup_path ON backup_executions (backup_path);
