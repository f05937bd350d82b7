//! `leases`: a named lock held for a short time, so one node of many runs
//! the scheduler tick.

use crate::{now, with_pool, Db, StoreError};
use chrono::Duration;

/// Takes or renews lease `name` for `holder`; true if `holder` has it.
pub async fn acquire(db: &Db, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
    let at = now();
    let expires = at + ttl;
    let n = with_pool!(db, |p| sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3
         WHERE leases.holder = $2 OR leases.expires_at < $4"
    )
    .bind(name)
    .bind(holder)
    .bind(expires)
    .bind(at)
    .execute(p)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// The holder of lease `name`, if it has not expired.
pub async fn lease_holder(db: &Db, name: &str) -> Result<Option<String>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT holder FROM leases WHERE name = $1 AND expires_at >= $2"
    )
    .bind(name)
    .bind(now())
    .fetch_optional(p)
    .await?))
}
