//! `dataguardian plugin new NAME --kind KIND`: a plugin project that
//! builds as it is, outside any workspace, with the SDK by path.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// Where the SDK was when this binary was built (a checkout).
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");

pub fn write(name: &str, kind: &str, sdk_path: Option<&Path>) -> anyhow::Result<()> {
    let id_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        bail!("NAME: use letters, digits, `-` and `_` (it is the plugin's id and directory)");
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!("{} exists already", dir.display());
    }
    let sdk = match sdk_path {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(BUILT_FROM_SDK),
    };
    let sdk = std::fs::canonicalize(&sdk).with_context(|| {
        format!(
            "the plugin SDK is not at {}: give its directory with --sdk-path (or edit Cargo.toml to depend on it by git)",
            sdk.display()
        )
    })?;
    let (source, manifest_extra) = match kind {
        "notifier" => (NOTIFIER, ""),
        "storage" => (STORAGE, "\n[capabilities]\nfilesystem = [{ path = \"{config.path}\", access = \"read-write\" }]\n"),
        "engine" => (ENGINE, "\n[capabilities]\n# The file's directory: a grant opens directories, not files.\nfilesystem = [{ path = \"{config.path:parent}\", access = \"read\", operations = [\"backup\", \"health-check\"] }, { path = \"{config.path:parent}\", access = \"read-write\", operations = [\"restore\"] }]\n"),
        other => bail!("--kind {other}: expected engine, storage or notifier"),
    };
    let crate_name = name.replace('_', "-");
    let files = [
        (
            "Cargo.toml",
            format!(
                "[package]\nname = \"{crate_name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 # Built on its own, outside any workspace.\n[workspace]\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n\
                 [dependencies]\n# Or by git: {{ git = \"https://…/dataguardian\", tag = \"v0.1.0\" }}\n\
                 dataguardian-plugin-sdk = {{ path = \"{}\" }}\n\n[profile.release]\nopt-level = \"s\"\nstrip = \"debuginfo\"\n",
                sdk.display()
            ),
        ),
        (
            "plugin.toml",
            format!(
                "[plugin]\nid = \"{name}\"\nversion = \"0.1.0\"\nkind = \"{kind}\"\nprovides = [\"{name}\"]\napi = \"^0.1\"\n\
                 description = \"A {kind} plugin.\"\n# Config fields holding secrets (sealed, never given to the plugin).\nsecrets = []\n{manifest_extra}"
            ),
        ),
        ("src/lib.rs", source.replace("PLUGIN_NAME", name)),
        (".gitignore", "/target\n/data\n".to_string()),
        (
            "README.md",
            format!(
                "# {name}\n\nA DataGuardian {kind} plugin.\n\n```sh\n\
                 dataguardian plugin build .\n./test.sh\n\
                 dataguardian plugin pack . --out {name}.dgp\n```\n\n\
                 See docs/PLUGINS.md of DataGuardian for the contract, the manifest and publishing.\n"
            ),
        ),
        (
            "test.sh",
            format!(
                "#!/bin/sh\n# Loads the built plugin in DataGuardian's real runtime and runs its checks\n\
                 # (info, config validation, {}).\nset -e\ncd \"$(dirname \"$0\")\"\n\
                 dataguardian plugin build .\n\
                 dataguardian --data-dir target/dg-test plugin test . --config '{}'\n",
                match kind {
                    "notifier" => "a test event",
                    "storage" => "health check and the storage conformance kit",
                    _ => "health check",
                },
                match kind {
                    "notifier" => "{\"prefix\": \"[test]\"}",
                    _ => "{\"path\": \"/tmp/PLUGIN_NAME-test\"}",
                }
                .replace("PLUGIN_NAME", name)
            ),
        ),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("test.sh"), std::fs::Permissions::from_mode(0o755))?;
    println!("created {kind} plugin `{name}` in {}/", dir.display());
    println!("next: cd {name} && ./test.sh");
    Ok(())
}

const NOTIFIER: &str = r#"//! PLUGIN_NAME: delivers each event to the server log.

use dataguardian_plugin_sdk::schemars::JsonSchema;
use dataguardian_plugin_sdk::serde::Deserialize;
use dataguardian_plugin_sdk::*;

/// The channel's configuration.
#[derive(Deserialize, JsonSchema)]
#[serde(crate = "dataguardian_plugin_sdk::serde")]
#[schemars(crate = "dataguardian_plugin_sdk::schemars")]
struct Config {
    /// Put before every message.
    #[serde(default)]
    prefix: String,
}

struct Plugin;

impl Notifier for Plugin {
    fn info() -> PluginInfo {
        manifest_info!(Config)
    }

    fn validate_config(config: &str) -> PluginResult<()> {
        config::parse_json::<Config>(config).map(|_| ())
    }

    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()> {
        let cfg: Config = config::parse(ctx)?;
        log::info(&format!("{}{}: {}", cfg.prefix, event.title, event.body));
        Ok(())
    }
}

export_notifier!(Plugin);
"#;

const STORAGE: &str = r#"//! PLUGIN_NAME: keeps objects as files beneath a directory.

use dataguardian_plugin_sdk::schemars::JsonSchema;
use dataguardian_plugin_sdk::serde::Deserialize;
use dataguardian_plugin_sdk::*;
use std::path::PathBuf;

/// The storage's configuration.
#[derive(Deserialize, JsonSchema)]
#[serde(crate = "dataguardian_plugin_sdk::serde")]
#[schemars(crate = "dataguardian_plugin_sdk::schemars")]
struct Config {
    /// The directory objects are kept in (absolute).
    path: String,
}

fn object(ctx: &CallContext, key: &str) -> PluginResult<PathBuf> {
    let cfg: Config = config::parse(ctx)?;
    let key = keys::normalize(key)?;
    if key.is_empty() {
        return Err(PluginError::InvalidConfig("key: the storage root is not an object".into()));
    }
    Ok(PathBuf::from(cfg.path).join(key))
}

fn failed(path: &std::path::Path, e: std::io::Error) -> PluginError {
    PluginError::Failed(format!("{}: {e}", path.display()))
}

fn info_of(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    ObjectInfo { key, size: if meta.is_dir() { 0 } else { meta.len() }, modified: modified.map(|d| d.as_secs()), is_dir: meta.is_dir() }
}

struct Plugin;

impl Storage for Plugin {
    fn info() -> PluginInfo {
        manifest_info!(Config)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = std::time::Instant::now();
        let checked = config::parse::<Config>(ctx).and_then(|cfg| match std::fs::metadata(&cfg.path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(PluginError::InvalidConfig(format!("path: {} is not a directory", cfg.path))),
            Err(e) => Err(PluginError::Unreachable(format!("{}: {e}", cfg.path))),
        });
        match checked {
            Ok(()) => health::healthy(started, None, Vec::new()),
            Err(e) => health::unhealthy(started, e),
        }
    }

    fn put(ctx: &CallContext, key: &str, source: &InputStream, _size: Option<u64>) -> PluginResult<u64> {
        let path = object(ctx, key)?;
        let partial = path.with_extension("partial");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        let file = fs::create_write(partial.to_str().unwrap_or_default())?;
        let written = match io::pipe(source, &file.stream) {
            Ok(n) => n,
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        drop(file);
        std::fs::rename(&partial, &path).map_err(|e| failed(&path, e))?;
        Ok(written)
    }

    fn get(ctx: &CallContext, key: &str, sink: &OutputStream, offset: u64, length: Option<u64>) -> PluginResult<u64> {
        let path = object(ctx, key)?;
        let file = fs::open_read(path.to_str().unwrap_or_default(), offset)?;
        match length {
            Some(n) => io::pipe_limited(&file.stream, sink, n),
            None => io::pipe(&file.stream, sink),
        }
    }

    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>> {
        let cfg: Config = config::parse(ctx)?;
        let prefix = keys::normalize(prefix)?;
        let dir = PathBuf::from(&cfg.path).join(&prefix);
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if let Ok(meta) = entry.metadata() {
                out.push(info_of(key, &meta));
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>> {
        let path = object(ctx, key)?;
        match std::fs::metadata(&path) {
            Ok(meta) => Ok(Some(info_of(keys::normalize(key)?, &meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(&path, e)),
        }
    }

    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()> {
        let path = object(ctx, key)?;
        let result = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        result.map_err(|e| failed(&path, e))
    }

    fn rename(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let (from, to) = (object(ctx, from)?, object(ctx, to)?);
        std::fs::rename(&from, &to).map_err(|e| failed(&from, e))
    }
}

export_storage!(Plugin);
"#;

const ENGINE: &str = r#"//! PLUGIN_NAME: backs up one file as it is.

use dataguardian_plugin_sdk::schemars::JsonSchema;
use dataguardian_plugin_sdk::serde::Deserialize;
use dataguardian_plugin_sdk::*;

/// The datasource's configuration.
#[derive(Deserialize, JsonSchema)]
#[serde(crate = "dataguardian_plugin_sdk::serde")]
#[schemars(crate = "dataguardian_plugin_sdk::schemars")]
struct Config {
    /// The file to back up (absolute).
    path: String,
}

struct Plugin;

impl Engine for Plugin {
    fn info() -> PluginInfo {
        manifest_info!(Config)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = std::time::Instant::now();
        match config::parse::<Config>(ctx).and_then(|cfg| fs::open_read(&cfg.path, 0)) {
            Ok(_) => health::healthy(started, None, Vec::new()),
            Err(e) => health::unhealthy(started, e),
        }
    }

    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg: Config = config::parse(ctx)?;
        let file = fs::open_read(&cfg.path, 0)?;
        io::pipe(&file.stream, sink)?;
        Ok(empty_stats())
    }

    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg: Config = config::parse(ctx)?;
        let file = fs::create_write(&cfg.path)?;
        io::pipe(source, &file.stream)?;
        Ok(())
    }
}

export_engine!(Plugin);
"#;
