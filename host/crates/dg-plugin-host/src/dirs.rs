//! Directories granted to a plugin call, opened once and checked by
//! handle.
//!
//! A path checked as a string and then opened again by name can be
//! swapped in between (a storage root exchanged with a symlink to the data
//! dir). So the server opens every granted directory component by
//! component without following a symlink anywhere, asks its
//! [`DirGuard`] about the opened handle (the kernel's path for it and its
//! device and inode), and hands that same handle to the WASI preopen
//! through `/proc/self/fd/N`, a link to the open directory itself rather
//! than to any name. What the plugin then does happens beneath that
//! handle (wasmtime resolves every guest path inside it).

use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// A directory opened without following symlinks, kept open while it is
/// checked and handed over.
#[derive(Debug)]
pub struct PinnedDir {
    fd: OwnedFd,
    real: PathBuf,
    identity: (u64, u64),
}

/// Why a directory could not be pinned.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{path}: a component ({component}) is a symlink or not a directory; granted directories are opened without following symlinks")]
    NotPlain { path: PathBuf, component: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: must be an absolute path without `..`")]
    NotAbsolute { path: PathBuf },
}

impl PinnedDir {
    /// Opens `path` from `/`, one component at a time, never following a
    /// symlink; `create` makes missing components (mode 0700: a restore
    /// target is never more open than the data it receives).
    pub fn open(path: &Path, create: bool) -> Result<Self, PinError> {
        let io_err = |source: io::Error| PinError::Io {
            path: path.to_path_buf(),
            source,
        };
        if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
            return Err(PinError::NotAbsolute {
                path: path.to_path_buf(),
            });
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut dir = rustix::fs::open("/", flags, Mode::empty()).map_err(|e| io_err(e.into()))?;
        for component in path.components() {
            let Component::Normal(name) = component else {
                continue;
            };
            let next = match rustix::fs::openat(&dir, name, flags, Mode::empty()) {
                Err(rustix::io::Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(io_err(e.into())),
                    }
                    rustix::fs::openat(&dir, name, flags, Mode::empty())
                }
                other => other,
            };
            dir = match next {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
                    return Err(PinError::NotPlain {
                        path: path.to_path_buf(),
                        component: String::from_utf8_lossy(name.as_bytes()).into_owned(),
                    })
                }
                Err(e) => return Err(io_err(e.into())),
            };
            // O_PATH|O_NOFOLLOW may hand back the symlink itself.
            let stat = rustix::fs::fstat(&dir).map_err(|e| io_err(e.into()))?;
            if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory
            {
                return Err(PinError::NotPlain {
                    path: path.to_path_buf(),
                    component: String::from_utf8_lossy(name.as_bytes()).into_owned(),
                });
            }
        }
        Self::from_fd(dir).map_err(io_err)
    }

    fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        let stat = rustix::fs::fstat(&fd)?;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
        // A directory removed while open reads as "/x (deleted)".
        if !link.is_absolute() || link.as_os_str().as_bytes().ends_with(b" (deleted)") {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the directory was removed while it was being opened",
            ));
        }
        Ok(Self {
            fd,
            real: link,
            identity: (stat.st_dev, stat.st_ino),
        })
    }

    /// Where the kernel says the opened directory is now.
    pub fn real_path(&self) -> &Path {
        &self.real
    }

    /// Device and inode of the opened directory.
    pub fn identity(&self) -> (u64, u64) {
        self.identity
    }

    /// A path naming this open directory itself (not any name that leads
    /// to it), valid while `self` lives.
    pub fn handle_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// Whether `name` exists directly inside this directory (not followed
    /// if it is a symlink).
    pub fn holds(&self, name: &str) -> bool {
        rustix::fs::statat(
            self.fd.as_fd(),
            OsStr::new(name),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .is_ok()
    }
}

impl AsFd for PinnedDir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A directory granted to a call, with the handle it was opened and
/// checked by: everything the host itself does beneath the grant
/// (`file-modes`) starts from that handle, never from the name.
#[derive(Debug)]
pub struct GrantedDir {
    pub grant: crate::manifest::ResolvedDir,
    pub handle: PinnedDir,
}

/// Device and inode of `path` (followed), for comparing handles with the
/// server's own places.
pub fn identity_of(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// What a granted directory is for: a storage may use the data dir's
/// default storage, a datasource may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirUse {
    StorageRoot,
    Datasource,
}

/// The server's decision on an opened directory. The CLI has none: it
/// acts as the user who runs it.
pub trait DirGuard: Send + Sync {
    /// `Err` says why the directory may not be granted, naming the flag
    /// that would allow it where one would.
    fn admit(&self, dir: &PinnedDir, use_: DirUse) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_anywhere_are_refused_and_real_paths_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(real.join("a/b")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("link")).unwrap();

        let pinned = PinnedDir::open(&real.join("a/b"), false).unwrap();
        assert_eq!(pinned.real_path(), real.join("a/b"));
        assert_eq!(Some(pinned.identity()), identity_of(&real.join("a/b")));
        assert!(std::fs::read_dir(pinned.handle_path()).is_ok());

        for through in [real.join("link"), real.join("link/b")] {
            let e = PinnedDir::open(&through, false).unwrap_err();
            assert!(matches!(e, PinError::NotPlain { .. }), "{e}");
        }
        assert!(PinnedDir::open(Path::new("relative"), false).is_err());
        assert!(PinnedDir::open(&real.join("a/../a"), false).is_err());
        assert!(matches!(
            PinnedDir::open(&real.join("missing"), false),
            Err(PinError::Io { .. })
        ));
    }

    #[test]
    fn missing_components_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        let pinned = PinnedDir::open(&real.join("x/y"), true).unwrap();
        assert_eq!(pinned.real_path(), real.join("x/y"));
        let mode = std::fs::metadata(real.join("x/y"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Creation never goes through a symlink either.
        std::os::unix::fs::symlink(real.join("x"), real.join("l")).unwrap();
        assert!(PinnedDir::open(&real.join("l/z"), true).is_err());
        assert!(!real.join("x/z").exists());
    }

    #[test]
    fn the_handle_stays_on_the_directory_it_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(real.join("root")).unwrap();
        std::fs::write(real.join("root/mine"), b"1").unwrap();
        std::fs::create_dir_all(real.join("secret")).unwrap();
        std::fs::write(real.join("secret/key"), b"k").unwrap();
        let pinned = PinnedDir::open(&real.join("root"), false).unwrap();
        // Swap the name over to a symlink after it was opened.
        std::fs::rename(real.join("root"), real.join("moved")).unwrap();
        std::os::unix::fs::symlink(real.join("secret"), real.join("root")).unwrap();
        assert!(pinned.handle_path().join("mine").exists());
        assert!(!pinned.handle_path().join("key").exists());
        assert!(pinned.holds("mine"));
    }
}
