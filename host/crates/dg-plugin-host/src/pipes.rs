//! A program's pipes, moved in large pieces.
//!
//! Output: dumpers write through stdio,
//! 4 KiB per write; handing each piece on as it lands woke every stage of
//! the pipeline (reader task, plugin splice, compressor, hasher) per 4 KiB,
//! which cost a MariaDB backup about a fifth of its time in scheduling.
//! After a short read the reader naps a moment, so the next read takes
//! whatever piled up meanwhile; the pipe is enlarged first so the writer
//! never waits on a full pipe during the nap, and pieces are read up to
//! `PIECE` at a time (wasmtime's own reader stops at 64 KiB).
//!
//! Input: a loader reads its stdin 4 KiB at a time the same way, and each
//! page it frees woke the host's writer. After a write the pipe could not
//! take whole, the writer naps so the next write fills a drained pipe.

use crate::streams::{ChannelSource, SourceItem};
use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

/// How long a reader waits after a short read. At a few hundred MB/s a
/// nap fills well under the enlarged pipe.
const NAP: Duration = Duration::from_millis(1);
/// The pipe size asked for (Linux's default ceiling for any user).
const PIPE_BYTES: usize = 1 << 20;

/// The most read from the pipe at once.
const PIECE: usize = 1 << 20;

/// A program's stdout as a wasi input stream, read by a task of its own in
/// pieces of up to `PIECE`, one piece ahead of the plugin. Its bytes are
/// not progress: the plugin's writes into the sink count them.
pub fn program_output<R: AsyncRead + AsFd + Send + Unpin + 'static>(pipe: R) -> ChannelSource {
    let (tx, rx) = mpsc::channel::<SourceItem>(1);
    let task = tokio::spawn(async move {
        let mut reader = Gathered::new(pipe);
        loop {
            let mut piece = BytesMut::with_capacity(PIECE);
            let item = match reader.read_buf(&mut piece).await {
                Ok(0) => return,
                Ok(_) => Ok(piece.freeze()),
                Err(e) => Err(format!("reading the program's output: {e}")),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    ChannelSource::unmetered(rx).owning(task)
}

/// Wraps a pipe's read end; naps only when its pipe could be enlarged,
/// since a nap on a 64 KiB pipe would stall the writer instead.
pub struct Gathered<R> {
    inner: R,
    batching: bool,
    nap: Nap,
}

impl<R: AsFd> Gathered<R> {
    pub fn new(inner: R) -> Self {
        Self {
            batching: enlarge(&inner),
            inner,
            nap: Nap::default(),
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
        ready!(this.nap.poll(cx));
        let room = buf.remaining();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = room - buf.remaining();
        this.nap.armed = this.batching && read > 0 && read < room / 2;
        Poll::Ready(Ok(()))
    }
}

/// Wraps a pipe's write end: after a partial write (the pipe was full)
/// the next write waits a nap, so the reader drains a good part of the
/// enlarged pipe first. Without the larger pipe it writes as it can.
pub struct Paced<W> {
    inner: W,
    batching: bool,
    nap: Nap,
}

impl<W: AsFd> Paced<W> {
    pub fn new(inner: W) -> Self {
        Self {
            batching: enlarge(&inner),
            inner,
            nap: Nap::default(),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Paced<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.nap.poll(cx));
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.nap.armed = this.batching && written < buf.len();
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A pause armed after a short read or a partial write, waited out
/// before the next one.
#[derive(Default)]
struct Nap {
    armed: bool,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Nap {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed {
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(NAP)));
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
            self.armed = false;
        }
        Poll::Ready(())
    }
}

/// Asks for a `PIPE_BYTES` pipe; false when the kernel refused.
fn enlarge(pipe: &impl AsFd) -> bool {
    rustix::pipe::fcntl_setpipe_size(pipe, PIPE_BYTES).is_ok_and(|size| size >= PIPE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Small writes, spaced as a dumper's are, arrive as fewer, larger
    /// reads, in order and complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_writes_are_read_in_large_pieces() {
        let (tx, rx) = tokio::net::unix::pipe::pipe().expect("pipe");
        let mut reader = Gathered::new(rx);
        assert!(reader.batching, "this kernel lets a pipe grow to 1 MiB");
        let tx = tx.into_blocking_fd().expect("fd");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut tx = std::fs::File::from(tx);
            for i in 0..2048u32 {
                tx.write_all(&[(i % 251) as u8; 4096]).expect("write");
                std::thread::sleep(Duration::from_micros(20));
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
        writer.join().expect("writer");
        assert_eq!(got.len(), 2048 * 4096);
        assert!(got
            .chunks(4096)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| *b == (i % 251) as u8)));
        // 8 MiB in 64 KiB reads is 128; one read per write would be 2048.
        assert!(reads < 512, "{reads} reads");
    }

    /// A program's output reaches the plugin whole, then a clean end.
    #[tokio::test]
    async fn program_output_delivers_everything_then_closes() {
        use wasmtime_wasi::p2::{InputStream, Pollable, StreamError};
        let (tx, rx) = tokio::net::unix::pipe::pipe().expect("pipe");
        let mut output = program_output(rx);
        let data: Vec<u8> = (0..(3 << 20) + 7).map(|i: u32| (i % 249) as u8).collect();
        let sent = data.clone();
        let writing = tokio::spawn(async move {
            let mut tx = tx;
            tx.write_all(&sent).await.expect("write");
        });
        let mut got = Vec::new();
        loop {
            output.ready().await;
            match output.read(1 << 20) {
                Ok(piece) => got.extend_from_slice(&piece),
                Err(StreamError::Closed) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        writing.await.expect("writer");
        assert!(got == data, "{} bytes of {}", got.len(), data.len());
    }

    /// Everything written through a paced pipe arrives, in order, while
    /// the reader takes 4 KiB at a time.
    #[tokio::test]
    async fn paced_writes_deliver_every_byte_to_a_slow_reader() {
        let (tx, mut rx) = tokio::net::unix::pipe::pipe().expect("pipe");
        let mut writer = Paced::new(tx);
        assert!(writer.batching);
        let data: Vec<u8> = (0..(6 << 20)).map(|i: u32| (i % 253) as u8).collect();
        let sent = data.clone();
        let feeding = tokio::spawn(async move {
            writer.write_all(&sent).await.expect("write");
            writer.shutdown().await.expect("shutdown");
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = rx.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        feeding.await.expect("feeding");
        assert!(got == data, "{} bytes arrived of {}", got.len(), data.len());
    }
}
