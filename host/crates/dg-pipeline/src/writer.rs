//! The storing half of a backup: runs on a blocking thread, compresses the
//! engine's bytes, hashes them (whole artifact and per chunk, one pass),
//! cuts chunks at `max_part_bytes` and streams each chunk to storage while
//! it is being produced.

use crate::compression::{Compression, Encoder};
use crate::layout;
use crate::manifest::{checksum_string, ChunkEntry};
use crate::{PipelineError, BLOCK, DEPTH};
use bytes::{Bytes, BytesMut};
use dg_plugin_host::streams::{ChannelSource, SourceItem};
use dg_plugin_host::{Activity, StorageClient};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where and how to store an artifact.
pub struct ArtifactSpec {
    /// `{job_id}/{execution folder}`.
    pub prefix: String,
    /// `backup.dump.zst`.
    pub artifact: String,
    pub compression: Compression,
    /// Checked level, or the codec's default.
    pub level: Option<i32>,
    /// Split into parts of this size; `None` keeps one file.
    pub max_part_bytes: Option<u64>,
    /// A hash carried over from the artifacts stored before this one in
    /// the same folder, continued over this one's stored bytes (the
    /// folder-wide checksum of a several-databases backup).
    pub carry: Option<Sha256>,
}

/// What was stored.
#[derive(Debug)]
pub struct StoredArtifact {
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub checksum: String,
    pub chunks: Vec<ChunkEntry>,
    /// `ArtifactSpec::carry`, continued over this artifact.
    pub carry: Option<Sha256>,
}

/// Consumes `input` until it closes and stores it. Blocking: run it with
/// `spawn_blocking`.
pub fn store_artifact(
    input: mpsc::Receiver<Bytes>,
    spec: ArtifactSpec,
    storage: StorageClient,
    handle: Handle,
) -> Result<StoredArtifact, PipelineError> {
    let chunker = Chunker::new(&spec, storage, handle);
    let mut encoder = Encoder::new(spec.compression, spec.level, chunker)
        .map_err(|e| PipelineError::stage("compress", e))?;
    let mut input = input;
    let mut raw_bytes = 0u64;
    while let Some(block) = input.blocking_recv() {
        raw_bytes += block.len() as u64;
        if let Err(e) = encoder.write_all(&block) {
            // A storage failure surfaces here as a write error; report it.
            let cause = encoder.sink_mut().take_error();
            return Err(cause.unwrap_or_else(|| PipelineError::stage("compress", e)));
        }
    }
    let chunker = encoder
        .finish()
        .map_err(|e| PipelineError::stage("compress", e))?;
    chunker.finish(raw_bytes)
}

struct OpenPart {
    entry: ChunkEntry,
    key: String,
    tx: mpsc::Sender<SourceItem>,
    hasher: Sha256,
    buf: BytesMut,
    upload: JoinHandle<Result<u64, dg_plugin_host::CallError>>,
}

/// `Write` sink that splits, hashes and uploads.
struct Chunker {
    prefix: String,
    artifact: String,
    max_part_bytes: Option<u64>,
    storage: StorageClient,
    handle: Handle,
    whole: Sha256,
    carry: Option<Sha256>,
    stored_bytes: u64,
    current: Option<OpenPart>,
    done: Vec<ChunkEntry>,
    error: Option<PipelineError>,
}

impl Chunker {
    fn new(spec: &ArtifactSpec, storage: StorageClient, handle: Handle) -> Self {
        Self {
            prefix: spec.prefix.clone(),
            artifact: spec.artifact.clone(),
            max_part_bytes: spec.max_part_bytes,
            storage,
            handle,
            whole: Sha256::new(),
            carry: spec.carry.clone(),
            stored_bytes: 0,
            current: None,
            done: Vec::new(),
            error: None,
        }
    }

    fn take_error(&mut self) -> Option<PipelineError> {
        self.error.take()
    }

    fn file_name(&self, number: u32) -> String {
        match self.max_part_bytes {
            Some(_) => layout::part_name(&self.artifact, number),
            None => self.artifact.clone(),
        }
    }

    fn open_part(&mut self) -> OpenPart {
        let number = self.done.len() as u32 + 1;
        let file = self.file_name(number);
        let key = layout::key(&self.prefix, &file);
        let (tx, rx) = mpsc::channel(DEPTH);
        let storage = self.storage.clone();
        let upload_key = key.clone();
        let upload = self.handle.spawn(async move {
            let activity: Arc<Activity> = Arc::default();
            let source = ChannelSource::new(rx, activity.clone());
            storage
                .put(&upload_key, Box::new(source), None, activity)
                .await
        });
        OpenPart {
            entry: ChunkEntry {
                number,
                file,
                size_bytes: 0,
                checksum: String::new(),
            },
            key,
            tx,
            hasher: Sha256::new(),
            buf: BytesMut::with_capacity(BLOCK),
            upload,
        }
    }

    /// Sends the buffered block; a closed channel means the upload failed.
    fn send_block(&mut self) -> io::Result<()> {
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };
        if part.buf.is_empty() {
            return Ok(());
        }
        let block = part.buf.split().freeze();
        if part.tx.blocking_send(Ok(block)).is_err() {
            let failed = self.current.take();
            if let Some(part) = failed {
                self.error =
                    Some(self.join_upload(part).err().unwrap_or_else(|| {
                        PipelineError::stage("store", "storage stopped reading")
                    }));
            }
            return Err(io::Error::other("storage upload failed"));
        }
        Ok(())
    }

    fn join_upload(&self, part: OpenPart) -> Result<ChunkEntry, PipelineError> {
        drop(part.tx);
        let written = self
            .handle
            .block_on(part.upload)
            .map_err(|e| PipelineError::stage("store", e))??;
        if written != part.entry.size_bytes {
            return Err(PipelineError::Integrity(format!(
                "{}: storage wrote {written} bytes of {}",
                part.key, part.entry.size_bytes
            )));
        }
        let mut entry = part.entry;
        entry.checksum = checksum_string(&part.hasher.finalize());
        Ok(entry)
    }

    fn close_part(&mut self) -> io::Result<()> {
        self.send_block()?;
        if let Some(part) = self.current.take() {
            match self.join_upload(part) {
                Ok(entry) => self.done.push(entry),
                Err(e) => {
                    self.error = Some(e);
                    return Err(io::Error::other("storage upload failed"));
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, raw_bytes: u64) -> Result<StoredArtifact, PipelineError> {
        if self.current.is_none() && self.done.is_empty() {
            // An empty artifact is still an artifact: store one empty file.
            self.current = Some(self.open_part());
        }
        if self.close_part().is_err() {
            return Err(self
                .error
                .take()
                .unwrap_or_else(|| PipelineError::stage("store", "upload failed")));
        }
        let mut chunks = std::mem::take(&mut self.done);
        if chunks.len() == 1 && self.max_part_bytes.is_some() {
            // Fit in one part after all: store it under the plain name.
            let from = layout::key(&self.prefix, &chunks[0].file);
            let to = layout::key(&self.prefix, &self.artifact);
            self.handle.block_on(self.storage.rename(&from, &to))?;
            chunks[0].file = self.artifact.clone();
        }
        Ok(StoredArtifact {
            raw_bytes,
            stored_bytes: self.stored_bytes,
            checksum: checksum_string(&self.whole.finalize()),
            chunks,
            carry: self.carry,
        })
    }
}

impl Write for Chunker {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Err(io::Error::other("storage upload failed"));
        }
        let total = buf.len();
        while !buf.is_empty() {
            if self.current.is_none() {
                let part = self.open_part();
                self.current = Some(part);
            }
            let Some(part) = self.current.as_mut() else {
                return Err(io::Error::other("no open part"));
            };
            let room = match self.max_part_bytes {
                Some(max) => max - part.entry.size_bytes,
                None => u64::MAX,
            };
            let take = (buf.len() as u64).min(room) as usize;
            let (now, rest) = buf.split_at(take);
            part.buf.extend_from_slice(now);
            part.hasher.update(now);
            part.entry.size_bytes += take as u64;
            self.whole.update(now);
            if let Some(carry) = self.carry.as_mut() {
                carry.update(now);
            }
            self.stored_bytes += take as u64;
            buf = rest;
            let part_full = self.max_part_bytes == Some(part.entry.size_bytes);
            if part.buf.len() >= BLOCK {
                self.send_block()?;
            }
            if part_full {
                self.close_part()?;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
