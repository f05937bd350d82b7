//! Plugins: the WIT contract's host side, the sandboxed runtime, and the
//! registry of loaded plugins with typed clients per kind.

pub mod adapt;
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
pub mod embedded;
pub mod error;
pub mod grant;
mod host;
pub mod http;
mod http_send;
pub mod leftovers;
mod mail;
pub mod manifest;
mod modes;
pub mod package;
mod pipes;
pub mod process;
pub mod registry;
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
use std::sync::{Arc, RwLock};

/// No plugin serves what was asked for.
#[derive(Debug, thiserror::Error)]
#[error("no {kind} plugin provides `{type_name}` (installed: {installed})")]
pub struct NotInstalled {
    pub kind: PluginKind,
    pub type_name: String,
    pub installed: String,
}

/// Why an installed plugin was not admitted beside the others.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error("plugin `{plugin}` would serve {what}, which {holder} already serves; it was not loaded. To let it take over, the operator approves it with `replaces = [\"{name}\"]` in its grant (`dataguardian plugin grant {plugin} --replace {name}`, or `\"replace\": [\"{name}\"]` when installing)")]
    Collision {
        plugin: String,
        what: String,
        name: String,
        holder: String,
    },
    #[error("{0}")]
    Load(String),
}

/// The loaded plugins and the runtime that calls them: the built-in ones
/// (fixed) and the installed ones (added and removed while serving).
pub struct Plugins {
    runtime: Arc<PluginRuntime>,
    builtin: Vec<Arc<LoadedPlugin>>,
    installed: RwLock<Vec<Arc<LoadedPlugin>>>,
}

impl Plugins {
    /// A registry holding the built-in plugins.
    pub fn with_builtins(config: RuntimeConfig) -> Result<Self, LoadError> {
        let runtime = Arc::new(PluginRuntime::new(config)?);
        let mut builtin = Vec::new();
        for b in builtin::BUILTIN {
            let plugin = runtime.load(b.wasm, Some(b.manifest), Grant::Manifest, true)?;
            dg_core::secrets::declare_secret_keys(&plugin.manifest.plugin.secrets);
            builtin.push(Arc::new(plugin));
        }
        Ok(Self {
            runtime,
            builtin,
            installed: RwLock::new(Vec::new()),
        })
    }

    /// Binds every later call to the server's path and egress policies;
    /// `false` if they were already set.
    pub fn confine(&self, confinement: Confinement) -> bool {
        self.runtime.confine(confinement)
    }

    /// Loads every `*.wasm` of `dir` (installed plugins). Capabilities are
    /// those approved for that very component in its `NAME.grant.toml`;
    /// without one it gets none. A plugin that would serve a type or take
    /// an id already served is refused unless its grant `replaces` it.
    /// Returns what went wrong, one line per plugin.
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
            let loaded = self
                .load_file(&path)
                .map_err(AdmitError::Load)
                .and_then(|plugin| self.admit(plugin));
            if let Err(e) = loaded {
                problems.push(format!("{}: {e}", path.display()));
            }
        }
        problems
    }

    /// Loads `NAME.wasm` with its manifest (built in, or `NAME.toml`
    /// beside it; both must agree) and its grant.
    pub fn load_file(&self, path: &Path) -> Result<LoadedPlugin, String> {
        let files = runtime::read_plugin_files(path).map_err(|e| e.to_string())?;
        let grant = match &files.grant {
            Some(text) => grant::GrantFile::parse(text)?,
            None => grant::GrantFile::default(),
        };
        let plugin = self.load_component(&files.wasm, files.manifest.as_deref(), &grant)?;
        // The file is named after the plugin it holds: its grant and its
        // removal are found by that name.
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        if stem.as_deref() != Some(plugin.id()) {
            return Err(format!(
                "it holds plugin `{}`, not `{}`: an installed plugin's file is named after its id ({}.wasm)",
                plugin.id(),
                stem.unwrap_or_default(),
                plugin.id()
            ));
        }
        Ok(plugin)
    }

    /// Compiles and links a component under `grant` (void unless it
    /// approves this component's SHA-256).
    pub fn load_component(
        &self,
        wasm: &[u8],
        manifest: Option<&str>,
        grant: &grant::GrantFile,
    ) -> Result<LoadedPlugin, String> {
        let sha256 = package::sha256_hex(wasm);
        let (approved, void) = grant.for_component(&sha256);
        let mut plugin = self
            .runtime
            .load(wasm, manifest, approved, false)
            .map_err(|e| e.to_string())?;
        plugin.replaces = grant.replaces.clone();
        let asked = &plugin.manifest.capabilities;
        if *asked != manifest::Capabilities::default() {
            plugin.warnings.extend(void);
        }
        // Judged on the file as written, void or not: the operator's
        // mistake is worth saying either way.
        let written = Grant::Approved(grant.capabilities.clone());
        for entry in written.unmatched(asked) {
            plugin.warnings.push(format!(
                "the grant's {entry} matches nothing the plugin asks for and grants nothing"
            ));
        }
        Ok(plugin)
    }

    /// Whether `plugin` could be admitted now (see [`Plugins::admit`]),
    /// without admitting it: an install refuses before writing anything.
    pub fn check_admission(&self, plugin: &LoadedPlugin) -> Result<(), AdmitError> {
        let installed = self.installed.read().unwrap_or_else(|e| e.into_inner());
        self.collision(&installed, plugin)
    }

    /// The first id or type `plugin` would take from another plugin
    /// without its grant saying it may.
    fn collision(
        &self,
        installed: &[Arc<LoadedPlugin>],
        plugin: &LoadedPlugin,
    ) -> Result<(), AdmitError> {
        let holder = |p: &LoadedPlugin| {
            if p.builtin {
                format!("the built-in plugin `{}`", p.id())
            } else {
                format!("the installed plugin `{}`", p.id())
            }
        };
        let others = self
            .builtin
            .iter()
            .chain(installed.iter().filter(|p| p.id() != plugin.id()));
        for other in others {
            if other.id() == plugin.id() && !plugin.replaces.iter().any(|r| r == plugin.id()) {
                return Err(AdmitError::Collision {
                    plugin: plugin.id().to_string(),
                    what: format!("the id `{}`", plugin.id()),
                    name: plugin.id().to_string(),
                    holder: holder(other),
                });
            }
            if other.kind() != plugin.kind() {
                continue;
            }
            for t in &plugin.manifest.plugin.provides {
                if other.manifest.plugin.provides.contains(t) && !plugin.replaces.contains(t) {
                    return Err(AdmitError::Collision {
                        plugin: plugin.id().to_string(),
                        what: format!("the {} type `{t}`", plugin.kind()),
                        name: t.clone(),
                        holder: holder(other),
                    });
                }
            }
        }
        Ok(())
    }

    /// Adds an installed plugin, replacing an installed one of the same id
    /// (an update). Refused when it would serve a type, or take an id,
    /// that another plugin serves and its grant does not `replaces` it.
    pub fn admit(&self, mut plugin: LoadedPlugin) -> Result<Arc<LoadedPlugin>, AdmitError> {
        let mut installed = self.installed.write().unwrap_or_else(|e| e.into_inner());
        self.collision(&installed, &plugin)?;
        let all: Vec<&Arc<LoadedPlugin>> = self
            .builtin
            .iter()
            .chain(installed.iter().filter(|p| p.id() != plugin.id()))
            .collect();
        for taken in plugin.replaces.clone() {
            let held = all.iter().any(|o| {
                o.id() == taken
                    || (o.kind() == plugin.kind() && o.manifest.plugin.provides.contains(&taken))
            });
            if held {
                tracing::warn!(
                    plugin = plugin.id(),
                    "plugin `{}` serves `{taken}` in place of the plugin that did (operator override)",
                    plugin.id()
                );
            } else {
                plugin.warnings.push(format!(
                    "its grant lets it replace `{taken}`, which no other plugin serves: nothing is replaced"
                ));
            }
        }
        for warning in &plugin.warnings {
            tracing::warn!(plugin = plugin.id(), "plugin `{}`: {warning}", plugin.id());
        }
        dg_core::secrets::declare_secret_keys(&plugin.manifest.plugin.secrets);
        let plugin = Arc::new(plugin);
        installed.retain(|p| p.id() != plugin.id());
        installed.push(plugin.clone());
        Ok(plugin)
    }

    /// Removes the installed plugin `id`; `None` if there is none (built-in
    /// plugins cannot be removed). Calls in flight finish with it.
    pub fn remove(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        let mut installed = self.installed.write().unwrap_or_else(|e| e.into_inner());
        let at = installed.iter().position(|p| p.id() == id)?;
        Some(installed.remove(at))
    }

    /// Every plugin: built-in first, then installed.
    pub fn list(&self) -> Vec<Arc<LoadedPlugin>> {
        let installed = self.installed.read().unwrap_or_else(|e| e.into_inner());
        self.builtin
            .iter()
            .chain(installed.iter())
            .cloned()
            .collect()
    }

    /// The installed plugin `id`, if any.
    pub fn installed(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        let installed = self.installed.read().unwrap_or_else(|e| e.into_inner());
        installed.iter().find(|p| p.id() == id).cloned()
    }

    /// The types `plugin` serves now: those it provides that no other
    /// plugin took over.
    pub fn serves(&self, plugin: &LoadedPlugin) -> Vec<String> {
        plugin
            .manifest
            .plugin
            .provides
            .iter()
            .filter(|t| {
                self.find(plugin.kind(), t)
                    .is_ok_and(|p| p.wasm_sha256 == plugin.wasm_sha256 && p.id() == plugin.id())
            })
            .cloned()
            .collect()
    }

    pub fn runtime(&self) -> &Arc<PluginRuntime> {
        &self.runtime
    }

    /// The plugin of `kind` that provides `type_name`, or one whose id it
    /// is. An installed plugin the operator let replace it comes first,
    /// then the built-in ones, then the other installed ones.
    pub fn find(
        &self,
        kind: PluginKind,
        type_name: &str,
    ) -> Result<Arc<LoadedPlugin>, NotInstalled> {
        let all = self.list();
        let overriding = |p: &&Arc<LoadedPlugin>| {
            !p.builtin && p.replaces.iter().any(|r| r == type_name || r == p.id())
        };
        let taken_id = |p: &&Arc<LoadedPlugin>| {
            p.builtin
                && all.iter().any(|o| {
                    !o.builtin && o.id() == p.id() && o.replaces.iter().any(|r| r == o.id())
                })
        };
        all.iter()
            .filter(|p| p.provides(kind, type_name))
            .find(overriding)
            .or_else(|| {
                all.iter()
                    .filter(|p| !taken_id(p))
                    .find(|p| p.provides(kind, type_name))
            })
            .or_else(|| {
                all.iter()
                    .filter(|p| !taken_id(p))
                    .find(|p| p.kind() == kind && p.id() == type_name)
            })
            .cloned()
            .ok_or_else(|| NotInstalled {
                kind,
                type_name: type_name.to_string(),
                installed: all
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

    /// What `plugin` says it is (its `info()`; a control call: the plugin
    /// is instantiated once).
    pub async fn info(
        &self,
        plugin: &Arc<LoadedPlugin>,
    ) -> Result<bindings::PluginInfo, CallError> {
        let mut target = client::Target::new(serde_json::Value::Null, call::tracing_sink());
        target.type_name = plugin.first_type();
        let runtime = self.runtime.clone();
        match plugin.kind() {
            PluginKind::Engine => {
                EngineClient::new(runtime, plugin.clone(), target)
                    .info()
                    .await
            }
            PluginKind::Storage => {
                StorageClient::new(runtime, plugin.clone(), target)
                    .info()
                    .await
            }
            PluginKind::Notifier => {
                NotifierClient::new(runtime, plugin.clone(), target)
                    .info()
                    .await
            }
        }
    }

    /// The JSON Schema of `plugin`'s configuration, as its `info()`
    /// reports it.
    pub async fn config_schema(&self, plugin: &Arc<LoadedPlugin>) -> Result<String, CallError> {
        Ok(self.info(plugin).await?.config_schema)
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
