//! A backup run: engine → writer → storage, then the manifest, last.

use crate::layout::{self, MANIFEST_FILE};
use crate::manifest::{
    checksum_string, BackupManifest, DatabaseArtifact, DatabaseEntry, EngineRef, Metadata,
    MANIFEST_VERSION,
};
use crate::writer::{store_artifact, ArtifactSpec, StoredArtifact};
use crate::{Compression, PipelineError, DEPTH};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use dg_plugin_host::bindings::BackupStats;
use dg_plugin_host::streams::{ChannelSink, ChannelSource};
use dg_plugin_host::{Activity, EngineClient, StorageClient};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What to back up and where.
pub struct BackupRequest {
    /// The datasource as configured: names the format and the plugin, and
    /// is the one source unless `databases` is set.
    pub engine: EngineClient,
    /// Several databases of the server, each with an engine pointed at it
    /// (in this order); empty backs up `engine`'s own database.
    pub databases: Vec<(String, EngineClient)>,
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

impl BackupSummary {
    /// Databases of a several-databases backup that were not stored, with
    /// the reason.
    pub fn failed_databases(&self) -> Vec<(&str, &str)> {
        self.manifest
            .databases
            .iter()
            .flatten()
            .filter_map(|d| d.error.as_deref().map(|e| (d.name.as_str(), e)))
            .collect()
    }
}

/// Runs a backup. On any failure the execution's files are removed, so a
/// folder without a manifest is never mistaken for a backup. In a
/// several-databases backup one database's failure is recorded in the
/// manifest and the others go on; only when none is stored (or the
/// storage fails) does the whole run fail.
pub async fn run_backup(req: BackupRequest) -> Result<BackupSummary, PipelineError> {
    let clock = Instant::now();
    let prefix = layout::key(&req.job_id, &req.folder);
    let format = prepare(&req, &prefix).await?;
    let stored = if req.databases.is_empty() {
        store_single(&req, &prefix, &format).await
    } else {
        store_databases(&req, &prefix, &format).await
    };
    let mut manifest = match stored {
        Ok(m) => m,
        Err(e) => return Err(discard(&req.storage, &prefix, e).await),
    };
    manifest.duration_ms = clock.elapsed().as_millis() as u64;
    if let Err(e) = write_manifest(&req.storage, &prefix, &manifest).await {
        return Err(discard(&req.storage, &prefix, e).await);
    }
    Ok(BackupSummary { prefix, manifest })
}

/// The artifact format, after making sure the folder holds no backup.
async fn prepare(req: &BackupRequest, prefix: &str) -> Result<String, PipelineError> {
    let info = req.engine.info().await?;
    if req
        .storage
        .stat(&layout::key(prefix, MANIFEST_FILE))
        .await?
        .is_some()
    {
        return Err(PipelineError::stage(
            "prepare",
            format!("{prefix} already holds a backup; refusing to overwrite it"),
        ));
    }
    Ok(info.artifact_format.unwrap_or_else(|| "bin".into()))
}

async fn store_single(
    req: &BackupRequest,
    prefix: &str,
    format: &str,
) -> Result<BackupManifest, PipelineError> {
    let artifact = layout::artifact_name(format, req.compression);
    let one = store_one(req, &req.engine, prefix, &artifact, None)
        .await
        .map_err(|f| f.error)?;
    let mut manifest = new_manifest(req, format);
    manifest.file = artifact;
    manifest.total_size_bytes = one.stored.raw_bytes;
    manifest.compressed_size_bytes = one.stored.stored_bytes;
    manifest.compression_ratio = ratio(one.stored.raw_bytes, one.stored.stored_bytes);
    manifest.checksum = one.stored.checksum;
    manifest.chunks = one.stored.chunks;
    manifest.metadata = metadata_of(one.stats);
    Ok(manifest)
}

/// Each database in turn into its own artifact of the same folder. The
/// folder-wide checksum is carried from one artifact to the next, and
/// rolled back over a database that failed.
async fn store_databases(
    req: &BackupRequest,
    prefix: &str,
    format: &str,
) -> Result<BackupManifest, PipelineError> {
    let mut manifest = new_manifest(req, format);
    let mut entries = Vec::new();
    let mut carry = Sha256::new();
    let mut raw_total = 0u64;
    let mut stored_total = 0u64;
    for (i, (name, engine)) in req.databases.iter().enumerate() {
        let artifact = layout::database_artifact_name(i + 1, name, format, req.compression);
        match store_one(req, engine, prefix, &artifact, Some(carry.clone())).await {
            Ok(one) => {
                carry = one.stored.carry.clone().unwrap_or(carry);
                raw_total += one.stored.raw_bytes;
                stored_total += one.stored.stored_bytes;
                manifest.chunks.extend(one.stored.chunks.iter().cloned());
                entries.push(DatabaseEntry {
                    name: name.clone(),
                    artifact: Some(DatabaseArtifact {
                        file: artifact,
                        total_size_bytes: one.stored.raw_bytes,
                        compressed_size_bytes: one.stored.stored_bytes,
                        checksum: one.stored.checksum,
                        chunks: one.stored.chunks,
                        metadata: metadata_of(one.stats),
                    }),
                    error: None,
                });
            }
            Err(Failure {
                error,
                engine_side: true,
            }) if !matches!(error, PipelineError::Cancelled) => {
                tracing::warn!(database = %name, "database not backed up: {error}");
                remove_artifact(&req.storage, prefix, &artifact).await?;
                entries.push(DatabaseEntry {
                    name: name.clone(),
                    artifact: None,
                    error: Some(error.to_string()),
                });
            }
            Err(failure) => return Err(failure.error),
        }
    }
    if entries.iter().all(|e| e.artifact.is_none()) {
        let reasons: Vec<String> = entries
            .iter()
            .map(|e| format!("{}: {}", e.name, e.error.as_deref().unwrap_or("")))
            .collect();
        return Err(PipelineError::stage(
            "backup",
            format!("no database was backed up: {}", reasons.join("; ")),
        ));
    }
    for (i, chunk) in manifest.chunks.iter_mut().enumerate() {
        chunk.number = i as u32 + 1;
    }
    let stored: Vec<&DatabaseArtifact> =
        entries.iter().filter_map(|e| e.artifact.as_ref()).collect();
    manifest.total_size_bytes = raw_total;
    manifest.compressed_size_bytes = stored_total;
    manifest.compression_ratio = ratio(raw_total, stored_total);
    manifest.checksum = checksum_string(&carry.finalize());
    manifest.metadata = Metadata {
        database_version: stored
            .iter()
            .find_map(|a| a.metadata.database_version.clone()),
        tables_backed_up: Some(
            stored
                .iter()
                .filter_map(|a| a.metadata.tables_backed_up)
                .sum(),
        ),
        rows_approximate: Some(
            stored
                .iter()
                .filter_map(|a| a.metadata.rows_approximate)
                .sum(),
        ),
        ..Metadata::default()
    };
    manifest.databases = Some(entries);
    Ok(manifest)
}

/// A manifest with the run's facts and no artifact yet.
fn new_manifest(req: &BackupRequest, format: &str) -> BackupManifest {
    BackupManifest {
        version: MANIFEST_VERSION.into(),
        created_at: req.started_at,
        execution_id: req.execution_id.clone(),
        job_id: req.job_id.clone(),
        datasource_type: req.datasource_type.clone(),
        backup_type: dg_core::domain::BackupType::Full.to_string(),
        compression: req.compression,
        format: format.to_string(),
        file: String::new(),
        total_size_bytes: 0,
        compressed_size_bytes: 0,
        compression_ratio: 1.0,
        checksum: String::new(),
        chunks: Vec::new(),
        metadata: Metadata::default(),
        engine: EngineRef {
            plugin: req.engine.plugin().id().to_string(),
            version: req.engine.plugin().manifest.plugin.version.clone(),
        },
        duration_ms: 0,
        databases: None,
    }
}

fn ratio(raw: u64, stored: u64) -> f64 {
    if raw == 0 {
        1.0
    } else {
        ((stored as f64 / raw as f64) * 10_000.0).round() / 10_000.0
    }
}

fn metadata_of(stats: BackupStats) -> Metadata {
    Metadata {
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
    }
}

/// One artifact stored, with what the engine said about it.
struct StoredOne {
    stats: BackupStats,
    stored: StoredArtifact,
}

/// Why one artifact was not stored, and whose fault it was.
struct Failure {
    error: PipelineError,
    /// The engine failed while the storage was fine: another database of
    /// the same run may still succeed.
    engine_side: bool,
}

/// Streams one engine's dump into one artifact of the folder.
async fn store_one(
    req: &BackupRequest,
    engine: &EngineClient,
    prefix: &str,
    artifact: &str,
    carry: Option<Sha256>,
) -> Result<StoredOne, Failure> {
    let spec = ArtifactSpec {
        prefix: prefix.to_string(),
        artifact: artifact.to_string(),
        compression: req.compression,
        level: req.compression_level,
        max_part_bytes: req.max_part_bytes,
        carry,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(DEPTH);
    let storage = req.storage.clone();
    let handle = tokio::runtime::Handle::current();
    let writer = tokio::task::spawn_blocking(move || store_artifact(rx, spec, storage, handle));
    // On cancel the engine call is dropped (its programs are killed); the
    // writer then sees the end of its input and stops, and the folder is
    // discarded like after any failure.
    let dumped = tokio::select! {
        r = engine.backup(
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
    match (dumped, stored) {
        (Ok(stats), Ok(stored)) => Ok(StoredOne { stats, stored }),
        (Err(error), Ok(_)) => Err(Failure {
            error,
            engine_side: true,
        }),
        (Err(PipelineError::Cancelled), Err(_)) => Err(Failure {
            error: PipelineError::Cancelled,
            engine_side: false,
        }),
        // A storage failure also makes the engine's writes fail; the
        // storage error is the cause worth reporting.
        (_, Err(error)) => Err(Failure {
            error,
            engine_side: false,
        }),
    }
}

/// Removes the files of one artifact (all its parts) from the folder.
async fn remove_artifact(
    storage: &StorageClient,
    prefix: &str,
    artifact: &str,
) -> Result<(), PipelineError> {
    for object in storage.list(prefix).await? {
        let name = object.key.rsplit('/').next().unwrap_or(&object.key);
        if name == artifact || name.starts_with(&format!("{artifact}.part-")) {
            storage.delete(&object.key).await?;
        }
    }
    Ok(())
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
) -> Result<(), dg_plugin_host::CallError> {
    storage.delete(prefix).await?;
    if let Some((job, _)) = prefix.rsplit_once('/') {
        if storage.list(job).await?.is_empty() {
            storage.delete(job).await?;
        }
    }
    Ok(())
}
