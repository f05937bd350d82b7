//! The byte pipeline: engine → compress → sha256 → chunk → storage, and
//! back. Memory is bounded by channel capacities, never by artifact size.

pub mod backup;
mod blocks;
pub mod compression;
pub mod layout;
pub mod manifest;
pub mod reader;
pub mod replicate;
pub mod restore;
pub mod spool;
pub mod writer;

pub use backup::{remove_execution_folder, run_backup, BackupRequest, BackupSummary};
pub use compression::Compression;
pub use manifest::BackupManifest;
pub use restore::{
    auto_jobs, check_parallel_target, parse_jobs, run_restore, verify_execution, Parallel,
    RestoreRequest, MAX_JOBS,
};
pub use spool::SpoolPolicy;

/// Size of the blocks moved between pipeline stages.
pub const BLOCK: usize = 1 << 20;
/// Blocks in flight between two stages.
pub const DEPTH: usize = 8;

/// Errors of the pipeline; each names the stage and the object involved.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Plugin(#[from] dg_plugin_host::CallError),
    #[error("{0}")]
    Integrity(String),
    /// An object the manifest (or the layout) names is not in the storage.
    #[error("{file} is missing from storage")]
    Missing { file: String },
    #[error("manifest {path}: {message}")]
    Manifest { path: String, message: String },
    /// The stored copy could not be read intact (damaged, missing or
    /// unreadable); the engine was stopped before it could commit.
    #[error("{0}")]
    Copy(Box<PipelineError>),
    #[error("cancelled by request")]
    Cancelled,
    #[error("{stage}: {message}")]
    Stage {
        stage: &'static str,
        message: String,
    },
}

impl PipelineError {
    /// The failed plugin call behind this error, if a plugin failed it.
    pub fn plugin_error(&self) -> Option<&dg_plugin_host::CallError> {
        match self {
            Self::Plugin(e) => Some(e),
            Self::Copy(inner) => inner.plugin_error(),
            _ => None,
        }
    }

    pub fn stage(stage: &'static str, message: impl std::fmt::Display) -> Self {
        Self::Stage {
            stage,
            message: message.to_string(),
        }
    }
}
