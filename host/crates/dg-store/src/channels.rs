//! `notification_channels`.

use crate::rows::NotificationChannel;
use crate::{with_pool, Db, Filter, StoreError};

pub async fn insert(db: &Db, c: &NotificationChannel) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO notification_channels (id, name, type, config, events, min_severity,
             job_ids, datasource_ids, suppress_minutes, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.config)
        .bind(&c.events)
        .bind(c.min_severity)
        .bind(&c.job_ids)
        .bind(&c.datasource_ids)
        .bind(c.suppress_minutes)
        .bind(c.enabled)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(p)
        .await
        .map_err(|e| {
            StoreError::classify(e, Some("name"), &format!("a channel named `{}`", c.name))
        })?;
    });
    Ok(())
}

pub async fn update(db: &Db, c: &NotificationChannel) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        sqlx::query(
            "UPDATE notification_channels SET name = $2, type = $3, config = $4, events = $5,
             min_severity = $6, job_ids = $7, datasource_ids = $8, suppress_minutes = $9,
             enabled = $10, updated_at = $11 WHERE id = $1",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.config)
        .bind(&c.events)
        .bind(c.min_severity)
        .bind(&c.job_ids)
        .bind(&c.datasource_ids)
        .bind(c.suppress_minutes)
        .bind(c.enabled)
        .bind(c.updated_at)
        .execute(p)
        .await
        .map_err(|e| {
            StoreError::classify(e, Some("name"), &format!("a channel named `{}`", c.name))
        })?;
    });
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<NotificationChannel>, StoreError> {
    crate::by_id(db, "notification_channels", id).await
}

pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationChannel>, i64), StoreError> {
    crate::page(
        db,
        "notification_channels",
        "name, id",
        filter,
        limit,
        offset,
    )
    .await
}

/// Every enabled channel, for routing.
pub async fn enabled(db: &Db) -> Result<Vec<NotificationChannel>, StoreError> {
    Ok(with_pool!(db, |p| {
        sqlx::query_as::<_, NotificationChannel>(
            "SELECT * FROM notification_channels WHERE enabled ORDER BY name",
        )
        .fetch_all(p)
        .await?
    }))
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, StoreError> {
    crate::delete_by_id(db, "notification_channels", id, "channel").await
}
