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
        let written = match &mut encoder {
            // Uncompressed, the engine's blocks are stored as they are:
            // no copy into blocks of our own.
            Encoder::None(chunker) => chunker.put(block),
            encoder => encoder.write_all(&block),
        };
        if let Err(e) = written {
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
    /// `None` when the artifact is one part: its checksum is the whole
    /// artifact's, and hashing every byte twice cost a core-second per GB.
    hasher: Option<Sha256>,
    buf: BytesMut,
    upload: JoinHandle<Result<u64, dg_plugin_host::CallError>>,
}

/// Pieces of uncompressed input at least this large are stored as they
/// came, without a copy; smaller ones are gathered into blocks so storage
/// is not written a few KiB at a time.
const DIRECT: usize = 64 << 10;

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
            hasher: self.max_part_bytes.map(|_| Sha256::new()),
            buf: BytesMut::with_capacity(BLOCK),
            upload,
        }
    }

    /// Sends the buffered block, if any.
    fn send_block(&mut self) -> io::Result<()> {
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };
        if part.buf.is_empty() {
            return Ok(());
        }
        // A fresh full-size buffer, so the next block never grows (and
        // copies) on its way to `BLOCK`.
        let block = std::mem::replace(&mut part.buf, BytesMut::with_capacity(BLOCK)).freeze();
        self.send(block)
    }

    /// Sends `block` to the open part's upload; a closed channel means
    /// the upload failed.
    fn send(&mut self, block: Bytes) -> io::Result<()> {
        let Some(part) = self.current.as_mut() else {
            return Ok(());
        };
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
        let digest = match part.hasher {
            Some(hasher) => hasher.finalize(),
            None => self.whole.clone().finalize(),
        };
        entry.checksum = checksum_string(&digest);
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

impl Chunker {
    /// Stores `data` as it is: pieces of at least `DIRECT` go to the
    /// upload without a copy, smaller ones are gathered into a block.
    fn put(&mut self, mut data: Bytes) -> io::Result<()> {
        while !data.is_empty() {
            let take = self.room(data.len())?;
            let now = data.split_to(take);
            self.account(&now);
            if now.len() >= DIRECT {
                self.send_block()?;
                self.send(now)?;
            } else {
                self.gather(&now)?;
            }
            self.close_if_full()?;
        }
        Ok(())
    }

    /// How much of `len` bytes the open part (opened here if need be)
    /// takes.
    fn room(&mut self, len: usize) -> io::Result<usize> {
        if self.error.is_some() {
            return Err(io::Error::other("storage upload failed"));
        }
        if self.current.is_none() {
            let part = self.open_part();
            self.current = Some(part);
        }
        let Some(part) = self.current.as_ref() else {
            return Err(io::Error::other("no open part"));
        };
        let room = match self.max_part_bytes {
            Some(max) => max - part.entry.size_bytes,
            None => u64::MAX,
        };
        Ok((len as u64).min(room) as usize)
    }

    /// Hashes and counts bytes of the open part.
    fn account(&mut self, now: &[u8]) {
        if let Some(part) = self.current.as_mut() {
            if let Some(hasher) = part.hasher.as_mut() {
                hasher.update(now);
            }
            part.entry.size_bytes += now.len() as u64;
        }
        self.whole.update(now);
        if let Some(carry) = self.carry.as_mut() {
            carry.update(now);
        }
        self.stored_bytes += now.len() as u64;
    }

    /// Copies `now` into the open part's block, sending each block as it
    /// fills (never past `BLOCK`, so it is never reallocated).
    fn gather(&mut self, mut now: &[u8]) -> io::Result<()> {
        while !now.is_empty() {
            let Some(part) = self.current.as_mut() else {
                return Err(io::Error::other("no open part"));
            };
            let fits = now.len().min(BLOCK.saturating_sub(part.buf.len()).max(1));
            part.buf.extend_from_slice(&now[..fits]);
            now = &now[fits..];
            if part.buf.len() >= BLOCK {
                self.send_block()?;
            }
        }
        Ok(())
    }

    /// Closes the open part when it reached `max_part_bytes`.
    fn close_if_full(&mut self) -> io::Result<()> {
        let full = match (&self.current, self.max_part_bytes) {
            (Some(part), Some(max)) => part.entry.size_bytes == max,
            _ => false,
        };
        if full {
            self.close_part()?;
        }
        Ok(())
    }
}

impl Write for Chunker {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let total = buf.len();
        while !buf.is_empty() {
            let take = self.room(buf.len())?;
            let (now, rest) = buf.split_at(take);
            self.account(now);
            self.gather(now)?;
            self.close_if_full()?;
            buf = rest;
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
