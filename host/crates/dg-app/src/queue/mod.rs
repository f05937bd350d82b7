//! The work queue behind the backup and restore workers.
//!
//! Work items point at executions; the execution row and its work item
//! row stay the source of truth for status. [`EmbeddedQueue`] keeps items
//! in the metadata database only (the default); [`redis::RedisQueue`]
//! delivers them through Redis Streams for several nodes, the database
//! still deciding who runs what (a lost Redis loses no execution).

pub mod redis;

use chrono::{DateTime, Utc};
use dg_core::domain::{WorkKind, WorkStatus};
use dg_store::rows::{Execution, WorkItem};
use dg_store::{Db, StoreError};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Manual runs go before scheduled ones (lower runs first).
pub const PRIORITY_MANUAL: i64 = 1;
pub const PRIORITY_SCHEDULED: i64 = 10;
/// Attempts per item, counting the first; only transient errors retry.
pub const MAX_ATTEMPTS: i64 = 3;
/// First retry delay; doubles per attempt.
pub const RETRY_BASE: Duration = Duration::from_secs(30);

/// Which queue a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueBackend {
    /// Rows in the metadata database (one node, or several on PostgreSQL).
    Embedded,
    /// Redis Streams (`--redis-url`).
    Redis,
}

/// Whether the queue takes work now, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueHealth {
    pub backend: QueueBackend,
    /// False while the backend does not answer: nothing new is queued or
    /// started until it is back.
    pub up: bool,
    /// What failed last, while down.
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The queue's address cannot be used (`--redis-url`).
    #[error("{0}")]
    InvalidUrl(String),
}

/// A durable queue of work items.
pub trait WorkQueue: Send + Sync {
    /// Adds an item (its execution row already exists).
    fn enqueue<'a>(&'a self, item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Records a new execution and queues its item; if this fails, neither
    /// is left behind.
    fn submit<'a>(
        &'a self,
        execution: &'a Execution,
        item: &'a WorkItem,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Takes the most urgent ready item of `kind`, atomically.
    fn claim<'a>(
        &'a self,
        kind: WorkKind,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Option<WorkItem>, QueueError>>;
    /// Tells the queue the claimant is alive.
    fn heartbeat<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Ends an item: `done`, `failed` or `cancelled`.
    fn finish<'a>(
        &'a self,
        id: &'a str,
        status: WorkStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Puts an item back, not to run before `at`.
    fn retry_at<'a>(
        &'a self,
        id: &'a str,
        at: DateTime<Utc>,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Drops the queued item of an execution; true if there was one.
    fn cancel_queued<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, QueueError>>;
    /// Running items nobody is working on any more: claimed by `owner`
    /// (a restarted node) or silent since before `stale_before`.
    fn orphaned<'a>(
        &'a self,
        owner: Option<&'a str>,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, QueueError>>;
    /// Resolves when new work may be available (or after a short poll).
    fn wait(&self) -> BoxFuture<'_, ()>;
    /// Hands the queue an item the database already holds (the scheduler
    /// records its runs itself, in the transaction that moves the job).
    fn publish<'a>(&'a self, item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>>;
    /// Wakes this node's idle consumers (another node queued work).
    fn wake(&self);
    /// Whether the queue takes work now.
    fn health(&self) -> QueueHealth;
}

/// Delay before retry number `attempt` (1-based): `base` (30 s by
/// default, `--retry-secs`), then twice as long each time.
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 10) as u32 - 1;
    base * 2u32.pow(exp)
}

/// A new queued item for `execution_id`.
pub fn item(kind: WorkKind, execution_id: &str, priority: i64) -> WorkItem {
    let at = dg_store::now();
    WorkItem {
        id: dg_store::new_id(),
        kind,
        execution_id: execution_id.to_string(),
        priority,
        status: WorkStatus::Queued,
        attempts: 0,
        max_attempts: MAX_ATTEMPTS,
        run_after: at,
        claimed_by: None,
        heartbeat_at: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    }
}

/// The queue of the embedded mode: rows in the metadata database.
pub struct EmbeddedQueue {
    db: Db,
    notify: Arc<Notify>,
    poll: Duration,
}

impl EmbeddedQueue {
    pub fn new(db: Db, poll: Duration) -> Self {
        Self {
            db,
            notify: Arc::new(Notify::new()),
            poll,
        }
    }

    /// Wakes the workers (the scheduler queued something directly).
    pub fn notify(&self) {
        self.notify.notify_waiters();
    }
}

impl WorkQueue for EmbeddedQueue {
    fn enqueue<'a>(&'a self, item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            dg_store::work::insert(&self.db, item).await?;
            self.notify.notify_waiters();
            Ok(())
        })
    }

    fn submit<'a>(
        &'a self,
        execution: &'a Execution,
        item: &'a WorkItem,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            dg_store::work::insert_with_execution(&self.db, execution, item).await?;
            self.notify.notify_waiters();
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        kind: WorkKind,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Option<WorkItem>, QueueError>> {
        Box::pin(async move { Ok(dg_store::work::claim(&self.db, kind, worker).await?) })
    }

    fn heartbeat<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move { Ok(dg_store::work::heartbeat(&self.db, id).await?) })
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        status: WorkStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            dg_store::work::finish(&self.db, id, status, error).await?;
            // A slot is free: let a waiting worker look again.
            self.notify.notify_waiters();
            Ok(())
        })
    }

    fn retry_at<'a>(
        &'a self,
        id: &'a str,
        at: DateTime<Utc>,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move { Ok(dg_store::work::retry_at(&self.db, id, at, error).await?) })
    }

    fn cancel_queued<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move { Ok(dg_store::work::cancel_queued(&self.db, execution_id).await?) })
    }

    fn orphaned<'a>(
        &'a self,
        owner: Option<&'a str>,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, QueueError>> {
        Box::pin(async move { Ok(dg_store::work::orphaned(&self.db, owner, stale_before).await?) })
    }

    fn wait(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(self.poll, self.notify.notified()).await;
        })
    }

    fn publish<'a>(&'a self, _item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>> {
        // The row is the queue: only the consumers need to know.
        Box::pin(async move {
            self.notify.notify_waiters();
            Ok(())
        })
    }

    fn wake(&self) {
        self.notify.notify_waiters();
    }

    fn health(&self) -> QueueHealth {
        // The database's own health is reported on its own.
        QueueHealth {
            backend: QueueBackend::Embedded,
            up: true,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds() {
        assert_eq!(backoff(RETRY_BASE, 1), Duration::from_secs(30));
        assert_eq!(backoff(RETRY_BASE, 2), Duration::from_secs(60));
        assert_eq!(backoff(RETRY_BASE, 3), Duration::from_secs(120));
    }
}
