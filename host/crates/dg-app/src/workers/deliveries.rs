//! Sends queued notification deliveries: five at a time (seed 000's
//! notification queue), three attempts, waits doubling from the retry
//! base (60 s by default). Each attempt renders the template's active
//! version, records what it sent, then how it went.

use crate::notify::{self, send, templates};
use crate::state::AppState;
use dg_store::deliveries;
use dg_store::rows::Delivery;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Deliveries being sent at once on this node.
pub const CONCURRENCY: usize = 5;
/// Attempts before a delivery is failed for good.
pub const ATTEMPTS: i64 = 3;
/// How often the queue is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Works the delivery queue until the process ends.
pub async fn run(state: AppState, wake: Arc<Notify>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let lease = chrono::Duration::from_std(state.config.delivery_lease)
        .unwrap_or(chrono::Duration::minutes(5));
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let due = match deliveries::claim_due(&state.db, free as i64, lease).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("notification deliveries: {e}");
                continue;
            }
        };
        for delivery in due {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                attempt(&state, &delivery).await;
                drop(permit);
            });
        }
    }
}

/// One attempt at one delivery, settled whatever happens.
async fn attempt(state: &AppState, d: &Delivery) {
    let outcome = send_once(state, d).await;
    let settled = match outcome {
        Ok(()) => {
            tracing::info!(delivery = %d.id, channel = %d.channel_id, "notification delivered");
            Ok(())
        }
        Err(Failure { reason, transient }) => {
            let retry_at = (transient && d.attempts < ATTEMPTS).then(|| {
                let wait =
                    state.config.notification_retry_base * 2u32.pow((d.attempts - 1).max(0) as u32);
                dg_store::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
            });
            match retry_at {
                Some(at) => tracing::warn!(delivery = %d.id, channel = %d.channel_id,
                    attempt = d.attempts, "notification not delivered, retrying at {at}: {reason}"),
                None => tracing::error!(delivery = %d.id, channel = %d.channel_id,
                    attempt = d.attempts, "notification failed: {reason}"),
            }
            // Say whether another attempt comes: "attempt 1 of 3" on a
            // failure that is final reads as if two more were on the way.
            let text = match (&retry_at, transient) {
                (Some(_), _) => format!("attempt {} of {ATTEMPTS}: {reason}", d.attempts),
                (None, true) => format!("failed after {} attempts: {reason}", d.attempts),
                (None, false) => format!("failed (not retried: a permanent refusal): {reason}"),
            };
            Err((text, retry_at))
        }
    };
    if let Err(e) = deliveries::settle(&state.db, &d.id, settled).await {
        tracing::error!(delivery = %d.id, "recording a delivery attempt: {e}");
    }
}

/// Why an attempt did not deliver.
struct Failure {
    reason: String,
    transient: bool,
}

impl Failure {
    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            transient: false,
        }
    }
}

async fn send_once(state: &AppState, d: &Delivery) -> Result<(), Failure> {
    let db = &state.db;
    let transient = |e: dg_store::StoreError| Failure {
        reason: e.to_string(),
        transient: true,
    };
    let channel = dg_store::channels::get(db, &d.channel_id)
        .await
        .map_err(transient)?
        .ok_or_else(|| Failure::permanent("the channel was deleted"))?;
    let n = dg_store::notifications::get(db, &d.notification_id)
        .await
        .map_err(transient)?
        .ok_or_else(|| Failure::permanent("the notification was deleted"))?;
    let context = notify::context::for_notification(
        db,
        &n,
        &state.node_id,
        state.config.public_url.as_deref(),
    )
    .await
    .map_err(transient)?;
    let (_, version) = notify::active_template(db, &channel.kind, n.kind)
        .await
        .map_err(transient)?;
    let message = templates::render(version.subject.as_deref(), &version.body, &context)
        .await
        .map_err(|e| Failure {
            // The renderer not starting is the node's trouble, not the
            // template's: another attempt may work.
            transient: matches!(e, templates::RenderError::Renderer(_)),
            reason: format!("template v{}: {e}", version.version),
        })?;
    deliveries::set_message(db, &d.id, &message.subject, &message.body, version.version)
        .await
        .map_err(transient)?;
    send::send(
        state,
        &channel,
        n.kind.as_str(),
        n.severity,
        &message,
        &context["fields"],
        Some(&send::DeliveryIds {
            delivery: d.id.clone(),
            notification: d.notification_id.clone(),
        }),
    )
    .await
    .map_err(|e| Failure {
        transient: e.is_transient(),
        reason: e.reason(),
    })
}
