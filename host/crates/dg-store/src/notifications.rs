//! `notifications` table.

use crate::rows::Notification;
use crate::{execute, new_id, now, with_pool, Db, Filter, StoreError};
use dg_core::domain::{EntityType, NotificationKind, Severity};
use serde_json::Value;
use sqlx::types::Json;

/// What happened, to whom; becomes one notification row.
pub struct NewNotification<'a> {
    pub kind: NotificationKind,
    pub severity: Severity,
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<&'a str>,
    pub title: String,
    pub message: String,
    pub metadata: Value,
}

pub async fn insert(db: &Db, n: NewNotification<'_>) -> Result<Notification, StoreError> {
    let row = Notification {
        id: new_id(),
        kind: n.kind,
        severity: n.severity,
        entity_type: n.entity_type,
        entity_id: n.entity_id.map(str::to_string),
        title: n.title,
        message: n.message,
        metadata: Json(n.metadata),
        read_at: None,
        created_at: now(),
    };
    execute!(db, |p| sqlx::query(
        "INSERT INTO notifications (id, type, severity, entity_type, entity_id, title, message,
         metadata, read_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(&row.id)
    .bind(row.kind)
    .bind(row.severity)
    .bind(row.entity_type)
    .bind(&row.entity_id)
    .bind(&row.title)
    .bind(&row.message)
    .bind(&row.metadata)
    .bind(row.read_at)
    .bind(row.created_at)
    .execute(p)
    .await?);
    // Every notification goes live from here, whoever raised it.
    db.events().notification(&row);
    // Routed in the same step, so no notification misses its channels;
    // a routing failure is logged, never loses the notification itself.
    if let Err(e) = crate::deliveries::route(db, &row).await {
        tracing::warn!(notification = %row.id, kind = %row.kind, "routing to channels failed: {e}");
    }
    Ok(row)
}

pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Notification>, i64), StoreError> {
    crate::page(
        db,
        "notifications",
        "created_at DESC, id",
        filter,
        limit,
        offset,
    )
    .await
}

/// Marks one notification (or all when `id` is None) read; returns how many.
pub async fn mark_read(db: &Db, id: Option<&str>) -> Result<u64, StoreError> {
    let at = now();
    Ok(with_pool!(db, |p| match id {
        Some(id) =>
            sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $2) WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(p)
                .await?
                .rows_affected(),
        None => sqlx::query("UPDATE notifications SET read_at = $1 WHERE read_at IS NULL")
            .bind(at)
            .execute(p)
            .await?
            .rows_affected(),
    }))
}

pub async fn unread_count(db: &Db) -> Result<i64, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM notifications WHERE read_at IS NULL"
    )
    .fetch_one(p)
    .await?))
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Notification>, StoreError> {
    crate::by_id(db, "notifications", id).await
}
