//! The plugin runtime: one wasmtime engine, precompiled components cached
//! on disk, an `InstancePre` per plugin and a fresh sandboxed store per call.

use crate::api_version::ApiVersion;
use crate::bindings::engine_world::EnginePluginPre;
use crate::bindings::host_world::dataguardian::plugin as imports;
use crate::bindings::next;
use crate::bindings::notifier_world::NotifierPluginPre;
use crate::bindings::storage_world::StoragePluginPre;
use crate::call::{Activity, CallObserver, CallShared, LogSink};
use crate::dirs::{DirGuard, DirUse, GrantedDir, PinnedDir};
use crate::egress::EgressPolicy;
use crate::error::{CallError, FailureKind, LoadError};
use crate::grant::{CallCapabilities, Grant};
use crate::host::{HostState, MemoryCap};
use crate::http::HttpGate;
use crate::manifest::{self, Access, Manifest, PluginKind};
use crate::{api_version, cache};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

/// Plugin calls that may be in flight at once (instance pool size).
const MAX_LIVE_CALLS: u32 = 64;
/// Operations that run with no capability at all.
const PURE_OPERATIONS: &[&str] = &["info", "validate-config"];
/// How often running plugins yield to the host scheduler.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where precompiled components are kept; `None` compiles every start.
    pub cache_dir: Option<PathBuf>,
    /// Parent of per-call scratch directories.
    pub scratch_root: PathBuf,
    /// PEM files of extra certificate authorities trusted for SMTP TLS
    /// besides the built-in web roots (`--smtp-ca-file`); empty by default.
    pub smtp_ca_files: Vec<PathBuf>,
    /// How long and how hard calls may run, per kind of call.
    pub limits: CallLimits,
}

/// The limits of plugin calls, per kind (docs/PLUGINS.md "Limits").
/// Control calls (info, validate-config, health-check, list-databases,
/// list, stat, delete, rename, copy, send...) answer a question; data
/// calls (backup, restore, put, get) move bytes for as long as it takes.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Wall-clock limit of a control call.
    pub control_timeout: Duration,
    /// CPU a control call may spend running plugin code (measured in
    /// epoch ticks of 10 ms): a spinning plugin is stopped after this,
    /// however long its wall-clock limit.
    pub control_cpu: Duration,
    /// Wall-clock limit of a data call.
    pub data_timeout: Duration,
    /// A data call that moved no byte and logged nothing this long is
    /// stopped.
    pub stall_after: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            control_timeout: Duration::from_secs(120),
            control_cpu: Duration::from_secs(10),
            data_timeout: Duration::from_secs(24 * 3600),
            stall_after: Duration::from_secs(600),
        }
    }
}

/// What binds the server's plugin calls: its say on every granted
/// directory (judged by handle) and where connections may go. The CLI
/// runs unconfined: it acts as the user who runs it.
#[derive(Clone)]
pub struct Confinement {
    pub dirs: Option<Arc<dyn DirGuard>>,
    pub egress: Arc<EgressPolicy>,
}

impl Confinement {
    /// The CLI's: nothing beyond what the user may do.
    pub fn none() -> Self {
        Self {
            dirs: None,
            egress: Arc::new(EgressPolicy::unrestricted()),
        }
    }
}

impl RuntimeConfig {
    /// A runtime caching compiled plugins in `cache_dir`, with per-call
    /// scratch directories under `scratch_root` and nothing else set.
    pub fn new(cache_dir: Option<PathBuf>, scratch_root: PathBuf) -> Self {
        Self {
            cache_dir,
            scratch_root,
            smtp_ca_files: Vec::new(),
            limits: CallLimits::default(),
        }
    }
}

/// Per-call parameters.
pub struct CallOptions {
    /// Configuration without secrets, as the plugin sees it.
    pub config: serde_json::Value,
    /// Secret values the host injects into spawned programs.
    pub secrets: HashMap<String, String>,
    pub options: Vec<(String, String)>,
    pub log: LogSink,
    pub activity: Arc<Activity>,
    /// Wall-clock limit of the whole call.
    pub timeout: Duration,
    /// Stop the call when no byte moved and nothing was logged this long.
    pub stall_after: Option<Duration>,
    /// A control call (a question, not a transfer): held to the control
    /// limits of [`CallLimits`], CPU included.
    pub control: bool,
}

impl CallOptions {
    pub fn new(config: serde_json::Value, log: LogSink) -> Self {
        Self {
            config,
            secrets: HashMap::new(),
            options: Vec::new(),
            log,
            activity: Arc::default(),
            timeout: Duration::from_secs(60),
            stall_after: None,
            control: true,
        }
    }
}

/// The instantiable form of a plugin, by world and plugin API version
/// (`*Next`: the draft 0.2, called through `adapt`).
pub enum PluginPre {
    Engine(EnginePluginPre<HostState>),
    Storage(StoragePluginPre<HostState>),
    Notifier(NotifierPluginPre<HostState>),
    EngineNext(next::engine_world::EnginePluginPre<HostState>),
    StorageNext(next::storage_world::StoragePluginPre<HostState>),
    NotifierNext(next::notifier_world::NotifierPluginPre<HostState>),
}

/// A plugin ready to be called.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub grant: Grant,
    pub api_version: String,
    pub builtin: bool,
    pub wasm_sha256: String,
    pub pre: PluginPre,
    /// Types (or its own id) the operator let it take over from another
    /// plugin (its grant's `replaces`).
    pub replaces: Vec<String>,
    /// What the operator should know: a void grant, grant entries that
    /// match nothing. Logged at load, shown by `plugin inspect`.
    pub warnings: Vec<String>,
}

impl LoadedPlugin {
    pub fn id(&self) -> &str {
        &self.manifest.plugin.id
    }

    pub fn kind(&self) -> PluginKind {
        self.manifest.plugin.kind
    }

    /// The first type it provides: what a call about the plugin itself
    /// (its info, a test) is made for.
    pub fn first_type(&self) -> String {
        self.manifest
            .plugin
            .provides
            .first()
            .cloned()
            .unwrap_or_default()
    }

    pub fn provides(&self, kind: PluginKind, type_name: &str) -> bool {
        self.kind() == kind && self.manifest.plugin.provides.iter().any(|p| p == type_name)
    }
}

pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    config: RuntimeConfig,
    smtp_roots: Arc<[PathBuf]>,
    stop_ticker: Arc<AtomicBool>,
    /// Set once by the server before the first call; unset means the
    /// CLI's [`Confinement::none`].
    confinement: std::sync::OnceLock<Confinement>,
    unconfined: Confinement,
    /// Told of every export call; set once by the application (which
    /// keeps the metrics), unset means calls are not reported.
    observer: std::sync::OnceLock<Arc<dyn CallObserver>>,
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl PluginRuntime {
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let setup = |message: String| LoadError::Component {
            plugin: "(runtime)".into(),
            message,
        };
        // Pooled instance slots: a warm call reuses memory instead of
        // mapping and faulting in a fresh one (docs/BENCHMARKS.md).
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(MAX_LIVE_CALLS)
            .total_core_instances(MAX_LIVE_CALLS * 16)
            .total_memories(MAX_LIVE_CALLS * 2)
            .total_tables(MAX_LIVE_CALLS * 16)
            .max_memory_size(manifest::MAX_MEMORY_MB as usize * (1 << 20));
        let mut wasm_config = Config::new();
        wasm_config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm_config).map_err(|e| setup(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|_| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .map_err(|e| setup(e.to_string()))?;
        imports::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .and_then(|_| imports::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .and_then(|_| imports::progress::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .and_then(|_| imports::process::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .and_then(|_| imports::mail::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .and_then(|_| imports::file_modes::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            // 0.2's own interface holds only types; its imports are 0.1's.
            .and_then(|_| next::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s))
            .map_err(|e| setup(e.to_string()))?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("dg-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            engine,
            linker,
            smtp_roots: config.smtp_ca_files.clone().into(),
            config,
            stop_ticker,
            confinement: std::sync::OnceLock::new(),
            observer: std::sync::OnceLock::new(),
            unconfined: Confinement::none(),
        })
    }

    /// Parent of per-call scratch directories, secret files and records
    /// of running programs.
    pub fn scratch_root(&self) -> &Path {
        &self.config.scratch_root
    }

    /// Validates, compiles (or reuses the cached compilation of) and links
    /// a plugin.
    pub fn load(
        &self,
        wasm: &[u8],
        manifest_text: Option<&str>,
        grant: Grant,
        builtin: bool,
    ) -> Result<LoadedPlugin, LoadError> {
        let manifest = one_manifest(wasm, manifest_text)?;
        let plugin = manifest.plugin.id.clone();
        let fail = |message: String| LoadError::Component {
            plugin: plugin.clone(),
            message,
        };
        let api_version = api_version::read(wasm).ok_or_else(|| {
            fail(format!(
                "component has no `{}` section; build it with dataguardian-plugin-sdk",
                api_version::SECTION
            ))
        })?;
        let version = api_version::check(&plugin, &api_version, &manifest.plugin.api)?;
        let wasm_sha256 = hex::encode(Sha256::digest(wasm));
        let component = cache::compile(
            &self.engine,
            self.config.cache_dir.as_deref(),
            wasm,
            &wasm_sha256,
        )
        .map_err(|e| match e {
            cache::CompileError::Cache(path, source) => LoadError::Cache { path, source },
            cache::CompileError::Wasm(m) => fail(m),
        })?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(format!("cannot link: {e}")))?;
        let pre = match (manifest.plugin.kind, version) {
            (PluginKind::Engine, ApiVersion::V0_1) => {
                EnginePluginPre::new(instance_pre).map(PluginPre::Engine)
            }
            (PluginKind::Storage, ApiVersion::V0_1) => {
                StoragePluginPre::new(instance_pre).map(PluginPre::Storage)
            }
            (PluginKind::Notifier, ApiVersion::V0_1) => {
                NotifierPluginPre::new(instance_pre).map(PluginPre::Notifier)
            }
            (PluginKind::Engine, ApiVersion::V0_2) => {
                next::engine_world::EnginePluginPre::new(instance_pre).map(PluginPre::EngineNext)
            }
            (PluginKind::Storage, ApiVersion::V0_2) => {
                next::storage_world::StoragePluginPre::new(instance_pre).map(PluginPre::StorageNext)
            }
            (PluginKind::Notifier, ApiVersion::V0_2) => {
                next::notifier_world::NotifierPluginPre::new(instance_pre)
                    .map(PluginPre::NotifierNext)
            }
        }
        .map_err(|e| {
            fail(format!(
                "does not implement the {} world: {e}",
                manifest.plugin.kind
            ))
        })?;
        Ok(LoadedPlugin {
            manifest,
            grant,
            api_version,
            builtin,
            wasm_sha256,
            pre,
            replaces: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// Binds every later call to `confinement` (the server does this once
    /// at start); `false` if it was already set.
    pub fn confine(&self, confinement: Confinement) -> bool {
        self.confinement.set(confinement).is_ok()
    }

    /// Reports every later export call to `observer`. Set once: returns
    /// false (and changes nothing) if an observer was already installed.
    pub fn observe_calls(&self, observer: Arc<dyn CallObserver>) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// The installed call observer, if any.
    pub(crate) fn call_observer(&self) -> Option<&dyn CallObserver> {
        self.observer.get().map(|o| &**o)
    }

    /// Where the server's outbound connections may go (unrestricted in
    /// the CLI): plugin calls, and registries named by API callers.
    pub fn egress(&self) -> Arc<EgressPolicy> {
        self.confinement().egress.clone()
    }

    fn confinement(&self) -> &Confinement {
        self.confinement.get().unwrap_or(&self.unconfined)
    }

    /// Builds the sandboxed store of one call.
    fn new_store(
        &self,
        plugin: &LoadedPlugin,
        operation: &str,
        opts: &CallOptions,
    ) -> Result<Store<HostState>, CallError> {
        let setup = |message: String| CallError::Setup {
            plugin: plugin.id().to_string(),
            operation: operation.to_string(),
            message,
        };
        let shared = Arc::new(CallShared::new(
            plugin.id(),
            operation,
            opts.log.clone(),
            opts.activity.clone(),
        ));
        // Describing itself or checking a config needs no capability.
        let caps = if PURE_OPERATIONS.contains(&operation) {
            Arc::new(CallCapabilities::default())
        } else {
            let effective = plugin.grant.effective(&plugin.manifest.capabilities);
            Arc::new(CallCapabilities::resolve(
                &effective,
                &opts.config,
                operation,
            ))
        };

        let mut wasi = WasiCtxBuilder::new();
        let dir_use = match plugin.manifest.plugin.kind {
            PluginKind::Storage => DirUse::StorageRoot,
            _ => DirUse::Datasource,
        };
        let mut granted = Vec::new();
        for dir in &caps.dirs {
            let guest = dir
                .path
                .to_str()
                .ok_or_else(|| setup(format!("{}: path is not UTF-8", dir.path.display())))?;
            let perms = match dir.access {
                Access::Read => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            // Opened once without following symlinks; the server judges
            // that handle, and it is what the preopen gets: no second open
            // by name. The CLI acts as its user, so its paths' symlinks
            // are followed once, before the open.
            let handle = match &self.confinement().dirs {
                Some(guard) => {
                    let pinned = PinnedDir::open(&dir.path, dir.access == Access::ReadWrite)
                        .map_err(|e| setup(e.to_string()))?;
                    guard
                        .admit(&pinned, dir_use)
                        .map_err(|why| setup(format!("{}: {why}", dir.path.display())))?;
                    pinned
                }
                None => {
                    if dir.access == Access::ReadWrite {
                        std::fs::create_dir_all(&dir.path)
                            .map_err(|e| setup(format!("{}: {e}", dir.path.display())))?;
                    }
                    let real = std::fs::canonicalize(&dir.path)
                        .map_err(|e| setup(format!("{}: {e}", dir.path.display())))?;
                    PinnedDir::open(&real, false).map_err(|e| setup(e.to_string()))?
                }
            };
            wasi.preopened_dir(handle.handle_path(), guest, perms)
                .map_err(|e| setup(format!("cannot open {}: {e}", dir.path.display())))?;
            granted.push(GrantedDir {
                grant: dir.clone(),
                handle,
            });
        }
        let scratch = if caps.scratch {
            let path =
                self.config
                    .scratch_root
                    .join(format!("{}-{}", plugin.id(), uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path)
                .map_err(|e| setup(format!("scratch {}: {e}", path.display())))?;
            let guest = path.to_string_lossy().into_owned();
            wasi.preopened_dir(&path, &guest, FsPerms::ReadWrite)
                .map_err(|e| setup(format!("scratch {}: {e}", path.display())))?;
            Some(path)
        } else {
            None
        };
        let check_caps = caps.clone();
        let check_call = shared.clone();
        let egress = self.confinement().egress.clone();
        // File reads and writes run on the calling thread instead of a
        // blocking-pool hand-off per operation: wasmtime moves files 64 KiB
        // at a time, and a GB stored was some 16,000 hand-offs (two thread
        // wake-ups each), CPU taken from the database beside us.
        wasi.allow_blocking_current_thread(true)
            .allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(!caps.network.is_empty())
            .socket_addr_check(move |addr, use_| {
                let verdict = match use_ {
                    // std's connect binds the wildcard address first.
                    SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                        Ok(())
                    }
                    SocketAddrUse::TcpConnect if check_caps.allows_connect(&addr) => {
                        egress.check("", &addr).map_err(|refusal| refusal.0)
                    }
                    _ => Err(format!("network {use_:?} {addr} is not granted")),
                };
                let allowed = match verdict {
                    Ok(()) => true,
                    Err(why) => {
                        check_call.deny(why);
                        false
                    }
                };
                Box::pin(async move { allowed })
            });
        let secrets = Arc::new(opts.secrets.clone());
        let http_gate = HttpGate::new(
            caps.http.clone(),
            secrets.clone(),
            shared.clone(),
            self.confinement().egress.clone(),
        );
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            http_gate,
            table: ResourceTable::new(),
            memory: MemoryCap {
                max_bytes: (plugin.manifest.limits.memory_mb as usize) << 20,
            },
            call: shared,
            caps,
            secrets,
            scratch,
            secret_root: self.config.scratch_root.join(crate::leftovers::SECRETS),
            children_root: self.config.scratch_root.join(crate::leftovers::CHILDREN),
            smtp_roots: self.smtp_roots.clone(),
            egress: self.confinement().egress.clone(),
            owners: crate::modes::Owners::of_this_process(),
            granted,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        store.set_epoch_deadline(1);
        if opts.control {
            // Each callback is one 10 ms tick reached while plugin code
            // runs (a call waiting on the host reaches at most one per
            // wait), so counting them measures the CPU it spends.
            let budget =
                (self.config.limits.control_cpu.as_millis() / EPOCH_TICK.as_millis()).max(1);
            let mut ticks: u128 = 0;
            store.epoch_deadline_callback(move |_| {
                ticks += 1;
                if ticks > budget {
                    Err(wasmtime::Error::msg(CPU_EXHAUSTED))
                } else {
                    Ok(wasmtime::UpdateDeadline::Yield(1))
                }
            });
        } else {
            store.epoch_deadline_async_yield_and_update(1);
        }
        Ok(store)
    }

    /// Runs one export call under the call's limits: wall-clock timeout,
    /// no-progress watchdog, memory cap. Whatever happens inside, the host
    /// gets a `CallError`, never a panic, and the store (with any spawned
    /// program) is gone when this returns.
    pub async fn call<R, F>(
        &self,
        plugin: &LoadedPlugin,
        operation: &str,
        opts: &CallOptions,
        f: F,
    ) -> Result<R, CallError>
    where
        F: for<'a> FnOnce(
            &'a PluginPre,
            &'a mut Store<HostState>,
            imports::types::CallContext,
        ) -> BoxFuture<
            'a,
            wasmtime::Result<Result<R, imports::types::PluginError>>,
        >,
    {
        let mut store = self.new_store(plugin, operation, opts)?;
        let shared = store.data().call.clone();
        let scratch = store.data().scratch.clone();
        let ctx = imports::types::CallContext {
            config: opts.config.to_string(),
            options: opts
                .options
                .iter()
                .map(|(k, v)| imports::types::Kv {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            scratch_dir: scratch.as_ref().map(|p| p.to_string_lossy().into_owned()),
            secret_names: opts.secrets.keys().cloned().collect(),
        };
        shared.activity.touch();
        let limits = &self.config.limits;
        let (timeout, stall_after) = if opts.control {
            (opts.timeout.min(limits.control_timeout), None)
        } else {
            (
                opts.timeout.min(limits.data_timeout),
                opts.stall_after.map(|s| s.min(limits.stall_after)),
            )
        };
        let outcome = {
            let run = f(&plugin.pre, &mut store, ctx);
            guarded(run, &shared, timeout, stall_after).await
        };
        drop(store);
        if let Some(dir) = scratch {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(path = %dir.display(), "removing scratch directory: {e}");
            }
        }
        let named = |message: String| (plugin.id().to_string(), operation.to_string(), message);
        match outcome {
            Guarded::Done(Ok(Ok(value))) => Ok(value),
            Guarded::Done(Ok(Err(plugin_error))) => {
                let (kind, mut message) = FailureKind::from_plugin(plugin_error);
                let denials = shared.denials();
                if !denials.is_empty() && !message.contains(&denials[0]) {
                    message = format!("{message} (sandbox denied: {})", denials.join("; "));
                }
                let (plugin, operation, message) = named(message);
                Err(CallError::Plugin {
                    plugin,
                    operation,
                    kind,
                    message,
                })
            }
            Guarded::Done(Err(trap)) if is_cpu_exhausted(&trap) => Err(CallError::CpuExhausted {
                plugin: plugin.id().to_string(),
                operation: operation.to_string(),
                seconds: limits.control_cpu.as_secs_f64(),
            }),
            Guarded::Done(Err(trap)) => {
                let (plugin, operation, message) = named(describe_trap(&trap));
                Err(CallError::Trap {
                    plugin,
                    operation,
                    message,
                })
            }
            Guarded::TimedOut(seconds) => Err(CallError::Timeout {
                plugin: plugin.id().to_string(),
                operation: operation.to_string(),
                seconds,
            }),
            Guarded::Stalled(seconds) => Err(CallError::Stalled {
                plugin: plugin.id().to_string(),
                operation: operation.to_string(),
                seconds,
            }),
        }
    }
}

enum Guarded<T> {
    Done(T),
    TimedOut(u64),
    Stalled(u64),
}

async fn guarded<T>(
    run: impl std::future::Future<Output = T>,
    shared: &CallShared,
    timeout: Duration,
    stall_after: Option<Duration>,
) -> Guarded<T> {
    let watchdog = async {
        match stall_after {
            Some(limit) => loop {
                tokio::time::sleep(Duration::from_millis(250).min(limit)).await;
                let idle = shared.activity.idle_ms() >= limit.as_millis() as u64;
                if idle && !shared.activity.input_done() {
                    return limit.as_secs();
                }
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        out = run => Guarded::Done(out),
        _ = tokio::time::sleep(timeout) => Guarded::TimedOut(timeout.as_secs()),
        secs = watchdog => Guarded::Stalled(secs),
    }
}

/// What a control call's CPU budget ends with.
const CPU_EXHAUSTED: &str = "dataguardian: control call CPU budget exhausted";

fn is_cpu_exhausted(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| c.to_string() == CPU_EXHAUSTED)
}

/// The most useful line of a trap: our own limit message, or wasmtime's
/// trap description, without the backtrace.
fn describe_trap(e: &wasmtime::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    if let Some(limit) = chain.iter().find(|m| m.contains("memory limit")) {
        return limit.clone();
    }
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| chain.first().cloned().unwrap_or_default());
    let first_line = trap.lines().next().unwrap_or_default().to_string();
    if first_line.contains("unreachable") {
        format!("{first_line} (the plugin panicked or aborted)")
    } else {
        first_line
    }
}

/// The manifest of a component: the one built into it, or the one given
/// (a `plugin.toml` beside it). Both present must be the same text.
fn one_manifest(wasm: &[u8], given: Option<&str>) -> Result<Manifest, LoadError> {
    if let Some(Err(e)) = wasmparser::Parser::new(0)
        .parse_all(wasm)
        .find(Result::is_err)
    {
        return Err(LoadError::Component {
            plugin: "(unknown)".into(),
            message: format!(
                "not a valid WebAssembly component (damaged, truncated, or not a plugin): {}",
                e.message()
            ),
        });
    }
    let embedded = crate::embedded::manifest(wasm);
    let text = match (embedded.as_deref(), given) {
        (Some(built), Some(beside)) if built.trim() != beside.trim() => {
            let id = Manifest::parse(built)
                .map(|m| m.plugin.id)
                .unwrap_or_else(|_| "(unknown)".into());
            return Err(LoadError::Component {
                plugin: id,
                message: "the plugin.toml beside the component differs from the manifest built into it; remove the file or rebuild the plugin".into(),
            });
        }
        (Some(built), _) => built,
        (None, Some(beside)) => beside,
        (None, None) => {
            return Err(LoadError::Component {
                plugin: "(unknown)".into(),
                message: "no manifest: build the plugin with `dataguardian plugin build`, or put its plugin.toml beside it as NAME.toml".into(),
            })
        }
    };
    Ok(Manifest::parse(text)?)
}

/// The files of one plugin in a plugin directory.
pub struct PluginFiles {
    pub wasm: Vec<u8>,
    /// `NAME.toml`, when present (optional for a component with its
    /// manifest built in).
    pub manifest: Option<String>,
    /// `NAME.grant.toml`: what the operator approved.
    pub grant: Option<String>,
}

/// Reads a plugin directory entry: `NAME.wasm`, with `NAME.toml` and
/// `NAME.grant.toml` beside it when present.
pub fn read_plugin_files(wasm_path: &Path) -> std::io::Result<PluginFiles> {
    let optional = |path: PathBuf| match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    Ok(PluginFiles {
        wasm: std::fs::read(wasm_path)?,
        manifest: optional(wasm_path.with_extension("toml"))?,
        grant: optional(wasm_path.with_extension("grant.toml"))?,
    })
}
