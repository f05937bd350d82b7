//! The backup worker: one queued backup execution, from the datasource
//! through the pipeline into the job's storages.

use super::cleanup;
use super::logger::ExecutionLogger;
use super::options::{BackupOptions, Checked};
use super::runner::{Outcome, Started};
use crate::state::{AppState, RunningExecution};
use crate::targets;
use dg_core::domain::{
    CopyStatus, EntityType, ExecutionStatus, NotificationKind, Operation, Severity, StorageStrategy,
};
use dg_pipeline::replicate::copy_execution;
use dg_pipeline::{layout, BackupRequest, PipelineError};
use dg_plugin_host::bindings::{HealthReport, HealthStatus};
use dg_plugin_host::{CallError, EngineClient, StorageClient};
use dg_store::rows::{BackupJob, Datasource, Execution, StorageLocation, WorkItem};
use dg_store::{executions, jobs};
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub fn handle(
    state: AppState,
    item: WorkItem,
    run: RunningExecution,
) -> BoxFuture<'static, Outcome> {
    Box::pin(async move {
        let started = match Started::begin(&state, &item, &run).await {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        // Cancellation is handled inside: the pipeline stops its writer and
        // removes the folder itself before the execution ends.
        let outcome = match started.execution.operation {
            Operation::Copy => {
                super::copy::copy(&state, &started.execution, &run, &started.log).await
            }
            _ => back_up(&state, &started.execution, &run, &started.log).await,
        };
        started.end(outcome, &run).await
    })
}

/// Removes the folder a cancelled or interrupted backup was writing.
pub async fn discard_partial(state: &AppState, execution_id: &str, log: &ExecutionLogger) {
    let execution = match executions::get(&state.db, execution_id).await {
        Ok(Some(e)) => e,
        Ok(None) => return,
        Err(e) => {
            log.warn(format!(
                "partial files not removed: reading the execution: {e}"
            ));
            return;
        }
    };
    let Some(prefix) = execution.backup_path.clone() else {
        return;
    };
    let targets = match executions::storages(&state.db, execution_id).await {
        Ok(t) => t,
        Err(e) => {
            log.warn(format!(
                "partial files of {prefix} not removed: reading its storages: {e}"
            ));
            return;
        }
    };
    for t in targets {
        let Ok(Some(row)) = dg_store::storages::get(&state.db, &t.storage_location_id).await else {
            continue;
        };
        match targets::storage_for(state, &row, log.sink()).await {
            Ok(storage) => match dg_pipeline::remove_execution_folder(&storage, &prefix).await {
                Ok(()) => log.info(format!("removed {prefix} from storage `{}`", row.name)),
                Err(e) => log.warn(format!("removing {prefix} from `{}`: {e}", row.name)),
            },
            Err(e) => log.warn(format!("storage `{}`: {e}", row.name)),
        }
        if let Err(e) = executions::set_storage_status(
            &state.db,
            execution_id,
            &row.id,
            CopyStatus::Failed,
            None,
            Some("backup did not complete"),
        )
        .await
        {
            log.warn(format!("recording the failed copy on `{}`: {e}", row.name));
        }
    }
}

/// What one run backs up, and where to.
struct Plan {
    job: BackupJob,
    ds: Datasource,
    options: BackupOptions,
    storages: Vec<StorageLocation>,
}

/// The backup's first intact copy.
struct Primary {
    storage: StorageLocation,
    client: StorageClient,
    summary: dg_pipeline::BackupSummary,
}

async fn back_up(
    state: &AppState,
    execution: &Execution,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Outcome {
    let plan = match load_plan(state, execution, log).await {
        Ok(plan) => plan,
        Err(outcome) => return outcome,
    };
    let engine = match targets::engine_for(state, &plan.ds, log.sink()).await {
        Ok(e) => e,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    match test_connection(&engine, &plan.ds, run, log).await {
        // The connection test is a health check that passed: the
        // datasource's status (and `dataguardian_datasource_up`) says so
        // without waiting for the health worker.
        Ok(report) => {
            if let Err(e) = super::health::record_datasource_check(state, &plan.ds, report).await {
                log.warn(format!(
                    "recording the connection test as a health check: {e}"
                ));
            }
        }
        Err(outcome) => return outcome,
    }
    let databases = match choose_databases(state, &plan, &engine, log).await {
        Ok(d) => d,
        Err(outcome) => return outcome,
    };
    let primary = match store_primary(state, execution, &plan, &engine, databases, run, log).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let replicas = match replicate(state, execution, &plan, &primary, run, log).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = record_completion(state, execution, &plan, &primary, replicas, log).await
    {
        return outcome;
    }
    // Retention right after a success (seed 001).
    match cleanup::apply_job(state, &plan.job, false).await {
        Ok(report) if !report.deleted.is_empty() => log.info(format!(
            "retention removed {} old backup(s), {} bytes",
            report.deleted.len(),
            report.bytes_freed
        )),
        Ok(_) => {}
        Err(e) => log.warn(format!("retention after backup: {e}")),
    }
    Outcome::Done
}

/// Reads the job, its datasource, options and storages.
async fn load_plan(
    state: &AppState,
    execution: &Execution,
    log: &ExecutionLogger,
) -> Result<Plan, Outcome> {
    let db = &state.db;
    let gone = || Outcome::failed("the backup job of this execution was deleted");
    let job_id = execution.job_id.clone().ok_or_else(gone)?;
    let job = match jobs::get(db, &job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return Err(gone()),
        Err(e) => return Err(Outcome::failed(e.to_string())),
    };
    let ds = match dg_store::datasources::get(db, &job.datasource_id).await {
        Ok(Some(ds)) => ds,
        Ok(None) => return Err(Outcome::failed("the job's datasource no longer exists")),
        Err(e) => return Err(Outcome::failed(e.to_string())),
    };
    // The column is typed; what the options mean for a run is checked
    // here (a value stored before a rule tightened fails naming its field).
    let options = job.backup_options.0.clone();
    options
        .effective()
        .and_then(|_| options.database_plan())
        .map_err(|e| Outcome::failed(e.to_string()))?;
    let mut storages = Vec::new();
    let ids = jobs::storage_ids(db, &job.id)
        .await
        .map_err(|e| Outcome::failed(e.to_string()))?;
    for sid in ids {
        match dg_store::storages::get(db, &sid).await {
            Ok(Some(s)) => storages.push(s),
            Ok(None) => log.warn(format!("storage {sid} no longer exists; skipped")),
            Err(e) => return Err(Outcome::failed(e.to_string())),
        }
    }
    if storages.is_empty() {
        return Err(Outcome::failed("the job has no storage location"));
    }
    Ok(Plan {
        job,
        ds,
        options,
        storages,
    })
}

/// Step 1 of the seed's pipeline: test the connection, so an outage reads
/// as one (and is retried) instead of as a failed dump.
async fn test_connection(
    engine: &EngineClient,
    ds: &Datasource,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Result<HealthReport, Outcome> {
    let probe = tokio::select! {
        r = engine.health_check() => r,
        _ = run.cancel.cancelled() => return Err(Outcome::Cancelled),
    };
    match probe {
        Ok(report) if report.status == HealthStatus::Ok => {
            // The database's size: an estimate of the bytes to move, for
            // the progress's percent and ETA (a dump is usually smaller).
            if let Some(size) = report
                .metadata
                .iter()
                .find(|kv| kv.key == "size_bytes")
                .and_then(|kv| kv.value.parse::<u64>().ok())
            {
                run.expected_bytes
                    .store(size, std::sync::atomic::Ordering::Relaxed);
            }
            log.info(format!(
                "connection ok ({} ms){}",
                report.latency_ms,
                report
                    .version
                    .as_deref()
                    .map(|v| format!(", {v}"))
                    .unwrap_or_default()
            ));
            Ok(report)
        }
        Ok(report) => {
            let transient = matches!(
                report.status,
                HealthStatus::Unreachable | HealthStatus::Timeout
            );
            Err(Outcome::Failed {
                message: format!(
                    "datasource `{}`: connection test failed ({}): {}",
                    ds.name,
                    dg_core::domain::CheckStatus::from(report.status),
                    report.message.unwrap_or_default()
                ),
                transient,
                metadata: None,
                crashed_plugin: None,
            })
        }
        Err(e) => Err(failed_call(e)),
    }
}

/// For a several-databases job: the databases of this run, each with an
/// engine pointed at it. Empty for a one-database job.
async fn choose_databases(
    state: &AppState,
    plan: &Plan,
    engine: &EngineClient,
    log: &ExecutionLogger,
) -> Result<Vec<(String, EngineClient)>, Outcome> {
    let Some(selection) = plan
        .options
        .database_plan()
        .map_err(|e| Outcome::failed(e.to_string()))?
    else {
        return Ok(Vec::new());
    };
    let listed = if selection.needs_listing() {
        engine.list_databases().await.map_err(|e| {
            Outcome::from_call(
                &e,
                format!("listing the databases of `{}`: {e}", plan.ds.name),
            )
        })?
    } else {
        Vec::new()
    };
    let chosen = selection.choose(&listed);
    if chosen.is_empty() {
        return Err(Outcome::failed(format!(
            "no database to back up: the server lists {} and backup_options excludes \
             them all",
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        )));
    }
    log.info(format!(
        "{} database(s) to back up: {}",
        chosen.len(),
        chosen.join(", ")
    ));
    let mut out = Vec::new();
    for name in chosen {
        let config = with_database(&plan.ds.connection_config.0, &name);
        let client = targets::engine_with_config(state, &plan.ds, config, log.sink())
            .await
            .map_err(|e| Outcome::failed(format!("database `{name}`: {e}")))?;
        out.push((name, client));
    }
    Ok(out)
}

/// A datasource configuration pointed at another database of its server.
pub fn with_database(config: &Value, database: &str) -> Value {
    let mut config = config.clone();
    if let Value::Object(map) = &mut config {
        map.insert("database".into(), Value::String(database.to_string()));
    }
    config
}

/// Stores the backup in the first storage that takes it (fallback and
/// replicate both start this way).
async fn store_primary(
    state: &AppState,
    execution: &Execution,
    plan: &Plan,
    engine: &EngineClient,
    databases: Vec<(String, EngineClient)>,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Result<Primary, Outcome> {
    let db = &state.db;
    let effective = plan
        .options
        .effective()
        .map_err(|e| Outcome::failed(e.to_string()))?;
    log.info(format!(
        "backup of datasource `{}` ({}) into {} ({} strategy), compression {}",
        plan.ds.name,
        plan.ds.kind,
        plan.storages
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect::<Vec<_>>()
            .join(", "),
        plan.job.storage_strategy,
        effective.compression
    ));
    // Recorded before the first byte, so a crash leaves a trail to every
    // storage that may hold partial files.
    for s in &plan.storages {
        if let Err(e) = executions::set_storage_status(
            db,
            &execution.id,
            &s.id,
            CopyStatus::Pending,
            None,
            None,
        )
        .await
        {
            return Err(Outcome::failed(format!(
                "recording the target storages: {e}"
            )));
        }
    }
    let mut last_error = String::new();
    // Whether the last storage failed in a way that may pass (down,
    // timed out, temporary): the run is then retried like any temporary
    // failure, whichever step it happened in.
    let mut last_transient = false;
    for (i, s) in plan.storages.iter().enumerate() {
        let client = match targets::storage_for(state, s, log.sink()).await {
            Ok(c) => c,
            Err(e) => {
                last_transient = matches!(e, targets::TargetError::Unreachable(_));
                last_error = format!("storage `{}`: {e}", s.name);
                log.warn(last_error.clone());
                mark_failed(db, &execution.id, &s.id, &last_error).await;
                continue;
            }
        };
        let (started_at, folder) =
            match claim_folder(db, &client, &execution.id, &plan.job.id).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => {
                    return Err(Outcome::failed(format!(
                        "no free backup folder name: {MAX_FOLDERS_PER_SECOND} runs of this job \
                         started within one second"
                    )))
                }
                Err(e) => {
                    last_transient = e.is_transient();
                    last_error = format!("storage `{}`: {e}", s.name);
                    mark_failed(db, &execution.id, &s.id, &last_error).await;
                    continue;
                }
            };
        let request = BackupRequest {
            engine: engine.clone(),
            databases: databases.clone(),
            storage: client.clone(),
            job_id: plan.job.id.clone(),
            execution_id: execution.id.clone(),
            datasource_type: plan.ds.kind.clone(),
            compression: effective.compression,
            compression_level: effective.level,
            max_part_bytes: effective.max_part_bytes,
            started_at,
            folder,
            activity: run.activity.clone(),
            cancel: run.cancel.clone(),
        };
        match dg_pipeline::run_backup(request).await {
            Ok(summary) => {
                log.info(format!(
                    "stored {} in `{}`: {} bytes raw, {} stored, {} file(s), {}",
                    summary.prefix,
                    s.name,
                    summary.manifest.total_size_bytes,
                    summary.manifest.compressed_size_bytes,
                    summary.manifest.chunks.len(),
                    summary.manifest.checksum
                ));
                for (name, error) in summary.failed_databases() {
                    log.error(format!("database `{name}` was not backed up: {error}"));
                }
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    CopyStatus::Completed,
                    Some(&summary.prefix),
                    None,
                )
                .await;
                return Ok(Primary {
                    storage: s.clone(),
                    client,
                    summary,
                });
            }
            Err(PipelineError::Cancelled) => {
                mark_failed(db, &execution.id, &s.id, "cancelled").await;
                return Err(Outcome::Cancelled);
            }
            Err(e) => {
                last_error = e.to_string();
                mark_failed(db, &execution.id, &s.id, &last_error).await;
                let storage_side = blames_storage(&e, client.plugin().id());
                if storage_side && i + 1 < plan.storages.len() {
                    log.warn(format!(
                        "storage `{}` failed: {e}; trying the next storage",
                        s.name
                    ));
                    continue;
                }
                return Err(Outcome::from_pipeline(&e, last_error));
            }
        }
    }
    Err(Outcome::Failed {
        message: format!("no storage accepted the backup; last error: {last_error}"),
        transient: last_transient,
        metadata: None,
        crashed_plugin: None,
    })
}

/// Records that a storage does not hold this backup, and why.
async fn mark_failed(db: &dg_store::Db, execution_id: &str, storage_id: &str, message: &str) {
    if let Err(e) = executions::set_storage_status(
        db,
        execution_id,
        storage_id,
        CopyStatus::Failed,
        None,
        Some(message),
    )
    .await
    {
        tracing::warn!(execution = %execution_id, "recording a failed copy: {e}");
    }
}

/// Replicate strategy: a verified copy into every other storage. Under
/// fallback, storages never tried are not part of this backup.
async fn replicate(
    state: &AppState,
    execution: &Execution,
    plan: &Plan,
    primary: &Primary,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Result<Vec<Value>, Outcome> {
    let db = &state.db;
    let others = plan.storages.iter().filter(|s| s.id != primary.storage.id);
    let mut replicas = Vec::new();
    if plan.job.storage_strategy != StorageStrategy::Replicate {
        for s in others {
            let _ = executions::clear_pending_storage(db, &execution.id, &s.id).await;
        }
        return Ok(replicas);
    }
    let prefix = &primary.summary.prefix;
    for s in others {
        if run.cancel.is_cancelled() {
            discard_partial(state, &execution.id, log).await;
            return Err(Outcome::Cancelled);
        }
        let outcome = match targets::storage_for(state, s, log.sink()).await {
            Ok(to) => copy_execution(
                &primary.client,
                &to,
                prefix,
                run.activity.clone(),
                &run.cancel,
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if run.cancel.is_cancelled() {
            discard_partial(state, &execution.id, log).await;
            return Err(Outcome::Cancelled);
        }
        match outcome {
            Ok(_) => {
                log.info(format!("replicated {prefix} to `{}`", s.name));
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    CopyStatus::Completed,
                    Some(prefix),
                    None,
                )
                .await;
                replicas
                    .push(json!({"storage_location_id": s.id, "status": CopyStatus::Completed}));
            }
            Err(e) => {
                log.warn(format!(
                    "replicating to `{}` failed: {e} (retry with retry-upload)",
                    s.name
                ));
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    CopyStatus::Failed,
                    None,
                    Some(&e),
                )
                .await;
                replicas.push(
                    json!({"storage_location_id": s.id, "status": CopyStatus::Failed, "error": e}),
                );
            }
        }
    }
    Ok(replicas)
}

/// Records the completed backup; a database that failed in a
/// several-databases backup is named in the execution's error message and
/// raises a notification, while the others stay restorable.
async fn record_completion(
    state: &AppState,
    execution: &Execution,
    plan: &Plan,
    primary: &Primary,
    replicas: Vec<Value>,
    log: &ExecutionLogger,
) -> Result<(), Outcome> {
    let db = &state.db;
    let summary = &primary.summary;
    let m = &summary.manifest;
    let failed = summary.failed_databases();
    let partial = (!failed.is_empty()).then(|| {
        format!(
            "{} of {} databases were not backed up: {}",
            failed.len(),
            m.databases.as_ref().map(Vec::len).unwrap_or_default(),
            failed
                .iter()
                .map(|(name, error)| format!("{name}: {error}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    let databases = m.databases.as_ref().map(|dbs| {
        dbs.iter()
            .map(|d| match &d.artifact {
                Some(a) => json!({"name": d.name, "status": ExecutionStatus::Completed, "file": a.file,
                    "size_bytes": a.total_size_bytes, "compressed_size_bytes": a.compressed_size_bytes,
                    "checksum": a.checksum, "tables_backed_up": a.metadata.tables_backed_up}),
                None => json!({"name": d.name, "status": ExecutionStatus::Failed, "error": d.error}),
            })
            .collect::<Vec<_>>()
    });
    let done = executions::CompletedBackup {
        id: &execution.id,
        storage_location_id: &primary.storage.id,
        backup_path: &summary.prefix,
        size_bytes: m.total_size_bytes as i64,
        compressed_size_bytes: m.compressed_size_bytes as i64,
        checksum: &m.checksum,
        chunks: m
            .chunks
            .iter()
            .map(|c| {
                (
                    c.number as i64,
                    layout::key(&summary.prefix, &c.file),
                    c.size_bytes as i64,
                    c.checksum.clone(),
                )
            })
            .collect(),
        metadata: json!({
            "compression": m.compression,
            "compression_ratio": m.compression_ratio,
            "format": m.format,
            "file": m.file,
            "database_version": m.metadata.database_version,
            "tables_backed_up": m.metadata.tables_backed_up,
            "rows_approximate": m.metadata.rows_approximate,
            "engine": m.engine,
            "datasource_type": m.datasource_type,
            "storage_strategy": plan.job.storage_strategy,
            "replicas": replicas,
            "databases": databases,
            "engine_stats": engine_stats(&m.metadata.extra),
        }),
        error_message: partial.as_deref(),
    };
    match executions::complete_backup(db, &done).await {
        Ok(true) => {}
        Ok(false) => {
            // Cancelled at the last moment: no copy may outlive it.
            discard_partial(state, &execution.id, log).await;
            return Err(Outcome::Cancelled);
        }
        Err(e) => {
            discard_partial(state, &execution.id, log).await;
            return Err(Outcome::failed(format!("recording the backup: {e}")));
        }
    }
    match partial {
        Some(message) => {
            log.error(format!("backup completed with failures: {message}"));
            let _ = dg_store::notifications::insert(
                db,
                dg_store::notifications::NewNotification {
                    kind: NotificationKind::BackupFailed,
                    severity: Severity::Critical,
                    entity_type: Some(EntityType::BackupExecution),
                    entity_id: Some(&execution.id),
                    title: format!("Backup of job `{}` missed databases", plan.job.name),
                    message,
                    metadata: json!({"job_id": plan.job.id, "partial": true}),
                },
            )
            .await;
        }
        None => {
            log.info("backup completed");
            // Routed like every notification, so a channel subscribed to
            // `backup_completed` hears of each success.
            let _ = dg_store::notifications::insert(
                db,
                dg_store::notifications::NewNotification {
                    kind: NotificationKind::BackupCompleted,
                    severity: Severity::Info,
                    entity_type: Some(EntityType::BackupExecution),
                    entity_id: Some(&execution.id),
                    title: format!("Backup of job `{}` completed", plan.job.name),
                    message: format!(
                        "{} stored in `{}` ({} before compression)",
                        crate::notify::context::human_bytes(m.compressed_size_bytes),
                        primary.storage.name,
                        crate::notify::context::human_bytes(m.total_size_bytes),
                    ),
                    metadata: json!({
                        "job_id": plan.job.id,
                        "storage_location_id": primary.storage.id,
                        "size_bytes": m.total_size_bytes,
                        "compressed_size_bytes": m.compressed_size_bytes,
                    }),
                },
            )
            .await;
        }
    }
    Ok(())
}

/// The engine's own figures of a backup (files, symlinks and skipped
/// entries of a `files` backup; a database file's size...), numbers as
/// numbers.
fn engine_stats(extra: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    extra
        .iter()
        .map(|(k, v)| {
            let value = v
                .parse::<i64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::String(v.clone()));
            (k.clone(), value)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn failed_call(e: CallError) -> Outcome {
    Outcome::from_call(&e, e.to_string())
}

/// Whether a pipeline error came from the storage side (so another
/// storage may still take the backup).
fn blames_storage(e: &PipelineError, storage_plugin: &str) -> bool {
    match e {
        PipelineError::Plugin(
            CallError::Plugin { plugin, .. }
            | CallError::Trap { plugin, .. }
            | CallError::Timeout { plugin, .. }
            | CallError::Stalled { plugin, .. }
            | CallError::CpuExhausted { plugin, .. }
            | CallError::Setup { plugin, .. },
        ) => plugin == storage_plugin,
        PipelineError::Stage { stage, .. } => *stage == "store",
        _ => false,
    }
}

/// Claims the execution's folder before the first byte: the first name
/// of this second (`2025-02-13_060001`, then `-002`, `-003`...) that no other
/// execution holds and that is empty in the storage. Runs of one job that
/// start together get neighbouring names instead of waiting for a free
/// second.
async fn claim_folder(
    db: &dg_store::Db,
    storage: &StorageClient,
    execution_id: &str,
    job_id: &str,
) -> Result<Option<(chrono::DateTime<chrono::Utc>, String)>, ClaimError> {
    let at = dg_store::now();
    for n in 1..=MAX_FOLDERS_PER_SECOND {
        let folder = layout::execution_folder_candidate(at, n);
        let prefix = layout::key(job_id, &folder);
        let empty = storage
            .list(&prefix)
            .await
            .map_err(ClaimError::Storage)?
            .is_empty();
        if empty && executions::claim_backup_path(db, execution_id, &prefix).await? {
            return Ok(Some((at, folder)));
        }
    }
    Ok(None)
}

/// Why a backup folder could not be claimed.
#[derive(Debug, thiserror::Error)]
enum ClaimError {
    #[error(transparent)]
    Storage(CallError),
    #[error(transparent)]
    Store(#[from] dg_store::StoreError),
}

impl ClaimError {
    /// A storage that is down or slow may be back at the next attempt.
    fn is_transient(&self) -> bool {
        use dg_plugin_host::FailureKind;
        match self {
            ClaimError::Storage(e) => {
                e.is_transient()
                    || matches!(
                        e.kind(),
                        Some(FailureKind::Unreachable | FailureKind::Timeout)
                    )
                    || matches!(e, CallError::Timeout { .. })
            }
            ClaimError::Store(_) => false,
        }
    }
}

/// Runs of one job that may start within one second before names run out.
const MAX_FOLDERS_PER_SECOND: u32 = 999;
