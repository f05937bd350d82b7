//! `backup_executions`, `execution_storages`, `backup_chunks` and
//! `execution_logs` tables.

use crate::rows::{Chunk, Execution, ExecutionLog, ExecutionStorage};
use crate::{execute, new_id, now, with_pool, Db, Filter, StoreError};
use chrono::{DateTime, Utc};
use dg_core::domain::{CopyStatus, ExecutionStatus, Operation, Trigger};
use serde_json::Value;
use sqlx::types::Json;

pub const INSERT: &str = "INSERT INTO backup_executions (id, job_id, datasource_id,
    storage_location_id, operation, trigger_type, status, source_execution_id, started_at,
    finished_at, duration_seconds, size_bytes, compressed_size_bytes, progress_bytes,
    backup_path, backup_type, checksum, error_message, error_stack, metadata, restored_at,
    created_at, updated_at, scheduled_for)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
    $19, $20, $21, $22, $23, $24)";

/// Binds every column of an execution onto [`INSERT`].
macro_rules! bind_insert {
    ($query:expr, $e:expr) => {{
        let e: &$crate::rows::Execution = $e;
        $query
            .bind(&e.id)
            .bind(&e.job_id)
            .bind(&e.datasource_id)
            .bind(&e.storage_location_id)
            .bind(e.operation)
            .bind(e.trigger_type)
            .bind(e.status)
            .bind(&e.source_execution_id)
            .bind(e.started_at)
            .bind(e.finished_at)
            .bind(e.duration_seconds)
            .bind(e.size_bytes)
            .bind(e.compressed_size_bytes)
            .bind(e.progress_bytes)
            .bind(&e.backup_path)
            .bind(e.backup_type)
            .bind(&e.checksum)
            .bind(&e.error_message)
            .bind(&e.error_stack)
            .bind(&e.metadata)
            .bind(e.restored_at)
            .bind(e.created_at)
            .bind(e.updated_at)
            .bind(e.scheduled_for)
    }};
}
pub(crate) use bind_insert;

/// A queued execution with empty results.
pub fn queued(operation: Operation, trigger: Trigger) -> Execution {
    let at = now();
    Execution {
        id: new_id(),
        job_id: None,
        datasource_id: None,
        storage_location_id: None,
        operation,
        trigger_type: trigger,
        status: ExecutionStatus::Queued,
        source_execution_id: None,
        started_at: None,
        finished_at: None,
        duration_seconds: None,
        size_bytes: None,
        compressed_size_bytes: None,
        progress_bytes: 0,
        backup_path: None,
        backup_type: dg_core::domain::BackupType::Full,
        checksum: None,
        error_message: None,
        error_stack: None,
        metadata: Json(Value::Object(Default::default())),
        restored_at: None,
        cancel_requested_at: None,
        scheduled_for: None,
        created_at: at,
        updated_at: at,
    }
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Execution>, StoreError> {
    crate::by_id(db, "backup_executions", id).await
}

/// A page of executions matching `filter`, newest first, and the total.
pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Execution>, i64), StoreError> {
    crate::page(
        db,
        "backup_executions",
        "created_at DESC, id",
        filter,
        limit,
        offset,
    )
    .await
}

/// `queued -> running`; false if the execution was not queued (cancelled).
pub async fn mark_running(db: &Db, id: &str) -> Result<bool, StoreError> {
    let at = now();
    let row = with_pool!(db, |p| sqlx::query_as::<_, Execution>(
        "UPDATE backup_executions SET status = $3, started_at = $2, finished_at = NULL,
         error_message = NULL, updated_at = $2 WHERE id = $1 AND status = $4 RETURNING *"
    )
    .bind(id)
    .bind(at)
    .bind(ExecutionStatus::Running)
    .bind(ExecutionStatus::Queued)
    .fetch_optional(p)
    .await?);
    if let Some(e) = &row {
        db.events().execution_status(e);
    }
    Ok(row.is_some())
}

pub async fn set_progress(db: &Db, id: &str, bytes: i64) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE backup_executions SET progress_bytes = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(bytes)
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}

/// Ends an execution that is not finished yet. Returns false when it had
/// already ended (a cancel racing a failure, say).
pub async fn finish(
    db: &Db,
    id: &str,
    status: ExecutionStatus,
    error: Option<&str>,
    metadata_patch: Option<&Value>,
) -> Result<bool, StoreError> {
    let Some(current) = get(db, id).await? else {
        return Ok(false);
    };
    let at = now();
    let duration = current
        .started_at
        .map(|s| (at - s).num_milliseconds() as f64 / 1000.0);
    let mut metadata = current.metadata.0.clone();
    if let (Some(Value::Object(patch)), Value::Object(m)) = (metadata_patch, &mut metadata) {
        for (k, v) in patch {
            m.insert(k.clone(), v.clone());
        }
    }
    let n = with_pool!(db, |p| sqlx::query(
        "UPDATE backup_executions SET status = $2, error_message = $3, finished_at = $4,
         duration_seconds = $5, metadata = $6, updated_at = $4
         WHERE id = $1 AND status IN ($7, $8)"
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(at)
    .bind(duration)
    .bind(Json(metadata))
    .bind(ExecutionStatus::Queued)
    .bind(ExecutionStatus::Running)
    .execute(p)
    .await?
    .rows_affected());
    if n == 1 {
        let ended = Execution {
            status,
            error_message: error.map(str::to_string),
            finished_at: Some(at),
            duration_seconds: duration,
            ..current
        };
        db.events().execution_status(&ended);
    }
    Ok(n == 1)
}

/// Sets `key` in the execution's metadata (the other keys stay): a fact
/// the run must leave behind before it acts, for whoever finishes after a
/// crash (the database a restore is about to create, say).
pub async fn note_in_metadata(
    db: &Db,
    id: &str,
    key: &str,
    value: &Value,
) -> Result<(), StoreError> {
    let Some(current) = get(db, id).await? else {
        return Ok(());
    };
    let mut metadata = current.metadata.0;
    if let Value::Object(map) = &mut metadata {
        map.insert(key.to_string(), value.clone());
    }
    execute!(db, |p| sqlx::query(
        "UPDATE backup_executions SET metadata = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(Json(metadata))
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}

/// Puts a running execution back in the queue (a retry after a transient
/// failure).
pub async fn requeue(db: &Db, id: &str, reason: &str) -> Result<(), StoreError> {
    let row = with_pool!(db, |p| {
        sqlx::query_as::<_, Execution>(
            "UPDATE backup_executions SET status = $4, error_message = $2, progress_bytes = 0,
         updated_at = $3 WHERE id = $1 AND status = $5 RETURNING *",
        )
        .bind(id)
        .bind(reason)
        .bind(now())
        .bind(ExecutionStatus::Queued)
        .bind(ExecutionStatus::Running)
        .fetch_optional(p)
        .await?
    });
    if let Some(e) = &row {
        db.events().execution_status(e);
    }
    Ok(())
}

/// What a completed backup stored.
pub struct CompletedBackup<'a> {
    pub id: &'a str,
    pub storage_location_id: &'a str,
    pub backup_path: &'a str,
    pub size_bytes: i64,
    pub compressed_size_bytes: i64,
    pub checksum: &'a str,
    pub chunks: Vec<(i64, String, i64, String)>,
    pub metadata: Value,
    /// Set when the backup completed with parts missing (databases of a
    /// several-databases backup that failed).
    pub error_message: Option<&'a str>,
}

/// Records the results of a backup and marks it `completed`, in one
/// transaction: either the whole record exists or the backup stays failed.
pub async fn complete_backup(db: &Db, done: &CompletedBackup<'_>) -> Result<bool, StoreError> {
    let Some(current) = get(db, done.id).await? else {
        return Ok(false);
    };
    let at = now();
    let duration = current
        .started_at
        .map(|s| (at - s).num_milliseconds() as f64 / 1000.0);
    let mut metadata = current.metadata.0.clone();
    if let (Value::Object(patch), Value::Object(m)) = (&done.metadata, &mut metadata) {
        for (k, v) in patch {
            m.insert(k.clone(), v.clone());
        }
    }
    Ok(with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        let n = sqlx::query(
            "UPDATE backup_executions SET status = $11, finished_at = $2,
             duration_seconds = $3, size_bytes = $4, compressed_size_bytes = $5,
             progress_bytes = $4, backup_path = $6, checksum = $7, metadata = $8,
             storage_location_id = $9, error_message = $10, updated_at = $2
             WHERE id = $1 AND status = $12",
        )
        .bind(done.id)
        .bind(at)
        .bind(duration)
        .bind(done.size_bytes)
        .bind(done.compressed_size_bytes)
        .bind(done.backup_path)
        .bind(done.checksum)
        .bind(Json(metadata))
        .bind(done.storage_location_id)
        .bind(done.error_message)
        .bind(ExecutionStatus::Completed)
        .bind(ExecutionStatus::Running)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            for (number, file, size, checksum) in &done.chunks {
                sqlx::query(
                    "INSERT INTO backup_chunks (id, execution_id, chunk_number, file_path,
                     size_bytes, checksum) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(new_id())
                .bind(done.id)
                .bind(number)
                .bind(file)
                .bind(size)
                .bind(checksum)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        n == 1
    })
    .then(|| {
        let done_row = Execution {
            status: ExecutionStatus::Completed,
            finished_at: Some(at),
            duration_seconds: duration,
            size_bytes: Some(done.size_bytes),
            compressed_size_bytes: Some(done.compressed_size_bytes),
            progress_bytes: done.size_bytes,
            backup_path: Some(done.backup_path.to_string()),
            storage_location_id: Some(done.storage_location_id.to_string()),
            error_message: done.error_message.map(str::to_string),
            ..current
        };
        db.events().execution_status(&done_row);
    })
    .is_some())
}

/// Sets the per-storage outcome of a backup.
pub async fn set_storage_status(
    db: &Db,
    execution_id: &str,
    storage_id: &str,
    status: CopyStatus,
    backup_path: Option<&str>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "INSERT INTO execution_storages (execution_id, storage_location_id, status, backup_path,
         error_message, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (execution_id, storage_location_id) DO UPDATE SET status = $3,
         backup_path = COALESCE($4, execution_storages.backup_path), error_message = $5,
         updated_at = $6"
    )
    .bind(execution_id)
    .bind(storage_id)
    .bind(status)
    .bind(backup_path)
    .bind(error)
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}

pub async fn storages(db: &Db, execution_id: &str) -> Result<Vec<ExecutionStorage>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, ExecutionStorage>(
        "SELECT * FROM execution_storages WHERE execution_id = $1 ORDER BY updated_at"
    )
    .bind(execution_id)
    .fetch_all(p)
    .await?))
}

pub async fn chunks(db: &Db, execution_id: &str) -> Result<Vec<Chunk>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Chunk>(
        "SELECT * FROM backup_chunks WHERE execution_id = $1 ORDER BY chunk_number"
    )
    .bind(execution_id)
    .fetch_all(p)
    .await?))
}

/// Appends log lines to an execution.
pub async fn append_logs(
    db: &Db,
    execution_id: &str,
    lines: &[(DateTime<Utc>, dg_core::domain::LogLevel, String)],
) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        for (ts, level, message) in lines {
            sqlx::query(
                "INSERT INTO execution_logs (execution_id, ts, level, message)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(execution_id)
            .bind(ts)
            .bind(level)
            .bind(message)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Log lines of an execution with an id above `after`, oldest first.
pub async fn logs(
    db: &Db,
    execution_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<ExecutionLog>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, ExecutionLog>(
        "SELECT * FROM execution_logs WHERE execution_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    )
    .bind(execution_id)
    .bind(after)
    .bind(limit)
    .fetch_all(p)
    .await?))
}

/// Completed backups of a job, newest first (retention input).
pub async fn completed_backups(db: &Db, job_id: &str) -> Result<Vec<Execution>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Execution>(
        "SELECT * FROM backup_executions WHERE job_id = $1 AND operation = $2
         AND status = $3 ORDER BY COALESCE(started_at, created_at) DESC"
    )
    .bind(job_id)
    .bind(Operation::Backup)
    .bind(ExecutionStatus::Completed)
    .fetch_all(p)
    .await?))
}

/// Restores and verifications of backup `execution_id` queued or running:
/// while there are any, the backup must not be deleted.
pub async fn restores_reading(db: &Db, execution_id: &str) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM backup_executions WHERE source_execution_id = $1
         AND status IN ($2, $3)"
    )
    .bind(execution_id)
    .bind(ExecutionStatus::Queued)
    .bind(ExecutionStatus::Running)
    .fetch_one(p)
    .await?))
}

/// Records a request to cancel an execution that is queued or running;
/// its status then, or `None` when it had already ended (or is gone).
/// The first request's time is kept.
pub async fn request_cancel(db: &Db, id: &str) -> Result<Option<ExecutionStatus>, StoreError> {
    let at = now();
    Ok(with_pool!(db, |p| {
        sqlx::query_scalar::<_, ExecutionStatus>(
            "UPDATE backup_executions SET cancel_requested_at = COALESCE(cancel_requested_at, $2),
         updated_at = $2 WHERE id = $1 AND status IN ($3, $4) RETURNING status",
        )
        .bind(id)
        .bind(at)
        .bind(ExecutionStatus::Queued)
        .bind(ExecutionStatus::Running)
        .fetch_optional(p)
        .await?
    }))
}

/// Whether a cancel of the execution was asked for.
pub async fn cancel_requested(db: &Db, id: &str) -> Result<bool, StoreError> {
    Ok(
        with_pool!(db, |p| sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
            "SELECT cancel_requested_at FROM backup_executions WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await?)
        .flatten()
        .is_some(),
    )
}

/// A copy (retry-upload) of backup `execution_id` that is queued or
/// running, if any.
pub async fn active_copy(db: &Db, execution_id: &str) -> Result<Option<String>, StoreError> {
    active(db, "source_execution_id", execution_id, Operation::Copy).await
}

/// The oldest queued or running execution of `operation` whose `column`
/// (a fixed column name, never input) is `value`.
async fn active(
    db: &Db,
    column: &'static str,
    value: &str,
    operation: Operation,
) -> Result<Option<String>, StoreError> {
    let sql = format!(
        "SELECT id FROM backup_executions WHERE {column} = $1 AND operation = $2
         AND status IN ($3, $4) ORDER BY created_at LIMIT 1"
    );
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, String>(&sql)
        .bind(value)
        .bind(operation)
        .bind(ExecutionStatus::Queued)
        .bind(ExecutionStatus::Running)
        .fetch_optional(p)
        .await?))
}

/// A copy that may have left partial files: a storage a backup did not
/// complete on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Leftover {
    pub execution_id: String,
    pub storage_location_id: String,
    pub backup_path: String,
}

/// Copies recorded `failed` of backups that ended (a failed or cancelled
/// backup's folder, a completed backup's failed replica), on `storage` or
/// on every storage. Their folders hold no complete backup: whatever is
/// there is a partial upload the failure could not remove (the storage was
/// down), swept once it answers again.
pub async fn leftovers(db: &Db, storage: Option<&str>) -> Result<Vec<Leftover>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Leftover>(
        "SELECT e.id AS execution_id, s.storage_location_id, e.backup_path
         FROM backup_executions e JOIN execution_storages s ON s.execution_id = e.id
         WHERE e.operation = $1 AND e.backup_path IS NOT NULL AND s.status = $2
         AND e.status IN ($3, $4, $5)
         AND ($6 IS NULL OR s.storage_location_id = $6)
         ORDER BY e.created_at"
    )
    .bind(Operation::Backup)
    .bind(CopyStatus::Failed)
    .bind(ExecutionStatus::Failed)
    .bind(ExecutionStatus::Cancelled)
    .bind(ExecutionStatus::Completed)
    .bind(storage)
    .fetch_all(p)
    .await?))
}

/// Whether a job has a backup queued or running.
pub async fn active_for_job(db: &Db, job_id: &str) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM backup_executions WHERE job_id = $1
         AND status IN ($2, $3)"
    )
    .bind(job_id)
    .bind(ExecutionStatus::Queued)
    .bind(ExecutionStatus::Running)
    .fetch_one(p)
    .await?))
}

/// The id of a backup of the job that is queued or running, if any.
pub async fn active_backup(db: &Db, job_id: &str) -> Result<Option<String>, StoreError> {
    active(db, "job_id", job_id, Operation::Backup).await
}

/// Removes an execution and everything hanging off it.
pub async fn delete(db: &Db, id: &str) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "DELETE FROM backup_executions WHERE id = $1"
    )
    .bind(id)
    .execute(p)
    .await?);
    Ok(())
}

pub async fn set_restored(
    db: &Db,
    id: &str,
    at: DateTime<Utc>,
    note: &Value,
) -> Result<(), StoreError> {
    let Some(current) = get(db, id).await? else {
        return Ok(());
    };
    let mut metadata = current.metadata.0;
    if let Value::Object(m) = &mut metadata {
        m.insert("restore_record".into(), note.clone());
    }
    execute!(db, |p| sqlx::query(
        "UPDATE backup_executions SET restored_at = $2, metadata = $3, updated_at = $4
         WHERE id = $1"
    )
    .bind(id)
    .bind(at)
    .bind(Json(metadata))
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}

/// Counts and sizes for the dashboard.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub backups_completed: i64,
    pub backups_failed: i64,
    pub executions_running: i64,
    pub executions_queued: i64,
    pub stored_bytes: i64,
    pub completed_last_24h: i64,
    pub failed_last_24h: i64,
}

pub async fn totals(db: &Db, since: DateTime<Utc>) -> Result<Totals, StoreError> {
    let row: (i64, i64, i64, i64, i64, i64, i64) = with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT
           COALESCE(SUM(CASE WHEN operation = $2 AND status = $3 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN operation = $2 AND status = $4 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN status = $5 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN status = $6 THEN 1 ELSE 0 END), 0),
           CAST(COALESCE(SUM(CASE WHEN operation = $2 AND status = $3
                THEN compressed_size_bytes ELSE 0 END), 0) AS BIGINT),
           COALESCE(SUM(CASE WHEN operation = $2 AND status = $3
                AND created_at >= $1 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN operation = $2 AND status = $4
                AND created_at >= $1 THEN 1 ELSE 0 END), 0)
         FROM backup_executions",
        )
        .bind(since)
        .bind(Operation::Backup)
        .bind(ExecutionStatus::Completed)
        .bind(ExecutionStatus::Failed)
        .bind(ExecutionStatus::Running)
        .bind(ExecutionStatus::Queued)
        .fetch_one(p)
        .await?
    });
    Ok(Totals {
        backups_completed: row.0,
        backups_failed: row.1,
        executions_running: row.2,
        executions_queued: row.3,
        stored_bytes: row.4,
        completed_last_24h: row.5,
        failed_last_24h: row.6,
    })
}

/// Datasources with completed backups: (datasource id, count, newest).
pub async fn backed_up_datasources(
    db: &Db,
) -> Result<Vec<(String, i64, Option<DateTime<Utc>>)>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<
        _,
        (String, i64, Option<DateTime<Utc>>),
    >(
        "SELECT datasource_id, COUNT(*), MAX(created_at) FROM backup_executions
         WHERE operation = $1 AND status = $2 AND datasource_id IS NOT NULL
         GROUP BY datasource_id"
    )
    .bind(Operation::Backup)
    .bind(ExecutionStatus::Completed)
    .fetch_all(p)
    .await?))
}

/// Claims `prefix` as this execution's folder, before the first byte is
/// written, so an interrupted run can be cleaned up. False when another
/// execution holds that folder already (same job, same second).
pub async fn claim_backup_path(db: &Db, id: &str, prefix: &str) -> Result<bool, StoreError> {
    let result = with_pool!(db, |p| sqlx::query(
        "UPDATE backup_executions SET backup_path = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(prefix)
    .bind(now())
    .execute(p)
    .await
    .map(|_| ()));
    match result {
        Ok(()) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Drops a `pending` storage row that was never used.
pub async fn clear_pending_storage(
    db: &Db,
    execution_id: &str,
    storage_id: &str,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "DELETE FROM execution_storages WHERE execution_id = $1 AND storage_location_id = $2
         AND status = $3"
    )
    .bind(execution_id)
    .bind(storage_id)
    .bind(CopyStatus::Pending)
    .execute(p)
    .await?);
    Ok(())
}

pub async fn insert(db: &Db, e: &Execution) -> Result<(), StoreError> {
    execute!(db, |p| bind_insert!(sqlx::query(INSERT), e)
        .execute(p)
        .await?);
    Ok(())
}

/// Completed backups with a copy in `storage_id` (a storage holding
/// backups cannot be deleted: their records would lose their files).
pub async fn backups_on_storage(db: &Db, storage_id: &str) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM backup_executions e WHERE e.status = $2
         AND e.operation = $3 AND (e.storage_location_id = $1 OR EXISTS (
           SELECT 1 FROM execution_storages s WHERE s.execution_id = e.id
           AND s.storage_location_id = $1 AND s.status = $4))"
    )
    .bind(storage_id)
    .bind(ExecutionStatus::Completed)
    .bind(Operation::Backup)
    .bind(CopyStatus::Completed)
    .fetch_one(p)
    .await?))
}

/// Folders the storage explorer must leave alone in `storage_id`: completed
/// backups with a copy there, and backups still being written (their
/// folder is claimed before the first byte, on whichever storage).
pub async fn backup_paths_on_storage(db: &Db, storage_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT e.backup_path FROM backup_executions e WHERE e.operation = $2
         AND e.backup_path IS NOT NULL AND (e.status IN ($3, $4) OR (
           e.status = $5 AND (e.storage_location_id = $1 OR EXISTS (
             SELECT 1 FROM execution_storages s WHERE s.execution_id = e.id
             AND s.storage_location_id = $1 AND s.status = $6))))"
    )
    .bind(storage_id)
    .bind(Operation::Backup)
    .bind(ExecutionStatus::Queued)
    .bind(ExecutionStatus::Running)
    .bind(ExecutionStatus::Completed)
    .bind(CopyStatus::Completed)
    .fetch_all(p)
    .await?))
}
