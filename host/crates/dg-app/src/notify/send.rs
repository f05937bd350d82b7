//! Calling a channel's notifier plugin: the one place that builds its
//! target (secrets split off the stored config) and the WIT event.

use super::templates::Rendered;
use crate::state::AppState;
use crate::targets::split_secrets;
use dg_plugin_host::bindings::{Event, Kv, Severity};
use dg_plugin_host::client::Target;
use dg_plugin_host::{CallError, NotInstalled};
use dg_store::rows::NotificationChannel;
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
        .notifier(kind, Target::new(plain, dg_plugin_host::tracing_sink()))?;
    client.validate_config().await?;
    Ok(())
}

/// Identifies one message to its receiver across retries and restarts:
/// a receiver that keeps the delivery ids it acknowledged never acts on a
/// message twice, even when a crash made the host send it again.
#[derive(Debug, Clone)]
pub struct DeliveryIds {
    /// The same for every attempt of one delivery to one channel.
    pub delivery: String,
    /// The notification the message is about (the same across channels).
    pub notification: String,
}

/// Field names the ids travel under in the event (the WIT record has no
/// place of its own for them; notifiers lift them out).
pub const DELIVERY_ID_FIELD: &str = "delivery_id";
pub const NOTIFICATION_ID_FIELD: &str = "notification_id";

/// Sends one rendered message through `channel`.
pub async fn send(
    state: &AppState,
    channel: &NotificationChannel,
    kind: &str,
    severity: dg_core::domain::Severity,
    message: &Rendered,
    fields: &Value,
    ids: Option<&DeliveryIds>,
) -> Result<(), SendError> {
    let (plain, secrets) = split_secrets(&channel.config.0);
    let target = Target::new(plain, dg_plugin_host::tracing_sink()).with_secrets(secrets);
    let client = state.plugins.notifier(&channel.kind, target)?;
    let event = Event {
        kind: kind.to_string(),
        severity: match severity {
            dg_core::domain::Severity::Critical => Severity::Critical,
            dg_core::domain::Severity::Warning => Severity::Warning,
            dg_core::domain::Severity::Info => Severity::Info,
        },
        title: message.subject.clone(),
        body: message.body.clone(),
        fields: with_ids(flatten(fields), ids),
    };
    client.send(event).await?;
    Ok(())
}

/// `fields` with the delivery's ids, replacing any field of those names.
fn with_ids(mut fields: Vec<Kv>, ids: Option<&DeliveryIds>) -> Vec<Kv> {
    let Some(ids) = ids else {
        return fields;
    };
    fields.retain(|kv| kv.key != DELIVERY_ID_FIELD && kv.key != NOTIFICATION_ID_FIELD);
    fields.push(Kv {
        key: DELIVERY_ID_FIELD.into(),
        value: ids.delivery.clone(),
    });
    fields.push(Kv {
        key: NOTIFICATION_ID_FIELD.into(),
        value: ids.notification.clone(),
    });
    fields
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
