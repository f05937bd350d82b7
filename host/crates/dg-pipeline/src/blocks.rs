//! Recycled block buffers for the restore's decoder. A fresh zeroed MiB
//! per decoded block cost a memset (and page faults) per MiB restored,
//! CPU taken from the engine loading beside it; a block handed back by
//! its last reader is reused as it is (`dg_plugin_host::blocks`).

use crate::BLOCK;
use bytes::Bytes;
use std::io::Read;

/// Blocks kept for reuse: the pipeline's depth on each side of the
/// decoder, so a steady restore allocates nothing.
const KEPT: usize = 2 * crate::DEPTH + 2;

/// Fills `BLOCK`-sized blocks from a reader, from recycled buffers.
#[derive(Clone)]
pub(crate) struct BlockPool(dg_plugin_host::blocks::BlockPool);

impl Default for BlockPool {
    fn default() -> Self {
        Self(dg_plugin_host::blocks::BlockPool::new(BLOCK, KEPT))
    }
}

impl BlockPool {
    /// Fills one block from `source`; empty at the end.
    pub(crate) fn read_block(&self, source: &mut impl Read) -> std::io::Result<Bytes> {
        let mut buf = self.0.take();
        let mut filled = 0;
        while filled < BLOCK {
            match source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    self.0.keep(buf);
                    return Err(e);
                }
            }
        }
        if filled == 0 {
            self.0.keep(buf);
            return Ok(Bytes::new());
        }
        Ok(self.0.bytes(buf, filled))
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.kept()
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
