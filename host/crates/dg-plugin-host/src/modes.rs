//! The `file-modes` import: reading and setting Unix modes and owners of
//! entries beneath a call's granted directories.
//!
//! WASI 0.2 cannot express permissions, so without this a `files` restore
//! writes everything 0644/0755 owned by the server's user: private keys
//! become world-readable, executables lose `x`. The host does it instead,
//! under three rules:
//!
//! - **Only beneath a grant.** The path must lie beneath one of the call's
//!   granted directories (read-write for `set`). The entry is opened from
//!   the grant's own handle — the one the runtime opened without following
//!   symlinks, checked, and preopened — with `RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS`: a symlink in any component is refused, never
//!   followed, and nothing outside the grant is reached even while someone
//!   swaps directories. The owner and mode are then changed through that
//!   handle, not by name again.
//! - **Only files and directories.** Devices, sockets and FIFOs are refused.
//! - **Never more than recorded** — see [`plan`].

use crate::dirs::{GrantedDir, PinnedDir};
use crate::manifest::Access;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, CWD};

/// setuid, setgid and sticky.
const SPECIAL_BITS: u32 = 0o7000;
const PERMISSION_BITS: u32 = 0o777;

/// A mode with its owner, as recorded in an archive or read from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode {
    /// Permission and special bits (`0o7777`), no file type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What the host will do to one entry: give it this owner (if any) and
/// then this mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub owner: Option<(u32, u32)>,
    pub mode: u32,
}

/// Why a `file-modes` call was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("file modes are not granted to this plugin")]
    NotGranted,
    #[error("{0}: not an absolute path without `..`")]
    BadPath(String),
    #[error("{0} is outside every directory granted to this plugin")]
    OutsideGrant(String),
    #[error("{0} is beneath a read-only grant; modes are set only beneath read-write ones")]
    ReadOnly(String),
    #[error("{0}: a symlink in the path is not followed")]
    Symlink(String),
    #[error("{0}: not a regular file or directory")]
    NotFileOrDir(String),
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: uid/gid 4294967295 is not an owner")]
    BadOwner(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl ModeError {
    /// Whether the sandbox refused (as opposed to the filesystem failing).
    pub fn is_denial(&self) -> bool {
        matches!(
            self,
            ModeError::NotGranted
                | ModeError::BadPath(_)
                | ModeError::OutsideGrant(_)
                | ModeError::ReadOnly(_)
                | ModeError::Symlink(_)
        )
    }
}

/// The mode to apply, given whether the entry can get its recorded owner.
///
/// With the recorded owner (the server is root and that user and group
/// exist on this machine, or they are the server's own user and one of its
/// groups), the recorded mode is applied as it is, setuid, setgid and
/// sticky included: the entry is exactly what was backed up.
///
/// Without it, the entry stays owned by the server's user and group, so
/// the recorded bits would now speak about other people: a file that was
/// `alice:staff 0640` would become readable by the server's group. The
/// rule is that no one may read, write or run it who could not before:
/// - setuid and setgid are dropped (a program that ran as its owner would
///   run as the server's user);
/// - the mode is kept when its group bits grant nothing its other bits do
///   not (0644, 0755, 0600, 0700: the new group gains nothing everyone
///   else lacked);
/// - otherwise, and for a sticky directory (whose write bits are safe only
///   with the sticky bit), the entry becomes private: 0700 for a
///   directory, 0600 for a file (0700 if its owner could run it).
///
/// An owner that does not exist here is not given either: a user created
/// later with that uid would silently own the restored files.
pub fn plan(recorded: FileMode, is_dir: bool, owner_ok: bool) -> Plan {
    if owner_ok {
        return Plan {
            owner: Some((recorded.uid, recorded.gid)),
            mode: recorded.mode & (SPECIAL_BITS | PERMISSION_BITS),
        };
    }
    let perm = recorded.mode & PERMISSION_BITS;
    let group = (perm >> 3) & 0o7;
    let other = perm & 0o7;
    let sticky_dir = is_dir && recorded.mode & 0o1000 != 0;
    let mode = if group & !other == 0 && !sticky_dir {
        perm
    } else if is_dir || perm & 0o100 != 0 {
        0o700
    } else {
        0o600
    };
    Plan { owner: None, mode }
}

/// Who the server runs as, and which owners it may give (cached per call:
/// a restore asks once per entry).
pub struct Owners {
    euid: u32,
    /// Effective and supplementary groups.
    groups: Vec<u32>,
    known: HashMap<(u32, u32), bool>,
}

impl Owners {
    pub fn of_this_process() -> Self {
        let euid = rustix::process::geteuid().as_raw();
        let mut groups = vec![rustix::process::getegid().as_raw()];
        if let Ok(more) = rustix::process::getgroups() {
            groups.extend(more.into_iter().map(|g| g.as_raw()));
        }
        Self {
            euid,
            groups,
            known: HashMap::new(),
        }
    }

    /// Whether an entry may be given `uid:gid`.
    fn can_give(&mut self, uid: u32, gid: u32) -> bool {
        if self.euid != 0 {
            return uid == self.euid && self.groups.contains(&gid);
        }
        *self
            .known
            .entry((uid, gid))
            .or_insert_with(|| accounts::user_exists(uid) && accounts::group_exists(gid))
    }
}

/// The granted directory `path` lies beneath (the deepest one, read-write
/// when `write`), and `path` relative to it.
fn beneath<'a>(
    dirs: &'a [GrantedDir],
    path: &str,
    write: bool,
) -> Result<(&'a GrantedDir, PathBuf), ModeError> {
    let p = Path::new(path);
    let clean = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !clean {
        return Err(ModeError::BadPath(path.to_string()));
    }
    let covering = |need_write: bool| {
        dirs.iter()
            .filter(|d| !need_write || d.grant.access == Access::ReadWrite)
            .filter_map(|d| p.strip_prefix(&d.grant.path).ok().map(|rel| (d, rel)))
            .max_by_key(|(d, _)| d.grant.path.components().count())
            .map(|(d, rel)| (d, rel.to_path_buf()))
    };
    match covering(write) {
        Some(found) => Ok(found),
        None if write && covering(false).is_some() => Err(ModeError::ReadOnly(path.to_string())),
        None => Err(ModeError::OutsideGrant(path.to_string())),
    }
}

/// Opens `rel` beneath the grant's handle `root` without following any
/// symlink, as an `O_PATH` handle: it carries no read or write right, and
/// `set` changes the entry through it. Only regular files and directories
/// are returned.
fn open_beneath(root: &PinnedDir, rel: &Path, shown: &str) -> Result<(OwnedFd, bool), ModeError> {
    let fail = |e: rustix::io::Errno| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => ModeError::Symlink(shown.to_string()),
        rustix::io::Errno::NOENT => ModeError::NotFound(shown.to_string()),
        e => ModeError::Io {
            path: shown.to_string(),
            source: e.into(),
        },
    };
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let fd = rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(fail)?;
    let stat = rustix::fs::fstat(&fd).map_err(fail)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok((fd, false)),
        FileType::Directory => Ok((fd, true)),
        FileType::Symlink => Err(ModeError::Symlink(shown.to_string())),
        _ => Err(ModeError::NotFileOrDir(shown.to_string())),
    }
}

/// The mode and owner of `path`, beneath any granted directory.
pub fn stat(dirs: &[GrantedDir], granted: bool, path: &str) -> Result<FileMode, ModeError> {
    if !granted {
        return Err(ModeError::NotGranted);
    }
    let (dir, rel) = beneath(dirs, path, false)?;
    let (fd, _) = open_beneath(&dir.handle, &rel, path)?;
    let st = rustix::fs::fstat(&fd).map_err(|e| ModeError::Io {
        path: path.to_string(),
        source: e.into(),
    })?;
    Ok(FileMode {
        mode: st.st_mode & (SPECIAL_BITS | PERMISSION_BITS),
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// Gives `path` (beneath a read-write grant) the owner and mode [`plan`]
/// allows for `recorded`; returns the mode applied. The owner is set
/// first: `chown` clears setuid and setgid, which the mode then restores.
pub fn set(
    dirs: &[GrantedDir],
    granted: bool,
    owners: &mut Owners,
    path: &str,
    recorded: FileMode,
) -> Result<u32, ModeError> {
    if !granted {
        return Err(ModeError::NotGranted);
    }
    if recorded.uid == u32::MAX || recorded.gid == u32::MAX {
        return Err(ModeError::BadOwner(path.to_string()));
    }
    let (dir, rel) = beneath(dirs, path, true)?;
    let (fd, is_dir) = open_beneath(&dir.handle, &rel, path)?;
    let owner_ok = owners.can_give(recorded.uid, recorded.gid);
    let plan = plan(recorded, is_dir, owner_ok);
    let io = |source: rustix::io::Errno| ModeError::Io {
        path: path.to_string(),
        source: source.into(),
    };
    if let Some((uid, gid)) = plan.owner {
        rustix::fs::chownat(
            &fd,
            "",
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::EMPTY_PATH,
        )
        .map_err(io)?;
    }
    // An `O_PATH` handle cannot be fchmod'ed; its /proc link names this
    // very inode, whatever happened to the path since it was opened.
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::chmodat(
        CWD,
        link.as_str(),
        Mode::from_raw_mode(plan.mode),
        AtFlags::empty(),
    )
    .map_err(io)?;
    Ok(plan.mode)
}

/// Whether users and groups exist, through the C library (so NSS sources
/// such as LDAP count, not only `/etc/passwd`).
mod accounts {
    /// Largest buffer tried for one account entry.
    const MAX_BUFFER: usize = 1 << 20;

    pub fn user_exists(uid: u32) -> bool {
        lookup(|buf| {
            let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call: `entry` and
            // `found` are ours, `buf` is writable for `buf.len()` bytes;
            // `found` is only compared with null afterwards.
            let rc = unsafe {
                libc::getpwuid_r(
                    uid,
                    entry.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut found,
                )
            };
            (rc, !found.is_null())
        })
    }

    pub fn group_exists(gid: u32) -> bool {
        lookup(|buf| {
            let mut entry = std::mem::MaybeUninit::<libc::group>::uninit();
            let mut found: *mut libc::group = std::ptr::null_mut();
            // SAFETY: as in `user_exists`.
            let rc = unsafe {
                libc::getgrgid_r(
                    gid,
                    entry.as_mut_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut found,
                )
            };
            (rc, !found.is_null())
        })
    }

    /// Runs a `get*_r` call, growing the buffer while it says `ERANGE`.
    fn lookup(mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, bool)) -> bool {
        let mut size = 4096;
        loop {
            let mut buf = vec![0 as libc::c_char; size];
            match call(&mut buf) {
                (0, found) => return found,
                (libc::ERANGE, _) if size < MAX_BUFFER => size *= 2,
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ResolvedDir;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn recorded(mode: u32) -> FileMode {
        FileMode {
            mode,
            uid: 1234,
            gid: 1234,
        }
    }

    #[test]
    fn with_the_owner_the_recorded_mode_is_kept_whole() {
        for mode in [0o600, 0o700, 0o755, 0o640, 0o4755, 0o2750, 0o1777] {
            let p = plan(recorded(mode), mode == 0o1777, true);
            assert_eq!(
                p,
                Plan {
                    owner: Some((1234, 1234)),
                    mode
                }
            );
        }
        assert_eq!(
            plan(recorded(0o170644), false, true).mode,
            0o644,
            "no type bits"
        );
    }

    #[test]
    fn without_the_owner_nothing_becomes_more_readable() {
        let file = |m| plan(recorded(m), false, false);
        let dir = |m| plan(recorded(m), true, false);
        // Group bits within the others': kept as recorded.
        assert_eq!(
            file(0o600),
            Plan {
                owner: None,
                mode: 0o600
            }
        );
        assert_eq!(file(0o644).mode, 0o644);
        assert_eq!(file(0o755).mode, 0o755);
        assert_eq!(file(0o400).mode, 0o400);
        assert_eq!(dir(0o700).mode, 0o700);
        assert_eq!(dir(0o755).mode, 0o755);
        // The group could do more than others: private.
        assert_eq!(file(0o640).mode, 0o600);
        assert_eq!(file(0o660).mode, 0o600);
        assert_eq!(file(0o750).mode, 0o700, "an executable stays runnable");
        assert_eq!(dir(0o750).mode, 0o700);
        assert_eq!(dir(0o2770).mode, 0o700);
        // Special bits never survive without their owner.
        assert_eq!(file(0o4755).mode, 0o755);
        assert_eq!(file(0o2755).mode, 0o755);
        assert_eq!(dir(0o1777).mode, 0o700, "a sticky directory goes private");
        for m in 0..=0o7777 {
            for is_dir in [false, true] {
                let applied = plan(recorded(m), is_dir, false).mode;
                assert_eq!(applied & SPECIAL_BITS, 0, "{m:o}");
                let (group, other) = ((applied >> 3) & 7, applied & 7);
                assert_eq!(group & !other, 0, "{m:o} -> {applied:o}: group gains");
                assert_eq!(other & !(m & 7), 0, "{m:o} -> {applied:o}: others gain");
            }
        }
    }

    /// Not root: only the server's own user with one of its groups.
    #[test]
    fn a_server_that_is_not_root_gives_only_its_own_owner() {
        let mut owners = Owners {
            euid: 1000,
            groups: vec![1000, 27],
            known: HashMap::new(),
        };
        assert!(owners.can_give(1000, 1000));
        assert!(owners.can_give(1000, 27));
        assert!(!owners.can_give(1000, 0), "not one of its groups");
        assert!(!owners.can_give(0, 1000), "not its user");
        assert!(!owners.can_give(1001, 1001));
    }

    /// A grant of `path`, pinned as the runtime pins it.
    fn granted(path: &Path, access: Access) -> Vec<GrantedDir> {
        let real = std::fs::canonicalize(path).unwrap();
        vec![GrantedDir {
            grant: ResolvedDir {
                path: path.to_path_buf(),
                access,
            },
            handle: PinnedDir::open(&real, false).unwrap(),
        }]
    }

    fn rw(path: &Path) -> Vec<GrantedDir> {
        granted(path, Access::ReadWrite)
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn modes_are_read_and_set_beneath_the_grant_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("granted");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/key"), b"k").unwrap();
        std::fs::write(tmp.path().join("outside"), b"o").unwrap();
        std::fs::set_permissions(tmp.path().join("outside"), PermissionsExt::from_mode(0o644))
            .unwrap();
        symlink(tmp.path().join("outside"), root.join("link")).unwrap();
        symlink(tmp.path(), root.join("dirlink")).unwrap();
        let dirs = rw(&root);
        let mut owners = Owners::of_this_process();
        let me = std::fs::metadata(root.join("sub/key")).unwrap();
        let path = |rel: &str| format!("{}/{rel}", root.display());
        let mine = |mode| FileMode {
            mode,
            uid: me.uid(),
            gid: me.gid(),
        };

        let applied = set(&dirs, true, &mut owners, &path("sub/key"), mine(0o600)).unwrap();
        assert_eq!(applied, 0o600);
        assert_eq!(mode_of(&root.join("sub/key")), 0o600);
        let read = stat(&dirs, true, &path("sub/key")).unwrap();
        assert_eq!(read, mine(0o600));
        set(&dirs, true, &mut owners, &path("sub"), mine(0o500)).unwrap();
        assert_eq!(mode_of(&root.join("sub")), 0o500);
        set(
            &dirs,
            true,
            &mut owners,
            &root.display().to_string(),
            mine(0o711),
        )
        .unwrap();
        assert_eq!(mode_of(&root), 0o711);

        // Symlinks are refused wherever they are, and what they point at
        // is left alone.
        for rel in ["link", "dirlink/outside"] {
            let e = set(&dirs, true, &mut owners, &path(rel), mine(0o777)).unwrap_err();
            assert!(matches!(e, ModeError::Symlink(_)), "{rel}: {e}");
            let e = stat(&dirs, true, &path(rel)).unwrap_err();
            assert!(matches!(e, ModeError::Symlink(_)), "{rel}: {e}");
        }
        assert_eq!(mode_of(&tmp.path().join("outside")), 0o644);
        // A grant whose own path holds a symlink is never opened: the
        // runtime pins grants without following symlinks.
        assert!(PinnedDir::open(&root.join("dirlink"), false).is_err());
        assert_eq!(mode_of(&tmp.path().join("outside")), 0o644);

        let outside = tmp.path().join("outside").display().to_string();
        let e = set(&dirs, true, &mut owners, &outside, mine(0o777)).unwrap_err();
        assert!(matches!(e, ModeError::OutsideGrant(_)), "{e}");
        let e = set(
            &dirs,
            true,
            &mut owners,
            &path("sub/../../outside"),
            mine(0o777),
        )
        .unwrap_err();
        assert!(matches!(e, ModeError::BadPath(_)), "{e}");
        let e = set(&dirs, false, &mut owners, &path("sub/key"), mine(0o777)).unwrap_err();
        assert!(matches!(e, ModeError::NotGranted), "{e}");
        let read_only = granted(&root, Access::Read);
        let e = set(&read_only, true, &mut owners, &path("sub/key"), mine(0o777)).unwrap_err();
        assert!(matches!(e, ModeError::ReadOnly(_)), "{e}");
        assert!(
            stat(&read_only, true, &path("sub/key")).is_ok(),
            "reading is fine"
        );
        assert_eq!(mode_of(&root.join("sub/key")), 0o600);
        let e = stat(&dirs, true, &path("missing")).unwrap_err();
        assert!(matches!(e, ModeError::NotFound(_)), "{e}");
    }

    /// As root: the recorded owner is given when it exists, and a setuid
    /// bit survives with it; an owner unknown here is not given, and the
    /// mode follows the private fallback.
    #[test]
    fn owners_are_given_only_when_they_exist() {
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::write(root.join("f"), b"x").unwrap();
        let dirs = rw(&root);
        let mut owners = Owners::of_this_process();
        let f = format!("{}/f", root.display());
        // `nobody` (65534) exists on every usual system; check rather than assume.
        if accounts::user_exists(65534) && accounts::group_exists(65534) {
            let nobody = FileMode {
                mode: 0o4750,
                uid: 65534,
                gid: 65534,
            };
            assert_eq!(set(&dirs, true, &mut owners, &f, nobody).unwrap(), 0o4750);
            let m = std::fs::metadata(root.join("f")).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o7777),
                (65534, 65534, 0o4750)
            );
        }
        let ghost = FileMode {
            mode: 0o4750,
            uid: 3_999_999,
            gid: 3_999_999,
        };
        assert!(!accounts::user_exists(3_999_999));
        assert_eq!(set(&dirs, true, &mut owners, &f, ghost).unwrap(), 0o700);
        let m = std::fs::metadata(root.join("f")).unwrap();
        assert_ne!(m.uid(), 3_999_999, "an unknown owner is not given");
        assert_eq!(m.mode() & 0o7777, 0o700);
    }
}
