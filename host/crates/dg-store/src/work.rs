//! `work_items`: the embedded queue's rows (see `dg_app::queue`).

use crate::rows::WorkItem;
use crate::{execute, now, with_pool, Db, StoreError};
use chrono::{DateTime, Utc};
use dg_core::domain::{WorkKind, WorkStatus};

pub const INSERT: &str = "INSERT INTO work_items (id, kind, execution_id, priority, status,
    attempts, max_attempts, run_after, claimed_by, heartbeat_at, last_error, created_at,
    updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Binds every column of a work item onto [`INSERT`].
macro_rules! bind_insert {
    ($query:expr, $w:expr) => {{
        let w: &$crate::rows::WorkItem = $w;
        $query
            .bind(&w.id)
            .bind(w.kind)
            .bind(&w.execution_id)
            .bind(w.priority)
            .bind(w.status)
            .bind(w.attempts)
            .bind(w.max_attempts)
            .bind(w.run_after)
            .bind(&w.claimed_by)
            .bind(w.heartbeat_at)
            .bind(&w.last_error)
            .bind(w.created_at)
            .bind(w.updated_at)
    }};
}
pub(crate) use bind_insert;

pub async fn insert(db: &Db, item: &WorkItem) -> Result<(), StoreError> {
    execute!(db, |p| bind_insert!(sqlx::query(INSERT), item)
        .execute(p)
        .await?);
    Ok(())
}

/// Records a new execution and its item in one transaction: a manual run
/// is either queued with something to run it, or not recorded at all.
pub async fn insert_with_execution(
    db: &Db,
    execution: &crate::rows::Execution,
    item: &WorkItem,
) -> Result<(), StoreError> {
    with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        crate::executions::bind_insert!(sqlx::query(crate::executions::INSERT), execution)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::classify(e, None, "an active backup of this job"))?;
        bind_insert!(sqlx::query(INSERT), item)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    db.events().execution_status(execution);
    Ok(())
}

/// Atomically takes the most urgent ready item of `kind`: the conditional
/// update only succeeds for one claimant even when several race.
pub async fn claim(db: &Db, kind: WorkKind, worker: &str) -> Result<Option<WorkItem>, StoreError> {
    let at = now();
    Ok(with_pool!(db, |p| sqlx::query_as::<_, WorkItem>(
        "UPDATE work_items SET status = $5, claimed_by = $2, heartbeat_at = $3,
         attempts = attempts + 1, updated_at = $3
         WHERE id = (SELECT id FROM work_items WHERE status = $4 AND kind = $1
                     AND run_after <= $3 ORDER BY priority, created_at LIMIT 1)
         AND status = $4
         RETURNING *"
    )
    .bind(kind)
    .bind(worker)
    .bind(at)
    .bind(WorkStatus::Queued)
    .bind(WorkStatus::Running)
    .fetch_optional(p)
    .await?))
}

pub async fn heartbeat(db: &Db, id: &str) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE work_items SET heartbeat_at = $2 WHERE id = $1 AND status = $3"
    )
    .bind(id)
    .bind(now())
    .bind(WorkStatus::Running)
    .execute(p)
    .await?);
    Ok(())
}

/// Ends an item: `done`, `failed` or `cancelled`.
pub async fn finish(
    db: &Db,
    id: &str,
    status: WorkStatus,
    error: Option<&str>,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE work_items SET status = $2, last_error = $3, updated_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(now())
    .execute(p)
    .await?);
    Ok(())
}

/// Back to `queued`, not before `run_after`.
pub async fn retry_at(
    db: &Db,
    id: &str,
    run_after: DateTime<Utc>,
    error: &str,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE work_items SET status = $5, run_after = $2, last_error = $3,
         claimed_by = NULL, updated_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(run_after)
    .bind(error)
    .bind(now())
    .bind(WorkStatus::Queued)
    .execute(p)
    .await?);
    Ok(())
}

/// Running items nobody works on: claimed by `owner` (this node, just
/// restarted: whatever it claimed before died with it), or whose claimant
/// stopped beating before `stale_before`.
pub async fn orphaned(
    db: &Db,
    owner: Option<&str>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<WorkItem>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, WorkItem>(
        "SELECT * FROM work_items WHERE status = $3
         AND (claimed_by = $1 OR heartbeat_at IS NULL OR heartbeat_at < $2)"
    )
    .bind(owner)
    .bind(stale_before)
    .bind(WorkStatus::Running)
    .fetch_all(p)
    .await?))
}

/// The queued item of an execution, if any (cancel before it starts).
pub async fn cancel_queued(db: &Db, execution_id: &str) -> Result<bool, StoreError> {
    let n = with_pool!(db, |p| sqlx::query(
        "UPDATE work_items SET status = $3, updated_at = $2
         WHERE execution_id = $1 AND status = $4"
    )
    .bind(execution_id)
    .bind(now())
    .bind(WorkStatus::Cancelled)
    .bind(WorkStatus::Queued)
    .execute(p)
    .await?
    .rows_affected());
    Ok(n > 0)
}

/// Items waiting per kind (health, dashboard).
pub async fn depth(db: &Db) -> Result<Vec<(WorkKind, WorkStatus, i64)>, StoreError> {
    Ok(with_pool!(db, |p| {
        sqlx::query_as::<_, (WorkKind, WorkStatus, i64)>(
            "SELECT kind, status, COUNT(*) FROM work_items WHERE status IN ($1, $2)
         GROUP BY kind, status",
        )
        .bind(WorkStatus::Queued)
        .bind(WorkStatus::Running)
        .fetch_all(p)
        .await?
    }))
}

/// Takes item `id` if it is still queued and due: the claim of a queue
/// that delivers ids (Redis), where the delivery may be a duplicate or
/// stale (cancelled meanwhile, already run). `None` means there is
/// nothing to run for this delivery.
pub async fn claim_id(db: &Db, id: &str, worker: &str) -> Result<Option<WorkItem>, StoreError> {
    let at = now();
    Ok(with_pool!(db, |p| sqlx::query_as::<_, WorkItem>(
        "UPDATE work_items SET status = $4, claimed_by = $2, heartbeat_at = $3,
         attempts = attempts + 1, updated_at = $3
         WHERE id = $1 AND status = $5 AND run_after <= $3
         RETURNING *"
    )
    .bind(id)
    .bind(worker)
    .bind(at)
    .bind(WorkStatus::Running)
    .bind(WorkStatus::Queued)
    .fetch_optional(p)
    .await?))
}

/// One work item.
pub async fn get(db: &Db, id: &str) -> Result<Option<WorkItem>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, WorkItem>(
        "SELECT * FROM work_items WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await?))
}

/// Every queued item (due or delayed), oldest first, at most `limit`:
/// what a queue backend that lost its data must hold again.
pub async fn queued(db: &Db, limit: i64) -> Result<Vec<WorkItem>, StoreError> {
    Ok(with_pool!(db, |p| sqlx::query_as::<_, WorkItem>(
        "SELECT * FROM work_items WHERE status = $1 ORDER BY created_at LIMIT $2"
    )
    .bind(WorkStatus::Queued)
    .bind(limit)
    .fetch_all(p)
    .await?))
}

/// Takes back a new execution and its item (the queue refused the item
/// after both were recorded), unless the item was claimed meanwhile (a
/// slow hand-over that reached Redis after all, or another node's
/// reconciliation): then it is running and stays. True if taken back.
pub async fn delete_with_execution(db: &Db, item: &WorkItem) -> Result<bool, StoreError> {
    Ok(with_pool!(db, |p| {
        let mut tx = p.begin().await?;
        let taken = sqlx::query("DELETE FROM work_items WHERE id = $1 AND status = $2")
            .bind(&item.id)
            .bind(WorkStatus::Queued)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 1 {
            // Its log lines go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM backup_executions WHERE id = $1 AND status = $2")
                .bind(&item.execution_id)
                .bind(dg_core::domain::ExecutionStatus::Queued)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        taken == 1
    }))
}
