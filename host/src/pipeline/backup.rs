//! A backup run: engine → writer → storage, then the manifest, last.

use super::layout::{self, MANIFEST_FILE};
use super::manifest::{BackupManifest, EngineRef, Metadata, MANIFEST_VERSION};
use super::writer::{store_artifact, ArtifactSpec};
use super::{Compression, PipelineError, DEPTH};
use crate::plugin::streams::{ChannelSink, ChannelSource};
use crate::plugin::{Activity, EngineClient, StorageClient};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What to back up and where.
pub struct BackupRequest {
    pub engine: EngineClient,
    pub storage: StorageClient,
    pub job_id: String,
    pub execution_id: String,
    pub datasource_type: String,
    pub compression: Compression,
    pub compression_level: Option<i32>,
    pub max_part_bytes: Option<u64>,
    pub started_at: DateTime<Utc>,
    /// The execution's folder under the job's (`layout::execution_folder`,
    /// with a suffix when another run took that second).
    pub folder: String,
    /// Progress of the run (bytes from the engine).
    pub activity: Arc<Activity>,
    /// Stops the dump; what was written is removed like any failure.
    pub cancel: CancellationToken,
}

/// The outcome of a completed backup.
#[derive(Debug, serde::Serialize)]
pub struct BackupSummary {
    /// `{job_id}/{execution folder}` in the storage.
    pub prefix: String,
    pub manifest: BackupManifest,
}

/// Runs a backup. On any failure the execution's files are removed, so a
/// folder without a manifest is never mistaken for a backup.
pub async fn run_backup(req: BackupRequest) -> Result<BackupSummary, PipelineError> {
    let clock = Instant::now();
    let info = req.engine.info().await?;
    let format = info.artifact_format.clone().unwrap_or_else(|| "bin".into());
    let prefix = layout::key(&req.job_id, &req.folder);
    if req
        .storage
        .stat(&layout::key(&prefix, MANIFEST_FILE))
        .await?
        .is_some()
    {
        return Err(PipelineError::stage(
            "prepare",
            format!("{prefix} already holds a backup; refusing to overwrite it"),
        ));
    }
    let artifact = layout::artifact_name(&format, req.compression);
    let spec = ArtifactSpec {
        prefix: prefix.clone(),
        artifact: artifact.clone(),
        compression: req.compression,
        level: req.compression_level,
        max_part_bytes: req.max_part_bytes,
    };

    let (tx, rx) = mpsc::channel::<Bytes>(DEPTH);
    let storage = req.storage.clone();
    let handle = tokio::runtime::Handle::current();
    let writer = tokio::task::spawn_blocking(move || store_artifact(rx, spec, storage, handle));
    // On cancel the engine call is dropped (its programs are killed); the
    // writer then sees the end of its input and stops, and the folder is
    // discarded below like after any failure.
    let dumped = tokio::select! {
        r = req.engine.backup(
            Box::new(ChannelSink::new(tx, req.activity.clone())),
            req.activity.clone(),
            Vec::new(),
        ) => r.map_err(PipelineError::from),
        _ = req.cancel.cancelled() => Err(PipelineError::Cancelled),
    };
    let stored = writer
        .await
        .map_err(|e| PipelineError::stage("store", e))
        .and_then(|r| r);

    let (stats, stored) = match (dumped, stored) {
        (Ok(stats), Ok(stored)) => (stats, stored),
        (Err(engine_err), _) if matches!(engine_err, PipelineError::Cancelled) => {
            return Err(discard(&req.storage, &prefix, engine_err).await)
        }
        (Err(engine_err), Ok(_)) => return Err(discard(&req.storage, &prefix, engine_err).await),
        // A storage failure also makes the engine's writes fail; the
        // storage error is the cause worth reporting.
        (_, Err(store_err)) => return Err(discard(&req.storage, &prefix, store_err).await),
    };

    let metadata = Metadata {
        database_version: stats.database_version,
        tables_backed_up: stats.tables,
        rows_approximate: stats.rows_approximate,
        // An engine that counted (consistent) records even zero tables;
        // one that did not count records nothing.
        table_counts: (stats.counts_consistent || !stats.table_counts.is_empty()).then(|| {
            stats
                .table_counts
                .into_iter()
                .map(|t| (t.name, t.rows))
                .collect()
        }),
        counts_consistent: Some(stats.counts_consistent),
        extra: stats
            .metadata
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect(),
    };
    let manifest = BackupManifest {
        version: MANIFEST_VERSION.into(),
        created_at: req.started_at,
        execution_id: req.execution_id.clone(),
        job_id: req.job_id.clone(),
        datasource_type: req.datasource_type.clone(),
        backup_type: "full".into(),
        compression: req.compression,
        format,
        file: artifact,
        total_size_bytes: stored.raw_bytes,
        compressed_size_bytes: stored.stored_bytes,
        compression_ratio: if stored.raw_bytes == 0 {
            1.0
        } else {
            ((stored.stored_bytes as f64 / stored.raw_bytes as f64) * 10_000.0).round() / 10_000.0
        },
        checksum: stored.checksum,
        chunks: stored.chunks,
        metadata,
        engine: EngineRef {
            plugin: req.engine.plugin().id().to_string(),
            version: req.engine.plugin().manifest.plugin.version.clone(),
        },
        duration_ms: clock.elapsed().as_millis() as u64,
    };
    if let Err(e) = write_manifest(&req.storage, &prefix, &manifest).await {
        return Err(discard(&req.storage, &prefix, e).await);
    }
    Ok(BackupSummary { prefix, manifest })
}

async fn write_manifest(
    storage: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
) -> Result<(), PipelineError> {
    let json =
        serde_json::to_vec_pretty(manifest).map_err(|e| PipelineError::stage("manifest", e))?;
    let (tx, rx) = mpsc::channel(1);
    let size = json.len() as u64;
    tx.send(Ok(Bytes::from(json)))
        .await
        .map_err(|e| PipelineError::stage("manifest", e))?;
    drop(tx);
    let activity: Arc<Activity> = Arc::default();
    let key = layout::key(prefix, MANIFEST_FILE);
    storage
        .put(
            &key,
            Box::new(ChannelSource::new(rx, activity.clone())),
            Some(size),
            activity,
        )
        .await?;
    Ok(())
}

/// Removes what a failed run stored; the original error is what counts.
async fn discard(storage: &StorageClient, prefix: &str, error: PipelineError) -> PipelineError {
    if let Err(e) = remove_execution_folder(storage, prefix).await {
        tracing::warn!(%prefix, "could not remove the files of a failed backup: {e}");
    }
    error
}

/// Deletes an execution's folder (`{job}/{folder}`), and the job's folder
/// when that leaves it empty, so a job whose runs all failed leaves
/// nothing behind. Runs of one job never overlap, so nothing else is
/// writing into the job's folder meanwhile.
pub async fn remove_execution_folder(
    storage: &StorageClient,
    prefix: &str,
) -> Result<(), crate::plugin::CallError> {
    storage.delete(prefix).await?;
    if let Some((job, _)) = prefix.rsplit_once('/') {
        if storage.list(job).await?.is_empty() {
            storage.delete(job).await?;
        }
    }
    Ok(())
}
