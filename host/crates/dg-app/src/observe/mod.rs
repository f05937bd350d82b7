//! Observability: Prometheus metrics, the system monitor and the live
//! event bus behind `GET /api/events`. Each is process-wide (one per node);
//! nothing here holds more than a fixed amount of memory. The HTTP request
//! metrics middleware and the OTLP shipping of logs and traces live in the
//! `dataguardian` crate's `observe` module, beside the server and CLI that
//! use them.

pub mod cluster;
pub mod events;
pub mod metrics;
pub mod monitor;
