//! WhatsApp notifier: the WhatsApp Business Cloud API, one message per
//! recipient.
//!
//! Request shape, as Meta documents it for the Cloud API "messages"
//! endpoint (checked against the send-message references mirrored at
//! docs.kapso.ai/api/meta/whatsapp/messages/send-a-message and
//! wa.expert/pages/docs/api-reference/send-a-template-message.html):
//!
//! ```text
//! POST {base_url}/{phone_number_id}/messages
//! Authorization: Bearer <access token>
//! {"messaging_product":"whatsapp","recipient_type":"individual","to":"<number>",
//!  "type":"text","text":{"body":"…"}}
//! or "type":"template","template":{"name":…,"language":{"code":…},
//!  "components":[{"type":"body","parameters":[{"type":"text","text":…}]}]}
//! ```
//!
//! Errors come as Graph API errors, `{"error":{"message","type","code",
//! "error_data":{"details"}}}`; the kinds below follow the Cloud API error
//! code table (e.g. developers.aivo.co/engage "Error Codes", and
//! help.verloop.io on building handling around `code` and `details`).
//! The token never enters the plugin: the host sets it as a bearer token
//! for the granted origin only.

use dataguardian_plugin_sdk::http::Request;
use dataguardian_plugin_sdk::{
    config, export_notifier, log, CallContext, Event, Notifier, PluginError, PluginInfo,
    PluginKind, PluginResult, Severity,
};
use serde::Deserialize;

/// Name of the secret holding the access token.
const TOKEN: &str = "access_token";
const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v21.0";
const TIMEOUT_MS: u64 = 15_000;
/// Longest text message body the Cloud API takes.
const MAX_TEXT_CHARS: usize = 4096;
/// Longest value of one template parameter we send.
const MAX_PARAMETER_CHARS: usize = 1024;
/// Recipients of one channel.
const MAX_RECIPIENTS: usize = 50;

const SCHEMA: &str = r#"{"type":"object","required":["phone_number_id","recipients","access_token"],"additionalProperties":false,"properties":{
"base_url":{"type":"string","format":"uri","default":"https://graph.facebook.com/v21.0","description":"Graph API base URL, version included"},
"phone_number_id":{"type":"string","pattern":"^[0-9]+$","description":"The sending business phone number's id"},
"recipients":{"type":"array","minItems":1,"maxItems":50,"items":{"type":"string","pattern":"^\\+?[0-9]{6,15}$"},"description":"Numbers in international format, e.g. +5511987654321"},
"access_token":{"type":"string","writeOnly":true,"description":"System user access token; kept by the host, sent as a bearer token"},
"template":{"type":"object","required":["name","language"],"additionalProperties":false,"description":"Send this approved template instead of a text message (needed outside the 24-hour customer service window)","properties":{
"name":{"type":"string"},"language":{"type":"string","description":"e.g. en_US, pt_BR"},
"parameters":{"type":"array","items":{"type":"string"},"default":["title","body"],"description":"Event values for the body variables {{1}}, {{2}}…: title, body, kind, severity or fields.NAME"}}}}}"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    base_url: Option<String>,
    phone_number_id: String,
    recipients: Vec<String>,
    /// Never in a call's config (the host keeps it); accepted so a full
    /// document validates.
    #[serde(default)]
    #[allow(dead_code)]
    access_token: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    template: Option<Template>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Template {
    name: String,
    language: String,
    #[serde(default)]
    parameters: Option<Vec<String>>,
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        let invalid = PluginError::InvalidConfig;
        if let Some(url) = &self.base_url {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| invalid(format!("base_url: `{url}` is not an http(s) URL")))?;
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.is_empty() || authority.contains('@') || rest.contains(['?', '#']) {
                return Err(invalid(format!(
                    "base_url: `{url}` must be a base URL (scheme, host, optional path)"
                )));
            }
        }
        if self.phone_number_id.is_empty()
            || !self.phone_number_id.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(invalid(format!(
                "phone_number_id: `{}` is not a phone number id (digits)",
                self.phone_number_id
            )));
        }
        if self.recipients.is_empty() || self.recipients.len() > MAX_RECIPIENTS {
            return Err(invalid(format!(
                "recipients: between 1 and {MAX_RECIPIENTS} numbers"
            )));
        }
        for (i, number) in self.recipients.iter().enumerate() {
            let digits = number.strip_prefix('+').unwrap_or(number);
            if !(6..=15).contains(&digits.len()) || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(invalid(format!(
                    "recipients[{i}]: `{number}` is not a number in international format (+5511987654321)"
                )));
            }
        }
        if let Some(t) = &self.template {
            let name_ok = !t.name.is_empty()
                && t.name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
            if !name_ok {
                return Err(invalid(format!(
                    "template.name: `{}` is not a template name (lowercase letters, digits, _)",
                    t.name
                )));
            }
            let lang_ok = (2..=15).contains(&t.language.len())
                && t.language
                    .bytes()
                    .all(|c| c.is_ascii_alphabetic() || c == b'_');
            if !lang_ok {
                return Err(invalid(format!(
                    "template.language: `{}` is not a language code (en_US, pt_BR)",
                    t.language
                )));
            }
            for (i, p) in t.parameters.iter().flatten().enumerate() {
                let known = matches!(p.as_str(), "title" | "body" | "kind" | "severity")
                    || p.strip_prefix("fields.").is_some_and(|f| !f.is_empty());
                if !known {
                    return Err(invalid(format!(
                        "template.parameters[{i}]: `{p}` is not title, body, kind, severity or fields.NAME"
                    )));
                }
            }
        }
        Ok(())
    }
}

struct WhatsApp;

impl Notifier for WhatsApp {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "whatsapp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Notifier,
            provides: vec!["whatsapp".into()],
            artifact_format: None,
            description: "WhatsApp Business Cloud API text or template messages".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    /// One request per recipient, all of them tried. The first failure
    /// decides the error's kind, so a `transient` one is retried for every
    /// recipient (a recipient already reached may get the message twice,
    /// which beats one who never gets it).
    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()> {
        let cfg: Config = config::load(ctx)?;
        if !config::has_secret(ctx, TOKEN) {
            return Err(PluginError::InvalidConfig(format!("{TOKEN}: required")));
        }
        let base = cfg
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        let url = format!("{base}/{}/messages", cfg.phone_number_id);
        let mut failures: Vec<(String, PluginError)> = Vec::new();
        for number in &cfg.recipients {
            let body = message(number, event, cfg.template.as_ref()).to_string();
            match post(&url, body.as_bytes()) {
                Ok(()) => {}
                Err(e) => failures.push((number.clone(), e)),
            }
        }
        let Some((_, first)) = failures.first() else {
            return Ok(());
        };
        let reached = cfg.recipients.len() - failures.len();
        if reached > 0 {
            log::warn(&format!(
                "delivered to {reached} of {} recipients",
                cfg.recipients.len()
            ));
        }
        let detail = failures
            .iter()
            .map(|(n, e)| format!("{n}: {}", describe(e)))
            .collect::<Vec<_>>()
            .join("; ");
        let summary = format!(
            "{} of {} recipients not reached ({detail})",
            failures.len(),
            cfg.recipients.len()
        );
        Err(with_message(first, summary))
    }
}

fn post(url: &str, body: &[u8]) -> PluginResult<()> {
    let mut response = Request::new("POST", url)?
        .header("content-type", "application/json")
        .auth(&format!("bearer secret={TOKEN}"))
        .timeout_ms(TIMEOUT_MS)
        .send(body)
        .map_err(|e| match e {
            PluginError::Timeout(m) | PluginError::Unreachable(m) => PluginError::Transient(m),
            other => other,
        })?;
    if response.is_success() {
        return Ok(());
    }
    let text = response.text(64 * 1024).unwrap_or_default();
    Err(graph_error(response.status, &text))
}

/// The request body for one recipient.
fn message(to: &str, event: &Event, template: Option<&Template>) -> serde_json::Value {
    let Some(t) = template else {
        let text = if event.body.is_empty() {
            event.title.clone()
        } else {
            format!("*{}*\n\n{}", event.title, event.body)
        };
        return serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"body": truncate(&text, MAX_TEXT_CHARS)},
        });
    };
    let default = ["title".to_string(), "body".to_string()];
    let names = t.parameters.as_deref().unwrap_or(&default);
    let parameters: Vec<serde_json::Value> = names
        .iter()
        .map(|name| serde_json::json!({"type": "text", "text": parameter(event, name)}))
        .collect();
    let mut template = serde_json::json!({
        "name": t.name,
        "language": {"code": t.language},
    });
    if !parameters.is_empty() {
        template["components"] = serde_json::json!([{"type": "body", "parameters": parameters}]);
    }
    serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    })
}

/// The value of one template variable. The Cloud API refuses parameters
/// with line breaks, tabs or more than four spaces in a row (error
/// 132018), so whitespace runs become one space; empty values become `-`.
fn parameter(event: &Event, name: &str) -> String {
    let raw = match name {
        "title" => event.title.clone(),
        "body" => event.body.clone(),
        "kind" => event.kind.clone(),
        "severity" => match event.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
        .to_string(),
        other => {
            let key = other.strip_prefix("fields.").unwrap_or(other);
            event
                .fields
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| kv.value.clone())
                .unwrap_or_default()
        }
    };
    let flat = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        "-".into()
    } else {
        truncate(&flat, MAX_PARAMETER_CHARS)
    }
}

fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => {
            let keep = text[..cut]
                .char_indices()
                .nth(chars - 1)
                .map_or(cut, |(i, _)| i);
            format!("{}…", &text[..keep])
        }
        None => text.to_string(),
    }
}

/// A Graph API error answer, by its `error.code` first, then the status.
fn graph_error(status: u16, body: &str) -> PluginError {
    let doc: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let error = &doc["error"];
    let code = error["code"].as_i64();
    let mut message = match (error["message"].as_str(), code) {
        (Some(m), Some(c)) => format!("WhatsApp API error {c} (HTTP {status}): {m}"),
        // Anything but a Graph API error document is not quoted: the
        // error is read by API users, and the answer may be another
        // service's page.
        _ => format!("WhatsApp API answered HTTP {status}"),
    };
    if let Some(details) = error["error_data"]["details"].as_str() {
        message.push_str(&format!(" — {details}"));
    }
    match code {
        // Token expired or invalid, app user not authenticated, permission
        // missing.
        Some(0 | 190 | 10 | 200..=299) => PluginError::AuthFailed(message),
        // Throttling and temporary platform trouble.
        Some(1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 | 131048 | 131056) => {
            PluginError::Transient(message)
        }
        // Outside the 24-hour customer service window: only templates pass.
        Some(131047) => PluginError::Failed(format!(
            "{message} (configure `template`: text messages reach only users who wrote in the last 24 hours)"
        )),
        // Template missing, not approved, or its parameters do not match.
        Some(132000 | 132001 | 132005 | 132007 | 132012 | 132015 | 132016 | 132018) => {
            PluginError::InvalidConfig(format!("template: {message}"))
        }
        // A parameter (e.g. the phone number id) is not valid.
        Some(33 | 100) => PluginError::InvalidConfig(message),
        _ => match status {
            401 => PluginError::AuthFailed(message),
            408 | 429 | 500..=599 => PluginError::Transient(message),
            _ => PluginError::Failed(message),
        },
    }
}

fn describe(e: &PluginError) -> String {
    match e {
        PluginError::InvalidConfig(m)
        | PluginError::AuthFailed(m)
        | PluginError::Unreachable(m)
        | PluginError::Timeout(m)
        | PluginError::NotFound(m)
        | PluginError::PermissionDenied(m)
        | PluginError::Unsupported(m)
        | PluginError::Transient(m)
        | PluginError::Failed(m) => m.clone(),
    }
}

/// `e`'s kind with another message.
fn with_message(e: &PluginError, m: String) -> PluginError {
    match e {
        PluginError::InvalidConfig(_) => PluginError::InvalidConfig(m),
        PluginError::AuthFailed(_) => PluginError::AuthFailed(m),
        PluginError::Unreachable(_) => PluginError::Unreachable(m),
        PluginError::Timeout(_) => PluginError::Timeout(m),
        PluginError::NotFound(_) => PluginError::NotFound(m),
        PluginError::PermissionDenied(_) => PluginError::PermissionDenied(m),
        PluginError::Unsupported(_) => PluginError::Unsupported(m),
        PluginError::Transient(_) => PluginError::Transient(m),
        PluginError::Failed(_) => PluginError::Failed(m),
    }
}

export_notifier!(WhatsApp);

#[cfg(test)]
mod tests {
    use super::*;
    use dataguardian_plugin_sdk::Kv;

    fn event() -> Event {
        Event {
            kind: "backup_failed".into(),
            severity: Severity::Critical,
            title: "Backup of orders failed".into(),
            body: "pg_dump exited 1:\n\tconnection     refused".into(),
            fields: vec![Kv {
                key: "job".into(),
                value: "nightly".into(),
            }],
        }
    }

    #[test]
    fn text_messages_follow_the_cloud_api_shape() {
        let m = message("+5511987654321", &event(), None);
        assert_eq!(
            m,
            serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+5511987654321",
                "type": "text",
                "text": {"body": "*Backup of orders failed*\n\npg_dump exited 1:\n\tconnection     refused"},
            })
        );
    }

    #[test]
    fn template_messages_fill_body_parameters() {
        let t = Template {
            name: "backup_alert".into(),
            language: "pt_BR".into(),
            parameters: Some(vec!["fields.job".into(), "body".into(), "severity".into()]),
        };
        let m = message("5511987654321", &event(), Some(&t));
        assert_eq!(
            m,
            serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "5511987654321",
                "type": "template",
                "template": {
                    "name": "backup_alert",
                    "language": {"code": "pt_BR"},
                    "components": [{"type": "body", "parameters": [
                        {"type": "text", "text": "nightly"},
                        {"type": "text", "text": "pg_dump exited 1: connection refused"},
                        {"type": "text", "text": "critical"},
                    ]}],
                },
            })
        );
        let none = Template {
            name: "ping".into(),
            language: "en".into(),
            parameters: Some(vec![]),
        };
        assert!(message("5511987654321", &event(), Some(&none))["template"]
            .get("components")
            .is_none());
    }

    #[test]
    fn graph_errors_map_to_kinds() {
        let err = |code: i64, status: u16| {
            graph_error(
                status,
                &format!(
                    r#"{{"error":{{"message":"(#{code}) oops","type":"OAuthException","code":{code},"error_data":{{"details":"more"}}}}}}"#
                ),
            )
        };
        match err(190, 401) {
            PluginError::AuthFailed(m) => {
                assert!(
                    m.contains("WhatsApp API error 190 (HTTP 401): (#190) oops — more"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(err(130429, 400), PluginError::Transient(_)));
        assert!(matches!(err(131047, 400), PluginError::Failed(m) if m.contains("template")));
        assert!(
            matches!(err(132001, 404), PluginError::InvalidConfig(m) if m.starts_with("template:"))
        );
        assert!(matches!(err(131026, 400), PluginError::Failed(_)));
        assert!(matches!(
            graph_error(502, "bad gateway"),
            PluginError::Transient(_)
        ));
        assert!(
            matches!(graph_error(404, "<html>"), PluginError::Failed(m) if m.contains("HTTP 404"))
        );
    }

    #[test]
    fn configs_are_checked_by_field() {
        let ok = r#"{"phone_number_id":"106540352242922","recipients":["+5511987654321"],"access_token":"t"}"#;
        assert!(WhatsApp::validate_config(ok).is_ok());
        let cases = [
            (
                r#"{"phone_number_id":"12a","recipients":["+5511987654321"]}"#,
                "phone_number_id:",
            ),
            (r#"{"phone_number_id":"1","recipients":[]}"#, "recipients:"),
            (
                r#"{"phone_number_id":"1","recipients":["+55 11"]}"#,
                "recipients[0]:",
            ),
            (
                r#"{"phone_number_id":"1","recipients":["5511987654321"],"base_url":"graph.facebook.com"}"#,
                "base_url:",
            ),
            (
                r#"{"phone_number_id":"1","recipients":["5511987654321"],"template":{"name":"Bad Name","language":"en"}}"#,
                "template.name:",
            ),
            (
                r#"{"phone_number_id":"1","recipients":["5511987654321"],"template":{"name":"ok","language":"en-US!"}}"#,
                "template.language:",
            ),
            (
                r#"{"phone_number_id":"1","recipients":["5511987654321"],"template":{"name":"ok","language":"en","parameters":["job"]}}"#,
                "template.parameters[0]:",
            ),
        ];
        for (doc, field) in cases {
            match WhatsApp::validate_config(doc) {
                Err(PluginError::InvalidConfig(m)) => assert!(m.starts_with(field), "{doc}: {m}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_texts_are_cut_on_characters() {
        let text = "é".repeat(5000);
        let cut = truncate(&text, MAX_TEXT_CHARS);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short", 10), "short");
    }
}
