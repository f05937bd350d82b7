//! Files engine: a directory tree as a tar archive.
//!
//! Backups walk the tree in sorted order, so the same tree always gives the
//! same archive, and write only the 512-byte headers from plugin memory:
//! file contents are spliced host-side from the file into the sink. Restores
//! go through plugin memory (a tar stream has to be parsed) and refuse any
//! entry that would land outside the target directory.
//!
//! WASI has no file permissions, so modes and owners go through the host's
//! `file-modes` import: read for every entry at backup, given back at
//! restore (the host decides how much of them it may give, see
//! docs/PLUGINS.md).

mod tar;

use dataguardian_plugin_sdk::bindings::dataguardian::plugin::progress;
use dataguardian_plugin_sdk::io::{StreamReader, StreamWriter};
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, fs, health, io, log, modes, BackupStats, CallContext,
    Engine, HealthReport, InputStream, OutputStream, PluginError, PluginInfo, PluginKind,
    PluginResult,
};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::io::{BufReader, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often (in entries) a backup asks whether the host cancelled it;
/// splices check on their own only every 64 MiB, which many small files
/// never reach.
const CANCEL_CHECK_EVERY: u64 = 256;

/// Where a restore unpacks before anything is moved into place: inside the
/// target (the only directory granted), skipped by backups.
const STAGING: &str = ".dataguardian-restore";

/// Zeros written at a time when a file shrank under us.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

fn everything() -> Vec<String> {
    vec!["**".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Absolute path of the directory to back up or restore into.
    path: String,
    /// Globs, relative to `path`, of what to back up.
    #[serde(default = "everything")]
    include: Vec<String>,
    /// Globs of what to leave out; an excluded directory is not entered.
    #[serde(default)]
    exclude: Vec<String>,
}

impl Config {
    /// The directory without trailing slashes (`/` stays `/`).
    fn root(&self) -> &str {
        match self.path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        }
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        if !self.path.starts_with('/') {
            return Err(PluginError::InvalidConfig(
                "path: must be an absolute directory path".into(),
            ));
        }
        Filter::new(self).map(|_| ())
    }
}

/// The include and exclude globs, matched against `/`-separated paths
/// relative to the root. `*` stops at `/`; `**` crosses it.
struct Filter {
    include: GlobSet,
    exclude: GlobSet,
}

impl Filter {
    fn new(cfg: &Config) -> PluginResult<Self> {
        Ok(Self {
            include: glob_set("include", &cfg.include)?,
            exclude: glob_set("exclude", &cfg.exclude)?,
        })
    }
}

fn glob_set(field: &str, patterns: &[String]) -> PluginResult<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| PluginError::InvalidConfig(format!("{field}: `{pattern}`: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| PluginError::InvalidConfig(format!("{field}: {e}")))
}

/// A directory or regular file met during the walk.
struct Item {
    /// Path relative to the root, `/`-separated, no trailing slash.
    rel: String,
    /// Absolute path, as the host granted it.
    abs: String,
    is_dir: bool,
    /// A symbolic link's target, as written (never followed).
    link: Option<String>,
    /// Why it is not archived (a FIFO, socket or device; a symlink whose
    /// target points out of the tree), counted as skipped.
    skipped: Option<&'static str>,
    size: u64,
    /// Seconds since the Unix epoch; 0 when unknown or earlier.
    mtime: u64,
}

fn io_error(path: &str, e: std::io::Error) -> PluginError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::NotFound(format!("{path}: not found")),
        std::io::ErrorKind::PermissionDenied => {
            PluginError::PermissionDenied(format!("{path}: permission denied"))
        }
        _ => PluginError::Failed(format!("{path}: {e}")),
    }
}

fn seconds(time: std::io::Result<SystemTime>) -> u64 {
    time.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Calls `visit` for every included directory and file below `dir`, in
/// byte order of names, each directory before its contents.
///
/// An unreadable directory fails the walk rather than silently leaving a
/// hole in the backup; exclude it if that is intended. Symlinks are
/// visited as links (their target text) and never followed, so the walk
/// never leaves the granted tree; FIFOs, sockets and devices are visited
/// as `special` so the backup can count them as skipped.
fn walk(
    dir: &str,
    rel: &str,
    filter: &Filter,
    visit: &mut dyn FnMut(&Item) -> PluginResult<()>,
) -> PluginResult<()> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(name) => log::warn(&format!("skipping non-UTF-8 name {name:?} in {dir}")),
        }
    }
    names.sort_unstable();
    for name in names {
        let abs = if dir == "/" {
            format!("/{name}")
        } else {
            format!("{dir}/{name}")
        };
        let child_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if filter.exclude.is_match(&child_rel) || child_rel == STAGING {
            continue;
        }
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            // Deleted since the directory was listed: nothing to back up.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&abs, e)),
        };
        let kind = meta.file_type();
        let mut skipped = None;
        let link = if kind.is_symlink() {
            match std::fs::read_link(&abs) {
                Ok(target) => match target.into_os_string().into_string() {
                    Ok(target) => Some(target),
                    Err(_) => {
                        skipped = Some("a symlink whose target is not UTF-8");
                        None
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // The sandbox does not reveal a target that leaves the
                // granted tree (absolute, or `..` past the root).
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    skipped = Some("a symlink pointing outside the backed-up tree");
                    None
                }
                Err(e) => return Err(io_error(&abs, e)),
            }
        } else {
            None
        };
        if !kind.is_dir() && !kind.is_file() && !kind.is_symlink() {
            skipped = Some("a FIFO, socket or device");
        }
        let item = Item {
            rel: child_rel,
            abs,
            is_dir: kind.is_dir(),
            skipped,
            link,
            size: if kind.is_file() { meta.len() } else { 0 },
            mtime: seconds(meta.modified()),
        };
        if filter.include.is_match(&item.rel) {
            visit(&item)?;
        }
        if item.is_dir {
            walk(&item.abs, &item.rel, filter, visit)?;
        }
    }
    Ok(())
}

/// Running totals of a backup.
#[derive(Default)]
struct Totals {
    files: u64,
    dirs: u64,
    symlinks: u64,
    /// FIFOs, sockets, devices and links out of the tree: not archived,
    /// but said.
    skipped: u64,
    bytes: u64,
    entries: u64,
}

/// Writes `count` zero bytes.
fn write_zeros(sink: &OutputStream, mut count: u64) -> PluginResult<()> {
    while count > 0 {
        let n = count.min(ZEROS.len() as u64) as usize;
        io::write_all(sink, &ZEROS[..n])?;
        count -= n as u64;
    }
    Ok(())
}

/// The mode and owner of a walked item, from the host.
fn perm_of(path: &str) -> PluginResult<tar::Perm> {
    let m = modes::stat(path)?;
    Ok(tar::Perm {
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
    })
}

/// Appends one walked item to the archive. Returns false when the item
/// vanished before it could be opened, so nothing was written.
fn append(item: &Item, sink: &OutputStream) -> PluginResult<bool> {
    if let Some(target) = &item.link {
        // Links have no mode of their own worth keeping (always 0777).
        let perm = tar::Perm {
            mode: 0o777,
            uid: 0,
            gid: 0,
        };
        io::write_all(
            sink,
            &tar::symlink_header(&item.rel, target, item.mtime, perm),
        )?;
        return Ok(true);
    }
    if item.is_dir {
        let perm = match perm_of(&item.abs) {
            Ok(perm) => perm,
            Err(PluginError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        io::write_all(
            sink,
            &tar::header(
                &format!("{}/", item.rel),
                tar::Kind::Dir,
                0,
                item.mtime,
                perm,
            ),
        )?;
        return Ok(true);
    }
    // Open before writing the header so a file deleted meanwhile leaves no
    // half entry behind.
    let file = match fs::open_read(&item.abs, 0) {
        Ok(file) => file,
        Err(PluginError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let perm = match perm_of(&item.abs) {
        Ok(perm) => perm,
        Err(PluginError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    io::write_all(
        sink,
        &tar::header(&item.rel, tar::Kind::File, item.size, item.mtime, perm),
    )?;
    // The header promised `size` bytes: a file that grew is cut there, one
    // that shrank is filled with zeros to keep the archive readable.
    let moved = io::pipe_limited(&file.stream, sink, item.size)?;
    if moved < item.size {
        log::warn(&format!(
            "{} shrank while being read ({moved} of {} bytes); padded with zeros",
            item.abs, item.size
        ));
        write_zeros(sink, item.size - moved)?;
    }
    write_zeros(sink, tar::padding(item.size) as u64)?;
    Ok(true)
}

/// Turns an archive entry name into a safe relative path, or `None` for
/// the root itself. Absolute names and `..` are refused outright: they are
/// never produced by this engine, so they mean a hostile or foreign archive.
fn safe_relative(name: &str) -> PluginResult<Option<String>> {
    let refuse = |why: &str| {
        Err(PluginError::Failed(format!(
            "refusing archive entry `{name}`: {why}"
        )))
    };
    if name.starts_with('/') {
        return refuse("absolute path");
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return refuse("`..` component"),
            part => parts.push(part),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn tar_error(e: std::io::Error) -> PluginError {
    PluginError::Failed(format!("reading the archive: {e}"))
}

/// What a restore wrote.
struct Unpacked {
    files: u64,
    dirs: u64,
    symlinks: u64,
    bytes: u64,
    /// Directories (relative path) and their recorded modes, applied once
    /// everything is in place: a 0500 directory must not stop its own
    /// files from being written or moved.
    dir_perms: Vec<(String, tar::Perm)>,
}

/// Gives `path` its recorded mode and owner, as far as the host allows.
fn apply_perm(path: &str, perm: tar::Perm) -> PluginResult<()> {
    let applied = modes::set(
        path,
        modes::FileMode {
            mode: perm.mode,
            uid: perm.uid,
            gid: perm.gid,
        },
    )?;
    if applied != perm.mode & 0o7777 {
        log::debug(&format!(
            "{path}: mode {applied:04o} instead of {:04o} (owner {}:{} not given)",
            perm.mode & 0o7777,
            perm.uid,
            perm.gid
        ));
    }
    Ok(())
}

/// Makes `path` private to the server's user (0700, its current owner):
/// the staging directory while files arrive with the host's default modes.
fn make_private(path: &str) -> PluginResult<()> {
    let own = modes::stat(path)?;
    modes::set(path, modes::FileMode { mode: 0o700, ..own }).map(|_| ())
}

/// Unpacks the archive read from `source` below `root`. Files get their
/// modes as soon as they are written; directories' are returned.
fn unpack(root: &str, source: &InputStream) -> PluginResult<Unpacked> {
    let (mut files, mut dirs, mut symlinks, mut bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut dir_perms = Vec::new();
    let mut reader = tar::Reader::new(BufReader::with_capacity(
        64 * 1024,
        StreamReader::new(source),
    ));
    while let Some(entry) = reader.next_entry().map_err(tar_error)? {
        let Some(rel) = safe_relative(&entry.path)? else {
            continue;
        };
        let dest = format!("{root}/{rel}");
        match entry.kind {
            tar::Kind::Dir => {
                std::fs::create_dir_all(&dest).map_err(|e| io_error(&dest, e))?;
                dir_perms.push((rel, entry.perm));
                dirs += 1;
            }
            tar::Kind::File => {
                if let Some((parent, _)) = dest.rsplit_once('/') {
                    std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                }
                let mut file = std::fs::File::create(&dest).map_err(|e| io_error(&dest, e))?;
                reader.copy_data(&mut file).map_err(tar_error)?;
                file.flush().map_err(|e| io_error(&dest, e))?;
                // Times are a nicety; a filesystem refusing them is no reason
                // to fail the restore.
                let mtime = UNIX_EPOCH + Duration::from_secs(entry.mtime);
                if let Err(e) = file.set_modified(mtime) {
                    log::debug(&format!("{dest}: could not set the time: {e}"));
                }
                drop(file);
                apply_perm(&dest, entry.perm)?;
                files += 1;
                bytes += entry.size;
                progress::report(bytes, None);
            }
            tar::Kind::Symlink => {
                let target = entry.link.unwrap_or_default();
                if let Some((parent, _)) = dest.rsplit_once('/') {
                    std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                }
                // Recreated as a link, never followed: writes through it
                // stay inside the granted tree (the sandbox resolves every
                // path beneath it, so an absolute or escaping target leads
                // nowhere).
                #[allow(deprecated)] // the one portable symlink call on WASI
                std::fs::soft_link(&target, &dest).map_err(|e| io_error(&dest, e))?;
                symlinks += 1;
            }
            tar::Kind::Other(flag) => log::warn(&format!(
                "skipping `{}`: entry type `{}` is not restored",
                entry.path,
                char::from(flag)
            )),
        }
    }
    // Whatever follows the end marker (tar tools pad to whole records) is
    // read so the host sees the stream consumed.
    std::io::copy(&mut reader.into_inner(), &mut std::io::sink()).map_err(tar_error)?;
    Ok(Unpacked {
        files,
        dirs,
        symlinks,
        bytes,
        dir_perms,
    })
}

struct Files;

impl Engine for Files {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "files".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["files".into()],
            artifact_format: Some("tar".into()),
            description: "Directory tree as a tar archive".into(),
            config_schema: r#"{"type":"object","required":["path"],"additionalProperties":false,"properties":{"path":{"type":"string","description":"Absolute directory path"},"include":{"type":"array","items":{"type":"string"},"default":["**"],"description":"Globs relative to path of what to back up"},"exclude":{"type":"array","items":{"type":"string"},"default":[],"description":"Globs relative to path of what to leave out; excluded directories are not entered"}}}"#.into(),
        }
    }

    fn validate_config(config: &str) -> PluginResult<()> {
        config::validate::<Config>(config)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            let root = cfg.root();
            let meta = std::fs::metadata(root).map_err(|e| io_error(root, e))?;
            if !meta.is_dir() {
                return Err(PluginError::InvalidConfig(format!(
                    "{root}: not a directory"
                )));
            }
            let mut files = 0u64;
            walk(root, "", &Filter::new(&cfg)?, &mut |item| {
                files += u64::from(!item.is_dir && item.link.is_none() && item.skipped.is_none());
                Ok(())
            })?;
            Ok((None, vec![health::kv("files", files)]))
        });
        health::report(started, outcome)
    }

    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = config::load::<Config>(ctx)?;
        let filter = Filter::new(&cfg)?;
        let root = cfg.root();
        let meta = std::fs::metadata(root).map_err(|e| io_error(root, e))?;
        if !meta.is_dir() {
            return Err(PluginError::InvalidConfig(format!(
                "{root}: not a directory"
            )));
        }
        let mut totals = Totals::default();
        walk(root, "", &filter, &mut |item| {
            totals.entries += 1;
            if totals.entries % CANCEL_CHECK_EVERY == 0 && progress::cancelled() {
                return Err(PluginError::Failed("cancelled".into()));
            }
            if let Some(why) = item.skipped {
                log::warn(&format!("skipping {}: {why} is not archived", item.abs));
                totals.skipped += 1;
                return Ok(());
            }
            if !append(item, sink)? {
                return Ok(());
            }
            if item.is_dir {
                totals.dirs += 1;
            } else if item.link.is_some() {
                totals.symlinks += 1;
            } else {
                totals.files += 1;
                totals.bytes += item.size;
                // Splices report per file; this keeps the host's figure
                // cumulative.
                progress::report(totals.bytes, None);
            }
            Ok(())
        })?;
        io::write_all(sink, &tar::end_of_archive())?;
        StreamWriter::new(sink)
            .flush()
            .map_err(|e| PluginError::Failed(format!("flushing: {e}")))?;
        log::info(&format!(
            "archived {}: {} files, {} directories, {} symlinks, {} bytes; {} entries skipped",
            root, totals.files, totals.dirs, totals.symlinks, totals.bytes, totals.skipped
        ));
        let mut stats = empty_stats();
        stats.metadata = vec![
            health::kv("files", totals.files),
            health::kv("directories", totals.dirs),
            health::kv("symlinks", totals.symlinks),
            health::kv("skipped_entries", totals.skipped),
            health::kv("bytes", totals.bytes),
        ];
        Ok(stats)
    }

    /// Unpacks into a staging directory inside the target and moves the
    /// entries into place only once the whole archive arrived: the host
    /// ends the stream cleanly only after every checksum matched, so a
    /// damaged copy leaves the target as it was.
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let root = cfg.root();
        std::fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
        let staging = join(root, STAGING);
        remove_tree(&staging)?;
        std::fs::create_dir(&staging).map_err(|e| io_error(&staging, e))?;
        let outcome = make_private(&staging)
            .and_then(|()| unpack(&staging, source))
            .and_then(|done| {
                move_into(&staging, root)?;
                apply_dir_perms(root, &done.dir_perms)?;
                Ok(done)
            });
        if let Err(e) = remove_tree(&staging) {
            log::warn(&format!("could not remove {staging}: {e:?}"));
        }
        let done = outcome?;
        log::info(&format!(
            "restored {} files, {} directories, {} symlinks, {} bytes into {root}",
            done.files, done.dirs, done.symlinks, done.bytes
        ));
        Ok(())
    }
}

/// Gives directories their recorded modes, deepest first, so a parent
/// that loses its write or search bit comes after its children.
fn apply_dir_perms(root: &str, dirs: &[(String, tar::Perm)]) -> PluginResult<()> {
    let mut order: Vec<&(String, tar::Perm)> = dirs.iter().collect();
    order.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.matches('/').count()));
    for (rel, perm) in order {
        apply_perm(&join(root, rel), *perm)?;
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn remove_tree(path: &str) -> PluginResult<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path, e)),
        _ => Ok(()),
    }
}

/// Moves every entry of `from` into `to`, merging directories and
/// replacing files.
fn move_into(from: &str, to: &str) -> PluginResult<()> {
    for entry in std::fs::read_dir(from).map_err(|e| io_error(from, e))? {
        let entry = entry.map_err(|e| io_error(from, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let (src, dest) = (join(from, &name), join(to, &name));
        let is_dir = entry.file_type().map_err(|e| io_error(&src, e))?.is_dir();
        let dest_is_dir = std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir());
        if is_dir && dest_is_dir {
            move_into(&src, &dest)?;
        } else {
            if dest_is_dir {
                remove_tree(&dest)?;
            } else if is_dir && std::fs::symlink_metadata(&dest).is_ok() {
                std::fs::remove_file(&dest).map_err(|e| io_error(&dest, e))?;
            }
            std::fs::rename(&src, &dest).map_err(|e| io_error(&dest, e))?;
        }
    }
    Ok(())
}

export_engine!(Files);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_confined() {
        assert_eq!(
            safe_relative("./a//b/").ok().flatten().as_deref(),
            Some("a/b")
        );
        assert_eq!(safe_relative("./").ok().flatten(), None);
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("a/../../x").is_err());
    }

    #[test]
    fn globs_respect_separators() {
        let cfg = Config {
            path: "/data".into(),
            include: vec!["*.txt".into(), "docs/**".into()],
            exclude: vec!["docs/tmp".into()],
        };
        let f = Filter::new(&cfg).expect("valid globs");
        assert!(f.include.is_match("a.txt"));
        assert!(!f.include.is_match("sub/a.txt"));
        assert!(f.include.is_match("docs/x/y.md"));
        assert!(f.exclude.is_match("docs/tmp"));
        assert!(Filter::new(&Config {
            path: "/d".into(),
            include: vec!["a[".into()],
            exclude: vec![],
        })
        .is_err());
    }
}
