//! `system_settings`: JSON values by key.

use crate::rows::Setting;
use crate::{execute, now, with_pool, Db, StoreError};
use serde_json::Value;
use sqlx::types::Json;

pub async fn all(db: &Db) -> Result<Vec<Setting>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, Setting>(
        "SELECT * FROM system_settings ORDER BY key"
    )
    .fetch_all(p)
    .await?))
}

pub async fn get(db: &Db, key: &str) -> Result<Option<Value>, StoreError> {
    let row = with_pool!(db, |p| sqlx::query_as::<_, Setting>(
        "SELECT * FROM system_settings WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(p)
    .await?);
    Ok(row.map(|s| s.value.0))
}

pub async fn put(
    db: &Db,
    key: &str,
    value: &Value,
    description: Option<&str>,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "INSERT INTO system_settings (key, value, description, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET value = $2,
         description = COALESCE($3, system_settings.description), updated_at = $4"
    )
    .bind(key)
    .bind(Json(value))
    .bind(description)
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}
