//! Typed clients: one method per export, each a sandboxed call.

use crate::bindings::{BackupStats, Event, HealthReport, ObjectInfo, PluginInfo, TableCount};
use crate::call::{Activity, LogSink};
use crate::error::CallError;
use crate::runtime::{CallOptions, LoadedPlugin, PluginPre, PluginRuntime};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

/// Calls that move data can run for hours; these are the defaults.
const DATA_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);
const STALL_AFTER: Duration = Duration::from_secs(600);

/// What a client talks to: the plugin's configuration and secrets.
#[derive(Clone)]
pub struct Target {
    pub config: serde_json::Value,
    pub secrets: HashMap<String, String>,
    pub log: LogSink,
    /// Limits for data calls (backup, restore, put, get).
    pub data_timeout: Duration,
    pub stall_after: Duration,
    /// The datasource or storage type the plugin serves in this call,
    /// passed as the call option `type` (one plugin may serve several).
    pub type_name: String,
}

impl Target {
    pub fn new(config: serde_json::Value, log: LogSink) -> Self {
        Self {
            config,
            secrets: HashMap::new(),
            log,
            data_timeout: DATA_TIMEOUT,
            stall_after: STALL_AFTER,
            type_name: String::new(),
        }
    }

    pub fn with_secrets(mut self, secrets: HashMap<String, String>) -> Self {
        self.secrets = secrets;
        self
    }

    fn control(&self) -> CallOptions {
        let mut o = CallOptions::new(self.config.clone(), self.log.clone());
        o.secrets = self.secrets.clone();
        o.timeout = CONTROL_TIMEOUT;
        if !self.type_name.is_empty() {
            o.options.push(("type".to_string(), self.type_name.clone()));
        }
        o
    }

    fn data(&self, activity: Arc<Activity>, options: Vec<(String, String)>) -> CallOptions {
        let mut o = self.control();
        o.control = false;
        o.timeout = self.data_timeout;
        o.stall_after = Some(self.stall_after);
        o.activity = activity;
        o.options.extend(options);
        o
    }
}

fn wrong_world(expected: &str) -> wasmtime::Error {
    wasmtime::format_err!("plugin is not a{expected} plugin")
}

/// Generates a client method body: instantiate the world, call the export
/// (timed and reported to the runtime's call observer, which the
/// application points at its metrics).
macro_rules! call_export {
    ($self:ident, $op:expr, $opts:expr, $variant:ident, $next:ident, $accessor:ident,
     $next_accessor:ident, |$inst:ident, $store:ident, $ctx:ident| { $($body:tt)* }) => {{
        let started = std::time::Instant::now();
        let result = $self
            .runtime
            .call(&$self.plugin, $op, &$opts, move |pre, $store, $ctx| {
                Box::pin(async move {
                    match pre {
                        PluginPre::$variant(pre) => {
                            let instance = pre.instantiate_async(&mut *$store).await?;
                            let $inst = instance.$accessor();
                            $($body)*
                        }
                        // Plugin API 0.2: the same call with the typed
                        // context, its answer in the host's types.
                        PluginPre::$next(pre) => {
                            let instance = pre.instantiate_async(&mut *$store).await?;
                            let $inst = instance.$next_accessor();
                            #[allow(unused_variables)]
                            let $ctx = crate::adapt::context($ctx);
                            let answer = { $($body)* };
                            answer.map(|r| r.map(crate::adapt::Adapt::adapt))
                        }
                        _ => Err(wrong_world(concat!(" ", stringify!($variant)))),
                    }
                })
            })
            .await;
        if let Some(observer) = $self.runtime.call_observer() {
            observer.plugin_call($self.plugin.id(), $op, started.elapsed(), result.is_ok());
        }
        result
    }};
}

/// Talks to one engine plugin about one datasource.
#[derive(Clone)]
pub struct EngineClient {
    runtime: Arc<PluginRuntime>,
    plugin: Arc<LoadedPlugin>,
    target: Target,
}

impl EngineClient {
    pub fn new(runtime: Arc<PluginRuntime>, plugin: Arc<LoadedPlugin>, target: Target) -> Self {
        Self {
            runtime,
            plugin,
            target,
        }
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    pub async fn info(&self) -> Result<PluginInfo, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "info",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, _ctx| { e.call_info(&mut *store).await.map(Ok) }
        )
    }

    pub async fn validate_config(&self) -> Result<(), CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "validate-config",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| { e.call_validate_config(&mut *store, &ctx.config).await }
        )
    }

    pub async fn health_check(&self) -> Result<HealthReport, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "health-check",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| { e.call_health_check(&mut *store, &ctx).await.map(Ok) }
        )
    }

    pub async fn list_databases(&self) -> Result<Vec<String>, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "list-databases",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| { e.call_list_databases(&mut *store, &ctx).await }
        )
    }

    /// Streams the backup into `sink`.
    pub async fn backup(
        &self,
        sink: DynOutputStream,
        activity: Arc<Activity>,
        options: Vec<(String, String)>,
    ) -> Result<BackupStats, CallError> {
        let opts = self.target.data(activity, options);
        call_export!(
            self,
            "backup",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| {
                let sink = store.data_mut().table.push(sink)?;
                e.call_backup(&mut *store, &ctx, sink).await
            }
        )
    }

    /// Feeds the artifact from `source` into the target.
    pub async fn restore(
        &self,
        source: DynInputStream,
        activity: Arc<Activity>,
        options: Vec<(String, String)>,
    ) -> Result<(), CallError> {
        let opts = self.target.data(activity, options);
        call_export!(
            self,
            "restore",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| {
                let source = store.data_mut().table.push(source)?;
                e.call_restore(&mut *store, &ctx, source).await
            }
        )
    }

    pub async fn create_scratch_database(&self, name: &str) -> Result<String, CallError> {
        let opts = self.target.control();
        let name = name.to_string();
        call_export!(
            self,
            "create-scratch-database",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| {
                e.call_create_scratch_database(&mut *store, &ctx, &name)
                    .await
            }
        )
    }

    pub async fn drop_scratch_database(&self, name: &str) -> Result<(), CallError> {
        let opts = self.target.control();
        let name = name.to_string();
        call_export!(
            self,
            "drop-scratch-database",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| { e.call_drop_scratch_database(&mut *store, &ctx, &name).await }
        )
    }

    pub async fn inspect(&self) -> Result<Vec<TableCount>, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "inspect",
            opts,
            Engine,
            EngineNext,
            dataguardian_plugin_engine,
            dataguardian_plugin0_2_0_engine,
            |e, store, ctx| { e.call_inspect(&mut *store, &ctx).await }
        )
    }
}

/// Talks to one storage plugin about one storage location.
#[derive(Clone)]
pub struct StorageClient {
    runtime: Arc<PluginRuntime>,
    plugin: Arc<LoadedPlugin>,
    target: Target,
}

impl StorageClient {
    pub fn new(runtime: Arc<PluginRuntime>, plugin: Arc<LoadedPlugin>, target: Target) -> Self {
        Self {
            runtime,
            plugin,
            target,
        }
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    pub async fn health_check(&self) -> Result<HealthReport, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "health-check",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_health_check(&mut *store, &ctx).await.map(Ok) }
        )
    }

    pub async fn info(&self) -> Result<PluginInfo, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "info",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, _ctx| { s.call_info(&mut *store).await.map(Ok) }
        )
    }

    pub async fn validate_config(&self) -> Result<(), CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "validate-config",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_validate_config(&mut *store, &ctx.config).await }
        )
    }

    /// Stores everything read from `source` under `key`.
    pub async fn put(
        &self,
        key: &str,
        source: DynInputStream,
        size_hint: Option<u64>,
        activity: Arc<Activity>,
    ) -> Result<u64, CallError> {
        let opts = self.target.data(activity, Vec::new());
        let key = key.to_string();
        call_export!(
            self,
            "put",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| {
                let source = store.data_mut().table.push(source)?;
                s.call_put(&mut *store, &ctx, &key, source, size_hint).await
            }
        )
    }

    /// Writes the object (or a range of it) into `sink`.
    pub async fn get(
        &self,
        key: &str,
        sink: DynOutputStream,
        range: (u64, Option<u64>),
        activity: Arc<Activity>,
    ) -> Result<u64, CallError> {
        let opts = self.target.data(activity, Vec::new());
        let key = key.to_string();
        call_export!(
            self,
            "get",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| {
                let sink = store.data_mut().table.push(sink)?;
                s.call_get(&mut *store, &ctx, &key, sink, range.0, range.1)
                    .await
            }
        )
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, CallError> {
        let opts = self.target.control();
        let prefix = prefix.to_string();
        call_export!(
            self,
            "list",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_list(&mut *store, &ctx, &prefix).await }
        )
    }

    pub async fn stat(&self, key: &str) -> Result<Option<ObjectInfo>, CallError> {
        let opts = self.target.control();
        let key = key.to_string();
        call_export!(
            self,
            "stat",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_stat(&mut *store, &ctx, &key).await }
        )
    }

    pub async fn delete(&self, key: &str) -> Result<(), CallError> {
        let opts = self.target.control();
        let key = key.to_string();
        call_export!(
            self,
            "delete",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_delete(&mut *store, &ctx, &key).await }
        )
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<(), CallError> {
        let opts = self.target.control();
        let (from, to) = (from.to_string(), to.to_string());
        call_export!(
            self,
            "rename",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_rename(&mut *store, &ctx, &from, &to).await }
        )
    }

    pub async fn copy(&self, from: &str, to: &str) -> Result<(), CallError> {
        let opts = self.target.control();
        let (from, to) = (from.to_string(), to.to_string());
        call_export!(
            self,
            "copy",
            opts,
            Storage,
            StorageNext,
            dataguardian_plugin_storage,
            dataguardian_plugin0_2_0_storage,
            |s, store, ctx| { s.call_copy(&mut *store, &ctx, &from, &to).await }
        )
    }
}

/// Talks to one notifier plugin about one channel.
///
/// Built by [`crate::Plugins::notifier`] from the channel's config without
/// its secrets (`secret`, `access_token`, `password` go in
/// [`Target::with_secrets`]): the plugin only names them and the host
/// applies them (HMAC signature, bearer token, SMTP login).
#[derive(Clone)]
pub struct NotifierClient {
    runtime: Arc<PluginRuntime>,
    plugin: Arc<LoadedPlugin>,
    target: Target,
}

impl NotifierClient {
    pub fn new(runtime: Arc<PluginRuntime>, plugin: Arc<LoadedPlugin>, target: Target) -> Self {
        Self {
            runtime,
            plugin,
            target,
        }
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    pub async fn info(&self) -> Result<PluginInfo, CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "info",
            opts,
            Notifier,
            NotifierNext,
            dataguardian_plugin_notifier,
            dataguardian_plugin0_2_0_notifier,
            |n, store, _ctx| { n.call_info(&mut *store).await.map(Ok) }
        )
    }

    /// Checks the channel's config (the plugin's errors name the field).
    /// Runs with no capability: nothing is sent.
    pub async fn validate_config(&self) -> Result<(), CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "validate-config",
            opts,
            Notifier,
            NotifierNext,
            dataguardian_plugin_notifier,
            dataguardian_plugin0_2_0_notifier,
            |n, store, ctx| { n.call_validate_config(&mut *store, &ctx.config).await }
        )
    }

    /// Delivers one event: `Ok` once the receiving end accepted it. A
    /// [`CallError::is_transient`] error (5xx, 429, timeouts, SMTP 4xx) is
    /// worth retrying; any other is final (its message names the cause).
    // `.into()` is the identity for 0.1 plugins and the conversion for
    // 0.2 ones: the call's body serves both (`call_export!`).
    #[allow(clippy::useless_conversion)]
    pub async fn send(&self, event: Event) -> Result<(), CallError> {
        let opts = self.target.control();
        call_export!(
            self,
            "send",
            opts,
            Notifier,
            NotifierNext,
            dataguardian_plugin_notifier,
            dataguardian_plugin0_2_0_notifier,
            |n, store, ctx| { n.call_send(&mut *store, &ctx, &event.into()).await }
        )
    }
}
