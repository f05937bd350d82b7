//! DataGuardian host: the plugin runtime, the streaming pipeline and the
//! command line. See docs/ARCHITECTURE.md for the map.

pub mod cli;
pub mod pipeline;
pub mod plugin;
pub mod source;
