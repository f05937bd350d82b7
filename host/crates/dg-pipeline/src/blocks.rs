//! Recycled block buffers for the restore's decoder. A fresh zeroed MiB
//! per decoded block cost a memset (and page faults) per MiB restored,
//! CPU taken from the engine loading beside it; a block handed back by
//! its last reader is reused as it is.

use crate::BLOCK;
use bytes::Bytes;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Blocks kept for reuse: the pipeline's depth on each side of the
/// decoder, so a steady restore allocates nothing.
const KEPT: usize = 2 * crate::DEPTH + 2;

/// Hands out block buffers and takes them back when the `Bytes` made
/// from them are dropped, wherever that happens.
#[derive(Clone, Default)]
pub(crate) struct BlockPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BlockPool {
    /// Fills one block from `source`; empty at the end.
    pub(crate) fn read_block(&self, source: &mut impl Read) -> std::io::Result<Bytes> {
        let mut buf = self.take();
        let mut filled = 0;
        while filled < BLOCK {
            match source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    self.keep(buf);
                    return Err(e);
                }
            }
        }
        if filled == 0 {
            self.keep(buf);
            return Ok(Bytes::new());
        }
        Ok(Bytes::from_owner(Block {
            buf,
            len: filled,
            pool: self.clone(),
        }))
    }

    /// A kept buffer, or a new one (always `BLOCK` long and initialised).
    fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| vec![0u8; BLOCK])
    }

    fn keep(&self, buf: Vec<u8>) {
        if let Ok(mut free) = self.free.lock() {
            if free.len() < KEPT {
                free.push(buf);
            }
        }
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
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
    fn blocks_hold_what_was_read_and_come_back_when_dropped() {
        let pool = BlockPool::default();
        let data: Vec<u8> = (0..BLOCK + 10).map(|i| (i % 251) as u8).collect();
        let mut source = &data[..];
        let first = pool.read_block(&mut source).expect("read");
        let second = pool.read_block(&mut source).expect("read");
        assert_eq!(&first[..], &data[..BLOCK]);
        assert_eq!(&second[..], &data[BLOCK..]);
        assert!(pool.read_block(&mut source).expect("end").is_empty());
        assert_eq!(pool.kept(), 1, "the buffer of the empty read");
        let slice = first.slice(5..9);
        drop(first);
        assert_eq!(pool.kept(), 1, "a slice still holds the block");
        assert_eq!(&slice[..], &data[5..9]);
        drop(slice);
        drop(second);
        assert_eq!(pool.kept(), 3);
        // A reused buffer still yields exactly what the next read filled.
        let mut short = &b"abc"[..];
        assert_eq!(&pool.read_block(&mut short).expect("read")[..], b"abc");
    }
}
