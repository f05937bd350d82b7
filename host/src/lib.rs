//! DataGuardian host: the REST API, the server and the command line, on
//! top of the layered crates under `host/crates/` (domain, plugin runtime,
//! pipeline, store, application). The lower crates are re-exported under
//! the module names they had when this was one crate, so
//! `dataguardian::plugin::...`, `dataguardian::store::...` and the rest keep
//! working. See docs/ARCHITECTURE.md for the map.

pub mod api;
pub mod cli;
pub mod exit;
pub mod observe;
pub mod plugin_cli;
pub mod plugin_scaffold;
pub mod plugin_test;
pub mod server;

pub use dg_app::{auth, notify, queue, workers};
pub use dg_core::{domain, private, retention, schedule, secrets, source};
pub use dg_pipeline as pipeline;
pub use dg_plugin_host as plugin;
pub use dg_store as store;
