//! Confinement of the filesystem paths users give: datasource paths (and
//! so restore targets), local storage roots and the directories plugins
//! are granted from them.
//!
//! Two checks, one rule set. When a path is saved it is resolved as a
//! string — `..` refused, symlinks followed to the real location, the part
//! that does not exist yet appended to the real parent — and compared, so
//! a request gets an early answer naming the field. When a plugin call is
//! granted the directory, the runtime opens it once without following any
//! symlink and [`PathPolicy`] judges that open handle (the kernel's path
//! for it, its device and inode): what is checked is what is used.
//!
//! The rules are an allow-list: without `--allowed-roots`, only the data
//! dir's own `backups/` may be a storage, and no datasource path is
//! allowed. Inside allowed roots, the server's own files, system
//! directories and well-known secret places stay refused.

use dg_plugin_host::dirs::{identity_of, DirGuard, PinnedDir};
use std::io;
use std::path::{Component, Path, PathBuf};

pub use dg_plugin_host::dirs::DirUse as PathUse;

/// Directories no path may be inside by default. `/` itself is refused
/// but not what is below it.
pub const DEFAULT_DENIED: &[&str] = &["/", "/etc", "/proc", "/sys", "/dev", "/boot", "/root"];

/// Places refused even inside allowed roots: programs and libraries, other
/// services' data and spools, runtime sockets and secrets.
pub const SENSITIVE: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/var/spool",
    "/var/lib/postgresql",
    "/var/lib/mysql",
    "/run",
    "/var/run",
];

/// Files that mark a DataGuardian data directory (this server's or
/// another's).
const DATA_DIR_MARKERS: &[&str] = &["server.lock", "master.key"];

/// Longest path accepted, in bytes (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// The flag that widens the allow-list, named in refusals.
pub const ALLOW_FLAG: &str = "--allowed-roots (DG_ALLOWED_ROOTS)";

/// Where user-given paths may and may not point.
#[derive(Debug, Clone)]
pub struct PathPolicy {
    /// The server's data directory (resolved): metadata, keys, cache.
    data_dir: PathBuf,
    /// The default storage's root, the one place inside the data dir a
    /// storage may use, and the only allowed root without the flag.
    default_storage: PathBuf,
    /// Files and directories of the server's outside the data dir (the
    /// master key file, a shared plugin cache, the spool).
    private_paths: Vec<PathBuf>,
    /// Device and inode of the data dir and each private path: a handle
    /// that is one of them is refused whatever path it was reached by.
    protected: Vec<(u64, u64)>,
    denied: Vec<PathBuf>,
    /// `--allowed-roots`; empty without the flag.
    allowed: Vec<PathBuf>,
}

/// Why a path was refused. `Overlap` is a conflict with another object;
/// the rest are bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Overlap(String),
}

/// Another object's path that a new one must not overlap.
pub struct Occupied {
    /// How an error names it: "storage `nightly`".
    pub label: String,
    pub path: PathBuf,
}

impl PathPolicy {
    /// `data_dir` must exist. Denied and allowed roots are resolved where
    /// they exist (`/etc` may be a symlink on some systems).
    pub fn new(
        data_dir: &Path,
        private_paths: Vec<PathBuf>,
        denied: &[PathBuf],
        allowed: Option<&[PathBuf]>,
    ) -> io::Result<Self> {
        let data_dir = std::fs::canonicalize(data_dir)?;
        let real = |p: &PathBuf| resolve(p).unwrap_or_else(|_| p.clone());
        let private_paths: Vec<PathBuf> = private_paths.iter().map(real).collect();
        let protected = std::iter::once(&data_dir)
            .chain(&private_paths)
            .filter_map(|p| identity_of(p))
            .collect();
        Ok(Self {
            default_storage: data_dir.join("backups"),
            data_dir,
            private_paths,
            protected,
            denied: denied.iter().map(real).collect(),
            allowed: allowed.unwrap_or_default().iter().map(real).collect(),
        })
    }

    /// Resolves `path` and checks it against the policy and the paths of
    /// other objects; returns the real path to use.
    pub fn check(
        &self,
        path: &str,
        use_: PathUse,
        others: &[Occupied],
    ) -> Result<PathBuf, PathRefusal> {
        let given = Path::new(path);
        check_syntax(path)?;
        let real = match resolve(given) {
            Ok(real) => real,
            Err(e) => return Err(PathRefusal::Invalid(format!("cannot be resolved: {e}"))),
        };
        let shown = if real == given {
            String::new()
        } else {
            format!(" (it resolves to {})", real.display())
        };
        self.judge(&real, use_)
            .map_err(|why| PathRefusal::Invalid(format!("{why}{shown}")))?;
        for other in others {
            let theirs = resolve(&other.path).unwrap_or_else(|_| other.path.clone());
            if real.starts_with(&theirs) || theirs.starts_with(&real) {
                return Err(PathRefusal::Overlap(format!(
                    "{path}{shown} overlaps {} at {}; each needs a directory of its own",
                    other.label,
                    theirs.display()
                )));
            }
        }
        Ok(real)
    }

    /// The rules on a real (resolved) path; `Err` says why it is refused.
    fn judge(&self, real: &Path, use_: PathUse) -> Result<(), String> {
        let in_default_storage =
            use_ == PathUse::StorageRoot && real.starts_with(&self.default_storage);
        if (real.starts_with(&self.data_dir) && !in_default_storage)
            || self.data_dir.starts_with(real)
        {
            return Err(format!(
                "overlaps the server's data directory {}; choose a directory of its own{}",
                self.data_dir.display(),
                if use_ == PathUse::StorageRoot {
                    format!(" ({} is the default one)", self.default_storage.display())
                } else {
                    String::new()
                }
            ));
        }
        if let Some(private) = self
            .private_paths
            .iter()
            .find(|p| p.starts_with(real) || real.starts_with(p))
        {
            return Err(format!(
                "overlaps the server's private {}",
                private.display()
            ));
        }
        for denied in &self.denied {
            // `/` is refused itself only; any other denied root is refused
            // with what is inside it and what holds it.
            let hit = if denied == Path::new("/") {
                real == denied
            } else {
                real.starts_with(denied) || denied.starts_with(real)
            };
            if hit {
                return Err(format!(
                    "is a system directory or inside one ({}); refused by the denied roots \
                     (--denied-roots / DG_DENIED_ROOTS)",
                    denied.display()
                ));
            }
        }
        if !in_default_storage {
            if self.allowed.is_empty() {
                return Err(match use_ {
                    PathUse::StorageRoot => format!(
                        "is outside {}, the only place a local storage may use until the \
                         operator names allowed directories with {ALLOW_FLAG}",
                        self.default_storage.display()
                    ),
                    PathUse::Datasource => format!(
                        "is not inside an allowed directory: files and SQLite datasources and \
                         restore targets need the operator to name their directories with \
                         {ALLOW_FLAG}"
                    ),
                });
            }
            if !self.allowed.iter().any(|a| real.starts_with(a)) {
                let list: Vec<String> = self
                    .allowed
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect();
                return Err(format!(
                    "is outside the allowed roots ({}); see {ALLOW_FLAG}",
                    list.join(", ")
                ));
            }
        }
        if let Some(place) = sensitive_place(real) {
            return Err(format!("is {place}, refused even inside the allowed roots"));
        }
        for dir in real.ancestors().filter(|_| !in_default_storage) {
            if DATA_DIR_MARKERS
                .iter()
                .any(|m| std::fs::symlink_metadata(dir.join(m)).is_ok())
            {
                return Err(format!(
                    "is inside {}, a DataGuardian data directory (it holds its keys and \
                     metadata)",
                    dir.display()
                ));
            }
        }
        Ok(())
    }
}

impl DirGuard for PathPolicy {
    /// The same rules on the opened directory: the kernel's path for the
    /// handle, and its identity against the server's own places (so a bind
    /// mount or hard-linked alias of the data dir is refused too).
    fn admit(&self, dir: &PinnedDir, use_: PathUse) -> Result<(), String> {
        if self.protected.contains(&dir.identity()) {
            return Err("is the server's data directory or one of its private files".into());
        }
        let default_storage =
            use_ == PathUse::StorageRoot && dir.real_path().starts_with(&self.default_storage);
        if !default_storage && DATA_DIR_MARKERS.iter().any(|m| dir.holds(m)) {
            return Err("is a DataGuardian data directory (it holds its keys and metadata)".into());
        }
        self.judge(dir.real_path(), use_)
            .map_err(|why| format!("{} {why}", dir.real_path().display()))
    }
}

/// Which well-known sensitive place `real` is in, if any.
fn sensitive_place(real: &Path) -> Option<String> {
    if let Some(root) = SENSITIVE
        .iter()
        .find(|s| real.starts_with(s) || Path::new(s).starts_with(real) && real != Path::new("/"))
    {
        return Some(format!("a system or service directory ({root})"));
    }
    real.components()
        .any(|c| c == Component::Normal(".ssh".as_ref()))
        .then(|| "an SSH key directory (.ssh)".to_string())
}

/// Refuses what no path should hold: relative paths, `..`, NUL and other
/// control characters, bidirectional overrides, absurd lengths.
pub fn check_syntax(path: &str) -> Result<(), PathRefusal> {
    let invalid = |m: &str| Err(PathRefusal::Invalid(m.to_string()));
    if path.len() > MAX_PATH_BYTES {
        return invalid("is longer than 4096 bytes");
    }
    if path
        .chars()
        .any(|c| c.is_control() || dg_core::text::is_bidi(c))
    {
        return invalid("must not contain control characters or bidirectional overrides");
    }
    let given = Path::new(path);
    if !given.is_absolute() {
        return invalid("must be an absolute path");
    }
    if given.components().any(|c| c == Component::ParentDir) {
        return invalid("must not contain `..`");
    }
    Ok(())
}

/// The real location of an absolute path without `..`: the longest
/// existing prefix canonicalized (symlinks followed), the rest appended.
/// A dangling symlink is refused: creating the path would follow it.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut missing = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(real) => {
                let mut out = real;
                for name in missing.iter().rev() {
                    out.push(name);
                }
                return Ok(out);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(&existing).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is a symlink to a missing target", existing.display()),
                    ));
                }
                let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
                    return Err(e);
                };
                missing.push(name);
                if !existing.pop() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(dir: &Path) -> PathPolicy {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let denied: Vec<PathBuf> = DEFAULT_DENIED.iter().map(PathBuf::from).collect();
        PathPolicy::new(
            &data,
            vec![dir.join("keys/master.key")],
            &denied,
            Some(&[dir.to_path_buf()]),
        )
        .unwrap()
    }

    fn refused(p: &PathPolicy, path: &Path, use_: PathUse) -> String {
        p.check(path.to_str().unwrap(), use_, &[])
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn data_dir_is_refused_directly_and_through_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let data = tmp.path().join("data");
        assert!(refused(&p, &data, PathUse::Datasource).contains("data directory"));
        assert!(
            refused(&p, &data.join("dataguardian.db"), PathUse::Datasource)
                .contains("data directory")
        );
        assert!(refused(&p, tmp.path(), PathUse::Datasource).contains("data directory"));
        let link = tmp.path().join("innocent");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        assert!(refused(&p, &link, PathUse::StorageRoot).contains("resolves to"));
        assert!(refused(&p, &link.join("new/dir"), PathUse::StorageRoot).contains("data directory"));
        // The default storage lives in the data dir; a storage may use it.
        assert!(p
            .check(
                data.join("backups").to_str().unwrap(),
                PathUse::StorageRoot,
                &[]
            )
            .is_ok());
        assert!(refused(&p, &data.join("backups"), PathUse::Datasource).contains("data directory"));
        assert!(refused(&p, &tmp.path().join("keys"), PathUse::StorageRoot).contains("private"));
    }

    #[test]
    fn without_allowed_roots_only_the_default_storage_is_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("backups")).unwrap();
        std::fs::write(data.join("server.lock"), b"").unwrap();
        let p = PathPolicy::new(&data, vec![], &[], None).unwrap();
        let backups = data.join("backups");
        assert!(p
            .check(backups.to_str().unwrap(), PathUse::StorageRoot, &[])
            .is_ok());
        let pinned = PinnedDir::open(&std::fs::canonicalize(&backups).unwrap(), false).unwrap();
        assert!(p.admit(&pinned, PathUse::StorageRoot).is_ok());
        let site = tmp.path().join("site");
        for use_ in [PathUse::Datasource, PathUse::StorageRoot] {
            assert!(
                refused(&p, &site, use_).contains("--allowed-roots"),
                "{use_:?}"
            );
        }
    }

    #[test]
    fn sensitive_places_stay_refused_inside_allowed_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let p = PathPolicy::new(&data, vec![], &[], Some(&[PathBuf::from("/")])).unwrap();
        for bad in [
            "/usr/local/bin",
            "/var/lib/postgresql",
            "/var/lib/mysql/x",
            "/var/spool/cron/crontabs",
            "/run/secrets",
            "/home/x/.ssh",
            "/var",
        ] {
            assert!(
                p.check(bad, PathUse::Datasource, &[]).is_err(),
                "{bad} accepted"
            );
        }
        // Another server's data dir, recognised by its files, and what is
        // inside it.
        let other = tmp.path().join("other-dg");
        std::fs::create_dir_all(other.join("backups")).unwrap();
        std::fs::write(other.join("master.key"), b"k").unwrap();
        for path in [other.clone(), other.join("backups")] {
            assert!(refused(&p, &path, PathUse::Datasource).contains("DataGuardian data directory"));
        }
        let pinned = PinnedDir::open(&std::fs::canonicalize(&other).unwrap(), false).unwrap();
        assert!(p.admit(&pinned, PathUse::Datasource).is_err());
        assert!(p
            .check(
                tmp.path().join("site").to_str().unwrap(),
                PathUse::Datasource,
                &[]
            )
            .is_ok());
    }

    #[test]
    fn handles_are_judged_by_identity_and_real_path() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let data = std::fs::canonicalize(tmp.path().join("data")).unwrap();
        let pinned = PinnedDir::open(&data, false).unwrap();
        assert!(p.admit(&pinned, PathUse::StorageRoot).is_err());
        let site = std::fs::canonicalize(tmp.path()).unwrap().join("site");
        let pinned = PinnedDir::open(&site, true).unwrap();
        assert!(p.admit(&pinned, PathUse::Datasource).is_ok());
    }

    #[test]
    fn system_directories_and_syntax() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let custom = PathPolicy::new(
            &tmp.path().join("data"),
            vec![],
            &[tmp.path().join("srv/secret")],
            Some(&[tmp.path().to_path_buf()]),
        )
        .unwrap();
        assert!(custom
            .check(
                tmp.path().join("srv").to_str().unwrap(),
                PathUse::Datasource,
                &[]
            )
            .is_err());
        for bad in ["/etc", "/etc/ssl", "/proc/self", "/root", "/"] {
            assert!(p.check(bad, PathUse::StorageRoot, &[]).is_err(), "{bad}");
        }
        assert!(p.check("/tmp/../etc", PathUse::Datasource, &[]).is_err());
        assert!(p.check("relative", PathUse::Datasource, &[]).is_err());
        assert!(p.check("/tmp/a\0b", PathUse::Datasource, &[]).is_err());
        assert!(p
            .check("/tmp/\u{202e}gpj", PathUse::Datasource, &[])
            .is_err());
        assert!(p
            .check(
                &format!("/tmp/{}", "a".repeat(5000)),
                PathUse::Datasource,
                &[]
            )
            .is_err());
        let ok = tmp.path().join("site");
        assert_eq!(
            p.check(ok.to_str().unwrap(), PathUse::Datasource, &[])
                .unwrap(),
            std::fs::canonicalize(tmp.path()).unwrap().join("site")
        );
    }

    #[test]
    fn dangling_symlinks_and_overlaps() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let dangling = tmp.path().join("later");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        assert!(refused(&p, &dangling, PathUse::StorageRoot).contains("missing target"));

        let a = tmp.path().join("a");
        std::fs::create_dir_all(&a).unwrap();
        let alias = tmp.path().join("alias");
        std::os::unix::fs::symlink(&a, &alias).unwrap();
        let others = [Occupied {
            label: "storage `a`".into(),
            path: a.clone(),
        }];
        let e = p
            .check(
                alias.join("x").to_str().unwrap(),
                PathUse::StorageRoot,
                &others,
            )
            .unwrap_err();
        assert!(
            matches!(e, PathRefusal::Overlap(ref m) if m.contains("storage `a`")),
            "{e}"
        );
        assert!(p
            .check(
                tmp.path().join("b").to_str().unwrap(),
                PathUse::StorageRoot,
                &others
            )
            .is_ok());
    }

    #[test]
    fn allowed_roots_pin_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let allowed = [tmp.path().join("srv")];
        let p = PathPolicy::new(&data, vec![], &[], Some(&allowed)).unwrap();
        assert!(p
            .check(
                tmp.path().join("srv/x").to_str().unwrap(),
                PathUse::Datasource,
                &[]
            )
            .is_ok());
        assert!(p
            .check(
                tmp.path().join("other").to_str().unwrap(),
                PathUse::Datasource,
                &[]
            )
            .unwrap_err()
            .to_string()
            .contains("allowed roots"));
    }
}
