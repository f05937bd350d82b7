//! Files in granted directories, as wasi streams.
//!
//! The host preopens each granted directory under its own absolute path, so
//! plugins (and the programs they spawn) use the same paths. Streams from
//! here can be spliced: file bytes then never enter plugin memory.

use crate::bindings::wasi::filesystem::preopens::get_directories;
use crate::bindings::wasi::filesystem::types::{
    Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use crate::{InputStream, OutputStream, PluginError, PluginResult};

/// The granted directory containing `path`, and `path` relative to it.
pub fn resolve(path: &str) -> PluginResult<(Descriptor, String)> {
    let mut best: Option<(Descriptor, String, usize)> = None;
    for (dir, root) in get_directories() {
        let root_trimmed = root.trim_end_matches('/');
        let inside = path == root_trimmed
            || path
                .strip_prefix(root_trimmed)
                .is_some_and(|rest| rest.starts_with('/'));
        if inside
            && best
                .as_ref()
                .is_none_or(|(_, _, len)| root_trimmed.len() > *len)
        {
            let rel = path[root_trimmed.len()..]
                .trim_start_matches('/')
                .to_string();
            best = Some((dir, rel, root_trimmed.len()));
        }
    }
    match best {
        Some((dir, rel, _)) => Ok((dir, if rel.is_empty() { ".".into() } else { rel })),
        None => Err(PluginError::PermissionDenied(format!(
            "{path} is outside every directory granted to this plugin"
        ))),
    }
}

/// Maps a filesystem error to a plugin error naming the path.
pub fn fs_error(path: &str, e: ErrorCode) -> PluginError {
    match e {
        ErrorCode::NoEntry => PluginError::NotFound(format!("{path}: no such file or directory")),
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => {
            PluginError::PermissionDenied(format!("{path}: permission denied"))
        }
        other => PluginError::Failed(format!("{path}: {other:?}")),
    }
}

/// An open file and a stream over it; the stream is dropped first.
pub struct FileStream<S> {
    /// The stream over the file: an [`InputStream`] or an [`OutputStream`].
    pub stream: S,
    /// The open file; kept so the stream stays valid while it is used.
    pub file: Descriptor,
}

/// Opens a file for reading from `offset`.
pub fn open_read(path: &str, offset: u64) -> PluginResult<FileStream<InputStream>> {
    let (dir, rel) = resolve(path)?;
    let file = dir
        .open_at(
            PathFlags::SYMLINK_FOLLOW,
            &rel,
            OpenFlags::empty(),
            DescriptorFlags::READ,
        )
        .map_err(|e| fs_error(path, e))?;
    let stream = file
        .read_via_stream(offset)
        .map_err(|e| fs_error(path, e))?;
    Ok(FileStream { stream, file })
}

/// Creates (or truncates) a file for writing.
pub fn create_write(path: &str) -> PluginResult<FileStream<OutputStream>> {
    let (dir, rel) = resolve(path)?;
    let file = dir
        .open_at(
            PathFlags::empty(),
            &rel,
            OpenFlags::CREATE | OpenFlags::TRUNCATE,
            DescriptorFlags::WRITE,
        )
        .map_err(|e| fs_error(path, e))?;
    let stream = file.write_via_stream(0).map_err(|e| fs_error(path, e))?;
    Ok(FileStream { stream, file })
}

/// Size of a file in bytes.
pub fn file_size(path: &str) -> PluginResult<u64> {
    let (dir, rel) = resolve(path)?;
    dir.stat_at(PathFlags::SYMLINK_FOLLOW, &rel)
        .map(|s| s.size)
        .map_err(|e| fs_error(path, e))
}
