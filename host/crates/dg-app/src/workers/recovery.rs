//! Work a dead process left `running`: its executions end `failed` with
//! the reason, the files they were writing are removed, and the job runs
//! again at its next scheduled time.

use super::backup::discard_partial;
use super::logger::ExecutionLogger;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use dg_core::domain::{
    EntityType, ExecutionStatus, NotificationKind, Severity, WorkKind, WorkStatus,
};
use dg_store::executions;

/// Drops the database an interrupted restore or verification had created
/// (recorded before it was created): what was half-restored into it is
/// not kept, as the execution's message says.
async fn drop_created_database(state: &AppState, execution_id: &str, log: &ExecutionLogger) {
    let Ok(Some(execution)) = executions::get(&state.db, execution_id).await else {
        return;
    };
    let Some(name) = execution
        .metadata
        .0
        .get(super::restore::CREATED_DATABASE)
        .and_then(|v| v.as_str())
    else {
        return;
    };
    let Some(target_id) = execution.datasource_id.as_deref() else {
        log.warn(format!(
            "database `{name}` was created for this run, but its datasource was deleted; drop it by hand"
        ));
        return;
    };
    let target = match dg_store::datasources::get(&state.db, target_id).await {
        Ok(Some(t)) => t,
        _ => {
            log.warn(format!(
                "database `{name}` was created for this run, but its datasource is gone; drop it by hand"
            ));
            return;
        }
    };
    let dropped = match crate::targets::engine_for(state, &target, log.sink()).await {
        Ok(admin) => admin
            .drop_scratch_database(name)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match dropped {
        Ok(()) => log.info(format!(
            "dropped database `{name}` of `{}`, created for this interrupted run",
            target.name
        )),
        Err(e) => log.warn(format!(
            "dropping database `{name}` of `{}`, created for this interrupted run: {e}; drop it by hand",
            target.name
        )),
    }
}

/// Fails every orphaned item: at start-up (`at_start`) everything this
/// node had claimed, and always items whose heartbeat is older than
/// `stale_before`. Returns how many were recovered.
pub async fn recover(state: &AppState, at_start: bool, stale_before: DateTime<Utc>) -> usize {
    let owner = at_start.then_some(state.node_id.as_ref());
    let items = match state.queue.orphaned(owner, stale_before).await {
        Ok(items) => items,
        Err(e) => {
            tracing::error!("looking for interrupted work: {e}");
            return 0;
        }
    };
    let mut n = 0;
    for item in items {
        // Still running here (a slow heartbeat, not a dead node).
        if state.running.get(&item.execution_id).is_some() {
            continue;
        }
        let reason = format!(
            "interrupted: the server stopped while this {} was running (attempt {} of {}); \
             it was not completed and nothing of it is kept",
            item.kind, item.attempts, item.max_attempts
        );
        // The execution may have ended before its item was closed (a stop
        // during retention, a failed write): then its files are a real
        // backup and stay; only the item is closed.
        let ended_now = match executions::finish(
            &state.db,
            &item.execution_id,
            ExecutionStatus::Failed,
            Some(&reason),
            None,
        )
        .await
        {
            Ok(ended) => ended,
            Err(e) => {
                tracing::error!(execution = %item.execution_id, "recording the interruption: {e}");
                continue;
            }
        };
        if !ended_now {
            if let Err(e) = state.queue.finish(&item.id, WorkStatus::Done, None).await {
                tracing::error!(execution = %item.execution_id, "closing work item: {e}");
            }
            continue;
        }
        let log = ExecutionLogger::start(state.db.clone(), &item.execution_id);
        log.error(reason.clone());
        match item.kind {
            WorkKind::Backup => discard_partial(state, &item.execution_id, &log).await,
            WorkKind::Restore => drop_created_database(state, &item.execution_id, &log).await,
        }
        log.close().await;
        if let Err(e) = state
            .queue
            .finish(&item.id, WorkStatus::Failed, Some(&reason))
            .await
        {
            tracing::error!(execution = %item.execution_id, "closing work item: {e}");
        }
        // Counted like any other end, so a failure alert sees it.
        super::runner::record_end(state, &item.execution_id, 0).await;
        let _ = dg_store::notifications::insert(
            &state.db,
            dg_store::notifications::NewNotification {
                kind: match item.kind {
                    WorkKind::Backup => NotificationKind::BackupFailed,
                    WorkKind::Restore => NotificationKind::RestoreFailed,
                },
                severity: Severity::Critical,
                entity_type: Some(EntityType::BackupExecution),
                entity_id: Some(&item.execution_id),
                title: "Interrupted by a server stop".into(),
                message: reason,
                metadata: serde_json::json!({}),
            },
        )
        .await;
        n += 1;
    }
    n
}
