//! The queue of several nodes: Redis Streams with one consumer group.
//!
//! Redis carries deliveries; the metadata database decides. Every item is
//! written to `work_items` first (with its execution, in one transaction)
//! and only then handed to Redis, and a delivery is turned into work by
//! the same conditional update the embedded queue claims with
//! (`work::claim_id`: queued and due, or nothing). So a duplicate or stale
//! delivery runs nothing, and whatever Redis loses (a restart without its
//! data, an outage while a retry was due) is handed to it again from the
//! database by [`RedisQueue::reconcile`]: no execution is lost or run
//! twice.
//!
//! Keys, under `dataguardian:` (a standalone Redis or a replicated one;
//! not Redis Cluster, the delayed-retry script touches several keys):
//! - `backup-queue:manual`, `backup-queue:scheduled`, `restore-queue:…`:
//!   one stream per kind and priority (manual work is read first), entries
//!   `item=ID`, consumer group `workers`, each node a consumer;
//! - `delayed`: retries waiting for their time, a sorted set scored by
//!   due time in ms, moved into their stream by a script when due;
//! - `held`: the ids Redis holds (in a stream or `delayed`), against which
//!   the reconciliation compares the database's queued items.
//!
//! Acknowledgement: an entry is acknowledged once the database answered
//! its claim, whatever the answer. An entry read by a consumer that died
//! before that stays pending; after [`RECLAIM_IDLE`] another node takes it
//! over (`XAUTOCLAIM`) and queues its item again if it is still queued.
//! Once claimed, an item's liveness is its heartbeat in the database, as
//! with the embedded queue (`orphaned`).

use super::{EmbeddedQueue, QueueBackend, QueueError, QueueHealth, WorkQueue, PRIORITY_MANUAL};
use ::redis::aio::MultiplexedConnection;
use ::redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use ::redis::{AsyncConnectionConfig, RedisError};
use chrono::{DateTime, Utc};
use dg_core::domain::{WorkKind, WorkStatus};
use dg_store::rows::{Execution, WorkItem};
use dg_store::Db;
use futures::future::BoxFuture;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const GROUP: &str = "workers";
const PREFIX: &str = "dataguardian";
/// A delivery read but not settled for this long belonged to a consumer
/// that died between reading and claiming: another node takes it over.
const RECLAIM_IDLE: Duration = Duration::from_secs(30);
/// How often a node looks for such deliveries.
const RECLAIM_EVERY: Duration = Duration::from_secs(10);
/// Queued items younger than this are not compared with Redis yet: their
/// hand-over may be in flight, which takes at most a connection and a
/// response ([`CONNECT_TIMEOUT`] + [`RESPONSE_TIMEOUT`]).
const RECONCILE_GRACE: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Moves due retries from `delayed` into their streams, atomically (two
/// nodes running it at once move each retry once). Members are
/// `STREAM|ITEM_ID`.
const PROMOTE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  local bar = string.find(member, '|', 1, true)
  if bar then
    redis.call('XADD', string.sub(member, 1, bar - 1), '*', 'item', string.sub(member, bar + 1))
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due
";

/// Up or down, as the last command found it.
struct Link {
    up: bool,
    error: Option<String>,
}

/// Work items delivered through Redis, decided by the metadata database.
pub struct RedisQueue {
    client: ::redis::Client,
    /// The URL without its password, for messages.
    shown: String,
    db: Db,
    /// What is the database's alone (heartbeats, ends, cancels, orphans)
    /// and this node's wake-ups are the embedded queue's own code.
    rows: EmbeddedQueue,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    link: Mutex<Link>,
    promote: ::redis::Script,
    last_reclaim: Mutex<Instant>,
    reclaim_idle: Duration,
    /// Whether anything looked at Redis yet (until then "down" only means
    /// "not connected yet").
    probed: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a single assignment or read.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The URL with any password replaced, for logs and errors.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("********"));
            }
            u.to_string()
        }
        Err(_) => "the configured Redis URL".into(),
    }
}

fn stream_key(kind: WorkKind, priority: i64) -> String {
    let class = if priority <= PRIORITY_MANUAL {
        "manual"
    } else {
        "scheduled"
    };
    format!("{PREFIX}:{kind}-queue:{class}")
}

fn streams_of(kind: WorkKind) -> [String; 2] {
    [
        stream_key(kind, PRIORITY_MANUAL),
        stream_key(kind, super::PRIORITY_SCHEDULED),
    ]
}

fn all_streams() -> Vec<String> {
    [WorkKind::Backup, WorkKind::Restore]
        .into_iter()
        .flat_map(streams_of)
        .collect()
}

fn delayed_key() -> String {
    format!("{PREFIX}:delayed")
}

fn held_key() -> String {
    format!("{PREFIX}:held")
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

impl RedisQueue {
    /// A queue on the Redis at `url`. Connects lazily: a server starts
    /// while Redis is down and reports the queue down until it answers.
    pub fn new(url: &str, db: Db, poll: Duration) -> Result<Self, QueueError> {
        let shown = shown_url(url);
        // The URL is not repeated: it may hold a password.
        let client = ::redis::Client::open(url).map_err(|e| {
            QueueError::InvalidUrl(format!(
                "not a Redis URL ({e}); expected redis://[:PASSWORD@]HOST:PORT[/DB]"
            ))
        })?;
        Ok(Self {
            client,
            shown,
            rows: EmbeddedQueue::new(db.clone(), poll),
            db,
            conn: tokio::sync::Mutex::new(None),
            link: Mutex::new(Link {
                up: false,
                error: Some("not connected yet".into()),
            }),
            promote: ::redis::Script::new(PROMOTE),
            last_reclaim: Mutex::new(Instant::now()),
            reclaim_idle: RECLAIM_IDLE,
            probed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Takes over unsettled deliveries after `idle` instead of
    /// [`RECLAIM_IDLE`], looking as often (tests).
    pub fn with_reclaim_idle(mut self, idle: Duration) -> Self {
        self.reclaim_idle = idle;
        self
    }

    /// The connection, opened (with the consumer group created) if there
    /// is none.
    async fn conn(&self) -> Result<MultiplexedConnection, QueueError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.mark_down(&e))?;
        // Every stream and the group, created if missing (a fresh Redis,
        // or one that restarted without its data).
        for key in all_streams() {
            let created: Result<(), RedisError> = ::redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&key)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut c)
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(self.mark_down(&e)),
            }
        }
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Whether `e` says the consumer group is gone (Redis lost its data
    /// without dropping the connection: `FLUSHALL`, a failover to an empty
    /// replica). The connection is then dropped, so the next command opens
    /// a new one and creates the group again; nothing is down.
    fn lost_group(&self, e: &RedisError) -> bool {
        if e.code() != Some("NOGROUP") {
            return false;
        }
        tracing::warn!(
            "Redis at {} lost the queue's consumer group; creating it again",
            self.shown
        );
        if let Ok(mut slot) = self.conn.try_lock() {
            *slot = None;
        }
        true
    }

    /// Records a failure: the connection is dropped (the next command
    /// reconnects) and the queue reported down.
    fn mark_down(&self, e: &RedisError) -> QueueError {
        let message = format!("Redis at {} did not answer: {e}", self.shown);
        if let Ok(mut slot) = self.conn.try_lock() {
            *slot = None;
        }
        let mut link = lock(&self.link);
        if link.up {
            tracing::error!(
                "{message}; scheduling, backups and restores wait until it is back (running \
                 ones go on)"
            );
        }
        link.up = false;
        link.error = Some(message.clone());
        QueueError::Unavailable(message)
    }

    /// Records a success; true if the queue was down until now.
    fn mark_up(&self) -> bool {
        let mut link = lock(&self.link);
        let was_down = !link.up;
        link.up = true;
        link.error = None;
        if was_down {
            tracing::info!("Redis at {} answers: the queue is up", self.shown);
            self.rows.notify();
        }
        was_down
    }

    fn is_up(&self) -> bool {
        lock(&self.link).up
    }

    /// Connects and pings; the queue is up after it if Redis answered.
    pub async fn probe(&self) -> Result<(), QueueError> {
        self.probed.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut c = self.conn().await?;
        ::redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map_err(|e| self.mark_down(&e))?;
        self.mark_up();
        Ok(())
    }

    /// The connection for a request, failing at once while Redis is
    /// known to be down (a request never waits behind reconnection
    /// attempts; [`RedisQueue::watch`] brings the queue back). The first
    /// use looks for itself.
    async fn ensure_up(&self) -> Result<MultiplexedConnection, QueueError> {
        if !self.is_up() {
            if self.probed.load(std::sync::atomic::Ordering::SeqCst) {
                let why = lock(&self.link)
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("Redis at {} is down", self.shown));
                return Err(QueueError::Unavailable(why));
            }
            self.probe().await?;
        }
        self.conn().await
    }

    /// Hands Redis an item the database holds: into its stream when due,
    /// into `delayed` when not.
    async fn hand_over(&self, item: &WorkItem) -> Result<(), QueueError> {
        let mut c = self.conn().await?;
        let stream = stream_key(item.kind, item.priority);
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        if item.run_after > dg_store::now() {
            pipe.cmd("ZADD")
                .arg(delayed_key())
                .arg(millis(item.run_after))
                .arg(format!("{stream}|{}", item.id))
                .ignore();
        } else {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("item")
                .arg(&item.id)
                .ignore();
        }
        pipe.cmd("SADD").arg(held_key()).arg(&item.id).ignore();
        pipe.query_async::<()>(&mut c)
            .await
            .map_err(|e| self.mark_down(&e))?;
        self.mark_up();
        self.rows.notify();
        Ok(())
    }

    /// Turns one delivery into work: the database's conditional claim
    /// decides, then the entry is acknowledged whatever it said. A
    /// database error leaves the entry pending (it is taken over later).
    async fn settle(
        &self,
        c: &mut MultiplexedConnection,
        stream: &str,
        entry: &StreamId,
        worker: &str,
    ) -> Result<Option<WorkItem>, QueueError> {
        let claimed = match entry.get::<String>("item") {
            Some(id) => dg_store::work::claim_id(&self.db, &id, worker).await?,
            None => None,
        };
        // Acknowledged and deleted: a stream holds only what is still to
        // be delivered or settled, never every run there ever was.
        let mut pipe = ::redis::pipe();
        pipe.cmd("XACK")
            .arg(stream)
            .arg(GROUP)
            .arg(&entry.id)
            .ignore();
        pipe.cmd("XDEL").arg(stream).arg(&entry.id).ignore();
        if let Some(id) = entry.get::<String>("item") {
            pipe.cmd("SREM").arg(held_key()).arg(id).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(c).await {
            // Claimed in the database all the same; the entry comes back
            // to a consumer later, whose claim finds nothing to run.
            tracing::warn!("acknowledging a queue delivery: {e}");
        }
        Ok(claimed)
    }

    /// Moves due retries into their streams and, every
    /// [`RECLAIM_EVERY`], takes over deliveries of dead consumers.
    async fn maintain(
        &self,
        c: &mut MultiplexedConnection,
        worker: &str,
    ) -> Result<(), QueueError> {
        self.promote
            .key(delayed_key())
            .arg(millis(dg_store::now()))
            .invoke_async::<i64>(c)
            .await
            .map_err(|e| self.mark_down(&e))?;
        {
            let mut last = lock(&self.last_reclaim);
            if last.elapsed() < RECLAIM_EVERY.min(self.reclaim_idle) {
                return Ok(());
            }
            *last = Instant::now();
        }
        for stream in all_streams() {
            let reply: StreamAutoClaimReply = match ::redis::cmd("XAUTOCLAIM")
                .arg(&stream)
                .arg(GROUP)
                .arg(worker)
                .arg(self.reclaim_idle.as_millis() as u64)
                .arg("0-0")
                .arg("COUNT")
                .arg(50)
                .query_async(c)
                .await
            {
                Ok(reply) => reply,
                Err(e) if self.lost_group(&e) => return Ok(()),
                Err(e) => return Err(self.mark_down(&e)),
            };
            for entry in &reply.claimed {
                // Queued again as a fresh entry if the database still has
                // it queued; acknowledged either way.
                let Some(id) = entry.get::<String>("item") else {
                    continue;
                };
                let item = dg_store::work::get(&self.db, &id).await?;
                let mut pipe = ::redis::pipe();
                pipe.atomic();
                if item.is_some_and(|i| i.status == WorkStatus::Queued) {
                    tracing::warn!(
                        item = %id,
                        "a node read this queue entry and stopped before claiming it; queued again"
                    );
                    pipe.cmd("XADD")
                        .arg(&stream)
                        .arg("*")
                        .arg("item")
                        .arg(&id)
                        .ignore();
                } else {
                    // Nothing to run: Redis holds it no more.
                    pipe.cmd("SREM").arg(held_key()).arg(&id).ignore();
                }
                pipe.cmd("XACK")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg(&entry.id)
                    .ignore();
                pipe.cmd("XDEL").arg(&stream).arg(&entry.id).ignore();
                pipe.query_async::<()>(c)
                    .await
                    .map_err(|e| self.mark_down(&e))?;
            }
        }
        Ok(())
    }

    /// Hands Redis again every queued item of the database it does not
    /// hold (it restarted without its data, or was down when a retry was
    /// put back); returns how many. Safe to run on every node at once: a
    /// duplicate delivery runs nothing.
    pub async fn reconcile(&self) -> Result<usize, QueueError> {
        self.reconcile_older_than(RECONCILE_GRACE).await
    }

    /// [`RedisQueue::reconcile`] of the items queued more than `grace`
    /// ago (younger ones may be being handed over right now).
    pub async fn reconcile_older_than(&self, grace: Duration) -> Result<usize, QueueError> {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
        let cutoff = dg_store::now() - grace;
        let items: Vec<WorkItem> = dg_store::work::queued(&self.db, 10_000)
            .await?
            .into_iter()
            .filter(|i| i.updated_at <= cutoff)
            .collect();
        if items.is_empty() {
            return Ok(0);
        }
        let mut c = self.conn().await?;
        let mut handed = 0;
        for chunk in items.chunks(500) {
            let ids: Vec<&str> = chunk.iter().map(|i| i.id.as_str()).collect();
            let held: Vec<bool> = ::redis::cmd("SMISMEMBER")
                .arg(held_key())
                .arg(&ids)
                .query_async(&mut c)
                .await
                .map_err(|e| self.mark_down(&e))?;
            for (item, held) in chunk.iter().zip(held) {
                if !held {
                    self.hand_over(item).await?;
                    handed += 1;
                }
            }
        }
        if handed > 0 {
            tracing::warn!(
                "{handed} queued item(s) were missing from Redis (restarted without its data?) \
                 and were handed to it again from the metadata database"
            );
        }
        Ok(handed)
    }

    /// Watches Redis: every second while it is down, every five while up,
    /// and a reconciliation when it comes back and every half minute.
    pub async fn watch(self: std::sync::Arc<Self>) {
        let mut last_reconcile = Instant::now();
        loop {
            let wait = if self.is_up() {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(1)
            };
            tokio::time::sleep(wait).await;
            let was_up = self.is_up();
            if self.probe().await.is_err() {
                continue;
            }
            let came_back = !was_up;
            if came_back || last_reconcile.elapsed() >= Duration::from_secs(30) {
                last_reconcile = Instant::now();
                if let Err(e) = self.reconcile().await {
                    tracing::warn!("comparing the queue with the metadata database: {e}");
                }
            }
        }
    }
}

impl WorkQueue for RedisQueue {
    fn enqueue<'a>(&'a self, item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            self.ensure_up().await?;
            dg_store::work::insert(&self.db, item).await?;
            self.hand_over(item).await
        })
    }

    fn submit<'a>(
        &'a self,
        execution: &'a Execution,
        item: &'a WorkItem,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            // Refused at once while Redis is down: nothing is recorded.
            self.ensure_up().await?;
            dg_store::work::insert_with_execution(&self.db, execution, item).await?;
            if let Err(e) = self.hand_over(item).await {
                // Redis went away between the two: take the rows back, so
                // the caller's 503 is the whole truth — unless a node
                // claimed the item meanwhile (the hand-over reached Redis
                // late, or a reconciliation handed it over): then it was
                // accepted and runs.
                match dg_store::work::delete_with_execution(&self.db, item).await {
                    Ok(true) => return Err(e),
                    Ok(false) => {
                        tracing::warn!(
                            execution = %execution.id,
                            "Redis answered late ({e}), but the run was claimed meanwhile: accepted"
                        );
                    }
                    Err(undo) => {
                        tracing::error!(
                            execution = %execution.id,
                            "removing an execution Redis did not take: {undo}; the queue will \
                             hand it over when Redis is back"
                        );
                        return Err(e);
                    }
                }
            }
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        kind: WorkKind,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Option<WorkItem>, QueueError>> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            self.maintain(&mut c, worker).await?;
            for stream in streams_of(kind) {
                loop {
                    let reply: Option<StreamReadReply> = match ::redis::cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg(GROUP)
                        .arg(worker)
                        .arg("COUNT")
                        .arg(1)
                        .arg("STREAMS")
                        .arg(&stream)
                        .arg(">")
                        .query_async(&mut c)
                        .await
                    {
                        Ok(reply) => reply,
                        // Nothing to read from a group that is gone; the
                        // next claim recreates it, and the reconciliation
                        // hands over what Redis lost.
                        Err(e) if self.lost_group(&e) => return Ok(None),
                        Err(e) => return Err(self.mark_down(&e)),
                    };
                    self.mark_up();
                    let Some(entry) = reply
                        .and_then(|r| r.keys.into_iter().next())
                        .and_then(|k| k.ids.into_iter().next())
                    else {
                        break;
                    };
                    if let Some(item) = self.settle(&mut c, &stream, &entry, worker).await? {
                        return Ok(Some(item));
                    }
                }
            }
            Ok(None)
        })
    }

    fn heartbeat<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        self.rows.heartbeat(id)
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        status: WorkStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        self.rows.finish(id, status, error)
    }

    fn retry_at<'a>(
        &'a self,
        id: &'a str,
        at: DateTime<Utc>,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            dg_store::work::retry_at(&self.db, id, at, error).await?;
            // Queued in the database, which is what counts: a Redis that
            // does not take it now gets it from the reconciliation.
            if let Some(item) = dg_store::work::get(&self.db, id).await? {
                if let Err(e) = self.hand_over(&item).await {
                    tracing::warn!(item = %id, "handing a retry to Redis: {e}; it is handed over when Redis is back");
                }
            }
            Ok(())
        })
    }

    fn cancel_queued<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        // Its delivery, when it comes, finds nothing queued.
        self.rows.cancel_queued(execution_id)
    }

    fn orphaned<'a>(
        &'a self,
        owner: Option<&'a str>,
        stale_before: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<WorkItem>, QueueError>> {
        self.rows.orphaned(owner, stale_before)
    }

    fn wait(&self) -> BoxFuture<'_, ()> {
        self.rows.wait()
    }

    fn publish<'a>(&'a self, item: &'a WorkItem) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move { self.hand_over(item).await })
    }

    fn wake(&self) {
        self.rows.notify();
    }

    fn health(&self) -> QueueHealth {
        let link = lock(&self.link);
        QueueHealth {
            backend: QueueBackend::Redis,
            up: link.up,
            error: link.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        let shown = shown_url("redis://user:s3cret@cache:6379/2");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("cache:6379"), "{shown}");
        assert_eq!(shown_url("not a url"), "the configured Redis URL");
    }

    #[test]
    fn manual_and_scheduled_work_go_to_their_own_streams() {
        assert_eq!(
            stream_key(WorkKind::Backup, PRIORITY_MANUAL),
            "dataguardian:backup-queue:manual"
        );
        assert_eq!(
            stream_key(WorkKind::Restore, super::super::PRIORITY_SCHEDULED),
            "dataguardian:restore-queue:scheduled"
        );
    }
}
