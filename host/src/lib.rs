//! DataGuardian host: the plugin runtime, the streaming pipeline, the
//! metadata store, queue, workers and REST API, and the command line.
//! See docs/ARCHITECTURE.md for the map.

pub mod api;
pub mod cli;
pub mod domain;
pub mod notify;
pub mod observe;
pub mod pipeline;
pub mod plugin;
pub mod private;
pub mod queue;
pub mod retention;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod source;
pub mod store;
pub mod workers;
