//! Verification and restore. A restore reads each stored byte once: the
//! checksums are checked while the bytes stream through the decompressor
//! into the engine, and the engine never receives the last block of its
//! input before every checksum has matched. Engines restore all-or-nothing
//! (one transaction, or write beside the target and rename), so a copy that
//! turns out damaged leaves the target as it was.

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
    /// For a backup of several databases: the one to restore.
    pub database: Option<String>,
}

/// Restores while verifying. Returns the manifest of what was restored.
/// A damaged, missing or unreadable copy fails with
/// [`PipelineError::Copy`]: the engine was stopped before it could commit,
/// so another copy may be tried.
pub async fn run_restore(req: RestoreRequest) -> Result<BackupManifest, PipelineError> {
    let manifest = load_manifest(&req.storage, &req.prefix)
        .await
        .map_err(|e| PipelineError::Copy(Box::new(e)))?
        .artifact(req.database.as_deref())
        .map_err(|message| PipelineError::Manifest {
            path: layout::key(&req.prefix, MANIFEST_FILE),
            message,
        })?;

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
    // Report the root cause: the stored copy first (unless the feeder only
    // saw the engine stop reading), then what the engine said (it sees
    // decoding errors too), then the rest.
    let damaged = |e| Err(PipelineError::Copy(Box::new(e)));
    match (fed, decoded, restored) {
        // The stored bytes: missing, unreadable or not what was recorded.
        (Err(e), _, _) if !matches!(e, PipelineError::Stage { .. }) => damaged(e),
        // Compressed data the decoder could not read: damaged too, even
        // when the damage came before the end of its chunk's checksum.
        (
            _,
            Err(
                e @ PipelineError::Stage {
                    stage: "decompress",
                    ..
                },
            ),
            _,
        ) => damaged(e),
        (Err(e @ PipelineError::Stage { .. }), _, Err(engine)) => {
            tracing::debug!("restore feeder: {e}");
            Err(engine.into())
        }
        (_, _, Err(e)) => Err(e.into()),
        (_, Err(e), _) | (Err(e), _, _) => Err(e),
        (Ok(()), Ok(()), Ok(())) => Ok(manifest),
    }
}

/// Decompresses on a blocking thread. Any input failure or corrupt data is
/// forwarded to the engine as an error item, never as end of stream. The
/// last decoded block is held back until the input ended cleanly, which
/// happens only once every chunk's and the artifact's checksum matched: an
/// engine cannot finish (and commit) a restore from unverified bytes.
fn decode(
    compression: super::Compression,
    input: mpsc::Receiver<SourceItem>,
    output: mpsc::Sender<SourceItem>,
) -> Result<(), PipelineError> {
    let mut reader = ChannelReader {
        rx: input,
        current: Bytes::new(),
    };
    let fail = |output: &mpsc::Sender<SourceItem>, message: String| {
        let _ = output.blocking_send(Err(message.clone()));
        PipelineError::stage("decompress", message)
    };
    let stopped = || PipelineError::stage("restore", "the target stopped reading");
    let mut held: Option<Bytes> = None;
    {
        let mut decoded = match decoder(compression, &mut reader) {
            Ok(d) => d,
            Err(e) => return Err(fail(&output, e.to_string())),
        };
        loop {
            let block = match read_block(&mut decoded) {
                Ok(block) => block,
                Err(e) => return Err(fail(&output, format!("{compression} data: {e}"))),
            };
            if block.is_empty() {
                break;
            }
            if let Some(previous) = held.replace(block) {
                if output.blocking_send(Ok(previous)).is_err() {
                    return Err(stopped());
                }
            }
        }
    }
    // The decoder may stop at the end of its frame before the input's end,
    // where the last checks happen: wait for that end.
    let mut rest = [0u8; 4096];
    match reader.read(&mut rest) {
        Ok(0) => {}
        Ok(_) => {
            return Err(fail(
                &output,
                format!("{compression} data: unexpected bytes after the end of the stream"),
            ))
        }
        Err(e) => return Err(fail(&output, e.to_string())),
    }
    if let Some(last) = held {
        if output.blocking_send(Ok(last)).is_err() {
            return Err(stopped());
        }
    }
    Ok(())
}

/// Fills one block from `source`; empty at the end.
fn read_block(source: &mut impl Read) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    while filled < BLOCK {
        match source.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
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
