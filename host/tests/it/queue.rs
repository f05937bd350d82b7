//! The embedded queue against both metadata backends, through the library:
//! priorities, atomic claims under contention, retries and orphans.

use dataguardian::domain::{Operation, Trigger, WorkKind, WorkStatus};
use dataguardian::queue::{self, EmbeddedQueue, WorkQueue, PRIORITY_MANUAL, PRIORITY_SCHEDULED};
use dataguardian::store::{self, executions, Db};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common;

async fn open(backend: common::server::Backend) -> (Db, Option<common::TempDb>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    match backend {
        common::server::Backend::Sqlite | common::server::Backend::InProcess => {
            let db = Db::connect(&Db::sqlite_url(dir.path())).await.unwrap();
            (db, None, dir)
        }
        common::server::Backend::Postgres => {
            let temp = common::TempDb::new("queue");
            let db = Db::connect(&temp.url()).await.unwrap();
            (db, Some(temp), dir)
        }
    }
}

/// A queued execution with its work item.
async fn enqueue(q: &EmbeddedQueue, db: &Db, priority: i64) -> String {
    let e = executions::queued(Operation::Backup, Trigger::Manual);
    executions::insert(db, &e).await.unwrap();
    q.enqueue(&queue::item(WorkKind::Backup, &e.id, priority))
        .await
        .unwrap();
    e.id
}

async fn queue_semantics(backend: common::server::Backend) {
    let (db, _temp, _dir) = open(backend).await;
    let q = Arc::new(EmbeddedQueue::new(db.clone(), Duration::from_millis(50)));

    // Manual work goes before scheduled work queued earlier.
    let scheduled = enqueue(&q, &db, PRIORITY_SCHEDULED).await;
    let manual = enqueue(&q, &db, PRIORITY_MANUAL).await;
    let first = q.claim(WorkKind::Backup, "n1").await.unwrap().unwrap();
    assert_eq!(first.execution_id, manual);
    assert_eq!(first.attempts, 1);
    let second = q.claim(WorkKind::Backup, "n1").await.unwrap().unwrap();
    assert_eq!(second.execution_id, scheduled);
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());

    // A retry is not claimable before its time, then is, with attempts counted.
    let later = store::now() + chrono::Duration::milliseconds(400);
    q.retry_at(&first.id, later, "temporary").await.unwrap();
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = q.claim(WorkKind::Backup, "n1").await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.attempts, 2);

    // Orphans: items of a restarted owner, or silent past the cutoff;
    // another live node's fresh items are left alone.
    q.heartbeat(&second.id).await.unwrap();
    let minute_ago = store::now() - chrono::Duration::seconds(60);
    let none = q.orphaned(Some("n2"), minute_ago).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
    let mine = q.orphaned(Some("n1"), minute_ago).await.unwrap();
    assert_eq!(mine.len(), 2);
    let silent = q
        .orphaned(None, store::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(silent.len(), 2);
    q.finish(&again.id, WorkStatus::Done, None).await.unwrap();
    q.finish(&second.id, WorkStatus::Failed, Some("boom"))
        .await
        .unwrap();
    assert!(q
        .orphaned(Some("n1"), store::now())
        .await
        .unwrap()
        .is_empty());

    // Cancelling a queued item removes it from the queue.
    let cancelled = enqueue(&q, &db, PRIORITY_MANUAL).await;
    assert!(q.cancel_queued(&cancelled).await.unwrap());
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());

    // Many claimants racing over many items: every item claimed exactly once.
    let mut ids = HashSet::new();
    for _ in 0..40 {
        ids.insert(enqueue(&q, &db, PRIORITY_SCHEDULED).await);
    }
    let mut tasks = Vec::new();
    for n in 0..8 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(item) = q
                .claim(WorkKind::Backup, &format!("node{n}"))
                .await
                .unwrap()
            {
                got.push(item.execution_id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 40, "an item was claimed twice or lost");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
    db.close().await;
}

on_both_backends!(embedded_queue, queue_semantics);

/// Store transitions the runner and the scheduler rely on, on both
/// backends: a lease has one holder until it expires; a cancel request is
/// recorded once (its first time kept), only on a queued or running
/// execution, and seen by anyone reading the execution.
async fn leases_and_cancel_requests(backend: common::server::Backend) {
    use dataguardian::domain::ExecutionStatus;
    let (db, _temp, _dir) = open(backend).await;
    let minute = chrono::Duration::minutes(1);
    assert!(store::leases::acquire(&db, "scheduler", "n1", minute)
        .await
        .unwrap());
    assert!(!store::leases::acquire(&db, "scheduler", "n2", minute)
        .await
        .unwrap());
    assert!(store::leases::acquire(&db, "scheduler", "n1", minute)
        .await
        .unwrap());
    // Expired: another node takes it over.
    let gone = chrono::Duration::milliseconds(-1);
    assert!(store::leases::acquire(&db, "other", "n1", gone)
        .await
        .unwrap());
    assert!(store::leases::acquire(&db, "other", "n2", minute)
        .await
        .unwrap());

    let e = executions::queued(Operation::Backup, Trigger::Manual);
    executions::insert(&db, &e).await.unwrap();
    assert!(!executions::cancel_requested(&db, &e.id).await.unwrap());
    assert_eq!(
        executions::request_cancel(&db, &e.id).await.unwrap(),
        Some(ExecutionStatus::Queued)
    );
    let first = executions::get(&db, &e.id)
        .await
        .unwrap()
        .unwrap()
        .cancel_requested_at;
    assert!(first.is_some());
    assert!(executions::request_cancel(&db, &e.id)
        .await
        .unwrap()
        .is_some());
    let again = executions::get(&db, &e.id)
        .await
        .unwrap()
        .unwrap()
        .cancel_requested_at;
    assert_eq!(first, again, "the first request's time is kept");
    assert!(executions::cancel_requested(&db, &e.id).await.unwrap());
    executions::finish(
        &db,
        &e.id,
        ExecutionStatus::Cancelled,
        Some("cancelled"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(executions::request_cancel(&db, &e.id).await.unwrap(), None);
    assert_eq!(
        executions::request_cancel(&db, "no-such-id").await.unwrap(),
        None
    );
}
on_both_backends!(store_transitions, leases_and_cancel_requests);
