//! Files only the server's user may read: the data dir (0700) and what it
//! holds — the metadata database, keys, the plugin cache (0600). Other
//! local users of the machine must not read stored configurations or
//! swap the native code the plugin cache holds.

use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and missing parents) 0700, and narrows an existing one
/// to 0700.
pub fn dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    narrow(dir, 0o700)
}

/// Narrows an existing file or directory to `mode` if it is wider;
/// missing files are fine.
pub fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o777 & !mode != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates a new file 0600 for writing; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Writes `bytes` to a new file created 0600.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates an empty file 0600 unless it exists (so a database the driver
/// opens next starts private).
pub fn touch(path: &Path) -> io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// An exclusive lock on `DATA_DIR/server.lock`, held while a server runs
/// (and while the master key is rotated): two of them never work on one
/// data dir at once. Released when the returned file is dropped.
pub fn lock_data_dir(data_dir: &Path) -> io::Result<std::fs::File> {
    let path = data_dir.join("server.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{}: {e}", path.display()),
            )
        },
    )?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_end_up_private() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a/b");
        dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        let f = d.join("db");
        touch(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        write_new(&d.join("x"), b"x").unwrap();
        assert_eq!(mode(&d.join("x")), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        narrow(&f, 0o600).unwrap();
        assert_eq!(mode(&f), 0o600);
        narrow(&d.join("missing"), 0o600).unwrap();
    }

    #[test]
    fn a_data_dir_is_locked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let held = lock_data_dir(tmp.path()).unwrap();
        assert!(lock_data_dir(tmp.path()).is_err());
        drop(held);
        assert!(lock_data_dir(tmp.path()).is_ok());
    }
}
