//! `health_checks` table (datasources).

use crate::rows::HealthCheck;
use crate::{execute, with_pool, Db, StoreError};

pub async fn insert(db: &Db, c: &HealthCheck) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "INSERT INTO health_checks (id, datasource_id, checked_at, status, latency_ms,
         error_message, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&c.id)
    .bind(&c.datasource_id)
    .bind(c.checked_at)
    .bind(c.status)
    .bind(c.latency_ms)
    .bind(&c.error_message)
    .bind(&c.metadata)
    .execute(p)
    .await?);
    Ok(())
}

/// Newest first.
pub async fn history(
    db: &Db,
    datasource_id: &str,
    limit: i64,
) -> Result<Vec<HealthCheck>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, HealthCheck>(
        "SELECT * FROM health_checks WHERE datasource_id = $1 ORDER BY checked_at DESC LIMIT $2"
    )
    .bind(datasource_id)
    .bind(limit)
    .fetch_all(p)
    .await?))
}

/// Drops checks older than `before` (the table would otherwise grow by
/// one row per datasource every 5 minutes forever).
pub async fn prune(db: &Db, before: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
    Ok(with_pool!(db, |p| {
        let a = sqlx::query("DELETE FROM health_checks WHERE checked_at < $1")
            .bind(before)
            .execute(p)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM storage_health_checks WHERE checked_at < $1")
            .bind(before)
            .execute(p)
            .await?
            .rows_affected();
        a + b
    }))
}
