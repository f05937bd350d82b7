//! The scheduler tick: queues each due job once and moves its next run
//! forward. One node runs it at a time (lease); the conditional update in
//! `jobs::advance_and_enqueue` makes double queuing impossible even so.

use crate::queue::{self, PRIORITY_SCHEDULED};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use dg_core::domain::{Operation, Trigger, WorkKind};
use dg_core::schedule::Schedule;
use dg_store::rows::BackupJob;
use dg_store::{executions, jobs, notifications, StoreError};

/// Queues every job due at `now`; returns the execution ids queued. A job
/// whose runs were missed (server down) runs once, and its next run is
/// computed from `now`, not from the missed time.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
    let mut queued = Vec::new();
    for job in jobs::due(&state.db, now).await? {
        let Some(seen) = job.next_execution_at else {
            continue;
        };
        let next = match Schedule::parse(&job.schedule_cron, &job.schedule_timezone) {
            Ok(s) => s.next_after(now),
            Err(e) => {
                tracing::error!(job = %job.id, "unschedulable job: {e}");
                None
            }
        };
        if let Some(active) = executions::active_backup(&state.db, &job.id).await? {
            // One job's bookkeeping failing must not stop the others.
            if let Err(e) = skip_overlapping(state, &job, seen, next, &active).await {
                tracing::error!(job = %job.id, "skipping an overlapping run: {e}");
            }
            continue;
        }
        let mut execution = executions::queued(Operation::Backup, Trigger::Scheduled);
        execution.job_id = Some(job.id.clone());
        execution.datasource_id = Some(job.datasource_id.clone());
        execution.storage_location_id = Some(job.storage_location_id.clone());
        // The due time this run is for: one run per job and due time,
        // whichever leader queues it (a unique index).
        execution.scheduled_for = Some(seen);
        let item = queue::item(WorkKind::Backup, &execution.id, PRIORITY_SCHEDULED);
        if jobs::advance_and_enqueue(&state.db, &job.id, seen, next, &execution, &item).await? {
            tracing::info!(job = %job.id, execution = %execution.id, due = %seen, "scheduled backup queued");
            // Recorded; a queue that does not take it now gets it from
            // its reconciliation with the database.
            if let Err(e) = state.queue.publish(&item).await {
                tracing::warn!(execution = %execution.id, "handing a scheduled run to the queue: {e}");
            }
            queued.push(execution.id);
        }
    }
    Ok(queued)
}

/// A run that falls due while the previous one is still queued or running
/// is not queued (two dumps of one database at once help nobody, and a
/// slow backup would pile up runs behind it): the job moves to its next
/// run, and the skip is logged and notified.
async fn skip_overlapping(
    state: &AppState,
    job: &BackupJob,
    seen: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    active: &str,
) -> Result<(), StoreError> {
    if !jobs::advance_only(&state.db, &job.id, seen, next).await? {
        return Ok(());
    }
    tracing::warn!(job = %job.id, %active, "scheduled backup skipped: the previous run is still active");
    notifications::insert(
        &state.db,
        notifications::NewNotification {
            kind: dg_core::domain::NotificationKind::BackupSkipped,
            severity: dg_core::domain::Severity::Warning,
            entity_type: Some(dg_core::domain::EntityType::BackupJob),
            entity_id: Some(&job.id),
            title: format!("Scheduled backup skipped: {}", job.name),
            message: format!(
                "the run due at {seen} was not queued: execution {active} of this job is still \
                 queued or running"
            ),
            metadata: serde_json::json!({
                "due_at": seen,
                "active_execution_id": active,
                "next_execution_at": next,
            }),
        },
    )
    .await?;
    Ok(())
}

/// The name of the lease the leader holds.
pub const LEASE: &str = "scheduler";

/// The scheduler loop. Every node runs it; the node holding the lease
/// (the leader) ticks. The lease lasts three ticks: a leader that dies is
/// replaced within that, and the new one queues what fell due meanwhile
/// once (missed runs run once).
pub async fn run(state: AppState) {
    let ttl = chrono::Duration::from_std(state.config.scheduler_tick * 3)
        .unwrap_or_else(|_| chrono::Duration::minutes(3));
    let mut leading = false;
    let mut paused = false;
    loop {
        match dg_store::leases::acquire(&state.db, LEASE, &state.node_id, ttl).await {
            Ok(true) => {
                if !leading {
                    tracing::info!("this node leads the scheduler now");
                    leading = true;
                }
                let queue = state.queue.health();
                if !queue.up {
                    // Nothing is queued while the queue is down; what falls
                    // due meanwhile is queued once when it is back.
                    if !paused {
                        tracing::warn!(
                            "scheduling paused: the queue is down ({})",
                            queue.error.unwrap_or_default()
                        );
                        paused = true;
                    }
                } else {
                    if paused {
                        tracing::info!("scheduling resumed: the queue is back");
                        paused = false;
                    }
                    if let Err(e) = tick(&state, dg_store::now()).await {
                        tracing::error!("scheduler tick: {e}");
                    }
                }
            }
            Ok(false) => {
                if leading {
                    tracing::info!("another node leads the scheduler now");
                    leading = false;
                }
            }
            Err(e) => tracing::error!("scheduler lease: {e}"),
        }
        tokio::time::sleep(state.config.scheduler_tick).await;
    }
}
