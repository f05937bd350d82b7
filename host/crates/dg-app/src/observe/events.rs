//! The live event bus behind `GET /api/events`: execution state and
//! progress, datasource and storage status, notifications.
//!
//! Every event gets the next id (ids of one process are contiguous; a
//! process starts at its start time in microseconds, so ids keep growing
//! across restarts and an id from an earlier process reads as "older than
//! what is kept"). The last [`CAPACITY`] events are kept for resuming
//! (`Last-Event-ID`); live delivery goes through a tokio broadcast channel
//! of the same capacity, which is the per-client buffer: a client that
//! falls that far behind is told it lagged and is disconnected. Memory is
//! therefore bounded whatever the number or speed of clients.
//!
//! The bus is per process; with several nodes on PostgreSQL each node's
//! events are relayed to the others (`cluster.rs`), so every node serves
//! every node's events, under its own ids.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Events kept for resuming, and the most a client may fall behind.
pub const CAPACITY: usize = 1024;

/// One event as sent: `id:`, `event:` and `data:` (JSON) of an SSE frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub kind: &'static str,
    pub data: String,
}

/// Kinds of events (the SSE `event:` field).
pub mod kind {
    pub const EXECUTION_STATUS: &str = "execution_status";
    pub const EXECUTION_PROGRESS: &str = "execution_progress";
    pub const DATASOURCE_STATUS: &str = "datasource_status";
    pub const STORAGE_STATUS: &str = "storage_status";
    pub const NOTIFICATION: &str = "notification";

    /// The kind named `name`, if it is one.
    pub fn known(name: &str) -> Option<&'static str> {
        [
            EXECUTION_STATUS,
            EXECUTION_PROGRESS,
            DATASOURCE_STATUS,
            STORAGE_STATUS,
            NOTIFICATION,
        ]
        .into_iter()
        .find(|k| *k == name)
    }
}

struct Ring {
    next: u64,
    events: VecDeque<Arc<Event>>,
}

/// A bounded, resumable broadcast of events.
pub struct Bus {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<Event>>,
    capacity: usize,
    closed: CancellationToken,
}

/// Why a resume could not replay everything after the given id.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    /// The id the client asked to resume after.
    pub after: u64,
    /// The oldest id still kept (the replay starts there), if any.
    pub oldest_kept: Option<u64>,
}

/// What a subscriber receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Event(Arc<Event>),
    /// The client fell more than the buffer behind and `missed` events
    /// were dropped for it; the stream ends.
    Lagged {
        missed: u64,
    },
    /// The server is shutting down.
    Closed,
}

/// One client: the replay it asked for, then live events.
pub struct Subscription {
    backlog: VecDeque<Arc<Event>>,
    /// Set when the replay misses events (the id was too old or unknown).
    pub lost: Option<Lost>,
    rx: broadcast::Receiver<Arc<Event>>,
    closed: CancellationToken,
}

/// The bus of this process.
pub fn bus() -> &'static Bus {
    static BUS: LazyLock<Bus> = LazyLock::new(|| Bus::new(CAPACITY, first_id()));
    &BUS
}

/// Publishes on the process's bus; `data` should name the entity
/// (`execution_id`, `datasource_id`...).
pub fn publish(kind: &'static str, data: Value) -> u64 {
    let text = data.to_string();
    super::cluster::relay(kind, &text);
    bus().publish_text(kind, text)
}

fn first_id() -> u64 {
    let micros = chrono::Utc::now().timestamp_micros();
    u64::try_from(micros).unwrap_or(1).max(1)
}

impl Bus {
    /// A bus keeping `capacity` events whose first id is `first`.
    pub fn new(capacity: usize, first: u64) -> Self {
        let capacity = capacity.max(1);
        let (tx, _) = broadcast::channel(capacity);
        Self {
            ring: Mutex::new(Ring {
                next: first,
                events: VecDeque::with_capacity(capacity),
            }),
            tx,
            capacity,
            closed: CancellationToken::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // Every critical section leaves the ring consistent (push, pop,
        // increment), so a poisoned lock is still usable.
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Assigns the next id and delivers the event to every subscriber.
    pub fn publish(&self, kind: &'static str, data: Value) -> u64 {
        self.publish_text(kind, data.to_string())
    }

    /// [`Bus::publish`] of data already serialized (an event relayed from
    /// another node).
    pub fn publish_text(&self, kind: &'static str, data: String) -> u64 {
        let mut ring = self.lock();
        let id = ring.next;
        ring.next += 1;
        let event = Arc::new(Event { id, kind, data });
        if ring.events.len() == self.capacity {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        // Sent under the lock, so a subscription (taken under it too) sees
        // each event exactly once: in its replay or live. No receiver is
        // not an error.
        let _ = self.tx.send(event);
        id
    }

    /// Subscribes; with `after`, first replays the kept events after it.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let ring = self.lock();
        let rx = self.tx.subscribe();
        let mut lost = None;
        let backlog = match after {
            None => VecDeque::new(),
            Some(after) => {
                let oldest = ring.events.front().map(|e| e.id);
                let newest = ring.next.checked_sub(1);
                let too_old = oldest.is_some_and(|o| after.saturating_add(1) < o)
                    || (oldest.is_none() && after.saturating_add(1) < ring.next);
                let unknown = newest.is_none_or(|n| after > n);
                if too_old || unknown {
                    lost = Some(Lost {
                        after,
                        oldest_kept: oldest,
                    });
                }
                if unknown {
                    ring.events.iter().cloned().collect()
                } else {
                    ring.events
                        .iter()
                        .filter(|e| e.id > after)
                        .cloned()
                        .collect()
                }
            }
        };
        Subscription {
            backlog,
            lost,
            rx,
            closed: self.closed.clone(),
        }
    }

    /// Clients connected now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> u64 {
        self.lock().next
    }

    /// Ends every subscription (server shutdown: open streams would
    /// otherwise keep the HTTP server from stopping).
    pub fn close(&self) {
        self.closed.cancel();
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.lock().events.len()
    }
}

impl Subscription {
    /// The next event: the replay first, then live ones.
    pub async fn next(&mut self) -> Next {
        if let Some(e) = self.backlog.pop_front() {
            return Next::Event(e);
        }
        tokio::select! {
            biased;
            _ = self.closed.cancelled() => Next::Closed,
            r = self.rx.recv() => match r {
                Ok(e) => Next::Event(e),
                Err(broadcast::error::RecvError::Lagged(missed)) => Next::Lagged { missed },
                Err(broadcast::error::RecvError::Closed) => Next::Closed,
            },
        }
    }

    /// Events waiting for this client: the replay plus live ones not
    /// yet read (for a lagging client this counts the dropped ones too).
    pub fn pending(&self) -> usize {
        self.backlog.len() + self.rx.len()
    }
}

/// Executions whose progress is being published, and whether they have
/// ended: a progress event must never follow the final status event (the
/// backup worker applies retention after recording completion).
static PROGRESS: LazyLock<Mutex<HashMap<String, bool>>> = LazyLock::new(Mutex::default);

fn progress_lock() -> MutexGuard<'static, HashMap<String, bool>> {
    // Only single inserts and removals happen under it.
    PROGRESS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lets one execution's progress events through until it ends.
pub struct ProgressGate {
    id: String,
}

impl ProgressGate {
    pub fn open(execution_id: &str) -> Self {
        progress_lock().insert(execution_id.to_string(), false);
        Self {
            id: execution_id.to_string(),
        }
    }

    /// Publishes a progress event unless the execution has ended.
    pub fn publish(&self, data: Value) {
        let gates = progress_lock();
        if gates.get(&self.id) == Some(&false) {
            publish(kind::EXECUTION_PROGRESS, data);
        }
    }
}

impl Drop for ProgressGate {
    fn drop(&mut self) {
        progress_lock().remove(&self.id);
    }
}

/// An execution changed status (`queued|running|completed|failed|cancelled`):
/// published by the store functions that change it, after the change.
pub fn execution_status(e: &dg_store::rows::Execution) {
    let ended = e.status.is_final();
    // Held while publishing, so no progress event can slip in after.
    let mut gates = progress_lock();
    if ended {
        if let Some(flag) = gates.get_mut(&e.id) {
            *flag = true;
        }
    }
    publish(
        kind::EXECUTION_STATUS,
        serde_json::json!({
            "execution_id": e.id,
            "status": e.status,
            "operation": e.operation,
            "trigger_type": e.trigger_type,
            "job_id": e.job_id,
            "datasource_id": e.datasource_id,
            "storage_location_id": e.storage_location_id,
            "source_execution_id": e.source_execution_id,
            "started_at": e.started_at,
            "finished_at": e.finished_at,
            "duration_seconds": e.duration_seconds,
            "size_bytes": e.size_bytes,
            "compressed_size_bytes": e.compressed_size_bytes,
            "error_message": e.error_message,
        }),
    );
    drop(gates);
}

/// A notification row was written (`store::notifications::insert`).
pub fn notification(n: &dg_store::rows::Notification) {
    publish(
        kind::NOTIFICATION,
        serde_json::json!({
            "notification_id": n.id,
            "type": n.kind,
            "severity": n.severity,
            "entity_type": n.entity_type,
            "entity_id": n.entity_id,
            "title": n.title,
            "message": n.message,
            "created_at": n.created_at,
        }),
    );
}

/// The store's event sink: publishes what the store writes on this bus.
/// Installed on the database handle when it is opened
/// (`Db::with_events`), so every execution status change and
/// notification goes live whoever wrote it.
pub struct StoreEvents;

impl dg_store::events::EventSink for StoreEvents {
    fn execution_status(&self, e: &dg_store::rows::Execution) {
        execution_status(e);
    }

    fn notification(&self, n: &dg_store::rows::Notification) {
        notification(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(events: &[Next]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|n| match n {
                Next::Event(e) => Some(e.id),
                _ => None,
            })
            .collect()
    }

    async fn take(sub: &mut Subscription, n: usize) -> Vec<Next> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(sub.next().await);
        }
        out
    }

    #[tokio::test]
    async fn ids_are_contiguous_and_live_events_follow_the_replay() {
        let bus = Bus::new(8, 100);
        for i in 0..3 {
            assert_eq!(bus.publish("x", json!({ "i": i })), 100 + i);
        }
        let mut sub = bus.subscribe(Some(100));
        assert_eq!(sub.lost, None);
        bus.publish("x", json!({}));
        let got = take(&mut sub, 3).await;
        assert_eq!(ids(&got), vec![101, 102, 103]);
        // A subscriber without an id gets live events only.
        let mut live = bus.subscribe(None);
        bus.publish("x", json!({}));
        assert_eq!(ids(&take(&mut live, 1).await), vec![104]);
        assert_eq!(ids(&take(&mut sub, 1).await), vec![104]);
    }

    #[tokio::test]
    async fn resuming_from_an_evicted_id_reports_the_loss() {
        let bus = Bus::new(4, 1);
        for _ in 0..10 {
            bus.publish("x", json!({}));
        }
        assert_eq!(bus.kept(), 4, "the ring never grows past its capacity");
        let mut sub = bus.subscribe(Some(2));
        assert_eq!(
            sub.lost,
            Some(Lost {
                after: 2,
                oldest_kept: Some(7)
            })
        );
        assert_eq!(ids(&take(&mut sub, 4).await), vec![7, 8, 9, 10]);
        // The newest id: nothing to replay, nothing lost.
        let sub = bus.subscribe(Some(10));
        assert_eq!((sub.lost.clone(), sub.pending()), (None, 0));
        // The id just before the oldest kept: nothing lost either.
        let sub = bus.subscribe(Some(6));
        assert_eq!((sub.lost.clone(), sub.pending()), (None, 4));
        // An id this bus never gave (a later process's): lost, replay all.
        let sub = bus.subscribe(Some(50));
        assert!(sub.lost.is_some());
        assert_eq!(sub.pending(), 4);
    }

    #[tokio::test]
    async fn a_slow_client_is_cut_off_not_buffered() {
        let bus = Bus::new(16, 1);
        let mut slow = bus.subscribe(None);
        for _ in 0..1000 {
            bus.publish("x", json!({ "pad": "x".repeat(100) }));
            // What the channel holds for clients: never more than its
            // capacity, however far behind the slow one is.
            assert!(bus.tx.len() <= 16, "per-client buffer bounded");
        }
        assert_eq!(bus.kept(), 16);
        assert_eq!(slow.next().await, Next::Lagged { missed: 1000 - 16 });
        // A fast client at the same time received everything in order.
        let mut fast = bus.subscribe(None);
        let mut seen = Vec::new();
        for _ in 0..100 {
            bus.publish("x", json!({}));
            if let Next::Event(e) = fast.next().await {
                seen.push(e.id);
            }
        }
        assert_eq!(seen, (1001..1101).collect::<Vec<_>>());
    }

    #[test]
    fn no_progress_after_the_final_status() {
        use dg_core::domain::{ExecutionStatus, Operation, Trigger};
        let mut row = dg_store::executions::queued(Operation::Backup, Trigger::Manual);
        row.status = ExecutionStatus::Running;
        let gate = ProgressGate::open(&row.id);
        let mut sub = bus().subscribe(None);
        gate.publish(json!({ "execution_id": row.id }));
        row.status = ExecutionStatus::Completed;
        execution_status(&row);
        gate.publish(json!({ "execution_id": row.id }));
        let mut kinds = Vec::new();
        while let Ok(e) = sub.rx.try_recv() {
            if e.data.contains(&row.id) {
                kinds.push(e.kind);
            }
        }
        assert_eq!(kinds, [kind::EXECUTION_PROGRESS, kind::EXECUTION_STATUS]);
        drop(gate);
        assert!(!progress_lock().contains_key(&row.id));
    }

    #[tokio::test]
    async fn close_ends_subscriptions() {
        let bus = Bus::new(4, 1);
        let mut sub = bus.subscribe(None);
        bus.close();
        assert_eq!(sub.next().await, Next::Closed);
    }
}
