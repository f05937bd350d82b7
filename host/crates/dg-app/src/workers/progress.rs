//! Publishes a running execution's progress (bytes moved): an
//! `execution_progress` event every second (bytes, rate, ETA when the
//! total is known) and the row's `progress_bytes` every two seconds when
//! it moved, so API clients see it move.

use crate::observe::events;
use dg_plugin_host::Activity;
use dg_store::rows::Execution;
use dg_store::{executions, Db};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

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

/// Starts publishing for `execution`; `total` is the byte count expected
/// when known (restores: the backup's size), for the ETA.
pub fn publish(
    db: Db,
    execution: &Execution,
    activity: Arc<Activity>,
    total: Option<u64>,
) -> Publisher {
    let id = execution.id.clone();
    let base = json!({
        "execution_id": execution.id,
        "operation": execution.operation,
        "job_id": execution.job_id,
        "datasource_id": execution.datasource_id,
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
            let figures = Figures::new(bytes, previous, started, now, total);
            previous = (bytes, now);
            let mut data = base.clone();
            if let Some(map) = data.as_object_mut() {
                map.extend(figures.to_json());
                if let Some(phase) = activity.phase() {
                    map.insert("phase".into(), json!(phase));
                }
            }
            gate.publish(data);
            if tick.is_multiple_of(ROW_EVERY) && bytes != last_written {
                last_written = bytes;
                if let Err(e) = executions::set_progress(&db, &id, bytes as i64).await {
                    tracing::warn!(execution = %id, "publishing progress: {e}");
                }
            }
        }
    }))
}

/// Rates and ETA of one progress event.
#[derive(Debug, PartialEq)]
struct Figures {
    bytes: u64,
    /// Over the last interval.
    bytes_per_second: f64,
    /// Since the start.
    average_bytes_per_second: f64,
    elapsed_seconds: f64,
    total_bytes: Option<u64>,
    percent: Option<f64>,
    eta_seconds: Option<f64>,
}

impl Figures {
    fn new(
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
            bytes_per_second: rate(bytes.saturating_sub(prev_bytes), window).round(),
            average_bytes_per_second: average.round(),
            elapsed_seconds: (elapsed * 10.0).round() / 10.0,
            total_bytes: total,
            percent: total.map(|t| (bytes as f64 / t as f64 * 1000.0).round() / 10.0),
            eta_seconds: eta,
        }
    }

    fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let v = json!({
            "bytes": self.bytes,
            "bytes_per_second": self.bytes_per_second,
            "average_bytes_per_second": self.average_bytes_per_second,
            "elapsed_seconds": self.elapsed_seconds,
            "total_bytes": self.total_bytes,
            "percent": self.percent,
            "eta_seconds": self.eta_seconds,
        });
        match v {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta() {
        let t0 = Instant::now();
        let f = Figures::new(
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
        let f = Figures::new(4000, (0, t0), t0, t0 + Duration::from_secs(1), None);
        assert_eq!((f.total_bytes, f.eta_seconds), (None, None));
        let f = Figures::new(4000, (0, t0), t0, t0 + Duration::from_secs(1), Some(10));
        assert_eq!((f.total_bytes, f.eta_seconds), (None, None));
    }
}
