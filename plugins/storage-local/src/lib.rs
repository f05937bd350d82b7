//! Storage in a directory of the host's filesystem (local disk or a mount).
//!
//! Objects are written to `<key>.partial` and renamed into place once every
//! byte is on disk, so a reader never sees a half-written object.

use dataguardian_plugin_sdk::{
    config, export_storage, fs, health, io, CallContext, HealthReport, InputStream, ObjectInfo,
    OutputStream, PluginError, PluginInfo, PluginKind, PluginResult, Storage,
};
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Absolute path of the storage root.
    path: String,
}

impl Config {
    /// The absolute path of `key`, refusing keys that escape the root.
    /// The file of `key`: a relative path of plain segments inside the
    /// root (`.` segments are ignored; `..` and absolute keys refused).
    fn object_path(&self, key: &str) -> PluginResult<PathBuf> {
        let mut path = PathBuf::from(&self.path);
        for c in Path::new(key).components() {
            match c {
                Component::Normal(part) => path.push(part),
                Component::CurDir => {}
                _ => {
                    return Err(PluginError::InvalidConfig(format!(
                        "key `{key}`: must be a path inside the storage (relative, without `..`)"
                    )))
                }
            }
        }
        Ok(path)
    }

    /// Whether `key` names the storage root itself (``, `/`, `.`, `./.`).
    fn is_root(key: &str) -> bool {
        Path::new(key)
            .components()
            .all(|c| matches!(c, Component::CurDir | Component::RootDir))
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        if !self.path.starts_with('/') {
            return Err(PluginError::InvalidConfig(
                "path: must be an absolute directory path".into(),
            ));
        }
        Ok(())
    }
}

fn io_error(what: &Path, e: std::io::Error) -> PluginError {
    let shown = what.display();
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::NotFound(format!("{shown}: not found")),
        std::io::ErrorKind::PermissionDenied => {
            PluginError::PermissionDenied(format!("{shown}: permission denied"))
        }
        _ => PluginError::Failed(format!("{shown}: {e}")),
    }
}

fn path_str(p: &Path) -> PluginResult<&str> {
    p.to_str()
        .ok_or_else(|| PluginError::InvalidConfig(format!("{}: not UTF-8", p.display())))
}

fn object_info(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    ObjectInfo {
        key,
        size: if meta.is_dir() { 0 } else { meta.len() },
        modified: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs()),
        is_dir: meta.is_dir(),
    }
}

/// Writes `source` to `path` through a `.partial` file, then renames.
fn write_atomically(path: &Path, source: &InputStream) -> PluginResult<u64> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = {
        let file = fs::create_write(path_str(&partial)?)?;
        let n = io::pipe(source, &file.stream);
        drop(file.stream);
        if n.is_ok() {
            file.file
                .sync_data()
                .map_err(|e| fs::fs_error(path_str(&partial).unwrap_or("?"), e))?;
        }
        n
    };
    match written {
        Ok(n) => {
            std::fs::rename(&partial, path).map_err(|e| io_error(path, e))?;
            sync_parent(path)?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Makes a rename durable: the new directory entry reaches the disk (a
/// crash right after would otherwise lose a file reported as stored).
fn sync_parent(path: &Path) -> PluginResult<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| io_error(parent, e))
}

struct LocalStorage;

impl Storage for LocalStorage {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "local".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Storage,
            provides: vec!["local".into()],
            artifact_format: None,
            description: "Directory on a local or mounted disk".into(),
            config_schema: r#"{"type":"object","required":["path"],"additionalProperties":false,"properties":{"path":{"type":"string","description":"Absolute directory path"}}}"#.into(),
        }
    }

    fn validate_config(config: &str) -> PluginResult<()> {
        config::validate::<Config>(config)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            let probe = Path::new(&cfg.path).join(".dataguardian-probe");
            std::fs::create_dir_all(&cfg.path).map_err(|e| io_error(Path::new(&cfg.path), e))?;
            std::fs::write(&probe, b"ok").map_err(|e| io_error(&probe, e))?;
            std::fs::remove_file(&probe).map_err(|e| io_error(&probe, e))?;
            Ok((None, vec![health::kv("path", cfg.path)]))
        });
        health::report(started, outcome)
    }

    fn put(
        ctx: &CallContext,
        key: &str,
        source: &InputStream,
        _size_hint: Option<u64>,
    ) -> PluginResult<u64> {
        let cfg = config::load::<Config>(ctx)?;
        write_atomically(&cfg.object_path(key)?, source)
    }

    fn get(
        ctx: &CallContext,
        key: &str,
        sink: &OutputStream,
        offset: u64,
        length: Option<u64>,
    ) -> PluginResult<u64> {
        let cfg = config::load::<Config>(ctx)?;
        let path = cfg.object_path(key)?;
        let file = fs::open_read(path_str(&path)?, offset)?;
        io::pipe_limited(&file.stream, sink, length.unwrap_or(u64::MAX))
    }

    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>> {
        let cfg = config::load::<Config>(ctx)?;
        let dir = cfg.object_path(prefix)?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&dir, e))?;
            let meta = entry.metadata().map_err(|e| io_error(&entry.path(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = if prefix.trim_matches('/').is_empty() {
                name
            } else {
                format!("{}/{}", prefix.trim_matches('/'), name)
            };
            out.push(object_info(key, &meta));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>> {
        let cfg = config::load::<Config>(ctx)?;
        let path = cfg.object_path(key)?;
        match std::fs::metadata(&path) {
            Ok(meta) => Ok(Some(object_info(key.to_string(), &meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        if Config::is_root(key) {
            return Err(PluginError::InvalidConfig(
                "key: refusing to delete the storage root".into(),
            ));
        }
        let path = cfg.object_path(key)?;
        let result = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        result.map_err(|e| io_error(&path, e))
    }

    fn copy(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let src = cfg.object_path(from)?;
        let dst = cfg.object_path(to)?;
        let file = fs::open_read(path_str(&src)?, 0)?;
        write_atomically(&dst, &file.stream).map(|_| ())
    }

    fn rename(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let src = cfg.object_path(from)?;
        let dst = cfg.object_path(to)?;
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::rename(&src, &dst).map_err(|e| io_error(&src, e))?;
        sync_parent(&dst)
    }
}

export_storage!(LocalStorage);
