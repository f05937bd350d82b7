//! Webhook notifier: each event is POSTed as JSON to the configured URL.
//!
//! With a `secret` configured, the host signs the exact body bytes with
//! HMAC-SHA256 and sets `X-DataGuardian-Signature: sha256=<hex>`; the
//! plugin only asks for it (`x-dataguardian-auth: hmac-sha256 …`) and
//! never reads the secret. A 2xx answer means delivered; 5xx, 429, 408,
//! timeouts and unreachable receivers are `transient` (the delivery queue
//! retries them); any other answer is final.

use dataguardian_plugin_sdk::http::Request;
use dataguardian_plugin_sdk::{
    config, export_notifier, log, CallContext, Event, Notifier, PluginError, PluginInfo,
    PluginKind, PluginResult, Severity,
};
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the secret the signature is keyed with.
const SECRET: &str = "secret";
const SIGNATURE_HEADER: &str = "X-DataGuardian-Signature";
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const MAX_TIMEOUT_SECS: u64 = 120;
/// How much of a refusing receiver's answer is quoted in the error.
const QUOTED_CHARS: usize = 200;

const SCHEMA: &str = r#"{"type":"object","required":["url"],"additionalProperties":false,"properties":{
"url":{"type":"string","format":"uri","description":"Where events are POSTed (http or https)"},
"secret":{"type":"string","writeOnly":true,"description":"Key of the X-DataGuardian-Signature HMAC-SHA256; kept by the host, which signs each body"},
"timeout_secs":{"type":"integer","minimum":1,"maximum":120,"default":10,"description":"Limit for connecting and for the first byte of the answer"}}}"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    /// Never in a call's config (the host keeps it); accepted so a full
    /// document validates.
    #[serde(default)]
    #[allow(dead_code)]
    secret: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        let invalid = PluginError::InvalidConfig;
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"))
            .ok_or_else(|| invalid(format!("url: `{}` is not an http(s) URL", self.url)))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid(format!(
                "url: `{}` needs a host (and no user:password@)",
                self.url
            )));
        }
        if let Some(secs) = self.timeout_secs {
            if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
                return Err(invalid(format!(
                    "timeout_secs: must be between 1 and {MAX_TIMEOUT_SECS}"
                )));
            }
        }
        Ok(())
    }
}

struct Webhook;

impl Notifier for Webhook {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "webhook".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Notifier,
            provides: vec!["webhook".into()],
            artifact_format: None,
            description: "JSON POST to a URL, HMAC-SHA256 signed by the host".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()> {
        let cfg: Config = config::load(ctx)?;
        let body = payload(event, now_rfc3339());
        let timeout = cfg.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
        let mut request = Request::new("POST", &cfg.url)?
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("DataGuardian/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-dataguardian-event", &event.kind)
            .timeout_ms(timeout * 1000);
        // Stable across retries and restarts: receivers de-duplicate on it.
        if let Some(id) = field(event, DELIVERY_ID) {
            request = request.header("x-dataguardian-delivery", id);
        }
        if config::has_secret(ctx, SECRET) {
            request = request.auth(&format!(
                "hmac-sha256 secret={SECRET} header={SIGNATURE_HEADER} prefix=sha256="
            ));
        }
        let mut response = request.send(&body).map_err(retry_network)?;
        if response.is_success() {
            return Ok(());
        }
        let text = response.text(64 * 1024).unwrap_or_default();
        let quoted: String = text.trim().chars().take(QUOTED_CHARS).collect();
        if !quoted.is_empty() {
            log::debug(&format!("the webhook's answer began: {quoted}"));
        }
        Err(status_error(response.status))
    }
}

/// Where the host puts the delivery's and the notification's ids.
const DELIVERY_ID: &str = "delivery_id";
const NOTIFICATION_ID: &str = "notification_id";

fn field<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event
        .fields
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// The JSON document sent: the ids, the event, its fields as an object,
/// and when.
fn payload(event: &Event, sent_at: String) -> Vec<u8> {
    let fields: serde_json::Map<String, serde_json::Value> = event
        .fields
        .iter()
        .filter(|kv| kv.key != DELIVERY_ID && kv.key != NOTIFICATION_ID)
        .map(|kv| (kv.key.clone(), serde_json::Value::String(kv.value.clone())))
        .collect();
    let mut doc = serde_json::json!({
        "kind": event.kind,
        "severity": severity(event.severity),
        "title": event.title,
        "body": event.body,
        "fields": fields,
        "sent_at": sent_at,
    });
    for (key, name) in [(DELIVERY_ID, "delivery_id"), (NOTIFICATION_ID, "id")] {
        if let Some(value) = field(event, key) {
            doc[name] = serde_json::Value::String(value.to_string());
        }
    }
    doc.to_string().into_bytes()
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A receiver that cannot be reached or is slow now may answer later.
fn retry_network(e: PluginError) -> PluginError {
    match e {
        PluginError::Timeout(m) | PluginError::Unreachable(m) => PluginError::Transient(m),
        other => other,
    }
}

/// The error of a non-2xx answer: the status only. The start of the
/// answer goes to the log (debug), never into the error, which API users read: a
/// webhook URL must not become a way to read other services' pages.
fn status_error(status: u16) -> PluginError {
    let message = format!("the webhook answered HTTP {status}");
    match status {
        408 | 429 | 500..=599 => PluginError::Transient(message),
        401 | 403 => PluginError::AuthFailed(message),
        _ => PluginError::Failed(message),
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    rfc3339(secs)
}

fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

export_notifier!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use dataguardian_plugin_sdk::Kv;

    fn event() -> Event {
        Event {
            kind: "backup_failed".into(),
            severity: Severity::Critical,
            title: "Backup of `orders` failed".into(),
            body: "pg_dump: connection refused".into(),
            fields: vec![
                Kv {
                    key: "job".into(),
                    value: "nightly".into(),
                },
                Kv {
                    key: "error".into(),
                    value: "connection refused".into(),
                },
            ],
        }
    }

    #[test]
    fn the_delivery_ids_are_lifted_out_of_the_fields() {
        let mut e = event();
        e.fields.push(Kv {
            key: DELIVERY_ID.into(),
            value: "d-1".into(),
        });
        e.fields.push(Kv {
            key: NOTIFICATION_ID.into(),
            value: "n-1".into(),
        });
        let doc: serde_json::Value =
            serde_json::from_slice(&payload(&e, "2026-01-02T03:04:05Z".into())).expect("json");
        assert_eq!(doc["delivery_id"], "d-1");
        assert_eq!(doc["id"], "n-1");
        assert_eq!(
            doc["fields"],
            serde_json::json!({"job": "nightly", "error": "connection refused"})
        );
        assert_eq!(field(&e, DELIVERY_ID), Some("d-1"));
    }

    #[test]
    fn payload_carries_the_event() {
        let body = payload(&event(), "2026-01-02T03:04:05Z".into());
        let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            doc,
            serde_json::json!({
                "kind": "backup_failed",
                "severity": "critical",
                "title": "Backup of `orders` failed",
                "body": "pg_dump: connection refused",
                "fields": {"job": "nightly", "error": "connection refused"},
                "sent_at": "2026-01-02T03:04:05Z",
            })
        );
    }

    #[test]
    fn answers_map_to_error_kinds() {
        assert!(matches!(status_error(500), PluginError::Transient(_)));
        assert!(matches!(status_error(503), PluginError::Transient(_)));
        assert!(matches!(status_error(429), PluginError::Transient(_)));
        assert!(matches!(status_error(401), PluginError::AuthFailed(_)));
        match status_error(400) {
            PluginError::Failed(m) => assert_eq!(m, "the webhook answered HTTP 400"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            retry_network(PluginError::Timeout("t".into())),
            PluginError::Transient(_)
        ));
        assert!(matches!(
            retry_network(PluginError::PermissionDenied("p".into())),
            PluginError::PermissionDenied(_)
        ));
    }

    #[test]
    fn configs_are_checked_by_field() {
        assert!(Webhook::validate_config(r#"{"url":"https://hooks.example.com/dg"}"#).is_ok());
        assert!(Webhook::validate_config(
            r#"{"url":"http://127.0.0.1:8080/x","secret":"s","timeout_secs":5}"#
        )
        .is_ok());
        for (doc, field) in [
            (r#"{"url":"ftp://x"}"#, "url:"),
            (r#"{"url":"https://"}"#, "url:"),
            (r#"{"url":"https://u:p@x.example"}"#, "url:"),
            (
                r#"{"url":"https://x.example","timeout_secs":0}"#,
                "timeout_secs:",
            ),
        ] {
            match Webhook::validate_config(doc) {
                Err(PluginError::InvalidConfig(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
        assert!(Webhook::validate_config(r#"{"url":"https://x.example","urll":1}"#).is_err());
        assert!(Webhook::validate_config(r#"{}"#).is_err());
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
    }
}
