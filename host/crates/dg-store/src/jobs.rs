//! `backup_jobs` and `backup_job_storages` tables.

use crate::rows::{BackupJob, Execution, WorkItem};
use crate::{execute, with_pool, Db, Filter, StoreError};
use chrono::{DateTime, Utc};

fn name_conflict(job: &BackupJob) -> String {
    format!("a backup job named `{}`", job.name)
}

/// Inserts a job and its ordered storages (the first is the primary).
pub async fn insert(db: &Db, job: &BackupJob, storage_ids: &[String]) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        sqlx::query(
            "INSERT INTO backup_jobs (id, name, datasource_id, storage_location_id,
             storage_strategy, schedule_cron, schedule_timezone, enabled, retention_policy,
             backup_options, last_execution_at, next_execution_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&job.id)
        .bind(&job.name)
        .bind(&job.datasource_id)
        .bind(&job.storage_location_id)
        .bind(job.storage_strategy)
        .bind(&job.schedule_cron)
        .bind(&job.schedule_timezone)
        .bind(job.enabled)
        .bind(&job.retention_policy)
        .bind(&job.backup_options)
        .bind(job.last_execution_at)
        .bind(job.next_execution_at)
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::classify(e, Some("name"), &name_conflict(job)))?;
        for (i, sid) in storage_ids.iter().enumerate() {
            sqlx::query(
                "INSERT INTO backup_job_storages (job_id, storage_location_id, position)
                 VALUES ($1, $2, $3)",
            )
            .bind(&job.id)
            .bind(sid)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Rewrites a job and its storages. `next_execution_at` is written only
/// when `rescheduled`, and never back to a time at or before the job's last
/// scheduled run: either way a tick that moved it meanwhile would be undone
/// and the same run queued twice.
pub async fn update(
    db: &Db,
    job: &BackupJob,
    storage_ids: &[String],
    rescheduled: bool,
) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        sqlx::query(
            "UPDATE backup_jobs SET name = $2, datasource_id = $3, storage_location_id = $4,
             storage_strategy = $5, schedule_cron = $6, schedule_timezone = $7, enabled = $8,
             retention_policy = $9, backup_options = $10,
             next_execution_at = CASE WHEN $13 THEN (CASE
                 WHEN $11 IS NOT NULL AND last_execution_at IS NOT NULL
                      AND $11 <= last_execution_at THEN next_execution_at
                 ELSE $11 END) ELSE next_execution_at END,
             updated_at = $12 WHERE id = $1",
        )
        .bind(&job.id)
        .bind(&job.name)
        .bind(&job.datasource_id)
        .bind(&job.storage_location_id)
        .bind(job.storage_strategy)
        .bind(&job.schedule_cron)
        .bind(&job.schedule_timezone)
        .bind(job.enabled)
        .bind(&job.retention_policy)
        .bind(&job.backup_options)
        .bind(job.next_execution_at)
        .bind(job.updated_at)
        .bind(rescheduled)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::classify(e, Some("name"), &name_conflict(job)))?;
        sqlx::query("DELETE FROM backup_job_storages WHERE job_id = $1")
            .bind(&job.id)
            .execute(&mut *tx)
            .await?;
        for (i, sid) in storage_ids.iter().enumerate() {
            sqlx::query(
                "INSERT INTO backup_job_storages (job_id, storage_location_id, position)
                 VALUES ($1, $2, $3)",
            )
            .bind(&job.id)
            .bind(sid)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<BackupJob>, StoreError> {
    crate::by_id(db, "backup_jobs", id).await
}

/// The job's storages in order (primary first).
pub async fn storage_ids(db: &Db, job_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT storage_location_id FROM backup_job_storages WHERE job_id = $1 ORDER BY position"
    )
    .bind(job_id)
    .fetch_all(p)
    .await?))
}

pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<BackupJob>, i64), StoreError> {
    crate::page(db, "backup_jobs", "name", filter, limit, offset).await
}

pub async fn all(db: &Db) -> Result<Vec<BackupJob>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, BackupJob>(
        "SELECT * FROM backup_jobs ORDER BY name"
    )
    .fetch_all(p)
    .await?))
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "backup_jobs", id, "backup job").await
}

/// Enabled jobs whose next run is due at `now`.
pub async fn due(db: &Db, now: DateTime<Utc>) -> Result<Vec<BackupJob>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, BackupJob>(
        "SELECT * FROM backup_jobs WHERE enabled = TRUE AND next_execution_at IS NOT NULL
         AND next_execution_at <= $1 ORDER BY next_execution_at"
    )
    .bind(now)
    .fetch_all(p)
    .await?))
}

/// Jobs with their next runs, soonest first (dashboard).
pub async fn upcoming(db: &Db, limit: i64) -> Result<Vec<BackupJob>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, BackupJob>(
        "SELECT * FROM backup_jobs WHERE enabled = TRUE AND next_execution_at IS NOT NULL
         ORDER BY next_execution_at LIMIT $1"
    )
    .bind(limit)
    .fetch_all(p)
    .await?))
}

/// Moves a due job from `seen_next` to `new_next` and queues its execution,
/// all in one transaction. Returns false (and changes nothing) when another
/// tick, node or process got there first: a run is never queued twice.
pub async fn advance_and_enqueue(
    db: &Db,
    job_id: &str,
    seen_next: DateTime<Utc>,
    new_next: Option<DateTime<Utc>>,
    execution: &Execution,
    item: &WorkItem,
) -> Result<bool, StoreError> {
    let now = execution.created_at;
    Ok(with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        let moved = sqlx::query(
            "UPDATE backup_jobs SET next_execution_at = $3, last_execution_at = $4
             WHERE id = $1 AND next_execution_at = $2 AND enabled = TRUE",
        )
        .bind(job_id)
        .bind(seen_next)
        .bind(new_next)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 1 {
            let inserted =
                crate::executions::bind_insert!(sqlx::query(crate::executions::INSERT), execution)
                    .execute(&mut *tx)
                    .await;
            // A run of this job became active since the tick looked (the
            // one-active-backup index): queue nothing, move nothing; the
            // next tick records the skip.
            match inserted {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
                other => other?,
            };
            crate::work::bind_insert!(sqlx::query(crate::work::INSERT), item)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            db.events().execution_status(execution);
        }
        moved == 1
    }))
}

/// Moves a due job to its next run without queuing one (the previous run
/// is still queued or running); false if another tick moved it first.
pub async fn advance_only(
    db: &Db,
    job_id: &str,
    seen_next: DateTime<Utc>,
    new_next: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query(
        "UPDATE backup_jobs SET next_execution_at = $3
         WHERE id = $1 AND next_execution_at = $2 AND enabled = TRUE"
    )
    .bind(job_id)
    .bind(seen_next)
    .bind(new_next)
    .execute(p)
    .await?
    .rows_affected()
        == 1))
}

/// Sets only `next_execution_at` (job enabled or rescheduled).
pub async fn set_next(
    db: &Db,
    job_id: &str,
    next: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE backup_jobs SET next_execution_at = $2 WHERE id = $1"
    )
    .bind(job_id)
    .bind(next)
    .execute(p)
    .await?);
    Ok(())
}

pub async fn count(db: &Db) -> Result<(i64, i64), StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, (i64, i64)>(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN enabled THEN 1 ELSE 0 END), 0) FROM backup_jobs"
    )
    .fetch_one(p)
    .await?))
}
