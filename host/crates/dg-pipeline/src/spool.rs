//! The spool of a parallel restore. `pg_restore --jobs` reads its archive
//! out of order, so it cannot read a stream: the artifact is decompressed
//! into a local file first, every checksum checked on the way, and only a
//! fully verified file is handed to the engine. The file is bounded by a
//! cap checked (with the free space) before a byte is written, private to
//! this process, and removed however the restore ends.

use crate::compression::decoder;
use crate::manifest::BackupManifest;
use crate::restore::{feed_checked, input_ends, ChannelReader};
use crate::{PipelineError, DEPTH};
use dg_plugin_host::streams::SourceItem;
use dg_plugin_host::{Activity, StorageClient};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where spools go and how large one may be (`--restore-spool-dir`,
/// `--restore-spool-max-mb`).
#[derive(Debug, Clone)]
pub struct SpoolPolicy {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

/// Space left free beside a spool, so a restore never fills the disk the
/// server's own database and logs live on.
const HEADROOM: u64 = 256 << 20;

impl SpoolPolicy {
    /// Refuses, naming the cap or the free space, a spool of `needed`
    /// bytes that would not fit. Called before anything is written.
    pub fn check_room(&self, needed: u64) -> Result<(), String> {
        if needed > self.max_bytes {
            return Err(format!(
                "a parallel restore spools the backup uncompressed ({}), more than the spool cap \
                 of {} (--restore-spool-max-mb); restore with jobs 1, or raise the cap",
                human(needed),
                human(self.max_bytes)
            ));
        }
        // The spool dir may not exist yet: its nearest existing parent is
        // on the file system it will be created on.
        let existing = self.dir.ancestors().find(|d| d.exists());
        if let Some(free) = existing.and_then(free_bytes) {
            if needed.saturating_add(HEADROOM) > free {
                return Err(format!(
                    "a parallel restore spools the backup uncompressed ({}), but {} has {} free \
                     (and keeps {} spare); restore with jobs 1, or free space",
                    human(needed),
                    self.dir.display(),
                    human(free),
                    human(HEADROOM)
                ));
            }
        }
        Ok(())
    }
}

/// Bytes available to this user in the file system holding `path`,
/// measured by the host (a plugin cannot: WASI has no statvfs).
pub fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// `1.5 GiB`-style sizes for messages.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Removes what restores left in `dir` when their process died (a
/// `kill -9` runs no cleanup); called at start, before any restore runs.
/// Returns how many files were removed.
pub fn clear_leftovers(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A verified spooled archive; the file is removed when this is dropped
/// (after the restore, on failure, and when a cancelled restore's future
/// is dropped).
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
}

impl SpoolFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("removing the spool {}: {e}", self.path.display()),
        }
    }
}

/// Decompresses the artifact into a new spool file named after `name`,
/// checking every chunk's and the artifact's checksum. Damage is a
/// [`PipelineError::Copy`] (another copy may be tried); the file is gone
/// whenever this returns an error.
pub async fn spool(
    storage: &StorageClient,
    prefix: &str,
    manifest: &BackupManifest,
    policy: &SpoolPolicy,
    name: &str,
    activity: Arc<Activity>,
) -> Result<SpoolFile, PipelineError> {
    let fail = |e: std::io::Error| PipelineError::stage("spool", e);
    policy
        .check_room(manifest.total_size_bytes)
        .map_err(|m| PipelineError::stage("spool", m))?;
    dg_core::private::dir(&policy.dir).map_err(fail)?;
    let path = policy.dir.join(format!("{name}.{}", manifest.format));
    let file = dg_core::private::create_new(&path).map_err(fail)?;
    let spooled = SpoolFile { path };

    let (packed_tx, packed_rx) = mpsc::channel::<SourceItem>(DEPTH);
    let compression = manifest.compression;
    let cap = policy.max_bytes;
    let writing = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader::new(packed_rx);
        let mut decoded =
            decoder(compression, &mut reader).map_err(|e| PipelineError::stage("decompress", e))?;
        let mut out = BufWriter::with_capacity(crate::BLOCK, file);
        let mut buf = vec![0u8; crate::BLOCK];
        let mut written = 0u64;
        loop {
            let n = match decoded.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(PipelineError::stage(
                        "decompress",
                        format!("{compression} data: {e}"),
                    ))
                }
            };
            written += n as u64;
            if written > cap {
                return Err(PipelineError::stage(
                    "spool",
                    format!(
                        "the artifact decompresses to more than the spool cap of {}",
                        human(cap)
                    ),
                ));
            }
            out.write_all(&buf[..n])
                .map_err(|e| PipelineError::stage("spool", e))?;
            activity.add_bytes(n as u64);
        }
        drop(decoded);
        input_ends(&mut reader, compression).map_err(|m| PipelineError::stage("decompress", m))?;
        out.flush().map_err(|e| PipelineError::stage("spool", e))?;
        Ok(written)
    });
    let feeding = feed_checked(storage, prefix, manifest, packed_tx);
    let (fed, written) = tokio::join!(feeding, writing);
    let written = written.map_err(|e| PipelineError::stage("spool", e))?;
    match (fed, written) {
        (Err(e), _) if !matches!(e, PipelineError::Stage { .. }) => {
            Err(PipelineError::Copy(Box::new(e)))
        }
        (
            _,
            Err(
                e @ PipelineError::Stage {
                    stage: "decompress",
                    ..
                },
            ),
        ) => Err(PipelineError::Copy(Box::new(e))),
        (_, Err(e)) | (Err(e), _) => Err(e),
        (Ok(()), Ok(written)) if written != manifest.total_size_bytes => Err(PipelineError::Copy(
            Box::new(PipelineError::Integrity(format!(
                "the artifact decompressed to {written} bytes, the manifest says {}",
                manifest.total_size_bytes
            ))),
        )),
        (Ok(()), Ok(_)) => Ok(spooled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_and_the_free_space_are_checked_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let policy = SpoolPolicy {
            dir: dir.path().join("spool"),
            max_bytes: 10 << 30,
        };
        assert!(policy.check_room(1 << 20).is_ok());
        let e = policy.check_room(11 << 30).unwrap_err();
        assert!(e.contains("spool cap of 10.0 GiB"), "{e}");
        assert!(e.contains("11.0 GiB"), "{e}");
        let huge = SpoolPolicy {
            max_bytes: u64::MAX,
            ..policy
        };
        let e = huge.check_room(1 << 60).unwrap_err();
        assert!(e.contains("free"), "{e}");
        assert!(
            !dir.path().join("spool").exists(),
            "nothing is created by a check"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(1536 << 20), "1.5 GiB");
    }

    #[test]
    fn a_dropped_spool_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.dump");
        std::fs::write(&path, b"archive").unwrap();
        drop(SpoolFile { path: path.clone() });
        assert!(!path.exists());
    }
}
