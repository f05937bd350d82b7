//! Recycled byte buffers behind `Bytes`. A fresh buffer per piece cost an
//! allocation and page faults (the kernel zeroing every page) for every
//! MiB moved, CPU taken from the database beside us; a buffer handed back
//! by its last reader is reused as it is.

use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Hands out buffers of one size and takes them back when the `Bytes`
/// made from them are dropped, wherever that happens. At most `kept`
/// idle buffers are held; more in flight are allocated and freed.
#[derive(Clone)]
pub struct BlockPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    size: usize,
    kept: usize,
}

impl BlockPool {
    pub fn new(size: usize, kept: usize) -> Self {
        Self {
            free: Arc::default(),
            size,
            kept,
        }
    }

    /// A kept buffer, or a new one; always `size` long and initialised.
    pub fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| vec![0u8; self.size])
    }

    /// The first `len` bytes of `buf` (from [`take`](Self::take)); the
    /// buffer comes back when the last `Bytes` sharing it is dropped.
    pub fn bytes(&self, buf: Vec<u8>, len: usize) -> Bytes {
        Bytes::from_owner(Block {
            len: len.min(buf.len()),
            buf,
            pool: self.clone(),
        })
    }

    /// Returns an unused buffer.
    pub fn keep(&self, buf: Vec<u8>) {
        if let Ok(mut free) = self.free.lock() {
            if free.len() < self.kept && buf.len() == self.size {
                free.push(buf);
            }
        }
    }

    /// Idle buffers held now.
    pub fn kept(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

/// The owner behind a pooled `Bytes`: returns its buffer on drop.
struct Block {
    buf: Vec<u8>,
    len: usize,
    pool: BlockPool,
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.pool.keep(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_bytes_is_dropped() {
        let pool = BlockPool::new(16, 2);
        let mut buf = pool.take();
        buf[..3].copy_from_slice(b"abc");
        let bytes = pool.bytes(buf, 3);
        assert_eq!(&bytes[..], b"abc");
        let slice = bytes.slice(1..2);
        drop(bytes);
        assert_eq!(pool.kept(), 0, "a slice still holds the buffer");
        assert_eq!(&slice[..], b"b");
        drop(slice);
        assert_eq!(pool.kept(), 1);
        let again = pool.take();
        assert_eq!(again.len(), 16, "reused at full length");
        assert_eq!(pool.kept(), 0);
        // No more than `kept` idle buffers are held.
        let (a, b, c) = (pool.take(), pool.take(), pool.take());
        pool.keep(a);
        pool.keep(b);
        pool.keep(c);
        pool.keep(again);
        assert_eq!(pool.kept(), 2);
    }
}
