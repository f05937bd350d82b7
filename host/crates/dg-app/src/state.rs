//! What every handler and worker shares.

use crate::queue::WorkQueue;
use dg_plugin_host::{Activity, Plugins};
use dg_store::Db;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Tunables of a running server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// Period of the scheduler tick.
    pub scheduler_tick: Duration,
    /// Period of the health worker.
    pub health_interval: Duration,
    /// Backups running at once on this node.
    pub backup_concurrency: usize,
    pub restore_concurrency: usize,
    /// Cron (UTC) of the daily cleanup.
    pub cleanup_cron: String,
    /// A running item whose heartbeat is older than this is orphaned.
    pub stale_after: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// On SIGTERM, how long running backups and restores may finish
    /// before they are cancelled.
    pub shutdown_grace: Duration,
    /// Host names and origins the API answers to.
    pub origin: crate::origin::OriginPolicy,
    /// Roots no user path may be inside (`--denied-roots`).
    pub denied_roots: Vec<PathBuf>,
    /// When set, user paths must be inside one of these (`--allowed-roots`).
    pub allowed_roots: Option<Vec<PathBuf>>,
    /// Non-public destinations outbound connections may reach
    /// (`--allow-egress`).
    pub allow_egress: Vec<dg_plugin_host::egress::EgressRule>,
    /// The server's files and directories outside the data dir (master key
    /// file, plugin cache): no user path may overlap them.
    pub private_paths: Vec<PathBuf>,
    /// System monitor period and samples kept (seed 001).
    pub monitor_interval: Duration,
    pub monitor_history: usize,
    /// First wait before a run that failed temporarily is retried
    /// (`--retry-secs`); doubled for each further attempt.
    pub retry_base: Duration,
    /// First wait before a failed notification delivery is retried;
    /// doubled for each further attempt.
    pub notification_retry_base: Duration,
    /// How long a claim on a delivery holds (`--delivery-lease-secs`): a
    /// sender that died is replaced after it.
    pub delivery_lease: Duration,
    /// When sessions end (`--session-idle-secs`, `--session-max-secs`).
    pub sessions: crate::auth::SessionPolicy,
    /// Single sign-on, when configured.
    pub oidc: Option<crate::oidc::OidcConfig>,
    /// Base of links in notifications (`--public-url`).
    pub public_url: Option<String>,
    /// Spool of parallel restores (`--restore-spool-dir`, `-max-mb`).
    pub restore_spool: dg_pipeline::SpoolPolicy,
    /// Where installed plugins live, the default registry and the
    /// publisher keys installs must be signed with.
    pub plugin_sources: crate::usecases::plugins::PluginSources,
}

/// An execution running on this node: its progress and how to stop it.
#[derive(Clone)]
pub struct RunningExecution {
    pub cancel: CancellationToken,
    /// Why it was cancelled, when not by a user's request.
    pub cancel_reason: Arc<std::sync::OnceLock<String>>,
    pub activity: Arc<Activity>,
    pub started: Instant,
    /// The progress last published (every second): what the API's detail
    /// shows is exactly what the event stream said.
    pub progress: Arc<Mutex<Option<crate::workers::progress::Progress>>>,
    /// Bytes the run is expected to move, 0 while unknown: a restore or
    /// copy knows it from the backup; a backup learns an estimate (the
    /// database's size) from its connection test.
    pub expected_bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl RunningExecution {
    /// The progress last published, if a second has passed.
    pub fn latest_progress(&self) -> Option<crate::workers::progress::Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Cancels with a reason recorded on the execution.
    pub fn cancel_because(&self, reason: &str) {
        let _ = self.cancel_reason.set(reason.to_string());
        self.cancel.cancel();
    }

    /// The message a cancelled execution ends with.
    pub fn cancel_message(&self) -> String {
        self.cancel_reason
            .get()
            .cloned()
            .unwrap_or_else(|| "cancelled by request".into())
    }
}

/// Executions running on this node, by id, and whether the node is
/// draining (shutting down: no new work is taken).
#[derive(Default)]
pub struct Running {
    map: Mutex<HashMap<String, RunningExecution>>,
    draining: std::sync::atomic::AtomicBool,
    changed: tokio::sync::Notify,
}

impl Running {
    pub fn insert(&self, id: &str) -> RunningExecution {
        let run = RunningExecution {
            cancel: CancellationToken::new(),
            cancel_reason: Arc::default(),
            activity: Arc::default(),
            started: Instant::now(),
            progress: Arc::default(),
            expected_bytes: Arc::default(),
        };
        self.lock().insert(id.to_string(), run.clone());
        run
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
        self.changed.notify_waiters();
    }

    /// Stops taking work; running executions go on.
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until nothing runs, at most `limit`; true if nothing runs.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.count() == 0;
            }
        }
    }

    /// Cancels everything running, with `reason`.
    pub fn cancel_all(&self, reason: &str) {
        for run in self.lock().values() {
            run.cancel_because(reason);
        }
    }

    pub fn get(&self, id: &str) -> Option<RunningExecution> {
        self.lock().get(id).cloned()
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunningExecution>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single insert/remove), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub plugins: Arc<Plugins>,
    pub queue: Arc<dyn WorkQueue>,
    pub config: Arc<ServerConfig>,
    /// Where user-given paths may point; resolved once the data dir exists.
    pub paths: Arc<crate::paths::PathPolicy>,
    pub running: Arc<Running>,
    /// Identifies this process in queue claims and leases.
    pub node_id: Arc<str>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Machine, process and runtime samples (`performance` in the dashboard).
    pub monitor: Arc<crate::observe::monitor::Monitor>,
    /// Sign-in throttle and the first-run setup token.
    pub access: Arc<crate::auth::AccessState>,
    /// The OpenID Connect relying party, when single sign-on is on.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}
