//! A program's output read in large pieces. Dumpers write through stdio,
//! 4 KiB per write; handing each piece on as it lands woke every stage of
//! the pipeline (reader task, plugin splice, compressor, hasher) per 4 KiB,
//! which cost a MariaDB backup about a fifth of its time in scheduling.
//! After a short read the reader naps a moment, so the next read takes
//! whatever piled up meanwhile; the pipe is enlarged first so the writer
//! never waits on a full pipe during the nap, and pieces are read up to
//! `PIECE` at a time (wasmtime's own reader stops at 64 KiB).

use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::mpsc;
use wasmtime_wasi::p2::{InputStream, Pollable, StreamError, StreamResult};

/// How long a reader waits after a short read. At a few hundred MB/s a
/// nap fills well under the enlarged pipe.
const NAP: Duration = Duration::from_millis(1);
/// The pipe size asked for (Linux's default ceiling for any user).
const PIPE_BYTES: usize = 1 << 20;

/// The most read from the pipe at once.
const PIECE: usize = 1 << 20;

/// A program's stdout as a wasi input stream, read by a task of its own in
/// pieces of up to `PIECE`, one piece ahead of the plugin.
pub struct ProgramOutput {
    rx: mpsc::Receiver<StreamResult<Bytes>>,
    pending: Bytes,
    ended: Option<StreamError>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgramOutput {
    pub fn new<R: AsyncRead + AsFd + Send + Unpin + 'static>(pipe: R) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            let mut reader = Gathered::new(pipe);
            loop {
                let mut piece = BytesMut::with_capacity(PIECE);
                let item = match reader.read_buf(&mut piece).await {
                    Ok(0) => Err(StreamError::Closed),
                    Ok(_) => Ok(piece.freeze()),
                    Err(e) => Err(StreamError::LastOperationFailed(e.into())),
                };
                let last = item.is_err();
                if tx.send(item).await.is_err() || last {
                    break;
                }
            }
        });
        Self {
            rx,
            pending: Bytes::new(),
            ended: None,
            task,
        }
    }

    fn accept(&mut self, item: Option<StreamResult<Bytes>>) {
        match item {
            Some(Ok(piece)) => self.pending = piece,
            Some(Err(e)) => self.ended = Some(e),
            None => self.ended = Some(StreamError::Closed),
        }
    }
}

impl Drop for ProgramOutput {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for ProgramOutput {
    async fn ready(&mut self) {
        if self.pending.is_empty() && self.ended.is_none() {
            let item = self.rx.recv().await;
            self.accept(item);
        }
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for ProgramOutput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.pending.is_empty() && self.ended.is_none() {
            match self.rx.try_recv() {
                Ok(item) => self.accept(Some(item)),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(Bytes::new()),
                Err(mpsc::error::TryRecvError::Disconnected) => self.accept(None),
            }
        }
        if !self.pending.is_empty() {
            let n = size.min(self.pending.len());
            return Ok(self.pending.split_to(n));
        }
        // An error is reported once; the stream is closed after it.
        Err(std::mem::replace(
            self.ended.get_or_insert(StreamError::Closed),
            StreamError::Closed,
        ))
    }
}

/// Wraps a pipe's read end; naps only when its pipe could be enlarged,
/// since a nap on a 64 KiB pipe would stall the writer instead.
pub struct Gathered<R> {
    inner: R,
    batching: bool,
    short: bool,
    nap: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<R: AsFd> Gathered<R> {
    pub fn new(inner: R) -> Self {
        let batching = rustix::pipe::fcntl_setpipe_size(&inner, PIPE_BYTES)
            .is_ok_and(|size| size >= PIPE_BYTES);
        Self {
            inner,
            batching,
            short: false,
            nap: None,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Gathered<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.short {
            let nap = this
                .nap
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(NAP)));
            ready!(nap.as_mut().poll(cx));
            this.nap = None;
            this.short = false;
        }
        let room = buf.remaining();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = room - buf.remaining();
        this.short = this.batching && read > 0 && read < room / 2;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Small writes arrive as fewer, larger reads, in order and complete.
    #[tokio::test]
    async fn small_writes_are_read_in_large_pieces() {
        let (tx, rx) = tokio::net::unix::pipe::pipe().expect("pipe");
        let mut reader = Gathered::new(rx);
        assert!(reader.batching, "this kernel lets a pipe grow to 1 MiB");
        let writer = tokio::spawn(async move {
            let mut tx = tx;
            for i in 0..2048u32 {
                tx.write_all(&[(i % 251) as u8; 4096]).await.expect("write");
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let (mut reads, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            reads += 1;
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.expect("writer");
        assert_eq!(got.len(), 2048 * 4096);
        assert!(got
            .chunks(4096)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| *b == (i % 251) as u8)));
        // 8 MiB in 64 KiB reads is 128; one read per write would be 2048.
        assert!(reads < 512, "{reads} reads");
    }
}
