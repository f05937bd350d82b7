//! Narrow reads for `GET /metrics` (no configuration columns, so nothing
//! is unsealed at every scrape).

use crate::{with_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// (job id, job name, newest completed backup's end) of every job that
/// has one.
pub async fn last_successful_backups(
    db: &Db,
) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
    let rows: Vec<(String, String, Option<DateTime<Utc>>)> = with_pool!(db, |p| sqlx::query_as(
        "SELECT j.id, j.name, MAX(e.finished_at) FROM backup_jobs j
         JOIN backup_executions e ON e.job_id = j.id
         WHERE e.operation = $1 AND e.status = $2 AND e.finished_at IS NOT NULL
         GROUP BY j.id, j.name"
    )
    .bind(dg_core::domain::Operation::Backup)
    .bind(dg_core::domain::ExecutionStatus::Completed)
    .fetch_all(p)
    .await?);
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, at)| Some((id, name, at?)))
        .collect())
}

/// (id, name, type, consecutive failures) of datasources checked at least once.
pub async fn datasource_health(db: &Db) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as(
        "SELECT id, name, type, consecutive_failures FROM datasources
         WHERE last_health_check_at IS NOT NULL ORDER BY name, id"
    )
    .fetch_all(p)
    .await?))
}

/// (id, name, type, status, free GB) of storages checked at least once.
pub async fn storage_health(
    db: &Db,
) -> Result<
    Vec<(
        String,
        String,
        String,
        dg_core::domain::StorageHealth,
        Option<f64>,
    )>,
    StoreError,
> {
    Ok(with_pool!(db, |p| sqlx::query_as(
        "SELECT id, name, type, status, available_space_gb FROM storage_locations
         WHERE last_health_check_at IS NOT NULL ORDER BY name, id"
    )
    .fetch_all(p)
    .await?))
}
