//! Confinement of the filesystem paths users give: datasource paths (and
//! so restore targets), local storage roots and the directories plugins
//! are granted from them.
//!
//! A path is resolved first — `..` refused, symlinks followed to the real
//! location, the part that does not exist yet appended to the real parent
//! — and only then compared, so an alias cannot pass for another place.
//! Paths are checked when saved and again each time they are used: a
//! directory can become a symlink after it was saved.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Directories no path may be inside by default. `/` itself is refused
/// but not what is below it.
pub const DEFAULT_DENIED: &[&str] = &["/", "/etc", "/proc", "/sys", "/dev", "/boot", "/root"];

/// Longest path accepted, in bytes (Linux's PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// Where user-given paths may and may not point.
#[derive(Debug, Clone)]
pub struct PathPolicy {
    /// The server's data directory (resolved): metadata, keys, cache.
    data_dir: PathBuf,
    /// The default storage's root, the one place inside the data dir a
    /// storage may use.
    default_storage: PathBuf,
    /// Files and directories of the server's outside the data dir (the
    /// master key file, a shared plugin cache).
    private_paths: Vec<PathBuf>,
    denied: Vec<PathBuf>,
    /// When set, every path must be inside one of these.
    allowed: Option<Vec<PathBuf>>,
}

/// What a checked path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathUse {
    StorageRoot,
    Datasource,
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
        Ok(Self {
            default_storage: data_dir.join("backups"),
            data_dir,
            private_paths: private_paths.iter().map(real).collect(),
            denied: denied.iter().map(real).collect(),
            allowed: allowed.map(|a| a.iter().map(real).collect()),
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
        let invalid = |m: String| Err(PathRefusal::Invalid(m));
        let given = Path::new(path);
        check_syntax(path)?;
        let real = match resolve(given) {
            Ok(real) => real,
            Err(e) => return invalid(format!("cannot be resolved: {e}")),
        };
        let shown = if real == given {
            String::new()
        } else {
            format!(" (it resolves to {})", real.display())
        };
        let in_default_storage =
            use_ == PathUse::StorageRoot && real.starts_with(&self.default_storage);
        if (real.starts_with(&self.data_dir) && !in_default_storage)
            || self.data_dir.starts_with(&real)
        {
            return invalid(format!(
                "overlaps the server's data directory {}{shown}; choose a directory of its own{}",
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
            .find(|p| p.starts_with(&real) || real.starts_with(p))
        {
            return invalid(format!(
                "overlaps the server's private {}{shown}",
                private.display()
            ));
        }
        for denied in &self.denied {
            // `/` is refused itself only; any other denied root is refused
            // with what is inside it and what holds it.
            let hit = if denied == Path::new("/") {
                real == *denied
            } else {
                real.starts_with(denied) || denied.starts_with(&real)
            };
            if hit {
                return invalid(format!(
                    "is a system directory or inside one ({}){shown}; refused by the \
                     denied roots (--denied-roots / DG_DENIED_ROOTS)",
                    denied.display()
                ));
            }
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.iter().any(|a| real.starts_with(a)) {
                let list: Vec<String> = allowed.iter().map(|a| a.display().to_string()).collect();
                return invalid(format!(
                    "is outside the allowed roots ({}){shown}; see --allowed-roots / DG_ALLOWED_ROOTS",
                    list.join(", ")
                ));
            }
        }
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
        .any(|c| c.is_control() || crate::api::limits::is_bidi(c))
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
        PathPolicy::new(&data, vec![dir.join("keys/master.key")], &denied, None).unwrap()
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
    fn system_directories_and_syntax() {
        let tmp = tempfile::tempdir().unwrap();
        let p = policy(tmp.path());
        let custom = PathPolicy::new(
            &tmp.path().join("data"),
            vec![],
            &[tmp.path().join("srv/secret")],
            None,
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
