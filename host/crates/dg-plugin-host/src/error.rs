//! Errors of loading plugins and of plugin calls.
//!
//! A call error always names the plugin and the operation, keeps the
//! plugin's own error kind (only `transient` is worth retrying), and never
//! carries a secret: secrets are not in the plugin's reach.

use crate::bindings::PluginError;

/// The kind of failure a plugin reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    InvalidConfig,
    AuthFailed,
    Unreachable,
    Timeout,
    NotFound,
    PermissionDenied,
    Unsupported,
    Transient,
    Failed,
}

impl FailureKind {
    pub fn from_plugin(e: PluginError) -> (Self, String) {
        match e {
            PluginError::InvalidConfig(m) => (Self::InvalidConfig, m),
            PluginError::AuthFailed(m) => (Self::AuthFailed, m),
            PluginError::Unreachable(m) => (Self::Unreachable, m),
            PluginError::Timeout(m) => (Self::Timeout, m),
            PluginError::NotFound(m) => (Self::NotFound, m),
            PluginError::PermissionDenied(m) => (Self::PermissionDenied, m),
            PluginError::Unsupported(m) => (Self::Unsupported, m),
            PluginError::Transient(m) => (Self::Transient, m),
            PluginError::Failed(m) => (Self::Failed, m),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidConfig => "invalid configuration",
            Self::AuthFailed => "authentication failed",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timed out",
            Self::NotFound => "not found",
            Self::PermissionDenied => "permission denied",
            Self::Unsupported => "unsupported",
            Self::Transient => "temporary failure",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` {operation}: {} — {message}", kind.as_str())]
    Plugin {
        plugin: String,
        operation: String,
        kind: FailureKind,
        message: String,
    },
    #[error("plugin `{plugin}` crashed during {operation}: {message}")]
    Trap {
        plugin: String,
        operation: String,
        message: String,
    },
    #[error("plugin `{plugin}` {operation} timed out after {seconds}s")]
    Timeout {
        plugin: String,
        operation: String,
        seconds: u64,
    },
    #[error("plugin `{plugin}` {operation} used more than {seconds}s of CPU and was stopped (control calls are held to --plugin-control-cpu-secs)")]
    CpuExhausted {
        plugin: String,
        operation: String,
        seconds: f64,
    },
    #[error("plugin `{plugin}` {operation} made no progress for {seconds}s and was stopped")]
    Stalled {
        plugin: String,
        operation: String,
        seconds: u64,
    },
    #[error("plugin `{plugin}` {operation} could not start: {message}")]
    Setup {
        plugin: String,
        operation: String,
        message: String,
    },
}

impl CallError {
    /// Only failures the plugin itself calls temporary are retried.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CallError::Plugin {
                kind: FailureKind::Transient,
                ..
            }
        )
    }

    /// The plugin, when it crashed (trapped) rather than failed.
    pub fn crashed_plugin(&self) -> Option<&str> {
        match self {
            CallError::Trap { plugin, .. } => Some(plugin),
            _ => None,
        }
    }

    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            CallError::Plugin { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error("plugin `{plugin}`: {message}")]
    Component { plugin: String, message: String },
    #[error("plugin `{plugin}` speaks plugin API {found}, this host speaks {host}")]
    ApiVersion {
        plugin: String,
        found: String,
        host: String,
    },
    #[error("plugin `{plugin}` speaks plugin API {found} but its manifest requires `{requirement}`; rebuild it so they agree")]
    ApiRequirement {
        plugin: String,
        found: String,
        requirement: String,
    },
    #[error("plugin cache {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
}
