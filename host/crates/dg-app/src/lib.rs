//! The application layer of the DataGuardian host: the work queue, the
//! workers that run backups, restores, health checks and deliveries,
//! notifications, observability (metrics, monitor, live events) and the
//! server state the API works on. It wires the layers below together: it
//! installs its event bus as the store's event sink and its metrics as the
//! plugin runtime's call observer. Nothing here knows about HTTP routes or
//! the command line (see docs/ARCHITECTURE.md).

pub mod auth;
pub mod notify;
pub mod observe;
pub mod oidc;
pub mod origin;
pub mod paths;
pub mod queue;
pub mod state;
pub mod targets;
pub mod usecases;
pub mod workers;

/// This machine's name (`/etc/hostname`), `node` when it has none: part of
/// the node id and of the monitor's samples.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "node".into())
}
