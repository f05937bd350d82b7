//! The queues through the library: the embedded queue on both metadata
//! backends and the Redis queue (a Redis of the test's own) hold the same
//! rules: priorities, atomic claims under contention, retries and
//! orphans. The Redis queue also gets back from the database what Redis
//! lost, and takes over deliveries a dead consumer read.

use dataguardian::domain::{Operation, Trigger, WorkKind, WorkStatus};
use dataguardian::queue::redis::RedisQueue;
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
async fn enqueue(q: &dyn WorkQueue, db: &Db, priority: i64) -> String {
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
    same_rules(q, &db).await;
    db.close().await;
}

on_both_backends!(embedded_queue, queue_semantics);

/// The Redis queue holds the embedded queue's rules.
async fn redis_queue_semantics(backend: common::server::Backend) {
    let redis = common::redis::RedisServer::start();
    let (db, _temp, _dir) = open(backend).await;
    let q = Arc::new(RedisQueue::new(&redis.url(), db.clone(), Duration::from_millis(50)).unwrap());
    same_rules(q, &db).await;
    db.close().await;
}

on_both_backends!(redis_queue, redis_queue_semantics);

/// What every queue must do.
async fn same_rules(q: Arc<dyn WorkQueue>, db: &Db) {
    let db = db.clone();

    // Manual work goes before scheduled work queued earlier.
    let scheduled = enqueue(q.as_ref(), &db, PRIORITY_SCHEDULED).await;
    let manual = enqueue(q.as_ref(), &db, PRIORITY_MANUAL).await;
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
    let cancelled = enqueue(q.as_ref(), &db, PRIORITY_MANUAL).await;
    assert!(q.cancel_queued(&cancelled).await.unwrap());
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());

    // Many claimants racing over many items: every item claimed exactly once.
    let mut ids = HashSet::new();
    for _ in 0..40 {
        ids.insert(enqueue(q.as_ref(), &db, PRIORITY_SCHEDULED).await);
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
}

/// A Redis that lost everything (restarted without its files) gets the
/// queued items back from the database, each runs once; and an entry a
/// consumer read before dying is taken over by a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gets_back_what_it_lost_and_takes_over_dead_readers() {
    let redis = common::redis::RedisServer::start();
    let (db, _temp, _dir) = open(common::server::Backend::Postgres).await;
    let q = RedisQueue::new(&redis.url(), db.clone(), Duration::from_millis(50))
        .unwrap()
        .with_reclaim_idle(Duration::from_millis(200));
    let mut ids = HashSet::new();
    for _ in 0..3 {
        ids.insert(enqueue(&q, &db, PRIORITY_MANUAL).await);
    }
    redis.cli(&["FLUSHALL"]);
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());
    assert_eq!(q.reconcile_older_than(Duration::ZERO).await.unwrap(), 3);
    // A second look finds nothing missing.
    assert_eq!(q.reconcile_older_than(Duration::ZERO).await.unwrap(), 0);
    let mut claimed = HashSet::new();
    while let Some(item) = q.claim(WorkKind::Backup, "n1").await.unwrap() {
        claimed.insert(item.execution_id);
    }
    assert_eq!(claimed, ids);

    // A consumer reads an entry and dies before claiming it in the
    // database: after the idle time a live node's claim runs it.
    let lost = enqueue(&q, &db, PRIORITY_MANUAL).await;
    let read = redis.cli(&[
        "XREADGROUP",
        "GROUP",
        "workers",
        "dead-node",
        "COUNT",
        "1",
        "STREAMS",
        "dataguardian:backup-queue:manual",
        ">",
    ]);
    assert!(!read.trim().is_empty(), "the dead node read the entry");
    assert!(q.claim(WorkKind::Backup, "n1").await.unwrap().is_none());
    let started = std::time::Instant::now();
    let taken = loop {
        if let Some(item) = q.claim(WorkKind::Backup, "n1").await.unwrap() {
            break item;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never taken over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(taken.execution_id, lost);
    assert_eq!(taken.attempts, 1);
    // Nothing is left pending for anyone, and settled entries are gone
    // from the stream (it does not grow with every run).
    let pending = redis.cli(&["XPENDING", "dataguardian:backup-queue:manual", "workers"]);
    assert!(pending.starts_with('0'), "{pending}");
    let length = redis.cli(&["XLEN", "dataguardian:backup-queue:manual"]);
    assert_eq!(length.trim(), "0", "settled entries stay in the stream");
    let held = redis.cli(&["SCARD", "dataguardian:held"]);
    assert_eq!(held.trim(), "0", "ids stay in the held set");
    db.close().await;
}

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
