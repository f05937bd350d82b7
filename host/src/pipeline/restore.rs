//! Verification and restore. Restore checks every checksum before a single
//! byte reaches the target, then streams again — checking again — through
//! the decompressor into the engine.

use super::compression::decoder;
use super::layout::{self, MANIFEST_FILE};
use super::manifest::{checksum_string, BackupManifest};
use super::reader::{self, read_small};
use super::{PipelineError, BLOCK, DEPTH};
use crate::plugin::streams::{ChannelSource, SourceItem};
use crate::plugin::{Activity, EngineClient, StorageClient};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

const MANIFEST_LIMIT: usize = 16 << 20;

/// Reads and checks the manifest of an execution.
pub async fn load_manifest(
    storage: &StorageClient,
    prefix: &str,
) -> Result<BackupManifest, PipelineError> {
    let key = layout::key(prefix, MANIFEST_FILE);
    let bytes = read_small(storage, &key, MANIFEST_LIMIT)
        .await
        .map_err(|e| match e {
            PipelineError::Integrity(m) if m.contains("missing") => PipelineError::Manifest {
                path: key.clone(),
                message: "missing: this folder is not a complete backup".into(),
            },
            other => other,
        })?;
    BackupManifest::parse(&bytes).map_err(|message| PipelineError::Manifest { path: key, message })
}

/// Streams every chunk in order to `each`, checking each chunk's checksum
/// and size and the whole artifact's checksum. `each` returns false to stop.
pub(crate) async fn stream_checked<F>(
    storage: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
    mut each: F,
) -> Result<(), PipelineError>
where
    F: FnMut(Bytes) -> futures::future::BoxFuture<'static, bool>,
{
    let mut whole = Sha256::new();
    for chunk in &manifest.chunks {
        let mut stream = reader::open(storage, &layout::key(prefix, &chunk.file));
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(block) = stream.blocks.recv().await {
            hasher.update(&block);
            whole.update(&block);
            size += block.len() as u64;
            if !each(block).await {
                return Err(PipelineError::stage(
                    "restore",
                    "the target stopped reading",
                ));
            }
        }
        reader::finish(stream, &chunk.file).await?;
        if size != chunk.size_bytes {
            return Err(PipelineError::Integrity(format!(
                "{}: {size} bytes stored, manifest says {}",
                chunk.file, chunk.size_bytes
            )));
        }
        let actual = checksum_string(&hasher.finalize());
        if actual != chunk.checksum {
            return Err(PipelineError::Integrity(format!(
                "{}: checksum mismatch (manifest {}, stored {actual})",
                chunk.file, chunk.checksum
            )));
        }
    }
    let actual = checksum_string(&whole.finalize());
    if actual != manifest.checksum {
        return Err(PipelineError::Integrity(format!(
            "artifact checksum mismatch (manifest {}, stored {actual})",
            manifest.checksum
        )));
    }
    Ok(())
}

/// Checks every stored byte of an execution against its manifest.
pub async fn verify_execution(
    storage: &StorageClient,
    prefix: &str,
) -> Result<BackupManifest, PipelineError> {
    let manifest = load_manifest(storage, prefix).await?;
    stream_checked(storage, prefix, &manifest, |_| Box::pin(async { true })).await?;
    Ok(manifest)
}

/// What to restore where.
pub struct RestoreRequest {
    pub storage: StorageClient,
    pub prefix: String,
    pub engine: EngineClient,
    pub options: Vec<(String, String)>,
    pub activity: Arc<Activity>,
}

/// Verifies, then restores. Returns the manifest of what was restored.
pub async fn run_restore(req: RestoreRequest) -> Result<BackupManifest, PipelineError> {
    let manifest = verify_execution(&req.storage, &req.prefix).await?;

    // stored chunks --(compressed)--> decoder thread --(raw)--> engine
    let (packed_tx, packed_rx) = mpsc::channel::<SourceItem>(DEPTH);
    let (raw_tx, raw_rx) = mpsc::channel::<SourceItem>(DEPTH);
    let compression = manifest.compression;
    let decoding = tokio::task::spawn_blocking(move || decode(compression, packed_rx, raw_tx));

    let feeding = {
        let storage = req.storage.clone();
        let prefix = req.prefix.clone();
        let manifest = manifest.clone();
        async move {
            let tx = packed_tx.clone();
            let outcome = stream_checked(&storage, &prefix, &manifest, move |block| {
                let tx = tx.clone();
                Box::pin(async move { tx.send(Ok(block)).await.is_ok() })
            })
            .await;
            if let Err(e) = &outcome {
                // Make the failure reach the engine as a failed read.
                let _ = packed_tx.send(Err(e.to_string())).await;
            }
            outcome
        }
    };
    let source = ChannelSource::new(raw_rx, req.activity.clone());
    let restoring = req
        .engine
        .restore(Box::new(source), req.activity.clone(), req.options.clone());
    let (fed, restored) = tokio::join!(feeding, restoring);
    let decoded = decoding
        .await
        .map_err(|e| PipelineError::stage("decompress", e))
        .and_then(|r| r);
    // Report the root cause: damaged storage first, then what the engine
    // said (it sees decoding errors too), then the rest.
    match (fed, decoded, restored) {
        (Err(e @ PipelineError::Integrity(_)), _, _) => Err(e),
        (_, _, Err(e)) => Err(e.into()),
        (_, Err(e), _) | (Err(e), _, _) => Err(e),
        (Ok(()), Ok(()), Ok(())) => Ok(manifest),
    }
}

/// Decompresses on a blocking thread. Any input failure or corrupt data is
/// forwarded to the engine as an error item, never as end of stream.
fn decode(
    compression: super::Compression,
    input: mpsc::Receiver<SourceItem>,
    output: mpsc::Sender<SourceItem>,
) -> Result<(), PipelineError> {
    let reader = ChannelReader {
        rx: input,
        current: Bytes::new(),
    };
    let fail = |output: &mpsc::Sender<SourceItem>, message: String| {
        let _ = output.blocking_send(Err(message.clone()));
        PipelineError::stage("decompress", message)
    };
    let mut decoded = match decoder(compression, reader) {
        Ok(d) => d,
        Err(e) => return Err(fail(&output, e.to_string())),
    };
    loop {
        let mut buf = vec![0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK {
            match decoded.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(fail(&output, format!("{compression} data: {e}"))),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        buf.truncate(filled);
        if output.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return Err(PipelineError::stage(
                "restore",
                "the target stopped reading",
            ));
        }
    }
}

/// `Read` over a channel of blocks; an error item becomes an I/O error.
struct ChannelReader {
    rx: mpsc::Receiver<SourceItem>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(block)) => self.current = block,
                Some(Err(reason)) => return Err(std::io::Error::other(reason)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
