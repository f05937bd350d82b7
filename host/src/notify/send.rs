//! Calling a channel's notifier plugin: the one place that builds its
//! target (secrets split off the stored config) and the WIT event.

use super::templates::Rendered;
use crate::plugin::bindings::{Event, Kv, Severity};
use crate::plugin::client::Target;
use crate::plugin::{CallError, NotInstalled};
use crate::server::state::AppState;
use crate::server::targets::split_secrets;
use crate::store::rows::NotificationChannel;
use serde_json::Value;

/// Why a channel could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    NotInstalled(#[from] NotInstalled),
    #[error(transparent)]
    Call(#[from] CallError),
}

impl SendError {
    /// Worth trying again later (the channel's service is down, not
    /// refusing).
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Call(e) if e.is_transient())
    }

    /// The plugin's own words when it refused, else the whole error.
    pub fn reason(&self) -> String {
        match self {
            SendError::Call(CallError::Plugin { message, .. }) => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Asks the notifier plugin of `kind` whether `config` is usable.
pub async fn validate(state: &AppState, kind: &str, config: &Value) -> Result<(), SendError> {
    let (plain, _) = split_secrets(config);
    let client = state
        .plugins
        .notifier(kind, Target::new(plain, crate::plugin::tracing_sink()))?;
    client.validate_config().await?;
    Ok(())
}

/// Sends one rendered message through `channel`.
pub async fn send(
    state: &AppState,
    channel: &NotificationChannel,
    kind: &str,
    severity: crate::domain::Severity,
    message: &Rendered,
    fields: &Value,
) -> Result<(), SendError> {
    let (plain, secrets) = split_secrets(&channel.config.0);
    let target = Target::new(plain, crate::plugin::tracing_sink()).with_secrets(secrets);
    let client = state.plugins.notifier(&channel.kind, target)?;
    let event = Event {
        kind: kind.to_string(),
        severity: match severity {
            crate::domain::Severity::Critical => Severity::Critical,
            crate::domain::Severity::Warning => Severity::Warning,
            crate::domain::Severity::Info => Severity::Info,
        },
        title: message.subject.clone(),
        body: message.body.clone(),
        fields: flatten(fields),
    };
    client.send(event).await?;
    Ok(())
}

/// Top-level scalar fields as key/value pairs (nested values as JSON).
fn flatten(fields: &Value) -> Vec<Kv> {
    let Value::Object(map) = fields else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| Kv {
            key: k.clone(),
            value: match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}
