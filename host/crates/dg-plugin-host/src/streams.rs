//! wasi streams backed by bounded channels: how bytes flow between a plugin
//! call and the host pipeline without ever being buffered whole.

use crate::call::Activity;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

/// Largest write a plugin is permitted at once.
const WRITE_BUDGET: usize = 1 << 20;

/// An output stream whose bytes are sent down a bounded channel. The
/// channel capacity bounds memory; a full channel makes the plugin wait.
pub struct ChannelSink {
    tx: mpsc::Sender<Bytes>,
    permit: Option<mpsc::OwnedPermit<Bytes>>,
    activity: Arc<Activity>,
}

impl ChannelSink {
    pub fn new(tx: mpsc::Sender<Bytes>, activity: Arc<Activity>) -> Self {
        Self {
            tx,
            permit: None,
            activity,
        }
    }

    fn closed() -> StreamError {
        StreamError::LastOperationFailed(wasmtime::format_err!(
            "the host stopped accepting data (the pipeline failed; see the execution error)"
        ))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChannelSink {
    async fn ready(&mut self) {
        if self.permit.is_none() {
            // A closed channel is reported by the next check_write.
            self.permit = self.tx.clone().reserve_owned().await.ok();
        }
    }
}

impl OutputStream for ChannelSink {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let permit = match self.permit.take() {
            Some(p) => p,
            None => self
                .tx
                .clone()
                .try_reserve_owned()
                .map_err(|_| StreamError::trap("write without a permit"))?,
        };
        self.activity.add_bytes(bytes.len() as u64);
        permit.send(bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        if self.tx.is_closed() {
            return Err(Self::closed());
        }
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if self.tx.is_closed() {
            return Err(Self::closed());
        }
        if self.permit.is_some() {
            return Ok(WRITE_BUDGET);
        }
        match self.tx.clone().try_reserve_owned() {
            Ok(p) => {
                self.permit = Some(p);
                Ok(WRITE_BUDGET)
            }
            Err(mpsc::error::TrySendError::Full(_)) => Ok(0),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Self::closed()),
        }
    }
}

/// An item of a [`ChannelSource`]: data, or the reason the producer failed.
pub type SourceItem = Result<Bytes, String>;

/// An input stream fed from a bounded channel. A producer failure reaches
/// the plugin as a failed read, never as a clean end of stream.
pub struct ChannelSource {
    rx: mpsc::Receiver<SourceItem>,
    pending: Bytes,
    failed: Option<String>,
    done: bool,
    /// Where bytes read count as progress; `None` where the same bytes
    /// are counted elsewhere (a program's output the plugin stores).
    activity: Option<Arc<Activity>>,
    /// The task that feeds the channel, stopped with the stream.
    producer: Option<tokio::task::JoinHandle<()>>,
}

impl ChannelSource {
    pub fn new(rx: mpsc::Receiver<SourceItem>, activity: Arc<Activity>) -> Self {
        let mut source = Self::unmetered(rx);
        source.activity = Some(activity);
        source
    }

    /// A source whose bytes are not counted as progress.
    pub fn unmetered(rx: mpsc::Receiver<SourceItem>) -> Self {
        Self {
            rx,
            pending: Bytes::new(),
            failed: None,
            done: false,
            activity: None,
            producer: None,
        }
    }

    /// Stops `task` (the channel's producer) when the stream is dropped.
    pub fn owning(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.producer = Some(task);
        self
    }

    fn accept(&mut self, item: Option<SourceItem>) {
        match item {
            Some(Ok(bytes)) => self.pending = bytes,
            Some(Err(reason)) => self.failed = Some(reason),
            None => self.done = true,
        }
    }
}

impl Drop for ChannelSource {
    fn drop(&mut self) {
        if let Some(task) = self.producer.take() {
            task.abort();
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ChannelSource {
    async fn ready(&mut self) {
        if self.pending.is_empty() && self.failed.is_none() && !self.done {
            let item = self.rx.recv().await;
            self.accept(item);
        }
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for ChannelSource {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.pending.is_empty() && self.failed.is_none() && !self.done {
            match self.rx.try_recv() {
                Ok(item) => self.accept(Some(item)),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(Bytes::new()),
                Err(mpsc::error::TryRecvError::Disconnected) => self.accept(None),
            }
        }
        if !self.pending.is_empty() {
            let n = size.min(self.pending.len());
            if let Some(activity) = &self.activity {
                activity.add_bytes(n as u64);
            }
            return Ok(self.pending.split_to(n));
        }
        if let Some(reason) = &self.failed {
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{reason}"
            )));
        }
        if let Some(activity) = &self.activity {
            activity.mark_input_done();
        }
        Err(StreamError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sink_respects_capacity_and_reports_closure() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut sink = ChannelSink::new(tx, Arc::default());
        assert_eq!(sink.check_write().expect("open"), WRITE_BUDGET);
        sink.write(Bytes::from_static(b"abc")).expect("write");
        assert_eq!(sink.check_write().expect("open"), 0, "channel is full");
        assert_eq!(rx.recv().await.as_deref(), Some(&b"abc"[..]));
        assert_eq!(sink.check_write().expect("open"), WRITE_BUDGET);
        drop(rx);
        assert!(matches!(
            sink.check_write(),
            Err(StreamError::LastOperationFailed(_))
        ));
    }

    #[tokio::test]
    async fn source_splits_reads_and_surfaces_failures() {
        let (tx, rx) = mpsc::channel(4);
        let mut src = ChannelSource::new(rx, Arc::default());
        tx.send(Ok(Bytes::from_static(b"hello")))
            .await
            .expect("send");
        tx.send(Err("checksum mismatch".into()))
            .await
            .expect("send");
        drop(tx);
        src.ready().await;
        assert_eq!(&src.read(3).expect("data")[..], b"hel");
        assert_eq!(&src.read(10).expect("data")[..], b"lo");
        src.ready().await;
        match src.read(10) {
            Err(StreamError::LastOperationFailed(e)) => {
                assert!(e.to_string().contains("checksum mismatch"))
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn source_ends_cleanly_when_producer_finishes() {
        let (tx, rx) = mpsc::channel(1);
        let activity: Arc<Activity> = Arc::default();
        let mut src = ChannelSource::new(rx, activity.clone());
        drop(tx);
        src.ready().await;
        assert!(!activity.input_done());
        assert!(matches!(src.read(1), Err(StreamError::Closed)));
        assert!(activity.input_done());
    }
}
