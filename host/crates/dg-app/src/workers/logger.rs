//! Execution logs: lines from the host and from plugins, persisted in
//! small batches while the execution runs so they can be read live.

use chrono::{DateTime, Utc};
use dg_core::domain::LogLevel;
use dg_plugin_host::{LogRecord, LogSink};
use dg_store::Db;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type Line = (DateTime<Utc>, LogLevel, String);

/// Writes one execution's log.
pub struct ExecutionLogger {
    execution_id: String,
    tx: mpsc::UnboundedSender<Line>,
    closing: CancellationToken,
    writer: JoinHandle<()>,
}

const FLUSH_EVERY: Duration = Duration::from_millis(300);
const BATCH: usize = 200;

impl ExecutionLogger {
    pub fn start(db: Db, execution_id: &str) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Line>();
        let id = execution_id.to_string();
        let closing = CancellationToken::new();
        let stop = closing.clone();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                let mut done = false;
                tokio::select! {
                    biased;
                    line = rx.recv() => match line {
                        Some(line) => {
                            batch.push(line);
                            while batch.len() < BATCH {
                                match rx.try_recv() {
                                    Ok(line) => batch.push(line),
                                    Err(_) => break,
                                }
                            }
                        }
                        None => done = true,
                    },
                    // Plugin clients may still hold sinks: drain what is
                    // there and stop without waiting for them.
                    _ = stop.cancelled() => {
                        while let Ok(line) = rx.try_recv() {
                            batch.push(line);
                        }
                        done = true;
                    }
                    _ = tokio::time::sleep(FLUSH_EVERY) => {}
                }
                if !batch.is_empty() {
                    if let Err(e) = dg_store::executions::append_logs(&db, &id, &batch).await {
                        tracing::error!(execution = %id, "writing the execution log: {e}");
                    }
                    batch.clear();
                }
                if done {
                    break;
                }
            }
        });
        Self {
            execution_id: execution_id.to_string(),
            tx,
            closing,
            writer,
        }
    }

    fn push(&self, level: LogLevel, message: String) {
        let _ = self.tx.send((dg_store::now(), level, message));
    }

    pub fn info(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(execution = %self.execution_id, "{message}");
        self.push(LogLevel::Info, message);
    }

    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(execution = %self.execution_id, "{message}");
        self.push(LogLevel::Warn, message);
    }

    pub fn error(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::error!(execution = %self.execution_id, "{message}");
        self.push(LogLevel::Error, message);
    }

    /// A sink for plugin calls made on behalf of this execution.
    pub fn sink(&self) -> LogSink {
        let tx = self.tx.clone();
        let id = self.execution_id.clone();
        Arc::new(move |r: &LogRecord| {
            let level = LogLevel::from(r.level);
            let mut message = format!("[{}] {}", r.plugin, r.message);
            for (k, v) in &r.fields {
                message.push_str(&format!(" {k}={v}"));
            }
            tracing::debug!(execution = %id, "{message}");
            let _ = tx.send((dg_store::now(), level, message));
        })
    }

    /// Flushes everything logged so far and stops the writer.
    pub async fn close(self) {
        self.closing.cancel();
        let _ = self.writer.await;
    }
}
