//! Observability: Prometheus metrics, the system monitor and the live
//! event bus (from dg-app), the HTTP request metrics middleware, and the
//! optional OTLP shipping of logs and traces. Each is process-wide (one per
//! node); nothing here holds more than a fixed amount of memory.

pub mod http;
pub mod otlp;

pub use dg_app::observe::{cluster, events, metrics, monitor};
