//! Publishes a running execution's progress (bytes moved): an
//! `execution_progress` event every second (bytes, rate, ETA when the
//! total is known) and the row's `progress_bytes` every two seconds when
//! it moved, so API clients see it move.

use crate::observe::events;
use crate::state::RunningExecution;
use dg_plugin_host::Phase;
use dg_store::rows::Execution;
use dg_store::{executions, Db};
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use utoipa::ToSchema;

const EVERY: Duration = Duration::from_secs(1);
/// The row is written every this many events.
const ROW_EVERY: u32 = 2;

/// Stops publishing when dropped.
pub struct Publisher(JoinHandle<()>);

impl Drop for Publisher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts publishing for `execution`. The byte count expected, for the
/// percent and ETA, is read from `run.expected_bytes` at every tick (a
/// backup learns it after it started). Events carry the job's and
/// datasource's names beside their ids.
pub fn publish(
    db: Db,
    execution: &Execution,
    names: &dg_store::names::Names,
    run: &RunningExecution,
) -> Publisher {
    let activity = run.activity.clone();
    let expected = run.expected_bytes.clone();
    let latest = run.progress.clone();
    let id = execution.id.clone();
    let base = json!({
        "execution_id": execution.id,
        "operation": execution.operation,
        "job_id": execution.job_id,
        "datasource_id": execution.datasource_id,
        "job_name": names.job(execution.job_id.as_deref()),
        "datasource_name": names.datasource(execution.datasource_id.as_deref()),
        "status": dg_core::domain::ExecutionStatus::Running,
    });
    let gate = events::ProgressGate::open(&execution.id);
    Publisher(tokio::spawn(async move {
        let started = Instant::now();
        let mut last_written = 0;
        let mut previous = (0u64, started);
        let mut tick = 0u32;
        loop {
            tokio::time::sleep(EVERY).await;
            tick = tick.wrapping_add(1);
            let now = Instant::now();
            let bytes = activity.bytes();
            let total = match expected.load(std::sync::atomic::Ordering::Relaxed) {
                0 => None,
                n => Some(n),
            };
            let progress =
                Progress::measure(bytes, previous, started, now, total).in_phase(activity.phase());
            previous = (bytes, now);
            let mut data = base.clone();
            if let (Some(map), Ok(serde_json::Value::Object(figures))) =
                (data.as_object_mut(), serde_json::to_value(&progress))
            {
                map.extend(figures);
            }
            gate.publish(data);
            *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(progress);
            if tick.is_multiple_of(ROW_EVERY) && bytes != last_written {
                last_written = bytes;
                if let Err(e) = executions::set_progress(&db, &id, bytes as i64).await {
                    tracing::warn!(execution = %id, "publishing progress: {e}");
                }
            }
        }
    }))
}

/// How far a running execution is: one shape for the `execution_progress`
/// event and the execution's detail (`progress`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Progress {
    /// Bytes moved so far: read from the engine (backups), fed to it
    /// (restores), copied (copies).
    pub bytes: u64,
    /// Bytes expected, when known (restores and copies: the backup's
    /// size).
    pub total_bytes: Option<u64>,
    /// `bytes` of `total_bytes`, 0-100, one decimal.
    pub percent: Option<f64>,
    /// Over the last second.
    pub bytes_per_second: f64,
    /// Since the start.
    pub average_bytes_per_second: f64,
    pub elapsed_seconds: f64,
    /// At the average rate, when the total is known.
    pub eta_seconds: Option<f64>,
    /// Restores: `stream` (single stream), `spool` then `load` (parallel).
    pub phase: Option<Phase>,
}

impl Progress {
    /// The figures at `now`, given the bytes and time of the previous
    /// measure.
    pub fn measure(
        bytes: u64,
        (prev_bytes, prev_at): (u64, Instant),
        started: Instant,
        now: Instant,
        total: Option<u64>,
    ) -> Self {
        let window = now.duration_since(prev_at).as_secs_f64();
        let elapsed = now.duration_since(started).as_secs_f64();
        let rate = |b: u64, secs: f64| if secs > 0.0 { b as f64 / secs } else { 0.0 };
        let average = rate(bytes, elapsed);
        // Only a total the bytes have not passed gives a meaningful ETA.
        let total = total.filter(|t| *t > 0 && *t >= bytes);
        let eta = total
            .filter(|_| average > 0.0)
            .map(|t| ((t - bytes) as f64 / average).round());
        Self {
            bytes,
            total_bytes: total,
            percent: total.map(|t| (bytes as f64 / t as f64 * 1000.0).round() / 10.0),
            bytes_per_second: rate(bytes.saturating_sub(prev_bytes), window).round(),
            average_bytes_per_second: average.round(),
            elapsed_seconds: (elapsed * 10.0).round() / 10.0,
            eta_seconds: eta,
            phase: None,
        }
    }

    pub fn in_phase(self, phase: Option<Phase>) -> Self {
        Self { phase, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta() {
        let t0 = Instant::now();
        let f = Progress::measure(
            4000,
            (3000, t0 + Duration::from_secs(3)),
            t0,
            t0 + Duration::from_secs(4),
            Some(10_000),
        );
        assert_eq!(f.bytes_per_second, 1000.0);
        assert_eq!(f.average_bytes_per_second, 1000.0);
        assert_eq!(f.percent, Some(40.0));
        assert_eq!(f.eta_seconds, Some(6.0));
        // Unknown total, or one already passed: no ETA.
        let f = Progress::measure(4000, (0, t0), t0, t0 + Duration::from_secs(1), None);
        assert_eq!((f.total_bytes, f.eta_seconds), (None, None));
        let f = Progress::measure(4000, (0, t0), t0, t0 + Duration::from_secs(1), Some(10));
        assert_eq!((f.total_bytes, f.eta_seconds), (None, None));
    }
}
