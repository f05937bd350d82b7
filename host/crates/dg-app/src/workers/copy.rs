//! The copy worker (`POST /api/executions/{id}/retry-upload`): a completed
//! backup, verified first, copied to each storage of its job that does not
//! hold it (a failed replica, a copy whose files went missing, a storage
//! added to the job since). It runs from the queue like any execution, so
//! it has progress, logs and cancel, and survives the client going away.

use super::logger::ExecutionLogger;
use super::runner::Outcome;
use crate::state::{AppState, RunningExecution};
use crate::targets;
use dg_core::domain::{CopyStatus, ExecutionStatus, Operation, RetryOutcome};
use dg_pipeline::manifest::BackupManifest;
use dg_pipeline::replicate::{copy_execution, Presence};
use dg_pipeline::PipelineError;
use dg_plugin_host::StorageClient;
use dg_store::rows::{Execution, StorageLocation};
use dg_store::{self as store, executions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a copy did, kept in the execution's `metadata.copy`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CopyReport {
    /// The storage whose copy was verified and copied from.
    pub source_storage: String,
    /// What was done for each storage that should hold the backup.
    pub actions: Vec<CopyAction>,
}

/// What a copy did for one storage.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CopyAction {
    pub storage_location_id: String,
    pub storage_name: String,
    pub action: RetryOutcome,
    pub message: Option<String>,
}

/// The backup a copy copies, with its folder.
struct Source {
    backup: Execution,
    prefix: String,
}

/// What `to` holds of the backup the manifest describes.
async fn presence(to: &StorageClient, prefix: &str, manifest: &BackupManifest) -> Presence {
    let parts: Vec<(&str, u64)> = manifest
        .chunks
        .iter()
        .map(|c| (c.file.as_str(), c.size_bytes))
        .collect();
    dg_pipeline::replicate::presence(to, prefix, &parts).await
}

/// The verified copy everything is copied from.
struct Verified {
    storage: StorageLocation,
    client: StorageClient,
    manifest: BackupManifest,
}

/// Runs a copy execution (the backup worker hands it over: a copy takes
/// a backup slot).
pub(super) async fn copy(
    state: &AppState,
    execution: &Execution,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Outcome {
    let source = match load_source(state, execution).await {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let from = match verified_source(state, &source, log).await {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    log.info(format!(
        "copying from `{}`, whose copy verified",
        from.storage.name
    ));
    let wanted = match wanted_storages(state, &source.backup, &from.storage.id).await {
        Ok(w) => w,
        Err(e) => return Outcome::failed(format!("reading the job's storages: {e}")),
    };
    let mut actions = Vec::new();
    for row in wanted {
        if run.cancel.is_cancelled() {
            return Outcome::Cancelled;
        }
        let action = copy_if_missing(state, &source, &from, &row, run, log).await;
        if run.cancel.is_cancelled() {
            return Outcome::Cancelled;
        }
        actions.push(action);
    }
    // The progress publisher writes the row every other second: the
    // final count is written here, so the copy says what it moved.
    let moved = i64::try_from(run.activity.bytes()).unwrap_or(i64::MAX);
    if let Err(e) = executions::set_progress(&state.db, &execution.id, moved).await {
        log.warn(format!("recording the bytes moved: {e}"));
    }
    finish(state, execution, from.storage.name, actions).await
}

/// Records the report; the copy failed when any storage could not be
/// copied into, naming each.
async fn finish(
    state: &AppState,
    execution: &Execution,
    source_storage: String,
    actions: Vec<CopyAction>,
) -> Outcome {
    let failed: Vec<String> = actions
        .iter()
        .filter(|a| a.action == RetryOutcome::Failed)
        .map(|a| {
            format!(
                "`{}`: {}",
                a.storage_name,
                a.message.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    let report = CopyReport {
        source_storage,
        actions,
    };
    let metadata = serde_json::json!({ "copy": report });
    if !failed.is_empty() {
        return Outcome::Failed {
            message: format!("copying the backup failed for {}", failed.join("; ")),
            transient: false,
            metadata: Some(metadata),
            crashed_plugin: None,
        };
    }
    match executions::finish(
        &state.db,
        &execution.id,
        ExecutionStatus::Completed,
        None,
        Some(&metadata),
    )
    .await
    {
        Ok(true) => Outcome::Done,
        Ok(false) => Outcome::Skipped,
        Err(e) => Outcome::failed(format!("recording the copy: {e}")),
    }
}

/// The completed backup the copy is of.
async fn load_source(state: &AppState, execution: &Execution) -> Result<Source, Outcome> {
    let Some(id) = execution.source_execution_id.as_deref() else {
        return Err(Outcome::failed(
            "no backup to copy (source_execution_id is empty)",
        ));
    };
    let backup = match executions::get(&state.db, id).await {
        Ok(Some(b))
            if b.status == ExecutionStatus::Completed && b.operation == Operation::Backup =>
        {
            b
        }
        Ok(Some(b)) => {
            return Err(Outcome::failed(format!(
                "execution {id} is not a completed backup (it is a {} that is {})",
                b.operation, b.status
            )))
        }
        Ok(None) => return Err(Outcome::failed(format!("backup {id} no longer exists"))),
        Err(e) => return Err(Outcome::failed(format!("reading backup {id}: {e}"))),
    };
    let Some(prefix) = backup.backup_path.clone() else {
        return Err(Outcome::failed("the backup has no stored path"));
    };
    Ok(Source { backup, prefix })
}

/// The first storage whose copy of the backup verifies (every checksum);
/// a failure naming each storage when none does.
async fn verified_source(
    state: &AppState,
    source: &Source,
    log: &ExecutionLogger,
) -> Result<Verified, Outcome> {
    let backup = &source.backup;
    let mut ids: Vec<String> = backup.storage_location_id.iter().cloned().collect();
    let copies = executions::storages(&state.db, &backup.id)
        .await
        .map_err(|e| Outcome::failed(format!("reading the backup's copies: {e}")))?;
    for s in copies {
        if s.status == CopyStatus::Completed && !ids.contains(&s.storage_location_id) {
            ids.push(s.storage_location_id);
        }
    }
    let mut failures = Vec::new();
    for id in ids {
        let Ok(Some(storage)) = store::storages::get(&state.db, &id).await else {
            continue;
        };
        let verified = match targets::storage_for(state, &storage, log.sink()).await {
            Ok(client) => dg_pipeline::verify_execution(&client, &source.prefix)
                .await
                .map(|manifest| (client, manifest))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match verified {
            Ok((client, manifest)) => {
                return Ok(Verified {
                    storage,
                    client,
                    manifest,
                })
            }
            Err(e) => {
                log.warn(format!(
                    "the copy on `{}` does not verify: {e}",
                    storage.name
                ));
                failures.push(format!("`{}`: {e}", storage.name));
            }
        }
    }
    Err(Outcome::failed(format!(
        "no copy of this backup verifies, so there is nothing to copy from: {}",
        if failures.is_empty() {
            "no storage holds it".to_string()
        } else {
            failures.join("; ")
        }
    )))
}

/// Every storage that should hold the backup, other than the one copied
/// from: where it was stored, its job's storages now, and every storage
/// it was meant for; each once.
async fn wanted_storages(
    state: &AppState,
    backup: &Execution,
    from: &str,
) -> Result<Vec<StorageLocation>, store::StoreError> {
    let mut ids: Vec<String> = backup.storage_location_id.iter().cloned().collect();
    if let Some(job) = &backup.job_id {
        ids.extend(store::jobs::storage_ids(&state.db, job).await?);
    }
    for s in executions::storages(&state.db, &backup.id).await? {
        ids.push(s.storage_location_id);
    }
    let mut seen = Vec::new();
    let mut rows = Vec::new();
    for id in ids {
        if id == from || seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        if let Some(row) = store::storages::get(&state.db, &id).await? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One storage: left alone if it holds the whole backup, else copied
/// into; the outcome logged and recorded on the backup's copies.
async fn copy_if_missing(
    state: &AppState,
    source: &Source,
    from: &Verified,
    row: &StorageLocation,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> CopyAction {
    let prefix = source.prefix.as_str();
    let outcome = match targets::storage_for(state, row, log.sink()).await {
        Ok(to) if presence(&to, prefix, &from.manifest).await == Presence::Whole => {
            Ok(RetryOutcome::Present)
        }
        Ok(to) => copy_execution(&from.client, &to, prefix, run.activity.clone(), &run.cancel)
            .await
            .map(|_| RetryOutcome::Copied)
            .map_err(|e| match e {
                PipelineError::Cancelled => "cancelled".to_string(),
                other => other.to_string(),
            }),
        Err(e) => Err(e.to_string()),
    };
    match &outcome {
        Ok(RetryOutcome::Present) => log.info(format!("`{}` already holds the backup", row.name)),
        Ok(_) => log.info(format!(
            "copied from `{}` to `{}`",
            from.storage.name, row.name
        )),
        Err(e) => log.warn(format!("copying to `{}` failed: {e}", row.name)),
    }
    let result = outcome.as_ref().map(|_| ()).map_err(String::as_str);
    record_copy(state, &source.backup.id, prefix, row, result, log).await;
    CopyAction {
        storage_location_id: row.id.clone(),
        storage_name: row.name.clone(),
        action: match &outcome {
            Ok(a) => *a,
            Err(_) => RetryOutcome::Failed,
        },
        message: outcome.err(),
    }
}

/// Records the backup's copy on `row`. A failed attempt (the storage
/// briefly unreachable) never erases the record of a copy that completed
/// before: only the action says failed.
async fn record_copy(
    state: &AppState,
    backup_id: &str,
    prefix: &str,
    row: &StorageLocation,
    result: Result<(), &str>,
    log: &ExecutionLogger,
) {
    let completed = result.is_ok();
    let recorded_complete = match executions::storages(&state.db, backup_id).await {
        Ok(copies) => copies
            .iter()
            .any(|s| s.storage_location_id == row.id && s.status == CopyStatus::Completed),
        Err(e) => {
            log.warn(format!("reading the backup's copies: {e}"));
            return;
        }
    };
    if !completed && recorded_complete {
        return;
    }
    let (status, path) = if completed {
        (CopyStatus::Completed, Some(prefix))
    } else {
        (CopyStatus::Failed, None)
    };
    if let Err(e) =
        executions::set_storage_status(&state.db, backup_id, &row.id, status, path, result.err())
            .await
    {
        log.warn(format!("recording the copy on `{}`: {e}", row.name));
    }
}
