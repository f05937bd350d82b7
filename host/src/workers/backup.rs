//! The backup worker: one queued backup execution, from the datasource
//! through the pipeline into the job's storages.

use super::cleanup;
use super::logger::ExecutionLogger;
use super::options::BackupOptions;
use super::runner::{Outcome, Started};
use crate::pipeline::replicate::copy_execution;
use crate::pipeline::{self, layout, BackupRequest, PipelineError};
use crate::plugin::bindings::HealthStatus;
use crate::plugin::{CallError, StorageClient};
use crate::server::state::{AppState, RunningExecution};
use crate::server::targets;
use crate::store::rows::{Execution, StorageLocation, WorkItem};
use crate::store::{self, executions, jobs};
use futures::future::BoxFuture;
use serde_json::json;

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
        let outcome = back_up(&state, &started.execution, &run, &started.log).await;
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
        let Ok(Some(row)) = store::storages::get(&state.db, &t.storage_location_id).await else {
            continue;
        };
        match targets::storage_for(state, &row, log.sink()).await {
            Ok(storage) => match pipeline::remove_execution_folder(&storage, &prefix).await {
                Ok(()) => log.info(format!("removed {prefix} from storage `{}`", row.name)),
                Err(e) => log.warn(format!("removing {prefix} from `{}`: {e}", row.name)),
            },
            Err(e) => log.warn(format!("storage `{}`: {e}", row.name)),
        }
        if let Err(e) = executions::set_storage_status(
            &state.db,
            execution_id,
            &row.id,
            "failed",
            None,
            Some("backup did not complete"),
        )
        .await
        {
            log.warn(format!("recording the failed copy on `{}`: {e}", row.name));
        }
    }
}

async fn back_up(
    state: &AppState,
    execution: &Execution,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Outcome {
    let db = &state.db;
    let Some(job_id) = execution.job_id.clone() else {
        return Outcome::failed("the backup job of this execution was deleted");
    };
    let job = match jobs::get(db, &job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return Outcome::failed("the backup job of this execution was deleted"),
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let ds = match store::datasources::get(db, &job.datasource_id).await {
        Ok(Some(ds)) => ds,
        Ok(None) => return Outcome::failed("the job's datasource no longer exists"),
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let options = match BackupOptions::from_value(&job.backup_options.0).and_then(|o| o.effective())
    {
        Ok(o) => o,
        Err((field, message)) => return Outcome::failed(format!("{field}: {message}")),
    };
    let mut storages = Vec::new();
    match jobs::storage_ids(db, &job.id).await {
        Ok(ids) => {
            for sid in ids {
                match store::storages::get(db, &sid).await {
                    Ok(Some(s)) => storages.push(s),
                    Ok(None) => log.warn(format!("storage {sid} no longer exists; skipped")),
                    Err(e) => return Outcome::failed(e.to_string()),
                }
            }
        }
        Err(e) => return Outcome::failed(e.to_string()),
    }
    if storages.is_empty() {
        return Outcome::failed("the job has no storage location");
    }
    log.info(format!(
        "backup of datasource `{}` ({}) into {} ({} strategy), compression {}",
        ds.name,
        ds.kind,
        storages
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect::<Vec<_>>()
            .join(", "),
        job.storage_strategy,
        options.compression
    ));

    let engine = match targets::engine_for(state, &ds, log.sink()).await {
        Ok(e) => e,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    // Step 1 of the seed's pipeline: test the connection, so an outage
    // reads as one (and is retried) instead of as a failed dump.
    let probe = tokio::select! {
        r = engine.health_check() => r,
        _ = run.cancel.cancelled() => return Outcome::Cancelled,
    };
    match probe {
        Ok(report) if report.status == HealthStatus::Ok => log.info(format!(
            "connection ok ({} ms){}",
            report.latency_ms,
            report.version.map(|v| format!(", {v}")).unwrap_or_default()
        )),
        Ok(report) => {
            let transient = matches!(
                report.status,
                HealthStatus::Unreachable | HealthStatus::Timeout
            );
            return Outcome::Failed {
                message: format!(
                    "datasource `{}`: connection test failed ({:?}): {}",
                    ds.name,
                    report.status,
                    report.message.unwrap_or_default()
                ),
                transient,
                metadata: None,
            };
        }
        Err(e) => return failed_call(e),
    }

    // Recorded before the first byte, so a crash leaves a trail to every
    // storage that may hold partial files.
    for s in &storages {
        if let Err(e) =
            executions::set_storage_status(db, &execution.id, &s.id, "pending", None, None).await
        {
            return Outcome::failed(format!("recording the target storages: {e}"));
        }
    }
    // Fallback: the first storage that takes the backup. Replicate: the
    // same, then a verified copy into every other storage.
    let mut stored: Option<(StorageLocation, StorageClient, pipeline::BackupSummary)> = None;
    let mut last_error = String::new();
    for (i, s) in storages.iter().enumerate() {
        let client = match targets::storage_for(state, s, log.sink()).await {
            Ok(c) => c,
            Err(e) => {
                last_error = format!("storage `{}`: {e}", s.name);
                log.warn(last_error.clone());
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    "failed",
                    None,
                    Some(&last_error),
                )
                .await;
                continue;
            }
        };
        let (started_at, folder) = match claim_folder(db, &client, &execution.id, &job.id).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                return Outcome::failed(format!(
                    "no free backup folder name: {MAX_FOLDERS_PER_SECOND} runs of this job \
                     started within one second"
                ))
            }
            Err(e) => {
                last_error = format!("storage `{}`: {e}", s.name);
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    "failed",
                    None,
                    Some(&last_error),
                )
                .await;
                continue;
            }
        };
        let engine = engine.clone();
        let request = BackupRequest {
            engine,
            storage: client.clone(),
            job_id: job.id.clone(),
            execution_id: execution.id.clone(),
            datasource_type: ds.kind.clone(),
            compression: options.compression,
            compression_level: options.level,
            max_part_bytes: options.max_part_bytes,
            started_at,
            folder,
            activity: run.activity.clone(),
            cancel: run.cancel.clone(),
        };
        match pipeline::run_backup(request).await {
            Ok(summary) => {
                log.info(format!(
                    "stored {} in `{}`: {} bytes raw, {} stored, {} part(s), {}",
                    summary.prefix,
                    s.name,
                    summary.manifest.total_size_bytes,
                    summary.manifest.compressed_size_bytes,
                    summary.manifest.chunks.len(),
                    summary.manifest.checksum
                ));
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    "completed",
                    Some(&summary.prefix),
                    None,
                )
                .await;
                stored = Some((s.clone(), client, summary));
                break;
            }
            Err(PipelineError::Cancelled) => {
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    "failed",
                    None,
                    Some("cancelled"),
                )
                .await;
                return Outcome::Cancelled;
            }
            Err(e) => {
                last_error = e.to_string();
                let _ = executions::set_storage_status(
                    db,
                    &execution.id,
                    &s.id,
                    "failed",
                    None,
                    Some(&last_error),
                )
                .await;
                let storage_side = blames_storage(&e, client.plugin().id());
                if storage_side && i + 1 < storages.len() {
                    log.warn(format!(
                        "storage `{}` failed: {e}; trying the next storage",
                        s.name
                    ));
                    continue;
                }
                let transient = matches!(&e, PipelineError::Plugin(c) if c.is_transient());
                return Outcome::Failed {
                    message: last_error,
                    transient,
                    metadata: None,
                };
            }
        }
    }
    let Some((primary, primary_client, summary)) = stored else {
        return Outcome::failed(format!(
            "no storage accepted the backup; last error: {last_error}"
        ));
    };

    let mut replicas = Vec::new();
    if job.storage_strategy == "replicate" {
        for s in storages.iter().filter(|s| s.id != primary.id) {
            if run.cancel.is_cancelled() {
                discard_partial(state, &execution.id, log).await;
                return Outcome::Cancelled;
            }
            let outcome = match targets::storage_for(state, s, log.sink()).await {
                Ok(to) => {
                    copy_execution(&primary_client, &to, &summary.prefix, run.activity.clone())
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(_) => {
                    log.info(format!("replicated {} to `{}`", summary.prefix, s.name));
                    let _ = executions::set_storage_status(
                        db,
                        &execution.id,
                        &s.id,
                        "completed",
                        Some(&summary.prefix),
                        None,
                    )
                    .await;
                    replicas.push(json!({"storage_location_id": s.id, "status": "completed"}));
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
                        "failed",
                        None,
                        Some(&e),
                    )
                    .await;
                    replicas
                        .push(json!({"storage_location_id": s.id, "status": "failed", "error": e}));
                }
            }
        }
    } else {
        // Storages never tried under fallback are not part of this backup.
        for s in storages.iter().filter(|s| s.id != primary.id) {
            let _ = executions::clear_pending_storage(db, &execution.id, &s.id).await;
        }
    }

    let m = &summary.manifest;
    let done = executions::CompletedBackup {
        id: &execution.id,
        storage_location_id: &primary.id,
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
            "storage_strategy": job.storage_strategy,
            "replicas": replicas,
        }),
    };
    match executions::complete_backup(db, &done).await {
        Ok(true) => {}
        Ok(false) => {
            // Cancelled at the last moment: no copy may outlive it.
            discard_partial(state, &execution.id, log).await;
            return Outcome::Cancelled;
        }
        Err(e) => {
            discard_partial(state, &execution.id, log).await;
            return Outcome::failed(format!("recording the backup: {e}"));
        }
    }
    log.info("backup completed");
    // Retention right after a success (seed 001).
    match cleanup::apply_job(state, &job, false).await {
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

fn failed_call(e: CallError) -> Outcome {
    Outcome::Failed {
        transient: e.is_transient(),
        message: e.to_string(),
        metadata: None,
    }
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
    db: &crate::store::Db,
    storage: &StorageClient,
    execution_id: &str,
    job_id: &str,
) -> Result<Option<(chrono::DateTime<chrono::Utc>, String)>, String> {
    let at = store::now();
    for n in 1..=MAX_FOLDERS_PER_SECOND {
        let folder = layout::execution_folder_candidate(at, n);
        let prefix = layout::key(job_id, &folder);
        let empty = storage
            .list(&prefix)
            .await
            .map_err(|e| e.to_string())?
            .is_empty();
        if empty
            && executions::claim_backup_path(db, execution_id, &prefix)
                .await
                .map_err(|e| e.to_string())?
        {
            return Ok(Some((at, folder)));
        }
    }
    Ok(None)
}

/// Runs of one job that may start within one second before names run out.
const MAX_FOLDERS_PER_SECOND: u32 = 999;
