//! SMTP notifier: the event's title as the subject, its body as the text.
//!
//! The host sends the mail (the `mail` import): TLS does not build for
//! wasm32 here, and the password stays host-side — the plugin names the
//! secret `password` and the host resolves it. The host delivers only to
//! the server of the channel's config (the manifest's `smtp` rules).

use dataguardian_plugin_sdk::mail::{self, Message, Security, Server};
use dataguardian_plugin_sdk::{
    config, export_notifier, CallContext, Event, Notifier, PluginError, PluginInfo, PluginKind,
    PluginResult,
};
use serde::Deserialize;

/// Name of the secret holding the SMTP password.
const PASSWORD: &str = "password";
const DEFAULT_TIMEOUT_SECS: u64 = 30;
const MAX_TIMEOUT_SECS: u64 = 300;
const MAX_RECIPIENTS: usize = 100;

const SCHEMA: &str = r#"{"type":"object","required":["host","from","to"],"additionalProperties":false,"properties":{
"host":{"type":"string","description":"SMTP server host name or address"},
"port":{"type":"integer","minimum":1,"maximum":65535,"description":"Default: 587 (starttls), 465 (tls), 25 (none)"},
"security":{"type":"string","enum":["starttls","tls","none"],"default":"starttls","description":"starttls: upgrade required; tls: TLS from the first byte; none: plain (no password allowed)"},
"username":{"type":"string"},
"password":{"type":"string","writeOnly":true,"description":"Kept by the host, which logs in; never sent over a plain connection"},
"from":{"type":"string","description":"Sender, e.g. DataGuardian <backups@example.com>"},
"to":{"type":"array","minItems":1,"items":{"type":"string"}},
"cc":{"type":"array","items":{"type":"string"}},
"timeout_secs":{"type":"integer","minimum":1,"maximum":300,"default":30,"description":"Limit for connecting and for each reply of the server"}}}"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    security: Option<String>,
    #[serde(default)]
    username: Option<String>,
    /// Never in a call's config (the host keeps it); accepted so a full
    /// document validates.
    #[serde(default)]
    password: Option<serde::de::IgnoredAny>,
    from: String,
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

impl Config {
    fn security(&self) -> PluginResult<Security> {
        match self.security.as_deref() {
            None | Some("starttls") => Ok(Security::Starttls),
            Some("tls") => Ok(Security::Tls),
            Some("none") => Ok(Security::None),
            Some(other) => Err(PluginError::InvalidConfig(format!(
                "security: `{other}` is not starttls, tls or none"
            ))),
        }
    }

    fn port(&self) -> PluginResult<u16> {
        Ok(match (self.port, self.security()?) {
            (Some(port), _) => port,
            (None, Security::Starttls) => 587,
            (None, Security::Tls) => 465,
            (None, Security::None) => 25,
        })
    }
}

/// A loose address check; the host parses addresses fully when sending.
fn check_address(field: &str, text: &str) -> PluginResult<()> {
    let addr = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => &text[open + 1..text.len() - 1],
        _ => text,
    };
    let ok = addr
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && !domain.is_empty())
        && !addr.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig(format!(
            "{field}: `{text}` is not a mail address"
        )))
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        let invalid = PluginError::InvalidConfig;
        let host_ok = !self.host.is_empty()
            && !self.host.starts_with('-')
            && self
                .host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if !host_ok {
            return Err(invalid(format!(
                "host: `{}` is not a host name or address",
                self.host
            )));
        }
        if self.port == Some(0) {
            return Err(invalid("port: must be between 1 and 65535".into()));
        }
        let security = self.security()?;
        if self.username.as_deref() == Some("") {
            return Err(invalid("username: must not be empty".into()));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(invalid("username: required with a password".into()));
        }
        if self.password.is_some() && matches!(security, Security::None) {
            return Err(invalid(
                "security: `none` would send the password in clear; use starttls or tls".into(),
            ));
        }
        check_address("from", &self.from)?;
        if self.to.is_empty() {
            return Err(invalid("to: at least one recipient".into()));
        }
        if self.to.len() + self.cc.len() > MAX_RECIPIENTS {
            return Err(invalid(format!(
                "to: at most {MAX_RECIPIENTS} recipients with cc"
            )));
        }
        for (i, to) in self.to.iter().enumerate() {
            check_address(&format!("to[{i}]"), to)?;
        }
        for (i, cc) in self.cc.iter().enumerate() {
            check_address(&format!("cc[{i}]"), cc)?;
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

/// What the host is asked to do for one event.
fn request(ctx: &CallContext, cfg: &Config, event: &Event) -> PluginResult<(Server, Message)> {
    let has_password = config::has_secret(ctx, PASSWORD);
    if cfg.username.is_some() && !has_password {
        return Err(PluginError::InvalidConfig(format!(
            "{PASSWORD}: required with a username"
        )));
    }
    if has_password && cfg.username.is_none() {
        return Err(PluginError::InvalidConfig(
            "username: required with a password".into(),
        ));
    }
    let server = Server {
        host: cfg.host.clone(),
        port: cfg.port()?,
        security: cfg.security()?,
        username: cfg.username.clone(),
        password_secret: has_password.then(|| PASSWORD.to_string()),
        timeout_ms: cfg.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS) * 1000,
    };
    let body = if event.body.is_empty() {
        event.title.clone()
    } else {
        event.body.clone()
    };
    let message = Message {
        from: cfg.from.clone(),
        to: cfg.to.clone(),
        cc: cfg.cc.clone(),
        subject: event.title.clone(),
        body,
    };
    Ok((server, message))
}

struct Smtp;

impl Notifier for Smtp {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "smtp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Notifier,
            provides: vec!["smtp".into()],
            artifact_format: None,
            description: "Mail through an SMTP server, sent by the host".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()> {
        let cfg: Config = config::load(ctx)?;
        let (server, message) = request(ctx, &cfg, event)?;
        mail::send(&server, &message)
    }
}

export_notifier!(Smtp);

#[cfg(test)]
mod tests {
    use super::*;
    use dataguardian_plugin_sdk::Severity;

    fn ctx(config: &str, secrets: &[&str]) -> CallContext {
        CallContext {
            config: config.into(),
            options: vec![],
            scratch_dir: None,
            secret_names: secrets.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn event() -> Event {
        Event {
            kind: "backup_failed".into(),
            severity: Severity::Critical,
            title: "Backup of orders failed".into(),
            body: "pg_dump: connection refused".into(),
            fields: vec![],
        }
    }

    #[test]
    fn the_host_is_asked_for_the_configured_server() {
        let doc = r#"{"host":"mail.example.com","username":"dg","from":"DataGuardian <dg@example.com>","to":["ops@example.com"],"cc":["lead@example.com"]}"#;
        let cx = ctx(doc, &["password"]);
        let cfg: Config = config::load(&cx).expect("valid");
        let (server, message) = request(&cx, &cfg, &event()).expect("request");
        assert_eq!(server.host, "mail.example.com");
        assert_eq!(server.port, 587);
        assert!(matches!(server.security, Security::Starttls));
        assert_eq!(server.password_secret.as_deref(), Some("password"));
        assert_eq!(server.timeout_ms, 30_000);
        assert_eq!(message.subject, "Backup of orders failed");
        assert_eq!(message.body, "pg_dump: connection refused");
        assert_eq!(message.to, ["ops@example.com"]);
        assert_eq!(message.cc, ["lead@example.com"]);

        let tls = r#"{"host":"mail.example.com","security":"tls","from":"dg@example.com","to":["ops@example.com"]}"#;
        let cx = ctx(tls, &[]);
        let cfg: Config = config::load(&cx).expect("valid");
        let (server, _) = request(&cx, &cfg, &event()).expect("request");
        assert_eq!(server.port, 465);
        assert_eq!(server.password_secret, None);
        assert_eq!(server.username, None);
    }

    #[test]
    fn a_login_needs_both_halves() {
        let doc = r#"{"host":"mail.example.com","username":"dg","from":"dg@example.com","to":["ops@example.com"]}"#;
        let cx = ctx(doc, &[]);
        let cfg: Config = config::load(&cx).expect("valid");
        assert!(matches!(
            request(&cx, &cfg, &event()),
            Err(PluginError::InvalidConfig(m)) if m.starts_with("password:")
        ));
    }

    #[test]
    fn configs_are_checked_by_field() {
        let cases = [
            (r#"{"host":"a b","from":"x@y","to":["o@e"]}"#, "host:"),
            (
                r#"{"host":"m","port":0,"from":"x@y","to":["o@e"]}"#,
                "port:",
            ),
            (
                r#"{"host":"m","security":"ssl","from":"x@y","to":["o@e"]}"#,
                "security:",
            ),
            (
                r#"{"host":"m","password":"p","from":"x@y","to":["o@e"]}"#,
                "username:",
            ),
            (
                r#"{"host":"m","security":"none","username":"u","password":"p","from":"x@y","to":["o@e"]}"#,
                "security:",
            ),
            (r#"{"host":"m","from":"nobody","to":["o@e"]}"#, "from:"),
            (r#"{"host":"m","from":"x@y","to":[]}"#, "to:"),
            (r#"{"host":"m","from":"x@y","to":["o@e","bad"]}"#, "to[1]:"),
            (
                r#"{"host":"m","from":"x@y","to":["o@e"],"cc":["a b@c"]}"#,
                "cc[0]:",
            ),
            (
                r#"{"host":"m","from":"x@y","to":["o@e"],"timeout_secs":0}"#,
                "timeout_secs:",
            ),
        ];
        for (doc, field) in cases {
            match Smtp::validate_config(doc) {
                Err(PluginError::InvalidConfig(m)) => assert!(m.starts_with(field), "{doc}: {m}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
        assert!(Smtp::validate_config(
            r#"{"host":"127.0.0.1","port":2525,"security":"none","from":"Ops <x@y.example>","to":["o@e.example"]}"#
        )
        .is_ok());
    }
}
