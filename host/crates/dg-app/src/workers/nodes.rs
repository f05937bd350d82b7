//! This node's line in `nodes`: written every [`BEAT`] so every node's
//! API can list the cluster (`GET /api/system/nodes`), removed on a clean
//! stop. A node that was killed stays listed, its `last_seen_at` telling
//! since when it is gone, for a day.

use crate::state::AppState;
use chrono::{DateTime, Utc};
use dg_store::StoreError;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How often a node reports itself.
pub const BEAT: Duration = Duration::from_secs(5);

/// Nodes not seen for this long are no longer listed.
const LISTED_FOR_HOURS: i64 = 24;

/// Reports this node now.
pub async fn beat(state: &AppState) -> Result<(), StoreError> {
    dg_store::nodes::beat(
        &state.db,
        &state.node_id,
        &crate::hostname(),
        env!("CARGO_PKG_VERSION"),
        state.started_at,
        state.running.count() as i64,
    )
    .await
}

/// Reports this node every [`BEAT`], forever.
pub async fn run(state: AppState) {
    loop {
        if let Err(e) = beat(&state).await {
            tracing::warn!("reporting this node in the node list: {e}");
        }
        tokio::time::sleep(BEAT).await;
    }
}

/// Takes this node off the list (a clean stop), with nodes gone for long.
pub async fn leave(state: &AppState) {
    let gone = dg_store::now() - chrono::Duration::hours(LISTED_FOR_HOURS);
    if let Err(e) = dg_store::nodes::remove(&state.db, &state.node_id, gone).await {
        tracing::warn!("leaving the node list: {e}");
    }
}

/// One node of the cluster, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeView {
    /// The node's id (host name and an id kept in its data dir).
    pub id: String,
    pub hostname: String,
    /// Whether it holds the scheduler lease now.
    pub leader: bool,
    /// Whether it is the node that answered this request.
    #[serde(rename = "self")]
    pub is_self: bool,
    pub last_seen_at: DateTime<Utc>,
    /// Executions it was running when it last reported.
    pub running: i64,
}

/// Every node seen in the last day. What this node says of itself is
/// current (now, what it runs now), not up to [`BEAT`] old, without a
/// write per request.
pub async fn list(state: &AppState) -> Result<Vec<NodeView>, StoreError> {
    let now = dg_store::now();
    let since = now - chrono::Duration::hours(LISTED_FOR_HOURS);
    let leader = dg_store::leases::lease_holder(&state.db, super::scheduler::LEASE).await?;
    Ok(dg_store::nodes::seen_since(&state.db, since)
        .await?
        .into_iter()
        .map(|n| {
            let is_self = n.id == *state.node_id;
            NodeView {
                leader: leader.as_deref() == Some(n.id.as_str()),
                is_self,
                id: n.id,
                hostname: n.hostname,
                last_seen_at: if is_self { now } else { n.last_seen_at },
                running: if is_self {
                    state.running.count() as i64
                } else {
                    n.running
                },
            }
        })
        .collect())
}
