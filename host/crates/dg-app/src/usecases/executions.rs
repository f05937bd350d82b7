//! Executions: run a job now, retry-upload (queue a copy), cancel, delete,
//! mark restored. Each records who asked in the execution's log.

use super::{Actor, UseCaseError};
use crate::state::AppState;
use crate::workers::cleanup;
use dg_core::domain::{
    EntityType, ExecutionStatus, LogLevel, NotificationKind, Operation, Severity, Trigger,
};
use dg_store::rows::Execution;
use dg_store::{executions, StoreError};
use serde_json::json;

/// The execution `id`, or not found.
pub async fn load(state: &AppState, id: &str) -> Result<Execution, UseCaseError> {
    executions::get(&state.db, id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("execution", id))
}

/// `execution` when it is a completed backup, else a conflict saying what
/// it is.
pub fn require_completed_backup(execution: &Execution) -> Result<(), UseCaseError> {
    if execution.operation != Operation::Backup {
        return Err(UseCaseError::Conflict(format!(
            "execution `{}` is a {}, not a backup",
            execution.id, execution.operation
        )));
    }
    if execution.status != ExecutionStatus::Completed {
        return Err(UseCaseError::Conflict(format!(
            "backup `{}` has not completed (status {})",
            execution.id, execution.status
        )));
    }
    Ok(())
}

/// Records a queued execution and its work item in one step, ahead of
/// scheduled work: if the queue refuses, nothing is recorded (never an
/// execution left `queued` with nothing to run it). The log says who
/// asked.
pub async fn submit(
    state: &AppState,
    actor: &Actor,
    execution: &Execution,
) -> Result<(), UseCaseError> {
    let kind = execution.operation.work_kind();
    let item = crate::queue::item(kind, &execution.id, crate::queue::PRIORITY_MANUAL);
    state
        .queue
        .submit(execution, &item)
        .await
        .map_err(|e| match e {
            crate::queue::QueueError::Store(StoreError::Conflict { what, .. }) => {
                UseCaseError::Conflict(format!(
                    "{what} is already queued or running; wait for it or cancel it"
                ))
            }
            crate::queue::QueueError::Unavailable(why) => {
                tracing::error!("queueing {kind} {}: {why}", execution.id);
                UseCaseError::QueueUnavailable(why)
            }
            other => {
                tracing::error!("queueing {kind} {}: {other}", execution.id);
                UseCaseError::QueueUnavailable(other.to_string())
            }
        })?;
    note(
        state,
        &execution.id,
        format!("{} queued by {actor}", execution.operation),
    )
    .await;
    Ok(())
}

/// A backup of `job_id` now, ahead of scheduled ones. A job runs one
/// backup at a time: a conflict naming the active one otherwise.
pub async fn run_job(
    state: &AppState,
    actor: &Actor,
    job_id: &str,
) -> Result<Execution, UseCaseError> {
    let job = dg_store::jobs::get(&state.db, job_id)
        .await?
        .ok_or_else(|| UseCaseError::not_found("backup job", job_id))?;
    if let Some(active) = executions::active_backup(&state.db, &job.id).await? {
        return Err(UseCaseError::Conflict(format!(
            "job `{}` already has a backup queued or running (execution {active}); wait for \
             it or cancel it",
            job.name
        )));
    }
    let mut execution = executions::queued(Operation::Backup, Trigger::Manual);
    execution.job_id = Some(job.id.clone());
    execution.datasource_id = Some(job.datasource_id.clone());
    execution.storage_location_id = Some(job.storage_location_id.clone());
    submit(state, actor, &execution).await?;
    Ok(execution)
}

/// Queues a copy (operation `copy`) of completed backup `id` to each
/// storage of its job that does not hold it whole. One copy of a backup
/// at a time.
pub async fn retry_upload(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Execution, UseCaseError> {
    let backup = load(state, id).await?;
    require_completed_backup(&backup)?;
    if backup.backup_path.is_none() {
        return Err(UseCaseError::Conflict(
            "the backup has no stored path".into(),
        ));
    }
    if let Some(active) = executions::active_copy(&state.db, id).await? {
        return Err(UseCaseError::Conflict(format!(
            "a copy of this backup is already queued or running (execution {active}); wait \
             for it or cancel it"
        )));
    }
    let mut execution = executions::queued(Operation::Copy, Trigger::Manual);
    execution.source_execution_id = Some(backup.id.clone());
    execution.job_id = backup.job_id.clone();
    execution.datasource_id = backup.datasource_id.clone();
    submit(state, actor, &execution).await?;
    Ok(execution)
}

/// Cancels a queued or running execution. The request is recorded on the
/// execution, so it reaches the node running it whichever node took it:
/// that node's runner sees it within a second, stops, removes what it had
/// written and ends it `cancelled`. A queued one is taken off the queue
/// and ended here.
pub async fn cancel(state: &AppState, actor: &Actor, id: &str) -> Result<Execution, UseCaseError> {
    load(state, id).await?;
    let Some(status) = executions::request_cancel(&state.db, id).await? else {
        let ended = load(state, id).await?;
        return Err(UseCaseError::Conflict(format!(
            "execution `{id}` is {}; only queued or running executions can be cancelled",
            ended.status
        )));
    };
    note(state, id, format!("cancel requested by {actor}")).await;
    // Claimed meanwhile: the runner sees the request when it starts.
    if status == ExecutionStatus::Queued
        && state
            .queue
            .cancel_queued(id)
            .await
            .map_err(|e| UseCaseError::QueueUnavailable(e.to_string()))?
    {
        executions::finish(
            &state.db,
            id,
            ExecutionStatus::Cancelled,
            Some("cancelled by request"),
            None,
        )
        .await?;
    }
    // Running here: no need to wait for the runner's next look.
    if let Some(run) = state.running.get(id) {
        run.cancel.cancel();
    }
    load(state, id).await
}

/// Deletes a finished execution; a backup's files go from every storage
/// first. Refused while the execution runs or a restore or copy reads it.
pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<(), UseCaseError> {
    let execution = load(state, id).await?;
    if !execution.status.is_final() {
        return Err(UseCaseError::Conflict(
            "cancel the execution before deleting it".into(),
        ));
    }
    let readers = executions::restores_reading(&state.db, id).await?;
    if readers > 0 {
        return Err(UseCaseError::Conflict(format!(
            "{readers} restore(s) or copies of this backup are queued or running; wait for them \
             or cancel them"
        )));
    }
    tracing::info!(execution = %id, "deleted by {actor}");
    cleanup::delete_backup(state, id)
        .await
        .map_err(UseCaseError::Upstream)
}

/// What a manual restore (seed 004, step 7) records.
pub struct ManualRestore {
    pub restored_at: chrono::DateTime<chrono::Utc>,
    pub restored_by: Option<String>,
    pub reason: Option<String>,
}

/// Records that completed backup `id` was restored by hand, with a
/// `restore_completed` notification.
pub async fn mark_restored(
    state: &AppState,
    actor: &Actor,
    id: &str,
    restore: ManualRestore,
) -> Result<Execution, UseCaseError> {
    let execution = load(state, id).await?;
    require_completed_backup(&execution)?;
    let at = restore.restored_at;
    let note_json = json!({
        "restored_at": at,
        "restored_by": restore.restored_by,
        "reason": restore.reason,
        "recorded_by": actor.to_string(),
    });
    executions::set_restored(&state.db, id, at, &note_json).await?;
    dg_store::notifications::insert(
        &state.db,
        dg_store::notifications::NewNotification {
            kind: NotificationKind::RestoreCompleted,
            severity: Severity::Info,
            entity_type: Some(EntityType::BackupExecution),
            entity_id: Some(id),
            title: "Backup restored manually".into(),
            message: format!(
                "restored by {} at {}{}",
                restore.restored_by.as_deref().unwrap_or("an operator"),
                at.to_rfc3339(),
                restore
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            metadata: note_json,
        },
    )
    .await?;
    load(state, id).await
}

/// One line in the execution's log; a failure to write it is logged, not
/// fatal (the operation itself happened).
async fn note(state: &AppState, id: &str, line: String) {
    if let Err(e) =
        executions::append_logs(&state.db, id, &[(dg_store::now(), LogLevel::Info, line)]).await
    {
        tracing::warn!(execution = %id, "writing to the execution's log: {e}");
    }
}
