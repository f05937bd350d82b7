//! Prometheus metrics, served at `GET /metrics` in the text exposition
//! format (0.0.4). Every series is prefixed `dataguardian_`; counters end
//! in `_total`. Three kinds of figures:
//!
//! - events, recorded where they happen: an execution ending (once, in
//!   `workers/runner.rs`), a plugin call returning (`plugin/client.rs`),
//!   an HTTP request answered (`observe/http.rs`);
//! - state read from the metadata store at scrape time (queue depth, last
//!   successful backup per job, datasource and storage health), so every
//!   node reports the same truth and deleted objects disappear;
//! - the system monitor's latest sample.
//!
//! Nothing is recorded per block on the byte path: an execution's bytes
//! are observed once, when it ends.

use super::monitor::Sample;
use dg_core::domain::{WorkKind, WorkStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;
use std::time::Duration;

/// The `Content-Type` of what [`Metrics::encode`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type FloatGauge = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExecutionLabels {
    pub operation: String,
    pub status: String,
    /// The datasource type (`postgres`, `sqlite`...).
    pub engine: String,
    pub storage_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    operation: String,
    status: String,
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    operation: String,
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    export: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    kind: String,
    status: String,
}

/// `backup_job`, not `job`: Prometheus sets `job` on every scraped series
/// (the scrape job), so a series label of that name would be renamed
/// `exported_job` and rules written against it would never match.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job_id: String,
    backup_job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatasourceLabels {
    datasource_id: String,
    datasource: String,
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    storage_id: String,
    storage: String,
    storage_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadLabels {
    period: String,
}

/// How an execution ended, as the metrics see it.
#[derive(Debug, Clone)]
pub struct ExecutionEnd {
    pub labels: ExecutionLabels,
    pub duration: Option<Duration>,
    /// Backups: bytes stored (compressed); restores: bytes fed to the
    /// engine. Observed for completed executions only.
    pub bytes: Option<u64>,
}

/// What the store says at scrape time.
#[derive(Debug, Default)]
pub struct StoreState {
    /// (kind, status, count) of work items queued or running.
    pub queue: Vec<(String, String, i64)>,
    /// (job id, job name, unix seconds of its newest completed backup).
    pub last_success: Vec<(String, String, f64)>,
    /// (id, name, type, up) of datasources checked at least once.
    pub datasources: Vec<(String, String, String, bool)>,
    /// (id, name, type, up, available bytes) of storages checked at least once.
    pub storages: Vec<(String, String, String, bool, Option<f64>)>,
    pub executions_running_here: usize,
    pub event_subscribers: usize,
}

/// The process-wide metrics.
pub struct Metrics {
    registry: Registry,
    executions: Family<ExecutionLabels, Counter>,
    execution_duration: Histograms<DurationLabels>,
    execution_bytes: Histograms<BytesLabels>,
    plugin_duration: Histograms<PluginLabels>,
    plugin_failures: Family<PluginLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    queue_depth: Family<QueueLabels, Gauge>,
    last_success: Family<JobLabels, FloatGauge>,
    datasource_up: Family<DatasourceLabels, Gauge>,
    storage_up: Family<StorageLabels, Gauge>,
    storage_available: Family<StorageLabels, FloatGauge>,
    executions_running: Gauge,
    event_subscribers: Gauge,
    cpu_percent: FloatGauge,
    process_cpu_percent: FloatGauge,
    memory_total: Gauge,
    memory_used: Gauge,
    process_rss: Gauge,
    load: Family<LoadLabels, FloatGauge>,
    runtime_workers: Gauge,
    runtime_alive_tasks: Gauge,
    runtime_queue_depth: Gauge,
    runtime_busy_ratio: FloatGauge,
    /// Serialises scrapes: a refresh clears and refills the store-derived
    /// families, which a concurrent encode must not see half done.
    scrape: tokio::sync::Mutex<()>,
}

fn duration_buckets() -> Histogram {
    Histogram::new([
        1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0,
    ])
}

fn bytes_buckets() -> Histogram {
    // 1 KiB to 1 TiB, ×4 each step.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        1024.0, 4.0, 16,
    ))
}

fn call_buckets() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
        3600.0,
    ])
}

fn http_buckets() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The metrics of this process.
pub fn get() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Reports the plugin runtime's export calls to these metrics; installed
/// with `PluginRuntime::observe_calls` where the plugins are loaded.
pub struct PluginCalls;

impl dg_plugin_host::CallObserver for PluginCalls {
    fn plugin_call(&self, plugin: &str, export: &str, took: std::time::Duration, ok: bool) {
        get().plugin_call(plugin, export, took, ok);
    }
}

impl Metrics {
    fn new() -> Self {
        let m = Metrics {
            registry: Registry::with_prefix("dataguardian"),
            executions: Family::default(),
            execution_duration: Family::new_with_constructor(duration_buckets),
            execution_bytes: Family::new_with_constructor(bytes_buckets),
            plugin_duration: Family::new_with_constructor(call_buckets),
            plugin_failures: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_buckets),
            queue_depth: Family::default(),
            last_success: Family::default(),
            datasource_up: Family::default(),
            storage_up: Family::default(),
            storage_available: Family::default(),
            executions_running: Gauge::default(),
            event_subscribers: Gauge::default(),
            cpu_percent: FloatGauge::default(),
            process_cpu_percent: FloatGauge::default(),
            memory_total: Gauge::default(),
            memory_used: Gauge::default(),
            process_rss: Gauge::default(),
            load: Family::default(),
            runtime_workers: Gauge::default(),
            runtime_alive_tasks: Gauge::default(),
            runtime_queue_depth: Gauge::default(),
            runtime_busy_ratio: FloatGauge::default(),
            scrape: tokio::sync::Mutex::new(()),
        };
        m.register()
    }

    fn register(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "executions",
            "Executions ended on this node, by operation, final status, engine and storage type",
            self.executions.clone(),
        );
        r.register(
            "execution_duration_seconds",
            "Wall-clock duration of ended executions",
            self.execution_duration.clone(),
        );
        r.register(
            "execution_bytes",
            "Bytes of completed executions (backups: stored, compressed; restores: fed to the engine)",
            self.execution_bytes.clone(),
        );
        r.register(
            "plugin_call_duration_seconds",
            "Duration of plugin calls by plugin and export",
            self.plugin_duration.clone(),
        );
        r.register(
            "plugin_call_failures",
            "Plugin calls that returned an error or trapped",
            self.plugin_failures.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            self.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to the response head, by method and matched route",
            self.http_duration.clone(),
        );
        r.register(
            "queue_depth",
            "Work items queued or running, by kind (all nodes)",
            self.queue_depth.clone(),
        );
        r.register(
            "last_successful_backup_timestamp_seconds",
            "Unix time of each job's newest completed backup",
            self.last_success.clone(),
        );
        r.register(
            "datasource_up",
            "1 when the datasource's last health check passed, 0 when it failed",
            self.datasource_up.clone(),
        );
        r.register(
            "storage_up",
            "1 when the storage's last health check passed, 0 when it failed",
            self.storage_up.clone(),
        );
        r.register(
            "storage_available_bytes",
            "Free space the storage's last health check reported",
            self.storage_available.clone(),
        );
        r.register(
            "executions_running",
            "Executions running on this node now",
            self.executions_running.clone(),
        );
        r.register(
            "event_subscribers",
            "Clients connected to GET /api/events on this node",
            self.event_subscribers.clone(),
        );
        r.register(
            "system_cpu_percent",
            "Machine CPU use over the last monitor interval",
            self.cpu_percent.clone(),
        );
        r.register(
            "process_cpu_percent",
            "This process's CPU use over the last monitor interval (100 = one core)",
            self.process_cpu_percent.clone(),
        );
        r.register(
            "system_memory_total_bytes",
            "Machine memory",
            self.memory_total.clone(),
        );
        r.register(
            "system_memory_used_bytes",
            "Machine memory in use (total minus available)",
            self.memory_used.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident set size of this process",
            self.process_rss.clone(),
        );
        r.register(
            "system_load_average",
            "Load average over 1, 5 and 15 minutes",
            self.load.clone(),
        );
        r.register(
            "runtime_workers",
            "Worker threads of the async runtime",
            self.runtime_workers.clone(),
        );
        r.register(
            "runtime_alive_tasks",
            "Tasks alive on the async runtime",
            self.runtime_alive_tasks.clone(),
        );
        r.register(
            "runtime_global_queue_depth",
            "Tasks waiting in the runtime's global queue",
            self.runtime_queue_depth.clone(),
        );
        r.register(
            "runtime_busy_ratio",
            "Share of the workers' time spent busy over the last monitor interval (0-1)",
            self.runtime_busy_ratio.clone(),
        );
        self
    }

    /// Records an ended execution: counted once, its duration and (when
    /// completed) its bytes observed.
    pub fn execution_ended(&self, end: &ExecutionEnd) {
        let l = &end.labels;
        self.executions.get_or_create(l).inc();
        if let Some(d) = end.duration {
            self.execution_duration
                .get_or_create(&DurationLabels {
                    operation: l.operation.clone(),
                    status: l.status.clone(),
                    engine: l.engine.clone(),
                })
                .observe(d.as_secs_f64());
        }
        if let (Some(bytes), true) = (
            end.bytes,
            l.status == dg_core::domain::ExecutionStatus::Completed.as_str(),
        ) {
            self.execution_bytes
                .get_or_create(&BytesLabels {
                    operation: l.operation.clone(),
                    engine: l.engine.clone(),
                })
                .observe(bytes as f64);
        }
    }

    /// Records one plugin call.
    pub fn plugin_call(&self, plugin: &str, export: &str, took: Duration, ok: bool) {
        let labels = PluginLabels {
            plugin: plugin.to_string(),
            export: export.to_string(),
        };
        self.plugin_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        if !ok {
            self.plugin_failures.get_or_create(&labels).inc();
        }
    }

    /// Records one HTTP request; `route` is the matched path template.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Copies the monitor's latest sample into the system gauges.
    pub fn system_sample(&self, s: &Sample) {
        if let Some(v) = s.cpu_percent {
            self.cpu_percent.set(v);
        }
        if let Some(v) = s.process_cpu_percent {
            self.process_cpu_percent.set(v);
        }
        if let Some(v) = s.memory_total_bytes {
            self.memory_total.set(clamp(v));
        }
        if let Some(v) = s.memory_used_bytes {
            self.memory_used.set(clamp(v));
        }
        if let Some(v) = s.process_rss_bytes {
            self.process_rss.set(clamp(v));
        }
        if let Some(load) = &s.load_average {
            for (period, v) in [("1m", load[0]), ("5m", load[1]), ("15m", load[2])] {
                self.load
                    .get_or_create(&LoadLabels {
                        period: period.into(),
                    })
                    .set(v);
            }
        }
        let rt = &s.runtime;
        self.runtime_workers.set(clamp(rt.workers as u64));
        self.runtime_alive_tasks.set(clamp(rt.alive_tasks as u64));
        self.runtime_queue_depth
            .set(clamp(rt.global_queue_depth as u64));
        if let Some(b) = rt.busy_ratio {
            self.runtime_busy_ratio.set(b);
        }
    }

    /// Replaces the store-derived families with `state` and encodes every
    /// metric, one scrape at a time.
    pub async fn scrape(&self, state: StoreState) -> Result<String, std::fmt::Error> {
        let _one = self.scrape.lock().await;
        self.queue_depth.clear();
        // Every kind and state is reported, at 0 when empty: an alert on
        // `dataguardian_queue_depth > N` needs the series to exist.
        for kind in WorkKind::ALL {
            for status in [WorkStatus::Queued, WorkStatus::Running] {
                self.queue_depth
                    .get_or_create(&QueueLabels {
                        kind: kind.as_str().to_string(),
                        status: status.as_str().to_string(),
                    })
                    .set(0);
            }
        }
        for (kind, status, n) in state.queue {
            self.queue_depth
                .get_or_create(&QueueLabels { kind, status })
                .set(n);
        }
        self.last_success.clear();
        for (job_id, job, at) in state.last_success {
            self.last_success
                .get_or_create(&JobLabels {
                    job_id,
                    backup_job: job,
                })
                .set(at);
        }
        self.datasource_up.clear();
        for (datasource_id, datasource, engine, up) in state.datasources {
            self.datasource_up
                .get_or_create(&DatasourceLabels {
                    datasource_id,
                    datasource,
                    engine,
                })
                .set(i64::from(up));
        }
        self.storage_up.clear();
        self.storage_available.clear();
        for (storage_id, storage, storage_type, up, free) in state.storages {
            let labels = StorageLabels {
                storage_id,
                storage,
                storage_type,
            };
            self.storage_up.get_or_create(&labels).set(i64::from(up));
            if let Some(free) = free {
                self.storage_available.get_or_create(&labels).set(free);
            }
        }
        self.executions_running
            .set(clamp(state.executions_running_here as u64));
        self.event_subscribers
            .set(clamp(state.event_subscribers as u64));
        self.encode()
    }

    /// The exposition text of every metric as they are now.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(status: dg_core::domain::ExecutionStatus) -> ExecutionLabels {
        ExecutionLabels {
            operation: dg_core::domain::Operation::Backup.to_string(),
            status: status.to_string(),
            engine: "postgres".into(),
            storage_type: "local".into(),
        }
    }

    #[tokio::test]
    async fn series_are_prefixed_and_counters_end_in_total() {
        let m = Metrics::new();
        m.execution_ended(&ExecutionEnd {
            labels: labels(dg_core::domain::ExecutionStatus::Completed),
            duration: Some(Duration::from_secs(3)),
            bytes: Some(5000),
        });
        m.execution_ended(&ExecutionEnd {
            labels: labels(dg_core::domain::ExecutionStatus::Failed),
            duration: Some(Duration::from_secs(1)),
            bytes: Some(10),
        });
        m.plugin_call(
            "engine-postgres",
            "backup",
            Duration::from_millis(20),
            false,
        );
        let state = StoreState {
            last_success: vec![("j1".into(), "say \"hi\"\n".into(), 1.7e9)],
            ..StoreState::default()
        };
        let text = m.scrape(state).await.unwrap();
        assert!(text.contains(
            "dataguardian_executions_total{operation=\"backup\",status=\"completed\",engine=\"postgres\",storage_type=\"local\"} 1"
        ), "{text}");
        // Bytes only for the completed one.
        assert!(
            text.contains(
                "dataguardian_execution_bytes_count{operation=\"backup\",engine=\"postgres\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("dataguardian_plugin_call_failures_total{plugin=\"engine-postgres\",export=\"backup\"} 1"), "{text}");
        // Label values are escaped.
        assert!(text.contains("backup_job=\"say \\\"hi\\\"\\n\""), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("dataguardian_"), "{line}");
        }
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            if line.ends_with(" counter") {
                let name = line.split(' ').nth(2).unwrap();
                assert!(name.ends_with("_total"), "{line}");
            }
        }
    }

    #[tokio::test]
    async fn store_families_are_replaced_at_each_scrape() {
        let m = Metrics::new();
        let first = StoreState {
            queue: vec![(
                dg_core::domain::WorkKind::Backup.to_string(),
                dg_core::domain::WorkStatus::Queued.to_string(),
                2,
            )],
            ..StoreState::default()
        };
        let text = m.scrape(first).await.unwrap();
        assert!(text.contains("dataguardian_queue_depth{kind=\"backup\",status=\"queued\"} 2"));
        // An empty queue is reported at 0, not dropped: alerts need the series.
        let text = m.scrape(StoreState::default()).await.unwrap();
        assert!(
            text.contains("dataguardian_queue_depth{kind=\"backup\",status=\"queued\"} 0"),
            "{text}"
        );
        assert!(!text.contains("} 2"), "{text}");
    }
}
