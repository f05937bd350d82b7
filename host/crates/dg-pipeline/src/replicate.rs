//! Copying a stored backup from one storage to another (the `replicate`
//! strategy and upload retries). Every part is re-hashed on the way and
//! checked against the manifest; the manifest is copied last, so the copy
//! counts as a backup only once it is whole.

use crate::layout::{self, MANIFEST_FILE};
use crate::manifest::checksum_string;
use crate::reader;
use crate::restore::load_manifest;
use crate::{BackupManifest, PipelineError, DEPTH};
use dg_plugin_host::streams::{ChannelSource, SourceItem};
use dg_plugin_host::{Activity, StorageClient};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Whether a storage holds a whole copy of the backup at `prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The manifest and every part, each at its recorded size.
    Whole,
    /// Something is missing, or has another size.
    Incomplete,
    /// The storage did not answer.
    Unreachable,
}

/// Looks for the manifest and every part (`(file name, size)`) of the
/// backup at `prefix`. Sizes only: checksums are read by a restore, a
/// verification or a copy, not here, so this stays cheap enough for a
/// listing.
pub async fn presence(storage: &StorageClient, prefix: &str, parts: &[(&str, u64)]) -> Presence {
    match storage.stat(&layout::key(prefix, MANIFEST_FILE)).await {
        Ok(Some(_)) => {}
        Ok(None) => return Presence::Incomplete,
        Err(_) => return Presence::Unreachable,
    }
    for (file, size) in parts {
        match storage.stat(&layout::key(prefix, file)).await {
            Ok(Some(info)) if !info.is_dir && info.size == *size => {}
            Ok(_) => return Presence::Incomplete,
            Err(_) => return Presence::Unreachable,
        }
    }
    Presence::Whole
}

/// Copies the execution at `prefix` from `from` to `to`. On failure or
/// cancel the partial copy is removed from `to`.
pub async fn copy_execution(
    from: &StorageClient,
    to: &StorageClient,
    prefix: &str,
    activity: Arc<Activity>,
    cancel: &CancellationToken,
) -> Result<BackupManifest, PipelineError> {
    let manifest = load_manifest(from, prefix).await?;
    let result = tokio::select! {
        r = copy_all(from, to, prefix, &manifest, activity) => r,
        () = cancel.cancelled() => Err(PipelineError::Cancelled),
    };
    if let Err(e) = result {
        if let Err(cleanup) = to.delete(prefix).await {
            tracing::warn!("removing the partial copy {prefix}: {cleanup}");
        }
        return Err(e);
    }
    Ok(manifest)
}

async fn copy_all(
    from: &StorageClient,
    to: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
    activity: Arc<Activity>,
) -> Result<(), PipelineError> {
    for chunk in &manifest.chunks {
        let digest = copy_object(from, to, &layout::key(prefix, &chunk.file), &activity).await?;
        if checksum_string(&digest) != chunk.checksum {
            return Err(PipelineError::Integrity(format!(
                "{}: checksum mismatch while copying (expected {})",
                chunk.file, chunk.checksum
            )));
        }
    }
    copy_object(from, to, &layout::key(prefix, MANIFEST_FILE), &activity).await?;
    Ok(())
}

/// Streams one object across, returning the sha256 of what was read. The
/// target must report storing exactly the bytes read.
async fn copy_object(
    from: &StorageClient,
    to: &StorageClient,
    key: &str,
    activity: &Arc<Activity>,
) -> Result<Vec<u8>, PipelineError> {
    let mut stream = reader::open(from, key);
    let (tx, rx) = mpsc::channel::<SourceItem>(DEPTH);
    let source = ChannelSource::new(rx, activity.clone());
    let put = {
        let to = to.clone();
        let key = key.to_string();
        let activity = activity.clone();
        tokio::spawn(async move { to.put(&key, Box::new(source), None, activity).await })
    };
    let mut hasher = Sha256::new();
    let mut read_bytes = 0u64;
    while let Some(block) = stream.blocks.recv().await {
        hasher.update(&block);
        read_bytes += block.len() as u64;
        if tx.send(Ok(block)).await.is_err() {
            // The target gave up: stop reading (a full channel would
            // otherwise hold the read until its watchdog) and report why.
            stream.done.abort();
            drop(tx);
            let written = put.await.map_err(|e| PipelineError::stage("copy", e))?;
            return Err(match written {
                Err(e) => e.into(),
                Ok(_) => PipelineError::stage("copy", format!("{key}: the target stopped reading")),
            });
        }
    }
    let read = reader::finish(stream, key).await;
    if let Err(e) = &read {
        let _ = tx.send(Err(e.to_string())).await;
    }
    drop(tx);
    let written = put.await.map_err(|e| PipelineError::stage("copy", e))?;
    read?;
    let stored = written?;
    if stored != read_bytes {
        return Err(PipelineError::Integrity(format!(
            "{key}: {stored} bytes stored in the copy, {read_bytes} read"
        )));
    }
    Ok(hasher.finalize().to_vec())
}
