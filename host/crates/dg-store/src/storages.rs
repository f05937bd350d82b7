//! `storage_locations` and `storage_health_checks` tables.

use crate::rows::{StorageHealthCheck, StorageLocation};
use crate::{with_pool, Db, Filter, StoreError};

pub async fn insert(db: &Db, s: &StorageLocation) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        if s.is_default {
            sqlx::query("UPDATE storage_locations SET is_default = FALSE")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO storage_locations (id, name, type, config, is_default, status,
             available_space_gb, last_health_check_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.id)
        .bind(&s.name)
        .bind(&s.kind)
        .bind(&s.config)
        .bind(s.is_default)
        .bind(s.status)
        .bind(s.available_space_gb)
        .bind(s.last_health_check_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::classify(e, Some("name"), &format!("a storage named `{}`", s.name))
        })?;
        tx.commit().await?;
    });
    Ok(())
}

pub async fn update(db: &Db, s: &StorageLocation) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        if s.is_default {
            sqlx::query("UPDATE storage_locations SET is_default = FALSE WHERE id <> $1")
                .bind(&s.id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE storage_locations SET name = $2, type = $3, config = $4, is_default = $5,
             updated_at = $6 WHERE id = $1",
        )
        .bind(&s.id)
        .bind(&s.name)
        .bind(&s.kind)
        .bind(&s.config)
        .bind(s.is_default)
        .bind(s.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::classify(e, Some("name"), &format!("a storage named `{}`", s.name))
        })?;
        tx.commit().await?;
    });
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<StorageLocation>, StoreError> {
    crate::by_id(db, "storage_locations", id).await
}

pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StorageLocation>, i64), StoreError> {
    crate::page(db, "storage_locations", "name", filter, limit, offset).await
}

pub async fn all(db: &Db) -> Result<Vec<StorageLocation>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, StorageLocation>(
        "SELECT * FROM storage_locations ORDER BY name"
    )
    .fetch_all(p)
    .await?))
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "storage_locations", id, "storage location").await
}

/// Records a storage health check and its outcome on the storage row.
pub async fn record_health(db: &Db, check: &StorageHealthCheck) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        sqlx::query(
            "INSERT INTO storage_health_checks (id, storage_location_id, checked_at, status,
             latency_ms, available_space_gb, error_message) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&check.id)
        .bind(&check.storage_location_id)
        .bind(check.checked_at)
        .bind(check.status)
        .bind(check.latency_ms)
        .bind(check.available_space_gb)
        .bind(&check.error_message)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE storage_locations SET status = $2, available_space_gb =
             COALESCE($3, available_space_gb), last_health_check_at = $4 WHERE id = $1",
        )
        .bind(&check.storage_location_id)
        .bind(dg_core::domain::StorageHealth::after(check.status))
        .bind(check.available_space_gb)
        .bind(check.checked_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

pub async fn health_history(
    db: &Db,
    storage_id: &str,
    limit: i64,
) -> Result<Vec<StorageHealthCheck>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, StorageHealthCheck>(
        "SELECT * FROM storage_health_checks WHERE storage_location_id = $1
         ORDER BY checked_at DESC LIMIT $2"
    )
    .bind(storage_id)
    .bind(limit)
    .fetch_all(p)
    .await?))
}
