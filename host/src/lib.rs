//! DataGuardian host: the plugin runtime, the streaming pipeline, the
//! metadata store, queue, workers and REST API, and the command line.
//! See docs/ARCHITECTURE.md for the map.

pub mod api;
pub mod cli;
pub mod notify;
pub mod observe;
pub mod queue;
pub mod server;
pub mod workers;

pub use dg_core::{domain, private, retention, schedule, secrets, source};
pub use dg_pipeline as pipeline;
pub use dg_plugin_host as plugin;
pub use dg_store as store;
