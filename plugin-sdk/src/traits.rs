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

/// A database or file-set engine.
pub trait Engine {
    fn info() -> PluginInfo;
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
    fn health_check(_ctx: &CallContext) -> HealthReport {
        not_checked()
    }
    fn list_databases(_ctx: &CallContext) -> PluginResult<Vec<String>> {
        unsupported("listing databases")
    }
    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats>;
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()>;
    fn create_scratch_database(_ctx: &CallContext, _name: &str) -> PluginResult<String> {
        unsupported("scratch databases")
    }
    fn drop_scratch_database(_ctx: &CallContext, _name: &str) -> PluginResult<()> {
        unsupported("scratch databases")
    }
    fn inspect(_ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        unsupported("inspection")
    }
}

/// A place artifacts are kept. Keys are `/`-separated relative paths.
pub trait Storage {
    fn info() -> PluginInfo;
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
    fn health_check(_ctx: &CallContext) -> HealthReport {
        not_checked()
    }
    fn put(
        ctx: &CallContext,
        key: &str,
        source: &InputStream,
        size_hint: Option<u64>,
    ) -> PluginResult<u64>;
    fn get(
        ctx: &CallContext,
        key: &str,
        sink: &OutputStream,
        offset: u64,
        length: Option<u64>,
    ) -> PluginResult<u64>;
    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>>;
    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>>;
    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()>;
    fn copy(_ctx: &CallContext, _from: &str, _to: &str) -> PluginResult<()> {
        unsupported("copy")
    }
    /// Defaults to copy then delete; override where the backend can move.
    fn rename(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        Self::copy(ctx, from, to)?;
        Self::delete(ctx, from)
    }
}

/// A channel that delivers events to people.
pub trait Notifier {
    fn info() -> PluginInfo;
    fn validate_config(config: &str) -> PluginResult<()> {
        crate::config::parse_json::<serde_json::Value>(config).map(|_| ())
    }
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
