//! Building health reports.

use crate::{HealthReport, HealthStatus, Kv, PluginError};
use std::time::Instant;

/// A key/value pair for report metadata and backup stats.
pub fn kv(key: &str, value: impl ToString) -> Kv {
    Kv {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// A healthy report; latency is measured from `started`.
pub fn healthy(started: Instant, version: Option<String>, metadata: Vec<Kv>) -> HealthReport {
    HealthReport {
        status: HealthStatus::Ok,
        latency_ms: started.elapsed().as_millis() as u64,
        version,
        message: None,
        metadata,
    }
}

/// An unhealthy report whose status follows the error's kind, so operators
/// see `auth_failed` or `unreachable` rather than a generic error.
pub fn unhealthy(started: Instant, error: PluginError) -> HealthReport {
    let (status, message) = match error {
        PluginError::AuthFailed(m) => (HealthStatus::AuthFailed, m),
        PluginError::Unreachable(m) => (HealthStatus::Unreachable, m),
        PluginError::Timeout(m) => (HealthStatus::Timeout, m),
        PluginError::InvalidConfig(m)
        | PluginError::NotFound(m)
        | PluginError::PermissionDenied(m)
        | PluginError::Unsupported(m)
        | PluginError::Transient(m)
        | PluginError::Failed(m) => (HealthStatus::Error, m),
    };
    HealthReport {
        status,
        latency_ms: started.elapsed().as_millis() as u64,
        version: None,
        message: Some(message),
        metadata: Vec::new(),
    }
}

/// `healthy` or `unhealthy` from an outcome.
pub fn report(
    started: Instant,
    outcome: Result<(Option<String>, Vec<Kv>), PluginError>,
) -> HealthReport {
    match outcome {
        Ok((version, metadata)) => healthy(started, version, metadata),
        Err(e) => unhealthy(started, e),
    }
}
