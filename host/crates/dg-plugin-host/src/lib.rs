//! Plugins: the WIT contract's host side, the sandboxed runtime, and the
//! registry of loaded plugins with typed clients per kind.

pub mod api_version;
pub mod auth_directive;
pub mod bindings;
pub mod blocks;
pub mod builtin;
mod cache;
pub mod call;
pub mod client;
pub mod dirs;
pub mod egress;
pub mod error;
pub mod grant;
mod host;
pub mod http;
mod http_send;
pub mod leftovers;
mod mail;
pub mod manifest;
mod modes;
mod pipes;
pub mod process;
pub mod runtime;
pub mod streams;

pub use bindings::{Event, Severity};
pub use call::{tracing_sink, Activity, CallObserver, LogLevel, LogRecord, LogSink, Phase};
pub use client::{EngineClient, NotifierClient, StorageClient, Target};
pub use error::{CallError, FailureKind, LoadError};
pub use manifest::PluginKind;
pub use runtime::{Confinement, LoadedPlugin, PluginRuntime, RuntimeConfig};

use grant::Grant;
use std::path::Path;
use std::sync::Arc;

/// No plugin serves what was asked for.
#[derive(Debug, thiserror::Error)]
#[error("no {kind} plugin provides `{type_name}` (installed: {installed})")]
pub struct NotInstalled {
    pub kind: PluginKind,
    pub type_name: String,
    pub installed: String,
}

/// The loaded plugins and the runtime that calls them.
pub struct Plugins {
    runtime: Arc<PluginRuntime>,
    loaded: Vec<Arc<LoadedPlugin>>,
}

impl Plugins {
    /// A registry holding the built-in plugins.
    pub fn with_builtins(config: RuntimeConfig) -> Result<Self, LoadError> {
        let runtime = Arc::new(PluginRuntime::new(config)?);
        let mut loaded = Vec::new();
        for b in builtin::BUILTIN {
            loaded.push(Arc::new(runtime.load(
                b.wasm,
                b.manifest,
                Grant::Manifest,
                true,
            )?));
        }
        Ok(Self { runtime, loaded })
    }

    /// Binds every later call to the server's path and egress policies;
    /// `false` if they were already set.
    pub fn confine(&self, confinement: Confinement) -> bool {
        self.runtime.confine(confinement)
    }

    /// Loads every `*.wasm` of `dir` (third-party plugins). A plugin found
    /// there replaces a built-in with the same id. Capabilities are those
    /// approved in its `NAME.grant.toml`; without one it gets none.
    pub fn load_dir(&mut self, dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return problems;
        };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            match self.load_file(&path) {
                Ok(plugin) => {
                    self.loaded.retain(|p| p.id() != plugin.id());
                    self.loaded.push(Arc::new(plugin));
                }
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        problems
    }

    fn load_file(&self, path: &Path) -> Result<LoadedPlugin, String> {
        let (wasm, manifest, grant) =
            runtime::read_plugin_files(path).map_err(|e| e.to_string())?;
        let grant = match grant {
            Some(text) => {
                Grant::Approved(toml::from_str(&text).map_err(|e| format!("grant: {e}"))?)
            }
            None => Grant::Approved(Default::default()),
        };
        self.runtime
            .load(&wasm, &manifest, grant, false)
            .map_err(|e| e.to_string())
    }

    pub fn list(&self) -> &[Arc<LoadedPlugin>] {
        &self.loaded
    }

    pub fn runtime(&self) -> &Arc<PluginRuntime> {
        &self.runtime
    }

    /// The plugin of `kind` that provides `type_name`, or one whose id it is.
    pub fn find(
        &self,
        kind: PluginKind,
        type_name: &str,
    ) -> Result<Arc<LoadedPlugin>, NotInstalled> {
        self.loaded
            .iter()
            .find(|p| p.provides(kind, type_name))
            .or_else(|| {
                self.loaded
                    .iter()
                    .find(|p| p.kind() == kind && p.id() == type_name)
            })
            .cloned()
            .ok_or_else(|| NotInstalled {
                kind,
                type_name: type_name.to_string(),
                installed: self
                    .loaded
                    .iter()
                    .filter(|p| p.kind() == kind)
                    .flat_map(|p| p.manifest.plugin.provides.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Whether the engine of `type_name` restores with several jobs from
    /// a spooled file (its manifest's `parallel_restore`).
    pub fn restores_in_parallel(&self, type_name: &str) -> bool {
        self.find(PluginKind::Engine, type_name)
            .map(|p| p.manifest.plugin.parallel_restore)
            .unwrap_or(false)
    }

    /// The JSON Schema of `plugin`'s configuration, as its `info()`
    /// reports it (a control call: the plugin is instantiated once).
    pub async fn config_schema(&self, plugin: &Arc<LoadedPlugin>) -> Result<String, CallError> {
        let target = || {
            let mut t = client::Target::new(serde_json::Value::Null, call::tracing_sink());
            t.type_name = plugin
                .manifest
                .plugin
                .provides
                .first()
                .cloned()
                .unwrap_or_default();
            t
        };
        let info = match plugin.kind() {
            PluginKind::Engine => {
                EngineClient::new(self.runtime.clone(), plugin.clone(), target())
                    .info()
                    .await?
            }
            PluginKind::Storage => {
                StorageClient::new(self.runtime.clone(), plugin.clone(), target())
                    .info()
                    .await?
            }
            PluginKind::Notifier => {
                NotifierClient::new(self.runtime.clone(), plugin.clone(), target())
                    .info()
                    .await?
            }
        };
        Ok(info.config_schema)
    }

    pub fn engine(
        &self,
        type_name: &str,
        mut target: client::Target,
    ) -> Result<EngineClient, NotInstalled> {
        let plugin = self.find(PluginKind::Engine, type_name)?;
        target.type_name = type_name.to_string();
        Ok(EngineClient::new(self.runtime.clone(), plugin, target))
    }

    pub fn storage(
        &self,
        type_name: &str,
        mut target: client::Target,
    ) -> Result<StorageClient, NotInstalled> {
        let plugin = self.find(PluginKind::Storage, type_name)?;
        target.type_name = type_name.to_string();
        Ok(StorageClient::new(self.runtime.clone(), plugin, target))
    }

    /// A client for the notifier plugin serving channel type `type_name`
    /// (`webhook`, `whatsapp`, `smtp`). `target` holds the channel's
    /// config without its secrets and, in `with_secrets`, the secrets by
    /// key name; the plugin gets the call option `type`.
    pub fn notifier(
        &self,
        type_name: &str,
        mut target: client::Target,
    ) -> Result<NotifierClient, NotInstalled> {
        let plugin = self.find(PluginKind::Notifier, type_name)?;
        target.type_name = type_name.to_string();
        Ok(NotifierClient::new(self.runtime.clone(), plugin, target))
    }
}
