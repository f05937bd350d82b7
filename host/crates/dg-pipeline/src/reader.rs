//! Reading stored objects back as bounded streams of blocks.

use crate::{PipelineError, DEPTH};
use bytes::Bytes;
use dg_plugin_host::streams::ChannelSink;
use dg_plugin_host::{Activity, CallError, FailureKind, StorageClient};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// An object being read: its blocks arrive on `blocks`; `done` tells how
/// the read ended.
pub struct ObjectStream {
    pub blocks: mpsc::Receiver<Bytes>,
    pub done: JoinHandle<Result<u64, CallError>>,
}

/// Starts reading `key` from `storage`.
pub fn open(storage: &StorageClient, key: &str) -> ObjectStream {
    let (tx, rx) = mpsc::channel(DEPTH);
    let storage = storage.clone();
    let key = key.to_string();
    let done = tokio::spawn(async move {
        let activity: Arc<Activity> = Arc::default();
        let sink = ChannelSink::new(tx, activity.clone());
        storage.get(&key, Box::new(sink), (0, None), activity).await
    });
    ObjectStream { blocks: rx, done }
}

/// How a finished read ended, with a missing object named as such.
pub async fn finish(stream: ObjectStream, file: &str) -> Result<u64, PipelineError> {
    match stream.done.await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) if e.kind() == Some(FailureKind::NotFound) => Err(PipelineError::Missing {
            file: file.to_string(),
        }),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(PipelineError::stage("read", e)),
    }
}

/// Reads a small object (a manifest) whole, refusing anything over `limit`.
pub async fn read_small(
    storage: &StorageClient,
    key: &str,
    limit: usize,
) -> Result<Vec<u8>, PipelineError> {
    let mut stream = open(storage, key);
    let mut out = Vec::new();
    while let Some(block) = stream.blocks.recv().await {
        out.extend_from_slice(&block);
        if out.len() > limit {
            return Err(PipelineError::Integrity(format!(
                "{key} is larger than {limit} bytes"
            )));
        }
    }
    finish(stream, key).await?;
    Ok(out)
}
