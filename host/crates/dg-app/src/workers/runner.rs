//! The loop shared by the backup and restore workers: claim an item,
//! run it with a heartbeat, then record how it ended. Retries (transient
//! failures only) and the final status of the execution are decided here,
//! once, for every kind of work.

use crate::queue::{backoff, WorkQueue};
use crate::state::{AppState, RunningExecution};
use dg_store::executions;
use dg_store::rows::WorkItem;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::Instrument;

/// How a piece of work ended.
#[derive(Debug)]
pub enum Outcome {
    /// The handler recorded the execution as completed.
    Done,
    /// Failed; `transient` failures are retried while attempts remain.
    Failed {
        message: String,
        transient: bool,
        metadata: Option<Value>,
        /// The plugin that crashed (trapped) rather than reported an
        /// error, when that is what failed the run: a `plugin_failed`
        /// notification names it.
        crashed_plugin: Option<String>,
    },
    /// Stopped on request.
    Cancelled,
    /// Nothing to record: the execution was ended elsewhere (cancelled
    /// before it started, or failed by the sweep while it ran).
    Skipped,
}

impl Outcome {
    pub fn failed(message: impl Into<String>) -> Self {
        Outcome::Failed {
            message: message.into(),
            transient: false,
            metadata: None,
            crashed_plugin: None,
        }
    }

    /// A failed plugin call, told in `message`: retried when the plugin
    /// called it temporary, and naming the plugin when it crashed.
    pub fn from_call(e: &dg_plugin_host::CallError, message: impl Into<String>) -> Self {
        Outcome::Failed {
            message: message.into(),
            transient: e.is_transient(),
            metadata: None,
            crashed_plugin: e.crashed_plugin().map(str::to_string),
        }
    }

    /// A failed pipeline, told in `message`, with the plugin call's cause
    /// when a plugin failed it.
    pub fn from_pipeline(e: &dg_pipeline::PipelineError, message: impl Into<String>) -> Self {
        match e.plugin_error() {
            Some(call) => Self::from_call(call, message),
            None => Self::failed(message),
        }
    }
}

/// An execution a handler has started: marked running, with its log and
/// progress publisher open.
pub struct Started {
    pub execution: dg_store::rows::Execution,
    pub log: super::logger::ExecutionLogger,
    _progress: super::progress::Publisher,
}

impl Started {
    /// Marks the item's execution running; the outcome to return instead
    /// when it cannot start (cancelled while queued, row gone).
    pub async fn begin(
        state: &AppState,
        item: &WorkItem,
        run: &RunningExecution,
    ) -> Result<Self, Outcome> {
        let id = &item.execution_id;
        match executions::mark_running(&state.db, id).await {
            Ok(true) => {}
            Ok(false) => return Err(Outcome::Skipped),
            Err(e) => return Err(Outcome::failed(format!("starting the execution: {e}"))),
        }
        let Ok(Some(execution)) = executions::get(&state.db, id).await else {
            return Err(Outcome::failed("the execution row disappeared"));
        };
        if let Some(total) = expected_bytes(state, &execution).await {
            run.expected_bytes
                .store(total, std::sync::atomic::Ordering::Relaxed);
        }
        // Names for the progress events; none is no reason not to run.
        let names = dg_store::names::all(&state.db).await.unwrap_or_default();
        Ok(Self {
            log: super::logger::ExecutionLogger::start(state.db.clone(), id),
            _progress: super::progress::publish(state.db.clone(), &execution, &names, run),
            execution,
        })
    }

    /// Logs how it ended (a cancel with its reason) and flushes the log.
    pub async fn end(self, outcome: Outcome, run: &RunningExecution) -> Outcome {
        match &outcome {
            Outcome::Failed { message, .. } => self.log.error(message.clone()),
            Outcome::Cancelled => self.log.warn(run.cancel_message()),
            _ => {}
        }
        self.log.close().await;
        outcome
    }
}

/// Bytes a run is expected to move, when known: a restore or verification
/// feeds the engine the backup's uncompressed size; a copy moves its
/// stored (compressed) bytes.
async fn expected_bytes(state: &AppState, execution: &dg_store::rows::Execution) -> Option<u64> {
    let source = execution.source_execution_id.as_deref()?;
    let backup = executions::get(&state.db, source).await.ok()??;
    let bytes = match execution.operation {
        dg_core::domain::Operation::Copy => backup.compressed_size_bytes,
        _ => backup.size_bytes,
    };
    bytes.and_then(|b| u64::try_from(b).ok())
}

/// Runs one claimed item to its end.
pub type Handler = fn(AppState, WorkItem, RunningExecution) -> BoxFuture<'static, Outcome>;

const HEARTBEAT: Duration = Duration::from_secs(15);

/// How often a running execution looks for a cancel request.
const CANCEL_POLL: Duration = Duration::from_secs(1);

/// While an item runs: beats its queue claim every [`HEARTBEAT`] (so the
/// sweep of other nodes knows it is alive), and every [`CANCEL_POLL`]
/// looks for a cancel request recorded on the execution, which may have
/// come through any node's API, and stops the run when there is one.
async fn watch(state: AppState, item: WorkItem, run: RunningExecution) {
    let mut last_beat = tokio::time::Instant::now();
    loop {
        match executions::cancel_requested(&state.db, &item.execution_id).await {
            Ok(true) if !run.cancel.is_cancelled() => run.cancel.cancel(),
            Ok(_) => {}
            Err(e) => tracing::warn!("looking for a cancel of {}: {e}", item.execution_id),
        }
        tokio::time::sleep(CANCEL_POLL).await;
        if last_beat.elapsed() >= HEARTBEAT {
            last_beat = tokio::time::Instant::now();
            if let Err(e) = state.queue.heartbeat(&item.id).await {
                tracing::warn!("heartbeat of work item {}: {e}", item.id);
            }
        }
    }
}

/// Consumes items of `kind`, at most `concurrency` at a time, forever.
pub async fn consume(
    state: AppState,
    kind: dg_core::domain::WorkKind,
    concurrency: usize,
    handler: Handler,
) {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        if state.running.draining() {
            return;
        }
        match state.queue.claim(kind, &state.node_id).await {
            Ok(Some(item)) => {
                let state = state.clone();
                // Every log line of the run carries its execution (and
                // becomes one trace when traces are shipped).
                let span = tracing::info_span!(
                    "execution",
                    execution_id = %item.execution_id,
                    operation = kind.as_str()
                );
                tokio::spawn(
                    async move {
                        run_item(state, item, handler).await;
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
            Ok(None) => {
                drop(permit);
                state.queue.wait().await;
            }
            Err(e) => {
                drop(permit);
                match e {
                    // The queue logs its own outage once, and its return;
                    // a line per look would fill the log during one.
                    crate::queue::QueueError::Unavailable(_) => {
                        tracing::debug!("{kind} queue: {e}; retrying in 5s")
                    }
                    _ => tracing::error!("{kind} queue: {e}; retrying in 5s"),
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

async fn run_item(state: AppState, item: WorkItem, handler: Handler) {
    let run = state.running.insert(&item.execution_id);
    let watch = tokio::spawn(watch(state.clone(), item.clone(), run.clone()));
    let cancel = run.clone();
    // A panicking handler must still end its execution and stop beating,
    // or the item would look alive forever.
    let outcome = match AssertUnwindSafe(handler(state.clone(), item.clone(), run))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::failed(format!(
                "internal error in the {} worker: {what}",
                item.kind
            ))
        }
    };
    watch.abort();
    // Never retry what was cancelled.
    let outcome = match outcome {
        Outcome::Failed { .. } if cancel.cancel.is_cancelled() => Outcome::Cancelled,
        other => other,
    };
    let counted = !matches!(outcome, Outcome::Skipped);
    if let Err(e) = settle(&state, &item, outcome, &cancel.cancel_message()).await {
        tracing::error!(execution = %item.execution_id, "recording the outcome: {e}");
    }
    if counted {
        record_end(&state, &item.execution_id, cancel.activity.bytes()).await;
    }
    // Only now: a draining server waits for this, and must not exit
    // before the outcome is recorded.
    state.running.remove(&item.execution_id);
}

/// Records the outcome on the execution and the queue item; a cancelled
/// execution ends with `cancel_message`.
async fn settle(
    state: &AppState,
    item: &WorkItem,
    outcome: Outcome,
    cancel_message: &str,
) -> Result<(), String> {
    let q: &dyn WorkQueue = state.queue.as_ref();
    let db = &state.db;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    match outcome {
        Outcome::Done => q
            .finish(&item.id, dg_core::domain::WorkStatus::Done, None)
            .await
            .map_err(|e| err(&e)),
        Outcome::Skipped => q
            .finish(&item.id, dg_core::domain::WorkStatus::Cancelled, None)
            .await
            .map_err(|e| err(&e)),
        Outcome::Cancelled => {
            executions::finish(
                db,
                &item.execution_id,
                dg_core::domain::ExecutionStatus::Cancelled,
                Some(cancel_message),
                None,
            )
            .await
            .map_err(|e| err(&e))?;
            q.finish(&item.id, dg_core::domain::WorkStatus::Cancelled, None)
                .await
                .map_err(|e| err(&e))
        }
        Outcome::Failed {
            message,
            transient,
            metadata,
            crashed_plugin,
        } => {
            if transient && item.attempts < item.max_attempts {
                let delay = backoff(state.config.retry_base, item.attempts);
                let at = dg_store::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                let note = format!(
                    "attempt {} of {} failed (temporary): {message}; retrying at {}",
                    item.attempts,
                    item.max_attempts,
                    at.to_rfc3339()
                );
                tracing::warn!(execution = %item.execution_id, "{note}");
                executions::append_logs(
                    db,
                    &item.execution_id,
                    &[(
                        dg_store::now(),
                        dg_core::domain::LogLevel::Warn,
                        note.clone(),
                    )],
                )
                .await
                .map_err(|e| err(&e))?;
                executions::requeue(db, &item.execution_id, &note)
                    .await
                    .map_err(|e| err(&e))?;
                q.retry_at(&item.id, at, &message)
                    .await
                    .map_err(|e| err(&e))
            } else {
                tracing::error!(execution = %item.execution_id, "{message}");
                let ended_here = executions::finish(
                    db,
                    &item.execution_id,
                    dg_core::domain::ExecutionStatus::Failed,
                    Some(&message),
                    metadata.as_ref(),
                )
                .await
                .map_err(|e| err(&e))?;
                q.finish(
                    &item.id,
                    dg_core::domain::WorkStatus::Failed,
                    Some(&message),
                )
                .await
                .map_err(|e| err(&e))?;
                // Whoever ended it first (recovery, a cancel) has notified.
                if !ended_here {
                    return Ok(());
                }
                notify_failure(state, item, &message, crashed_plugin.as_deref())
                    .await
                    .map_err(|e| err(&e))
            }
        }
    }
}

/// Counts an execution that ended in the metrics, once: a retried one
/// (back to `queued`) is counted when its last attempt ends, and one ended
/// by crash recovery when recovery ends it (`workers/recovery.rs`).
pub(super) async fn record_end(state: &AppState, id: &str, bytes_moved: u64) {
    let execution = match executions::get(&state.db, id).await {
        Ok(Some(e)) => e,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(execution = %id, "metrics: reading the execution: {e}");
            return;
        }
    };
    if !execution.status.is_final() {
        return;
    }
    let engine = match execution.datasource_id.as_deref() {
        Some(ds) => dg_store::datasources::get(&state.db, ds)
            .await
            .ok()
            .flatten()
            .map(|d| d.kind),
        None => None,
    };
    // A restore or verification reads the backup it restores: its storage
    // is the one that backup was stored on.
    let storage_id = match (
        &execution.storage_location_id,
        &execution.source_execution_id,
    ) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(source)) => executions::get(&state.db, source)
            .await
            .ok()
            .flatten()
            .and_then(|b| b.storage_location_id),
        (None, None) => None,
    };
    let storage_type = match storage_id.as_deref() {
        Some(s) => dg_store::storages::get(&state.db, s)
            .await
            .ok()
            .flatten()
            .map(|s| s.kind),
        None => None,
    };
    let bytes = if execution.operation == dg_core::domain::Operation::Backup {
        execution
            .compressed_size_bytes
            .and_then(|b| u64::try_from(b).ok())
    } else {
        Some(bytes_moved)
    };
    crate::observe::metrics::get().execution_ended(&crate::observe::metrics::ExecutionEnd {
        labels: crate::observe::metrics::ExecutionLabels {
            operation: execution.operation.to_string(),
            status: execution.status.to_string(),
            engine: engine.unwrap_or_else(|| "unknown".into()),
            storage_type: storage_type.unwrap_or_else(|| "unknown".into()),
        },
        duration: execution
            .duration_seconds
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(Duration::from_secs_f64),
        bytes,
    });
}

/// The notification of a final failure: `backup_failed`,
/// `restore_failed` or `verification_failed`, and `plugin_failed` too when
/// a plugin crashed (trapped) rather than reported an error.
async fn notify_failure(
    state: &AppState,
    item: &WorkItem,
    message: &str,
    crashed_plugin: Option<&str>,
) -> Result<(), dg_store::StoreError> {
    let execution = executions::get(&state.db, &item.execution_id).await?;
    let job_id = execution.as_ref().and_then(|e| e.job_id.clone());
    let operation = match (&execution, item.kind) {
        (Some(e), _) => e.operation,
        (None, dg_core::domain::WorkKind::Backup) => dg_core::domain::Operation::Backup,
        (None, dg_core::domain::WorkKind::Restore) => dg_core::domain::Operation::Restore,
    };
    // People read names: the job and the datasource (backed up, or
    // restored into) in the title, the error once in the message.
    let names = dg_store::names::all(&state.db).await?;
    let job_name = names.job(job_id.as_deref());
    let datasource_name =
        names.datasource(execution.as_ref().and_then(|e| e.datasource_id.as_deref()));
    let title = failure_title(operation, job_name.as_deref(), datasource_name.as_deref());
    dg_store::notifications::insert(
        &state.db,
        dg_store::notifications::NewNotification {
            kind: operation.failed_kind(),
            severity: dg_core::domain::Severity::Critical,
            entity_type: Some(dg_core::domain::EntityType::BackupExecution),
            entity_id: Some(&item.execution_id),
            title,
            message: message.to_string(),
            metadata: serde_json::json!({
                "job_id": job_id,
                "job_name": job_name,
                "datasource_name": datasource_name,
                "attempts": item.attempts,
            }),
        },
    )
    .await?;
    if let Some(plugin) = crashed_plugin {
        dg_store::notifications::insert(
            &state.db,
            dg_store::notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::PluginFailed,
                severity: dg_core::domain::Severity::Critical,
                entity_type: Some(dg_core::domain::EntityType::BackupExecution),
                entity_id: Some(&item.execution_id),
                title: format!("Plugin `{plugin}` crashed"),
                message: message.to_string(),
                metadata: serde_json::json!({ "job_id": job_id, "plugin": plugin }),
            },
        )
        .await?;
    }
    Ok(())
}

/// `Backup of job `shop nightly` (datasource `shop`) failed`; without the
/// names that were deleted.
fn failure_title(
    operation: dg_core::domain::Operation,
    job: Option<&str>,
    datasource: Option<&str>,
) -> String {
    use dg_core::domain::Operation;
    let named =
        |what: &str, name: Option<&str>| name.map(|n| format!(" {what} `{n}`")).unwrap_or_default();
    match operation {
        // A backup or copy is of its job, from its datasource.
        Operation::Backup | Operation::Copy => {
            let of_job = named("of job", job);
            let from = datasource
                .map(|d| format!(" (datasource `{d}`)"))
                .unwrap_or_default();
            let what = if operation == Operation::Backup {
                "Backup"
            } else {
                "Copy"
            };
            format!("{what}{of_job}{from} failed")
        }
        // A restore or verification is into its target datasource.
        Operation::Restore => format!("Restore{} failed", named("into", datasource)),
        Operation::Verification => format!("Verification{} failed", named("into", datasource)),
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;
    use dg_pipeline::PipelineError;
    use dg_plugin_host::CallError;

    fn crashed(outcome: &Outcome) -> Option<&str> {
        match outcome {
            Outcome::Failed { crashed_plugin, .. } => crashed_plugin.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn failure_titles_name_what_failed() {
        use dg_core::domain::Operation;
        let t = super::failure_title;
        assert_eq!(
            t(Operation::Backup, Some("nightly"), Some("shop")),
            "Backup of job `nightly` (datasource `shop`) failed"
        );
        assert_eq!(
            t(Operation::Backup, None, Some("shop")),
            "Backup (datasource `shop`) failed"
        );
        assert_eq!(
            t(Operation::Copy, Some("nightly"), None),
            "Copy of job `nightly` failed"
        );
        assert_eq!(
            t(Operation::Restore, Some("nightly"), Some("staging")),
            "Restore into `staging` failed"
        );
        assert_eq!(
            t(Operation::Verification, None, None),
            "Verification failed"
        );
    }

    /// The crash is carried as a value from the plugin call to the
    /// notification, whatever the message around it says.
    #[test]
    fn a_crash_names_its_plugin_and_other_failures_do_not() {
        let trap = || CallError::Trap {
            plugin: "hostile".into(),
            operation: "restore".into(),
            message: "unreachable".into(),
        };
        let through_copy = PipelineError::Copy(Box::new(PipelineError::Plugin(trap())));
        let outcome = Outcome::from_pipeline(&through_copy, "restore from `disk` failed");
        assert_eq!(crashed(&outcome), Some("hostile"));
        assert_eq!(crashed(&Outcome::from_call(&trap(), "x")), Some("hostile"));
        // A message that merely reads like a crash is not one.
        let lookalike = Outcome::failed("plugin `postgres` crashed during backup: no");
        assert_eq!(crashed(&lookalike), None);
        let timeout = CallError::Timeout {
            plugin: "postgres".into(),
            operation: "backup".into(),
            seconds: 5,
        };
        assert_eq!(crashed(&Outcome::from_call(&timeout, "x")), None);
    }
}
