//! Observability: Prometheus metrics, the system monitor and the live
//! event bus behind `GET /api/events`, and the optional OTLP shipping of
//! logs and traces. Each is process-wide (one per node);
//! nothing here holds more than a fixed amount of memory.

pub mod events;
pub mod http;
pub mod metrics;
pub mod monitor;
pub mod otlp;
