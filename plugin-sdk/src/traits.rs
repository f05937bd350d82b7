//! The traits plugin authors implement. Only `info` and the core data
//! operations are required; the rest answer `unsupported` by default so a
//! plugin grows capabilities one method at a time.

use crate::{
    BackupStats, CallContext, Event, HealthReport, HealthStatus, InputStream, ObjectInfo,
    OutputStream, PluginError, PluginInfo, PluginResult, TableCount,
};

fn unsupported<T>(what: &str) -> PluginResult<T> {
    Err(PluginError::Unsupported(format!(
        "this plugin does not support {what}"
    )))
}

fn not_checked() -> HealthReport {
    HealthReport {
        status: HealthStatus::Error,
        latency_ms: 0,
        version: None,
        message: Some("this plugin does not implement health checks".into()),
        metadata: Vec::new(),
    }
}

/// A database or file-set engine: backs a datasource up into a stream and
/// restores it from one. Register it with [`export_engine!`](crate::export_engine).
pub trait Engine {
    /// Describes the plugin: id, version, kind, the datasource types it
    /// provides, its artifact format and the JSON Schema of its
    /// configuration. The host calls it for the schema and before each
    /// backup for the artifact format (`bin` when `None`); it returns no error.
    fn info() -> PluginInfo;
    /// Checks a configuration (JSON, secrets removed) without connecting.
    /// The host calls it when a datasource is saved, before a CLI backup or
    /// restore, and in `plugin test`. The default only checks that `config`
    /// is JSON; [`config::validate`](crate::config::validate) checks a typed one.
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
    /// Connects and reports whether the datasource answers, with its
    /// version and facts in `metadata`. The host calls it from the health
    /// worker and before each backup. The default reports `error` ("does
    /// not implement health checks"); see [`health`](crate::health).
    fn health_check(_ctx: &CallContext) -> HealthReport {
        not_checked()
    }
    /// Names of the databases on the server, for jobs that back up every
    /// database and to check a restore target exists. The default answers
    /// `unsupported`.
    fn list_databases(_ctx: &CallContext) -> PluginResult<Vec<String>> {
        unsupported("listing databases")
    }
    /// Writes the whole artifact into `sink` and returns what it knows of
    /// the backup ([`empty_stats`] when it knows nothing). Called for each
    /// backup.
    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats>;
    /// Reads a whole artifact from `source` into the configured target.
    /// Called for each restore, including verification restores.
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()>;
    /// Creates the empty database `name` and returns the configuration
    /// (JSON) that points at it. The host calls it for a verification
    /// restore and to restore into a database that does not exist yet.
    /// The default answers `unsupported`.
    fn create_scratch_database(_ctx: &CallContext, _name: &str) -> PluginResult<String> {
        unsupported("scratch databases")
    }
    /// Drops the database `name` made by
    /// [`create_scratch_database`](Engine::create_scratch_database). The
    /// host calls it after a verification restore, also one that failed or
    /// was cancelled. The default answers `unsupported`.
    fn drop_scratch_database(_ctx: &CallContext, _name: &str) -> PluginResult<()> {
        unsupported("scratch databases")
    }
    /// Exact row counts per table of the configured database; an empty
    /// list means it holds no tables. The host compares a verification
    /// restore with the backup's counts and checks a parallel restore's
    /// target is empty. The default answers `unsupported`.
    fn inspect(_ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        unsupported("inspection")
    }
}

/// A place artifacts are kept. Keys are `/`-separated relative paths
/// (see [`keys::normalize`](crate::keys::normalize)); a folder is the key
/// prefix of the objects beneath it. Register it with
/// [`export_storage!`](crate::export_storage).
pub trait Storage {
    /// Describes the plugin: id, version, kind, the storage types it
    /// provides and the JSON Schema of its configuration. The host calls
    /// it for the schema and in `plugin test`; it returns no error.
    fn info() -> PluginInfo;
    /// Checks a configuration (JSON, secrets removed) without connecting.
    /// The host calls it when a storage is saved and in `plugin test`. The
    /// default only checks that `config` is JSON;
    /// [`config::validate`](crate::config::validate) checks a typed one.
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
    /// Reports whether the storage is reachable, with `available_bytes`
    /// in `metadata` when known. The host calls it from the health worker
    /// and in `plugin test`. The default reports `error` ("does not
    /// implement health checks").
    fn health_check(_ctx: &CallContext) -> HealthReport {
        not_checked()
    }
    /// Stores everything read from `source` under `key` and returns the
    /// bytes stored. `size_hint` is the expected size in bytes, or `None`
    /// when unknown. The object must appear only once complete: a put
    /// whose source fails leaves no object.
    fn put(
        ctx: &CallContext,
        key: &str,
        source: &InputStream,
        size_hint: Option<u64>,
    ) -> PluginResult<u64>;
    /// Writes the object at `key` into `sink`, starting `offset` bytes in,
    /// `length` bytes of it or to its end when `None`; returns the bytes
    /// written.
    fn get(
        ctx: &CallContext,
        key: &str,
        sink: &OutputStream,
        offset: u64,
        length: Option<u64>,
    ) -> PluginResult<u64>;
    /// The entries directly beneath the folder `prefix` (`""` is the
    /// root), with full keys and each subfolder once (`is_dir`). A prefix
    /// that does not exist lists as empty, not as an error.
    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>>;
    /// The object at `key`, or `None` when there is none (not an error).
    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>>;
    /// Deletes the object at `key`, or everything beneath it when it is a
    /// folder. A missing key succeeds; the root (`""`, `/`) must be refused.
    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()>;
    /// Copies the object at `from` to `to`. The host calls it when an
    /// operator copies an object within the storage, and the default
    /// [`rename`](Storage::rename) uses it. The default answers `unsupported`.
    fn copy(_ctx: &CallContext, _from: &str, _to: &str) -> PluginResult<()> {
        unsupported("copy")
    }
    /// Moves the object at `from` to `to`, replacing `to` if it exists.
    /// Defaults to copy then delete; override where the backend can move.
    fn rename(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        Self::copy(ctx, from, to)?;
        Self::delete(ctx, from)
    }
}

/// A channel that delivers events to people. Register it with
/// [`export_notifier!`](crate::export_notifier).
pub trait Notifier {
    /// Describes the plugin: id, version, kind, the notifier types it
    /// provides and the JSON Schema of its configuration. The host calls
    /// it for the schema and in `plugin test`; it returns no error.
    fn info() -> PluginInfo;
    /// Checks a configuration (JSON, secrets removed) without sending
    /// anything. The host calls it when a notification channel is saved
    /// and in `plugin test`. The default only checks that `config` is
    /// JSON; [`config::validate`](crate::config::validate) checks a typed one.
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
    /// Delivers one event; `Ok` once the channel accepted it. The host
    /// calls it for each delivery and retries a failed one only on
    /// [`PluginError::Transient`].
    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()>;
}

/// Shorthand for the stats of an engine that knows nothing about tables.
pub fn empty_stats() -> BackupStats {
    BackupStats {
        database_version: None,
        tables: None,
        rows_approximate: None,
        metadata: Vec::new(),
        table_counts: Vec::new(),
        counts_consistent: false,
    }
}
