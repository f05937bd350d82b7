-- One queued or running backup per job. The API and the scheduler check
-- before queuing; this index makes the check and the insert one step, so
-- two simultaneous runs cannot both be queued. Runs that already overlap
-- (possible before this rule) keep the oldest and fail the others.
UPDATE backup_executions
SET status = 'failed',
    error_message = 'another backup of this job was already queued or running'
WHERE operation = 'backup' AND status IN ('queued', 'running') AND job_id IS NOT NULL
  AND EXISTS (
    SELECT 1 FROM backup_executions other
    WHERE other.job_id = backup_executions.job_id
      AND other.operation = 'backup' AND other.status IN ('queued', 'running')
      AND (other.created_at < backup_executions.created_at
           OR (other.created_at = backup_executions.created_at AND other.id < backup_executions.id)));

CREATE UNIQUE INDEX backup_executions_one_active_backup ON backup_executions (job_id)
WHERE operation = 'backup' AND status IN ('queued', 'running');
