//! Verification and restore. A restore reads each stored byte once: the
//! checksums are checked while the bytes stream through the decompressor
//! into the engine, and the engine never receives the last block of its
//! input before every checksum has matched. Engines restore all-or-nothing
//! (one transaction, or write beside the target and rename), so a copy that
//! turns out damaged leaves the target as it was.

use crate::blocks::BlockPool;
use crate::compression::decoder;
use crate::layout::{self, MANIFEST_FILE};
use crate::manifest::{checksum_string, BackupManifest};
use crate::reader::{self, read_small};
use crate::spool::{self, SpoolPolicy};
use crate::{PipelineError, DEPTH};
use bytes::Bytes;
use dg_plugin_host::streams::{ChannelSource, SourceItem};
use dg_plugin_host::{Activity, EngineClient, Phase, StorageClient};
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
            PipelineError::Missing { .. } => PipelineError::Manifest {
                path: key.clone(),
                message: "missing: this folder is not a complete backup".into(),
            },
            other => other,
        })?;
    BackupManifest::parse(&bytes).map_err(|message| PipelineError::Manifest { path: key, message })
}

/// Streams every chunk in order to `each`, checking each chunk's checksum
/// and size and the whole artifact's checksum. `each` returns false to stop.
/// Public for the API's artifact download (`api::stream`), which sends the
/// checked chunks to the client instead of an engine.
pub async fn stream_checked<F>(
    storage: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
    mut each: F,
) -> Result<(), PipelineError>
where
    F: FnMut(Bytes) -> futures::future::BoxFuture<'static, bool>,
{
    // One chunk: its checksum is the artifact's, and hashing every byte a
    // second time would cost as much CPU as decompressing them.
    let single = manifest.chunks.len() == 1;
    let mut whole = Sha256::new();
    let mut single_checksum = None;
    for chunk in &manifest.chunks {
        let mut stream = reader::open(storage, &layout::key(prefix, &chunk.file));
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(block) = stream.blocks.recv().await {
            hasher.update(&block);
            if !single {
                whole.update(&block);
            }
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
        if single {
            single_checksum = Some(actual);
        }
    }
    let actual = single_checksum.unwrap_or_else(|| checksum_string(&whole.finalize()));
    if actual != manifest.checksum {
        return Err(PipelineError::Integrity(format!(
            "artifact checksum mismatch (manifest {}, stored {actual})",
            manifest.checksum
        )));
    }
    Ok(())
}

/// Sends every stored block to `tx`, checking every checksum on the way; a
/// failure reaches the reader as an error item, never as an end of stream
/// (which the engine would take for a complete input).
pub(crate) async fn feed_checked(
    storage: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
    tx: mpsc::Sender<SourceItem>,
) -> Result<(), PipelineError> {
    let blocks = tx.clone();
    let outcome = stream_checked(storage, prefix, manifest, move |block| {
        let blocks = blocks.clone();
        Box::pin(async move { blocks.send(Ok(block)).await.is_ok() })
    })
    .await;
    if let Err(e) = &outcome {
        let _ = tx.send(Err(e.to_string())).await;
    }
    outcome
}

/// After the decoder's end of stream, its input must end too: that is
/// where the last checksums are checked, and a decoder may stop at the end
/// of its frame before it.
pub(crate) fn input_ends(
    reader: &mut ChannelReader,
    compression: crate::Compression,
) -> Result<(), String> {
    let mut rest = [0u8; 4096];
    match reader.read(&mut rest) {
        Ok(0) => Ok(()),
        Ok(_) => Err(format!(
            "{compression} data: unexpected bytes after the end of the stream"
        )),
        Err(e) => Err(e.to_string()),
    }
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
    /// Restore with several jobs from a verified spool file instead of
    /// one stream (engines whose manifest says `parallel_restore`).
    pub parallel: Option<Parallel>,
}

/// Most jobs a parallel restore may ask for.
pub const MAX_JOBS: u32 = 64;

/// `jobs` of a restore: a number from 1 to [`MAX_JOBS`], or `auto` (the
/// cores of the machine that runs it).
pub fn parse_jobs(text: &str) -> Result<u32, String> {
    if text.trim() == "auto" {
        return Ok(auto_jobs());
    }
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is neither a number from 1 to {MAX_JOBS} nor \"auto\""
        )),
    }
}

/// This machine's cores (at most [`MAX_JOBS`]).
pub fn auto_jobs() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(MAX_JOBS))
        .unwrap_or(1)
        .clamp(1, MAX_JOBS)
}

/// A parallel restore cannot be one transaction, so it only goes into an
/// empty database (or one whose tables `drop_existing` drops first).
/// Checked before anything is written; the error says what to do.
pub async fn check_parallel_target(
    engine: &EngineClient,
    drop_existing: bool,
    drop_option: &str,
) -> Result<(), String> {
    if drop_existing {
        return Ok(());
    }
    let tables = engine
        .inspect()
        .await
        .map_err(|e| format!("checking that the target is empty: {e}"))?;
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tables.iter().take(5).map(|t| t.name.as_str()).collect();
    Err(format!(
        "a parallel restore (jobs > 1) cannot run as one transaction, so it only restores into \
         an empty database, and the target holds {} table(s) ({}{}): restore into a new \
         database, use jobs 1 (one transaction, all or nothing), or add {drop_option} to drop \
         the backup's objects first (a failure then leaves the database partly restored)",
        tables.len(),
        names.join(", "),
        if tables.len() > names.len() {
            ", ..."
        } else {
            ""
        }
    ))
}

/// A restore through a spool file with `jobs` workers.
#[derive(Debug, Clone)]
pub struct Parallel {
    pub jobs: u32,
    pub spool: SpoolPolicy,
    /// Names the spool file (the execution's id): unique per restore.
    pub name: String,
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
        .map_err(|e| PipelineError::Manifest {
            path: layout::key(&req.prefix, MANIFEST_FILE),
            message: e.to_string(),
        })?;
    if let Some(parallel) = &req.parallel {
        return restore_spooled(&req, manifest, parallel).await;
    }
    req.activity.set_phase(Phase::Stream);

    // stored chunks --(compressed)--> decoder thread --(raw)--> engine
    let (packed_tx, packed_rx) = mpsc::channel::<SourceItem>(DEPTH);
    let (raw_tx, raw_rx) = mpsc::channel::<SourceItem>(DEPTH);
    let compression = manifest.compression;
    let decoding = tokio::task::spawn_blocking(move || decode(compression, packed_rx, raw_tx));

    let feeding = feed_checked(&req.storage, &req.prefix, &manifest, packed_tx);
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

/// Spools the artifact (every checksum checked), then lets the engine
/// load the file with `jobs` workers. Nothing reaches the engine unless
/// the whole artifact was intact; the spool is removed however this ends.
async fn restore_spooled(
    req: &RestoreRequest,
    manifest: BackupManifest,
    parallel: &Parallel,
) -> Result<BackupManifest, PipelineError> {
    req.activity.set_phase(Phase::Spool);
    let spooled = spool::spool(
        &req.storage,
        &req.prefix,
        &manifest,
        &parallel.spool,
        &parallel.name,
        req.activity.clone(),
    )
    .await?;
    let path = spooled
        .path()
        .to_str()
        .ok_or_else(|| PipelineError::stage("spool", "the spool path is not UTF-8"))?
        .to_string();
    let mut options = req.options.clone();
    options.push(("jobs".into(), parallel.jobs.to_string()));
    options.push(("archive_file".into(), path));
    // The engine reads the file itself: its stream is empty, and the
    // silence while it loads is not a stall.
    req.activity.set_phase(Phase::Load);
    req.activity.mark_input_done();
    let (_, empty) = mpsc::channel::<SourceItem>(1);
    let source = ChannelSource::new(empty, req.activity.clone());
    req.engine
        .restore(Box::new(source), req.activity.clone(), options)
        .await?;
    drop(spooled);
    Ok(manifest)
}

/// Decompresses on a blocking thread. Any input failure or corrupt data is
/// forwarded to the engine as an error item, never as end of stream. The
/// last decoded block is held back until the input ended cleanly, which
/// happens only once every chunk's and the artifact's checksum matched: an
/// engine cannot finish (and commit) a restore from unverified bytes.
fn decode(
    compression: crate::Compression,
    input: mpsc::Receiver<SourceItem>,
    output: mpsc::Sender<SourceItem>,
) -> Result<(), PipelineError> {
    let mut reader = ChannelReader::new(input);
    let fail = |output: &mpsc::Sender<SourceItem>, message: String| {
        let _ = output.blocking_send(Err(message.clone()));
        PipelineError::stage("decompress", message)
    };
    let stopped = || PipelineError::stage("restore", "the target stopped reading");
    let mut held: Option<Bytes> = None;
    let blocks = BlockPool::default();
    {
        let mut decoded = match decoder(compression, &mut reader) {
            Ok(d) => d,
            Err(e) => return Err(fail(&output, e.to_string())),
        };
        loop {
            let block = match blocks.read_block(&mut decoded) {
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
    if let Err(message) = input_ends(&mut reader, compression) {
        return Err(fail(&output, message));
    }
    if let Some(last) = held {
        if output.blocking_send(Ok(last)).is_err() {
            return Err(stopped());
        }
    }
    Ok(())
}

/// `Read` over a channel of blocks; an error item becomes an I/O error.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<SourceItem>,
    current: Bytes,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<SourceItem>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
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
