//! `nodes`: the `serve` processes sharing this metadata database, each
//! reporting itself every few seconds (`GET /api/system/nodes`).

use crate::{execute, now, with_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// One node as it last reported itself.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NodeRow {
    pub id: String,
    pub hostname: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub running: i64,
}

/// Records that node `id` is alive now, running `running` executions.
pub async fn beat(
    db: &Db,
    id: &str,
    hostname: &str,
    version: &str,
    started_at: DateTime<Utc>,
    running: i64,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "INSERT INTO nodes (id, hostname, version, started_at, last_seen_at, running)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET hostname = $2, version = $3, started_at = $4,
         last_seen_at = $5, running = $6"
    )
    .bind(id)
    .bind(hostname)
    .bind(version)
    .bind(started_at)
    .bind(now())
    .bind(running)
    .execute(p)
    .await?);
    Ok(())
}

/// Nodes seen since `since`, the most recently started first.
pub async fn seen_since(db: &Db, since: DateTime<Utc>) -> Result<Vec<NodeRow>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, NodeRow>(
        "SELECT * FROM nodes WHERE last_seen_at >= $1 ORDER BY started_at DESC, id"
    )
    .bind(since)
    .fetch_all(p)
    .await?))
}

/// A node that stopped cleanly leaves the list; rows of nodes not seen
/// since `before` (killed, never back) are dropped too.
pub async fn remove(db: &Db, id: &str, before: DateTime<Utc>) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "DELETE FROM nodes WHERE id = $1 OR last_seen_at < $2"
    )
    .bind(id)
    .bind(before)
    .execute(p)
    .await?);
    Ok(())
}
