//! What every handler and worker shares.

use crate::plugin::{Activity, Plugins};
use crate::queue::WorkQueue;
use crate::store::Db;
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
    /// Host names and origins the API answers to.
    pub origin: crate::api::guard::OriginPolicy,
    /// Roots no user path may be inside (`--denied-roots`).
    pub denied_roots: Vec<PathBuf>,
    /// When set, user paths must be inside one of these (`--allowed-roots`).
    pub allowed_roots: Option<Vec<PathBuf>>,
    /// The server's files and directories outside the data dir (master key
    /// file, plugin cache): no user path may overlap them.
    pub private_paths: Vec<PathBuf>,
}

/// An execution running on this node: its progress and how to stop it.
#[derive(Clone)]
pub struct RunningExecution {
    pub cancel: CancellationToken,
    pub activity: Arc<Activity>,
    pub started: Instant,
}

/// Executions running on this node, by id.
#[derive(Default)]
pub struct Running {
    map: Mutex<HashMap<String, RunningExecution>>,
}

impl Running {
    pub fn insert(&self, id: &str) -> RunningExecution {
        let run = RunningExecution {
            cancel: CancellationToken::new(),
            activity: Arc::default(),
            started: Instant::now(),
        };
        self.lock().insert(id.to_string(), run.clone());
        run
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
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
    pub paths: Arc<crate::server::paths::PathPolicy>,
    pub running: Arc<Running>,
    /// Identifies this process in queue claims and leases.
    pub node_id: Arc<str>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}
