//! The scheduler tick: queues each due job once and moves its next run
//! forward. One node runs it at a time (lease); the conditional update in
//! `jobs::advance_and_enqueue` makes double queuing impossible even so.

use crate::queue::{self, KIND_BACKUP, PRIORITY_SCHEDULED};
use crate::schedule::Schedule;
use crate::server::state::AppState;
use crate::store::{self, executions, jobs, StoreError};
use chrono::{DateTime, Utc};

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
        let mut execution = executions::queued("backup", "scheduled");
        execution.job_id = Some(job.id.clone());
        execution.datasource_id = Some(job.datasource_id.clone());
        execution.storage_location_id = Some(job.storage_location_id.clone());
        let item = queue::item(KIND_BACKUP, &execution.id, PRIORITY_SCHEDULED);
        if jobs::advance_and_enqueue(&state.db, &job.id, seen, next, &execution, &item).await? {
            tracing::info!(job = %job.id, execution = %execution.id, "scheduled backup queued");
            queued.push(execution.id);
        }
    }
    Ok(queued)
}

/// The scheduler loop.
pub async fn run(state: AppState, wake: impl Fn() + Send + 'static) {
    let ttl = chrono::Duration::from_std(state.config.scheduler_tick * 3)
        .unwrap_or_else(|_| chrono::Duration::minutes(3));
    loop {
        match store::leases::acquire(&state.db, "scheduler", &state.node_id, ttl).await {
            Ok(true) => match tick(&state, store::now()).await {
                Ok(ids) if !ids.is_empty() => wake(),
                Ok(_) => {}
                Err(e) => tracing::error!("scheduler tick: {e}"),
            },
            Ok(false) => tracing::debug!("another node holds the scheduler lease"),
            Err(e) => tracing::error!("scheduler lease: {e}"),
        }
        tokio::time::sleep(state.config.scheduler_tick).await;
    }
}
