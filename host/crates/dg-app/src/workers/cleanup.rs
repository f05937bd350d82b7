//! Retention: deletes the completed backups a job's policy no longer
//! keeps, from every storage that holds them, then their rows. Runs daily
//! and right after each successful backup; a dry run reports the plan.

use crate::state::AppState;
use crate::targets;
use chrono::{DateTime, Utc};
use dg_core::retention::{self, Candidate, RetentionPolicy};
use dg_store::rows::BackupJob;
use dg_store::{executions, notifications, StoreError};
use serde::Serialize;
use serde_json::json;
use std::str::FromStr;

/// A backup that retention deleted (or would delete).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Removed {
    pub execution_id: String,
    pub created_at: DateTime<Utc>,
    pub compressed_size_bytes: i64,
    pub reason: String,
}

/// What one pass over a job did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct CleanupReport {
    pub job_id: String,
    pub dry_run: bool,
    pub kept: usize,
    pub deleted: Vec<Removed>,
    pub bytes_freed: i64,
    /// Backups that should have gone but could not be removed from a
    /// storage; they stay listed and are retried next time.
    pub errors: Vec<String>,
}

/// Applies (or, with `dry_run`, plans) the retention of one job. Without
/// `auto_delete` nothing is deleted outside a dry run.
pub async fn apply_job(
    state: &AppState,
    job: &BackupJob,
    dry_run: bool,
) -> Result<CleanupReport, StoreError> {
    apply_job_at(state, job, dry_run, dg_store::now()).await
}

pub async fn apply_job_at(
    state: &AppState,
    job: &BackupJob,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<CleanupReport, StoreError> {
    let mut report = CleanupReport {
        job_id: job.id.clone(),
        dry_run,
        ..Default::default()
    };
    // The column is typed: a stored policy that does not read fails the
    // job's read naming the column, never "keep everything".
    let policy: RetentionPolicy = job.retention_policy.0.clone();
    if (!policy.auto_delete && !dry_run) || policy.keeps_everything() {
        return Ok(report);
    }
    let tz = chrono_tz::Tz::from_str(&job.schedule_timezone).unwrap_or(chrono_tz::UTC);
    let backups = executions::completed_backups(&state.db, &job.id).await?;
    let candidates: Vec<Candidate> = backups
        .iter()
        .map(|e| Candidate {
            id: e.id.clone(),
            // When the data was taken: a retried or queued-behind run
            // starts long after it was created.
            created_at: e.started_at.unwrap_or(e.created_at),
        })
        .collect();
    let decisions = retention::plan(&policy, &candidates, now, tz);
    for d in decisions {
        if d.keep {
            report.kept += 1;
            continue;
        }
        let Some(e) = backups.iter().find(|b| b.id == d.id) else {
            continue;
        };
        let removed = Removed {
            execution_id: e.id.clone(),
            created_at: e.created_at,
            compressed_size_bytes: e.compressed_size_bytes.unwrap_or(0),
            reason: d.reason.clone(),
        };
        if dry_run {
            report.bytes_freed += removed.compressed_size_bytes;
            report.deleted.push(removed);
            continue;
        }
        if executions::restores_reading(&state.db, &e.id).await? > 0 {
            report
                .errors
                .push(format!("{}: being restored; deleted on a later pass", e.id));
            continue;
        }
        match delete_backup(state, &e.id).await {
            Ok(()) => {
                report.bytes_freed += removed.compressed_size_bytes;
                report.deleted.push(removed);
            }
            Err(message) => report.errors.push(format!("{}: {message}", e.id)),
        }
    }
    if !dry_run && !report.deleted.is_empty() {
        notifications::insert(
            &state.db,
            notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::CleanupCompleted,
                severity: dg_core::domain::Severity::Info,
                entity_type: Some(dg_core::domain::EntityType::BackupJob),
                entity_id: Some(&job.id),
                title: format!("Retention cleaned job `{}`", job.name),
                message: format!(
                    "{} backup(s) deleted, {} freed",
                    report.deleted.len(),
                    crate::notify::context::human_bytes(
                        u64::try_from(report.bytes_freed).unwrap_or(0)
                    )
                ),
                metadata: json!({
                    "deleted": report.deleted.len(),
                    "bytes_freed": report.bytes_freed,
                    "execution_ids": report.deleted.iter().map(|r| r.execution_id.clone()).collect::<Vec<_>>(),
                    "errors": report.errors,
                }),
            },
        )
        .await?;
    }
    for e in &report.errors {
        tracing::warn!(job = %job.id, "retention: {e}");
    }
    Ok(report)
}

/// Deletes a backup's files from every storage holding them, then its rows.
/// Leftovers of failed copies go first, best effort (a storage that is down
/// must not hold retention up); then the complete copies, the primary last,
/// each marked `deleted` once gone. Any refusal keeps the rows, and the
/// row keeps pointing at a copy that still exists.
pub async fn delete_backup(state: &AppState, execution_id: &str) -> Result<(), String> {
    let db = &state.db;
    let execution = executions::get(db, execution_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such execution")?;
    let Some(prefix) = execution.backup_path.clone() else {
        executions::delete(db, execution_id)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let rows = executions::storages(db, execution_id)
        .await
        .map_err(|e| e.to_string())?;
    let primary = execution.storage_location_id.clone();
    for s in rows
        .iter()
        .filter(|s| s.status == dg_core::domain::CopyStatus::Failed)
    {
        if let Err(e) = delete_copy(state, &s.storage_location_id, &prefix).await {
            tracing::warn!(execution = %execution_id, "leftover of a failed copy kept: {e}");
        }
    }
    let replicas = rows.iter().filter(|s| {
        s.status == dg_core::domain::CopyStatus::Completed
            && Some(&s.storage_location_id) != primary.as_ref()
    });
    for s in replicas {
        delete_copy(state, &s.storage_location_id, &prefix).await?;
        executions::set_storage_status(
            db,
            execution_id,
            &s.storage_location_id,
            dg_core::domain::CopyStatus::Deleted,
            None,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    if let Some(primary) = &primary {
        delete_copy(state, primary, &prefix).await?;
    }
    executions::delete(db, execution_id)
        .await
        .map_err(|e| e.to_string())
}

/// Deletes one copy's folder; a storage that no longer exists holds nothing.
async fn delete_copy(state: &AppState, storage_id: &str, prefix: &str) -> Result<(), String> {
    let Some(row) = dg_store::storages::get(&state.db, storage_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    let client = targets::storage_for(state, &row, dg_plugin_host::tracing_sink())
        .await
        .map_err(|e| format!("storage `{}`: {e}", row.name))?;
    client
        .delete(prefix)
        .await
        .map_err(|e| format!("storage `{}`: {e}", row.name))
}

/// The daily pass over every job, plus pruning of old health checks.
pub async fn run_all(state: &AppState) -> Result<Vec<CleanupReport>, StoreError> {
    let mut reports = Vec::new();
    for job in dg_store::jobs::all(&state.db).await? {
        match apply_job(state, &job, false).await {
            Ok(r) => reports.push(r),
            Err(e) => tracing::error!(job = %job.id, "retention: {e}"),
        }
    }
    let cutoff = dg_store::now() - chrono::Duration::days(HEALTH_HISTORY_DAYS);
    let pruned = dg_store::health::prune(&state.db, cutoff).await?;
    if pruned > 0 {
        tracing::info!("pruned {pruned} health checks older than {HEALTH_HISTORY_DAYS} days");
    }
    Ok(reports)
}

/// Removes what failed uploads left behind (see
/// [`executions::leftovers`]) on `storage`, or on every storage: the
/// folder of each failed copy, then the copy is recorded `deleted`. A
/// storage that still does not answer keeps its leftovers for the next
/// sweep (at start, daily, and when the storage is reachable again). A
/// backup a restore or copy is reading is left alone. The number of
/// folders removed.
pub async fn sweep_leftovers(state: &AppState, storage: Option<&str>) -> usize {
    let found = match executions::leftovers(&state.db, storage).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("looking for partial uploads to remove: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for l in found {
        if executions::restores_reading(&state.db, &l.execution_id)
            .await
            .map_or(true, |n| n > 0)
        {
            continue;
        }
        let Ok(Some(row)) = dg_store::storages::get(&state.db, &l.storage_location_id).await else {
            continue;
        };
        let outcome =
            match crate::targets::storage_for(state, &row, dg_plugin_host::tracing_sink()).await {
                Ok(client) => dg_pipeline::remove_execution_folder(&client, &l.backup_path)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
        match outcome {
            Ok(()) => {
                removed += 1;
                tracing::info!(
                    execution = %l.execution_id,
                    "removed the partial upload {} from storage `{}`",
                    l.backup_path,
                    row.name
                );
                if let Err(e) = executions::set_storage_status(
                    &state.db,
                    &l.execution_id,
                    &row.id,
                    dg_core::domain::CopyStatus::Deleted,
                    None,
                    Some("partial upload removed"),
                )
                .await
                {
                    tracing::warn!("recording the removal of {}: {e}", l.backup_path);
                }
            }
            Err(e) => tracing::debug!(
                "partial upload {} on `{}` stays for the next sweep: {e}",
                l.backup_path,
                row.name
            ),
        }
    }
    removed
}

/// Health history kept.
const HEALTH_HISTORY_DAYS: i64 = 30;
