//! Live events across nodes: each node's events are relayed to the
//! others over PostgreSQL `LISTEN`/`NOTIFY` on the metadata database they
//! share, so `GET /api/events` on any node shows the work of every node
//! (a backup running on one, watched through another's API). A queued
//! execution announced by another node also wakes this node's idle
//! consumers, so work queued anywhere starts without waiting for a poll.
//!
//! Only with a PostgreSQL metadata database (a SQLite store serves one
//! node). Notifications are transient: an event sent while a node's
//! listening connection is being re-established is not replayed there
//! (the UI reloads what it shows when its stream reconnects). A payload
//! over PostgreSQL's 8000-byte limit is not relayed, and says so in the
//! log.

use super::events;
use crate::queue::WorkQueue;
use dg_store::{Db, Pool};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

const CHANNEL: &str = "dataguardian_events";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// Events waiting to be relayed; beyond this they are dropped (the log
/// says how many), never buffered without bound.
const BACKLOG: usize = 4096;

/// Events this node could not relay because the relay was behind.
static DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Serialize, Deserialize)]
struct Relayed {
    node: String,
    kind: String,
    data: String,
}

static OUTBOX: OnceLock<(String, mpsc::Sender<(&'static str, String)>)> = OnceLock::new();

/// Sends an event this node published to the other nodes (a no-op until
/// [`start`] ran, and with a SQLite store).
pub(super) fn relay(kind: &'static str, data: &str) {
    let Some((_, tx)) = OUTBOX.get() else {
        return;
    };
    if tx.try_send((kind, data.to_string())).is_err() {
        let n = DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        // The first, then every thousandth: a stuck relay is seen, not
        // logged per event.
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                "{n} event(s) not relayed to the other nodes so far: the relay is behind \
                 (the metadata database is slow or down)"
            );
        }
    }
}

/// Starts relaying this node's events and listening to the others'.
pub fn start(db: &Db, node_id: &str, queue: Arc<dyn WorkQueue>) {
    let Pool::Postgres(pool) = db.pool() else {
        return;
    };
    let (tx, rx) = mpsc::channel(BACKLOG);
    if OUTBOX.set((node_id.to_string(), tx)).is_err() {
        // Started already in this process (tests run several servers).
        return;
    }
    tokio::spawn(send_loop(pool.clone(), node_id.to_string(), rx));
    tokio::spawn(listen_loop(pool.clone(), node_id.to_string(), queue));
}

async fn send_loop(
    pool: sqlx::PgPool,
    node: String,
    mut rx: mpsc::Receiver<(&'static str, String)>,
) {
    while let Some((kind, data)) = rx.recv().await {
        let payload = match serde_json::to_string(&Relayed {
            node: node.clone(),
            kind: kind.to_string(),
            data,
        }) {
            Ok(p) => p,
            Err(_) => continue,
        };
        if payload.len() > MAX_PAYLOAD {
            tracing::warn!(
                "a {kind} event of {} bytes is over PostgreSQL's notification limit and was not \
                 relayed to the other nodes",
                payload.len()
            );
            continue;
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&pool)
            .await
        {
            tracing::warn!("relaying a {kind} event to the other nodes: {e}");
        }
    }
}

async fn listen_loop(pool: sqlx::PgPool, node: String, queue: Arc<dyn WorkQueue>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("listening for other nodes' events: {e}; retrying in 5s");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!("listening for other nodes' events: {e}; retrying in 5s");
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => receive(n.payload(), &node, queue.as_ref()),
                Err(e) => {
                    // recv reconnects by itself on the next call.
                    tracing::warn!("other nodes' events: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Publishes another node's event on this node's bus (not relayed again).
fn receive(payload: &str, own: &str, queue: &dyn WorkQueue) {
    let Ok(event) = serde_json::from_str::<Relayed>(payload) else {
        return;
    };
    if event.node == own {
        return;
    }
    let Some(kind) = events::kind::known(&event.kind) else {
        return;
    };
    if kind == events::kind::EXECUTION_STATUS && announces_queued_work(&event.data) {
        queue.wake();
    }
    events::bus().publish_text(kind, event.data);
}

/// Whether an `execution_status` event's data says an execution was
/// queued (work another node's consumers may take).
fn announces_queued_work(data: &str) -> bool {
    #[derive(Deserialize)]
    struct Status {
        status: dg_core::domain::ExecutionStatus,
    }
    serde_json::from_str::<Status>(data)
        .is_ok_and(|s| s.status == dg_core::domain::ExecutionStatus::Queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_queued_status_wakes_the_consumers() {
        assert!(announces_queued_work(
            r#"{"execution_id": "e1", "status": "queued", "error_message": null}"#
        ));
        assert!(!announces_queued_work(
            r#"{"execution_id": "e1", "status": "failed", "error_message": "\"status\":\"queued\""}"#
        ));
        assert!(!announces_queued_work("not json"));
    }
}
