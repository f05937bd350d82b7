//! `datasources` table.

use crate::rows::Datasource;
use crate::{execute, with_pool, Db, Filter, StoreError};

pub async fn insert(db: &Db, d: &Datasource) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "INSERT INTO datasources (id, name, type, connection_config, status, enabled, tags,
         consecutive_failures, last_health_check_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    .bind(&d.id)
    .bind(&d.name)
    .bind(&d.kind)
    .bind(&d.connection_config)
    .bind(d.status)
    .bind(d.enabled)
    .bind(&d.tags)
    .bind(d.consecutive_failures)
    .bind(d.last_health_check_at)
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(p)
    .await
    .map_err(|e| StoreError::classify(
        e,
        Some("name"),
        &format!("a datasource named `{}`", d.name)
    ))?);
    Ok(())
}

/// Writes the editable fields of `d` (name, type, config, enabled, tags).
pub async fn update(db: &Db, d: &Datasource) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE datasources SET name = $2, type = $3, connection_config = $4, enabled = $5,
         tags = $6, updated_at = $7 WHERE id = $1"
    )
    .bind(&d.id)
    .bind(&d.name)
    .bind(&d.kind)
    .bind(&d.connection_config)
    .bind(d.enabled)
    .bind(&d.tags)
    .bind(d.updated_at)
    .execute(p)
    .await
    .map_err(|e| StoreError::classify(
        e,
        Some("name"),
        &format!("a datasource named `{}`", d.name)
    ))?);
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Datasource>, StoreError> {
    crate::by_id(db, "datasources", id).await
}

/// A page of datasources and the total matching `filter`.
pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Datasource>, i64), StoreError> {
    crate::page(db, "datasources", "name", filter, limit, offset).await
}

/// Every datasource (path overlap checks, secret migration).
pub async fn all(db: &Db) -> Result<Vec<Datasource>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Datasource>(
        "SELECT * FROM datasources ORDER BY name"
    )
    .fetch_all(p)
    .await?))
}

pub async fn all_enabled(db: &Db) -> Result<Vec<Datasource>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Datasource>(
        "SELECT * FROM datasources WHERE enabled = TRUE ORDER BY name"
    )
    .fetch_all(p)
    .await?))
}

/// Deletes a datasource; refused while jobs use it.
pub async fn delete(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "datasources", id, "datasource").await
}

/// Records the outcome of a health check on the datasource row.
pub async fn set_health(
    db: &Db,
    id: &str,
    status: dg_core::domain::DatasourceHealth,
    consecutive_failures: i64,
    checked_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE datasources SET status = $2, consecutive_failures = $3,
         last_health_check_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(status)
    .bind(consecutive_failures)
    .bind(checked_at)
    .execute(p)
    .await?);
    Ok(())
}

/// Number of datasources per status (dashboard).
pub async fn count_by_status(
    db: &Db,
) -> Result<Vec<(dg_core::domain::DatasourceHealth, i64)>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<
        _,
        (dg_core::domain::DatasourceHealth, i64),
    >(
        "SELECT status, COUNT(*) FROM datasources GROUP BY status"
    )
    .fetch_all(p)
    .await?))
}
