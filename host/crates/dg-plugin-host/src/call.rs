//! State shared between a running plugin call, its host imports, its
//! streams and the watchdog that decides whether it is still alive.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a plugin (or a program it spawned) logged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogRecord {
    pub plugin: String,
    pub level: LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// Where a call's log lines go (tracing, the execution log...).
pub type LogSink = Arc<dyn Fn(&LogRecord) + Send + Sync>;

/// A sink that forwards plugin logs to `tracing`.
pub fn tracing_sink() -> LogSink {
    Arc::new(|r: &LogRecord| {
        let fields = r
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        match r.level {
            LogLevel::Trace | LogLevel::Debug => {
                tracing::debug!(plugin = %r.plugin, %fields, "{}", r.message)
            }
            LogLevel::Info => tracing::info!(plugin = %r.plugin, %fields, "{}", r.message),
            LogLevel::Warn => tracing::warn!(plugin = %r.plugin, %fields, "{}", r.message),
            LogLevel::Error => tracing::error!(plugin = %r.plugin, %fields, "{}", r.message),
        }
    })
}

/// Progress and liveness of a call. Every byte that crosses a host stream
/// touches it, so the watchdog can tell a slow call from a stuck one.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    bytes: AtomicU64,
    input_done: AtomicBool,
    phase: Mutex<Option<Phase>>,
}

/// What a long run is doing now, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the stored copy, checking checksums, feeding the engine.
    Stream,
    /// Reading and checking the stored copy into a local spool file.
    Spool,
    /// The engine loads from the spool file on its own (data, then
    /// indexes and constraints); no bytes pass the host meanwhile.
    Load,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            input_done: AtomicBool::new(false),
            phase: Mutex::new(None),
        }
    }
}

impl Activity {
    pub fn set_phase(&self, phase: Phase) {
        if let Ok(mut p) = self.phase.lock() {
            *p = Some(phase);
        }
        self.touch();
    }

    pub fn phase(&self) -> Option<Phase> {
        self.phase.lock().ok().and_then(|p| *p)
    }

    pub fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.touch();
    }

    /// A plugin's own progress report counts as a sign of life; the bytes
    /// the host sees are the figure that is published.
    pub fn report(&self) {
        self.touch();
    }

    /// Bytes moved through host streams so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The call has read all of its input. What remains (a database
    /// building indexes after the last byte, say) can be long and silent,
    /// so the no-progress watchdog stands down; the timeout still applies.
    pub fn mark_input_done(&self) {
        self.input_done.store(true, Ordering::Relaxed);
        self.touch();
    }

    pub fn input_done(&self) -> bool {
        self.input_done.load(Ordering::Relaxed)
    }

    /// Milliseconds since anything moved.
    pub fn idle_ms(&self) -> u64 {
        let now = self.started.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Shared state of one call.
pub struct CallShared {
    pub plugin: String,
    pub operation: String,
    pub log: LogSink,
    pub activity: Arc<Activity>,
    pub cancelled: AtomicBool,
    /// Capability denials, kept so the call's error can name them even if
    /// the plugin swallowed the error it got.
    pub denials: Mutex<Vec<String>>,
}

impl CallShared {
    pub fn new(plugin: &str, operation: &str, log: LogSink, activity: Arc<Activity>) -> Self {
        Self {
            plugin: plugin.to_string(),
            operation: operation.to_string(),
            log,
            activity,
            cancelled: AtomicBool::new(false),
            denials: Mutex::new(Vec::new()),
        }
    }

    pub fn log(&self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        (self.log)(&LogRecord {
            plugin: self.plugin.clone(),
            level,
            message,
            fields,
        });
    }

    /// Records a sandbox denial (the call's error names the first). A
    /// plugin looping on denied requests is logged and kept a few times,
    /// each cut short, never without bound.
    pub fn deny(&self, what: String) {
        const KEPT: usize = 16;
        const LONGEST: usize = 300;
        let what = match what.char_indices().nth(LONGEST) {
            Some((cut, _)) => format!("{}…", &what[..cut]),
            None => what,
        };
        let Ok(mut d) = self.denials.lock() else {
            return;
        };
        if d.len() < KEPT {
            self.log(LogLevel::Warn, format!("denied: {what}"), Vec::new());
            d.push(what);
        }
    }

    pub fn denials(&self) -> Vec<String> {
        self.denials.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// A plugin's log level as the execution log keeps it. Lives here rather
/// than in dg-core, which knows nothing of the plugin contract.
impl From<LogLevel> for dg_core::domain::LogLevel {
    fn from(l: LogLevel) -> Self {
        use dg_core::domain::LogLevel as Kept;
        match l {
            LogLevel::Trace | LogLevel::Debug => Kept::Debug,
            LogLevel::Info => Kept::Info,
            LogLevel::Warn => Kept::Warn,
            LogLevel::Error => Kept::Error,
        }
    }
}

/// Told of each export call a client makes: which plugin, which export,
/// how long it took and whether it succeeded. The application installs
/// one with [`crate::PluginRuntime::observe_calls`] to keep its metrics;
/// the runtime itself keeps no counters.
pub trait CallObserver: Send + Sync {
    fn plugin_call(&self, plugin: &str, export: &str, took: Duration, ok: bool);
}
