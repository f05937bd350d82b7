//! Background work: scheduler, backup and restore consumers, health,
//! cleanup, and recovery of work a dead process left behind.

pub mod backup;
pub mod cleanup;
pub mod copy;
pub mod deliveries;
pub mod health;
pub mod logger;
pub mod nodes;
pub mod options;
pub mod progress;
pub mod recovery;
pub mod restore;
pub mod runner;
pub mod scheduler;

use crate::state::AppState;
use dg_core::domain::WorkKind;
use dg_core::schedule::Schedule;
use std::time::Duration;

/// Starts every worker on the runtime.
pub fn spawn_all(state: &AppState) {
    tokio::spawn(scheduler::run(state.clone()));
    tokio::spawn(nodes::run(state.clone()));
    let s = state.clone();
    let n = s.config.backup_concurrency;
    tokio::spawn(runner::consume(s, WorkKind::Backup, n, backup::handle));
    let s = state.clone();
    let n = s.config.restore_concurrency;
    tokio::spawn(runner::consume(s, WorkKind::Restore, n, restore::handle));
    tokio::spawn(health_loop(state.clone()));
    tokio::spawn(cleanup_loop(state.clone()));
    tokio::spawn(sweep_loop(state.clone()));
    tokio::spawn(deliveries::run(state.clone(), std::sync::Arc::default()));
}

/// Statuses persist across restarts: at start only what was never checked
/// is checked; the first full pass waits one interval like every other (a
/// restart loop cannot hammer the databases).
async fn health_loop(state: AppState) {
    if let Err(e) = health::run_unchecked(&state).await {
        tracing::error!("health worker: {e}");
    }
    loop {
        tokio::time::sleep(state.config.health_interval).await;
        if let Err(e) = health::run_once(&state).await {
            tracing::error!("health worker: {e}");
        }
    }
}

async fn cleanup_loop(state: AppState) {
    let schedule = match Schedule::parse(&state.config.cleanup_cron, "UTC") {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cleanup worker disabled: {e}");
            return;
        }
    };
    loop {
        let now = dg_store::now();
        let Some(next) = schedule.next_after(now) else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(60));
        tokio::time::sleep(wait).await;
        match cleanup::run_all(&state).await {
            Ok(reports) => {
                let deleted: usize = reports.iter().map(|r| r.deleted.len()).sum();
                tracing::info!("daily cleanup: {deleted} backup(s) deleted");
            }
            Err(e) => tracing::error!("daily cleanup: {e}"),
        }
    }
}

/// Fails work whose node stopped beating (another node died mid-run).
async fn sweep_loop(state: AppState) {
    loop {
        tokio::time::sleep(state.config.stale_after / 2).await;
        let stale = dg_store::now()
            - chrono::Duration::from_std(state.config.stale_after)
                .unwrap_or_else(|_| chrono::Duration::minutes(2));
        let n = recovery::recover(&state, false, stale).await;
        if n > 0 {
            tracing::warn!("{n} orphaned execution(s) marked failed");
        }
    }
}
