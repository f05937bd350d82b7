//! `std::io` adapters over wasi streams, and host-side byte moving.
//!
//! Writes go through `check-write` + `write` so a permit is never exceeded
//! (`blocking-write-and-flush` traps above 4096 bytes). [`pipe`] uses
//! `splice`: the host moves the bytes, plugin memory never sees them.

use crate::bindings::dataguardian::plugin::progress;
use crate::{InputStream, OutputStream, PluginError, PluginResult, StreamError};
use std::io;

/// Bytes asked of the host per splice; the host may move fewer.
const SPLICE_CHUNK: u64 = 4 << 20;
/// Progress is reported about this often (in bytes).
const PROGRESS_EVERY: u64 = 64 << 20;

fn stream_error_message(e: StreamError) -> String {
    match e {
        StreamError::Closed => "stream closed".to_string(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}

/// A plugin error from a failed stream operation.
pub fn stream_failure(what: &str, e: StreamError) -> PluginError {
    PluginError::Failed(format!("{what}: {}", stream_error_message(e)))
}

/// `std::io::Write` over an output stream.
pub struct StreamWriter<'a> {
    stream: &'a OutputStream,
}

impl<'a> StreamWriter<'a> {
    /// Writes to `stream`, which stays owned by the caller.
    pub fn new(stream: &'a OutputStream) -> Self {
        Self { stream }
    }
}

impl io::Write for StreamWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let permit = self.stream.check_write().map_err(to_io)?;
            if permit == 0 {
                self.stream.subscribe().block();
                continue;
            }
            // Compare in u64: usize is 32 bits here.
            let len = permit.min(buf.len() as u64) as usize;
            self.stream.write(&buf[..len]).map_err(to_io)?;
            return Ok(len);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.blocking_flush().map_err(to_io)
    }
}

/// `std::io::Read` over an input stream; a closed stream reads as EOF.
pub struct StreamReader<'a> {
    stream: &'a InputStream,
}

impl<'a> StreamReader<'a> {
    /// Reads from `stream`, which stays owned by the caller.
    pub fn new(stream: &'a InputStream) -> Self {
        Self { stream }
    }
}

impl io::Read for StreamReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_into(self.stream, buf)
    }
}

/// `std::io::Read` that owns its input stream: for reading a program's
/// output line by line while the program keeps running.
pub struct OwnedStreamReader {
    stream: InputStream,
}

impl OwnedStreamReader {
    /// Reads from `stream`, dropping it when the reader is dropped.
    pub fn new(stream: InputStream) -> Self {
        Self { stream }
    }
}

impl io::Read for OwnedStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_into(&self.stream, buf)
    }
}

/// One blocking read: whatever is available, at most `buf.len()` bytes;
/// 0 at the end of the stream.
fn read_into(stream: &InputStream, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    match stream.blocking_read(buf.len() as u64) {
        Ok(bytes) => {
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
        Err(StreamError::Closed) => Ok(0),
        Err(e) => Err(to_io(e)),
    }
}

fn to_io(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"),
        other => io::Error::other(stream_error_message(other)),
    }
}

/// Moves everything from `from` to `to` host-side, reporting progress and
/// honouring cancellation. Returns the number of bytes moved. `to` is
/// flushed before returning so nothing is left in flight.
pub fn pipe(from: &InputStream, to: &OutputStream) -> PluginResult<u64> {
    pipe_limited(from, to, u64::MAX)
}

/// Like [`pipe`] but stops after `limit` bytes.
pub fn pipe_limited(from: &InputStream, to: &OutputStream, limit: u64) -> PluginResult<u64> {
    let mut moved: u64 = 0;
    let mut next_report = PROGRESS_EVERY;
    while moved < limit {
        let want = SPLICE_CHUNK.min(limit - moved);
        match to.blocking_splice(from, want) {
            Ok(n) => moved += n,
            Err(StreamError::Closed) => break,
            Err(e) => return Err(stream_failure("moving bytes", e)),
        }
        tick(moved, &mut next_report)?;
    }
    finish(to, moved)
}

/// Like [`pipe`], but the bytes pass through plugin memory so `inspect`
/// sees each piece in order before it is written: for a plugin that must
/// read what it stores (counting a dump's rows). Everything else should
/// use [`pipe`], which never copies the bytes into the plugin.
pub fn pipe_inspected(
    from: &InputStream,
    to: &OutputStream,
    inspect: &mut dyn FnMut(&[u8]),
) -> PluginResult<u64> {
    let mut moved: u64 = 0;
    let mut next_report = PROGRESS_EVERY;
    loop {
        let piece = match from.blocking_read(SPLICE_CHUNK) {
            Ok(piece) => piece,
            Err(StreamError::Closed) => break,
            Err(e) => return Err(stream_failure("reading", e)),
        };
        inspect(&piece);
        write_all(to, &piece)?;
        moved += piece.len() as u64;
        tick(moved, &mut next_report)?;
    }
    finish(to, moved)
}

/// Reports progress every `PROGRESS_EVERY` bytes and stops on cancel.
fn tick(moved: u64, next_report: &mut u64) -> PluginResult<()> {
    if moved >= *next_report {
        *next_report = moved + PROGRESS_EVERY;
        progress::report(moved, None);
        if progress::cancelled() {
            return Err(PluginError::Failed("cancelled".into()));
        }
    }
    Ok(())
}

/// Flushes `to` so nothing is left in flight, and reports the total.
fn finish(to: &OutputStream, moved: u64) -> PluginResult<u64> {
    match to.blocking_flush() {
        Ok(()) | Err(StreamError::Closed) => {}
        Err(e) => return Err(stream_failure("flushing", e)),
    }
    progress::report(moved, None);
    Ok(moved)
}

/// Reads until `buf` is full or the source ends; returns the bytes read
/// (fewer than `buf.len()` only at the end). For part buffers and packets
/// that must be filled before they are sent.
pub fn read_full(source: &mut dyn io::Read, buf: &mut [u8]) -> PluginResult<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => {
                return Err(PluginError::Failed(format!(
                    "reading the data to store: {e}"
                )))
            }
        }
    }
    Ok(filled)
}

/// Writes all of `buf` respecting write permits.
pub fn write_all(to: &OutputStream, buf: &[u8]) -> PluginResult<()> {
    use std::io::Write;
    StreamWriter::new(to)
        .write_all(buf)
        .map_err(|e| PluginError::Failed(format!("writing: {e}")))
}
