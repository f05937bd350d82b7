//! Unix modes and owners of files in granted directories (the
//! `file-modes` import).
//!
//! WASI 0.2 has no permission bits: files a plugin creates get the host's
//! defaults (0644, 0755). An engine that restores files asks the host to
//! read modes at backup and to set them at restore; the host applies them
//! only beneath the call's granted directories, never through a symlink,
//! and never makes an entry more readable than recorded when it cannot
//! give it its recorded owner. Needs `file_modes = true` in the manifest's
//! `[capabilities]`.

use crate::bindings::dataguardian::plugin::file_modes;
use crate::PluginResult;

pub use file_modes::FileMode;

/// The mode (permission and setuid/setgid/sticky bits) and owner of `path`.
pub fn stat(path: &str) -> PluginResult<FileMode> {
    file_modes::stat(path)
}

/// Gives `path` the `recorded` owner and mode as far as the host may;
/// returns the mode applied, which differs from the recorded one when the
/// host had to keep the entry private.
pub fn set(path: &str, recorded: FileMode) -> PluginResult<u32> {
    file_modes::set(path, recorded)
}
