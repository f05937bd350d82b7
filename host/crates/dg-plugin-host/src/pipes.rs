//! A program's pipes, moved in large pieces.
//!
//! Output: dumpers write through stdio, 4 KiB per write. The pipe is read
//! on a thread of its own with plain blocking reads, never registered
//! with epoll: once anyone polls a pipe, Linux wakes its readers on every
//! write (`pipe->poll_usage`), and a pg_dump backup woke a tokio worker
//! out of `epoll_wait` some 100,000 times per GB for nothing. Unpolled,
//! a write wakes the reader only when the pipe was empty. After a short
//! read the reader naps a moment, so the next read takes whatever piled
//! up meanwhile (the pipe is enlarged first so the writer never waits
//! during the nap); each read fills a recycled buffer of up to `PIECE`.
//!
//! Input: a loader reads its stdin 4 KiB at a time the same way, and each
//! page it frees woke the host's writer. After a write the pipe could not
//! take whole, the writer naps so the next write fills a drained pipe.

use crate::blocks::BlockPool;
use crate::streams::{ChannelSource, SourceItem};
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;

/// How long a reader waits after a short read. At a few hundred MB/s a
/// nap fills well under the enlarged pipe.
const NAP: Duration = Duration::from_millis(1);
/// The pipe size asked for (Linux's default ceiling for any user).
const PIPE_BYTES: usize = 1 << 20;

/// The most read from the pipe at once: a nap's worth at several hundred
/// MB/s, so naps still gather whole pieces, while each piece in flight
/// (channels downstream hold a few dozen) pins only this much memory.
const PIECE: usize = 256 << 10;
/// Idle pieces kept for reuse: about as many as the pipeline downstream
/// holds in flight, so a steady stream allocates nothing.
const KEPT_PIECES: usize = 24;

/// A program's stdout (the read end of a pipe that nothing polls) as a
/// wasi input stream, read by a thread of its own in pieces of up to
/// `PIECE`, one piece ahead of the plugin. Its bytes are not progress: the
/// plugin's writes into the sink count them.
///
/// The thread ends at the end of the output, or at its next piece once
/// the stream is dropped; a program still running is killed with its
/// call, which ends the output.
pub fn program_output(pipe: OwnedFd) -> ChannelSource {
    let (tx, rx) = mpsc::channel::<SourceItem>(1);
    let report = tx.clone();
    let reading = std::thread::Builder::new()
        .name("dg-program-out".into())
        .spawn(move || {
            let mut reader = Gathered::new(std::fs::File::from(pipe));
            let pool = BlockPool::new(PIECE, KEPT_PIECES);
            loop {
                let mut buf = pool.take();
                let item = match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => Ok(pool.bytes(buf, n)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(format!("reading the program's output: {e}")),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    return;
                }
            }
        });
    if let Err(e) = reading {
        // The channel is empty, so this fits; the plugin sees a failed
        // read rather than an empty output.
        let _ = report.try_send(Err(format!("starting the output reader: {e}")));
    }
    ChannelSource::unmetered(rx)
}

/// Wraps a pipe's blocking read end; naps only when its pipe could be
/// enlarged, since a nap on a 64 KiB pipe would stall the writer instead.
pub struct Gathered<R> {
    inner: R,
    batching: bool,
    armed: bool,
}

impl<R: AsFd> Gathered<R> {
    pub fn new(inner: R) -> Self {
        Self {
            batching: enlarge(&inner),
            inner,
            armed: false,
        }
    }
}

impl<R: Read> Read for Gathered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.armed) {
            std::thread::sleep(NAP);
        }
        let read = self.inner.read(buf)?;
        // A read that did not fill `buf` drained the pipe: read again at
        // once and it would take the next 4 KiB write alone.
        self.armed = self.batching && read > 0 && read < buf.len();
        Ok(read)
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
    #[test]
    fn small_writes_are_read_in_large_pieces() {
        let (rx, tx) = std::io::pipe().expect("pipe");
        let mut reader = Gathered::new(rx);
        assert!(reader.batching, "this kernel lets a pipe grow to 1 MiB");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut tx = tx;
            for i in 0..2048u32 {
                tx.write_all(&[(i % 251) as u8; 4096]).expect("write");
                std::thread::sleep(Duration::from_micros(20));
            }
        });
        let (mut reads, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf).expect("read");
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
        let (rx, tx) = std::io::pipe().expect("pipe");
        let mut output = program_output(rx.into());
        let data: Vec<u8> = (0..(3 << 20) + 7).map(|i: u32| (i % 249) as u8).collect();
        let sent = data.clone();
        let writing = std::thread::spawn(move || {
            use std::io::Write;
            let mut tx = tx;
            tx.write_all(&sent).expect("write");
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
        writing.join().expect("writer");
        assert!(got == data, "{} bytes of {}", got.len(), data.len());
    }

    /// A dropped output stops its reader: the program then sees a closed
    /// pipe instead of a reader that never reads.
    #[test]
    fn dropping_the_output_closes_the_pipe() {
        let (rx, tx) = std::io::pipe().expect("pipe");
        let output = program_output(rx.into());
        drop(output);
        let writing = std::thread::spawn(move || {
            use std::io::Write;
            let mut tx = tx;
            let piece = [7u8; 64 << 10];
            // The pipe holds 1 MiB; writing more needs a reader or fails.
            (0..256).try_for_each(|_| tx.write_all(&piece))
        });
        let failed = writing.join().expect("writer");
        assert!(failed.is_err(), "the writer saw the pipe close");
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
