//! The `mail` import: SMTP delivery on behalf of a plugin.
//!
//! TLS cannot run inside a component here (`ring` and `aws-lc` need clang
//! for wasm32), and an SMTP password would have to enter plugin memory if
//! the plugin spoke SMTP itself. So the host speaks it, with `lettre`
//! over tokio and rustls: the plugin names the server and the secret that
//! holds the password, the host checks the server against the call's
//! `smtp` grant, resolves the secret and sends.

use crate::bindings::host_world::dataguardian::plugin::mail::{
    MailMessage, SmtpSecurity, SmtpServer,
};
use crate::bindings::host_world::dataguardian::plugin::types::PluginError;
use crate::call::{CallShared, LogLevel};
use crate::egress::EgressPolicy;
use crate::grant::CallCapabilities;
use lettre::message::Mailbox;
use lettre::message::SinglePart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Recipients (to + cc) of one message: a notification, not a mailing.
const MAX_RECIPIENTS: usize = 100;
/// Largest subject plus body the host accepts from a plugin.
const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Per-operation limit when the plugin gives none, and the largest allowed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// What a send needs from the call besides its arguments.
pub struct MailContext<'a> {
    pub caps: &'a CallCapabilities,
    pub secrets: &'a HashMap<String, String>,
    pub call: &'a CallShared,
    /// PEM files of extra certificate authorities trusted for SMTP TLS
    /// (a private CA, or a test's self-signed certificate).
    pub extra_roots: &'a [PathBuf],
    /// Where the server may connect.
    pub egress: &'a EgressPolicy,
}

/// Sends `message` through `server` if the call may; the error says why not.
pub async fn send(
    cx: MailContext<'_>,
    server: SmtpServer,
    message: MailMessage,
) -> Result<(), PluginError> {
    let address = format!("{}:{}", server.host, server.port);
    if !cx.caps.allows_smtp(&server.host, server.port) {
        let why = format!("SMTP server {address} is not granted to this plugin");
        cx.call.deny(why.clone());
        return Err(PluginError::PermissionDenied(why));
    }
    let credentials = credentials(&server, cx.secrets)?;
    let recipients = message.to.len() + message.cc.len();
    let email = build_message(message)?;
    let timeout = match server.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms).min(MAX_TIMEOUT),
    };
    let tls = match server.security {
        SmtpSecurity::Starttls => Tls::Required(tls_parameters(&server.host, cx.extra_roots)?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(&server.host, cx.extra_roots)?),
        SmtpSecurity::None => Tls::None,
    };
    // The connection goes to the address the policy checked; TLS still
    // verifies the certificate against the configured name.
    let checked = cx
        .egress
        .resolve(&server.host, server.port)
        .await
        .map_err(|refusal| {
            cx.call.deny(refusal.0.clone());
            PluginError::PermissionDenied(refusal.0)
        })?;
    let Some(connect_to) = checked.first() else {
        return Err(PluginError::Unreachable(format!(
            "SMTP {address}: no address"
        )));
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(connect_to.ip().to_string())
            .port(server.port)
            .tls(tls)
            .timeout(Some(timeout));
    if let Some(credentials) = credentials {
        builder = builder.credentials(credentials);
    }
    let transport = builder.build();
    cx.call.activity.touch();
    // lettre's timeout bounds each step; this bounds the whole exchange.
    let outcome = tokio::time::timeout(timeout * 4, transport.send(email)).await;
    cx.call.activity.touch();
    match outcome {
        Ok(Ok(_)) => {
            cx.call.log(
                LogLevel::Info,
                format!("mail for {recipients} recipient(s) accepted by {address}"),
                Vec::new(),
            );
            Ok(())
        }
        Ok(Err(e)) => Err(classify(&e, &address)),
        Err(_) => Err(PluginError::Timeout(format!(
            "SMTP {address}: no answer within {}s",
            (timeout * 4).as_secs()
        ))),
    }
}

/// The login of `server`, its password looked up by secret name. A
/// password is never sent in clear: `none` with a password is refused.
fn credentials(
    server: &SmtpServer,
    secrets: &HashMap<String, String>,
) -> Result<Option<Credentials>, PluginError> {
    let invalid = PluginError::InvalidConfig;
    match (&server.username, &server.password_secret) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid("username: given without a password".into())),
        (None, Some(_)) => Err(invalid("password: given without a username".into())),
        (Some(user), Some(name)) => {
            if matches!(server.security, SmtpSecurity::None) {
                return Err(invalid(
                    "security: `none` would send the password in clear; use starttls or tls".into(),
                ));
            }
            let password = secrets
                .get(name)
                .ok_or_else(|| invalid(format!("no secret named `{name}` in this call")))?;
            Ok(Some(Credentials::new(user.clone(), password.clone())))
        }
    }
}

fn tls_parameters(host: &str, extra_roots: &[PathBuf]) -> Result<TlsParameters, PluginError> {
    let mut builder = TlsParameters::builder(host.to_string());
    for path in extra_roots {
        let failed = |e: String| PluginError::Failed(format!("CA file {}: {e}", path.display()));
        let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
        let root = Certificate::from_pem(&pem).map_err(|e| failed(e.to_string()))?;
        builder = builder.add_root_certificate(root);
    }
    builder
        .build_rustls()
        .map_err(|e| PluginError::Failed(format!("TLS setup: {e}")))
}

/// A `text/plain` message; each address error names its field.
fn build_message(message: MailMessage) -> Result<Message, PluginError> {
    let invalid = PluginError::InvalidConfig;
    if message.to.is_empty() {
        return Err(invalid("to: at least one recipient is needed".into()));
    }
    if message.to.len() + message.cc.len() > MAX_RECIPIENTS {
        return Err(invalid(format!(
            "to, cc: at most {MAX_RECIPIENTS} recipients"
        )));
    }
    if message.subject.len() + message.body.len() > MAX_MESSAGE_BYTES {
        return Err(invalid(format!(
            "the message is larger than {} KiB",
            MAX_MESSAGE_BYTES >> 10
        )));
    }
    let mailbox = |field: String, text: &str| {
        text.parse::<Mailbox>()
            .map_err(|e| invalid(format!("{field}: `{text}` is not a mail address ({e})")))
    };
    let mut builder = Message::builder()
        .from(mailbox("from".into(), &message.from)?)
        // A subject is one line: a line break would start a new header.
        .subject(message.subject.replace(['\r', '\n'], " "));
    for (i, to) in message.to.iter().enumerate() {
        builder = builder.to(mailbox(format!("to[{i}]"), to)?);
    }
    for (i, cc) in message.cc.iter().enumerate() {
        builder = builder.cc(mailbox(format!("cc[{i}]"), cc)?);
    }
    // A Message-ID lets receivers and relays recognise a resend; the
    // single part brings MIME-Version and a charset; Date is set at build.
    builder
        .message_id(None)
        .date_now()
        .singlepart(SinglePart::plain(message.body))
        .map_err(|e| PluginError::InvalidConfig(format!("message: {e}")))
}

/// The error kind of a failed send: only what may work later is
/// `transient` (the delivery queue retries those).
fn classify(e: &lettre::transport::smtp::Error, address: &str) -> PluginError {
    // What the server said (a banner, a reply text) goes to the server log
    // only: a test send must not turn the server into a port scanner that
    // reads back other services' greetings.
    tracing::warn!(smtp = address, "SMTP send failed: {e}");
    let said = |kind: &str| format!("SMTP {address}: {kind}");
    if e.is_timeout() {
        return PluginError::Timeout(said("no answer in time"));
    }
    if let Some(code) = e.status() {
        let code = u16::from(code);
        let what = said(&format!("the server answered {code}"));
        return match code {
            // 530 authentication required, 534 mechanism too weak,
            // 535 credentials invalid, 538 encryption required.
            530 | 534 | 535 | 538 => PluginError::AuthFailed(what),
            _ if e.is_transient() => PluginError::Transient(what),
            _ => PluginError::Failed(what),
        };
    }
    let text = e.to_string();
    // A refused certificate surfaces as a connection error.
    if e.is_tls() || text.contains("certificate") {
        return PluginError::Unreachable(format!(
            "{} (is the server's certificate valid for `{}` and issued by a trusted CA? \
             --smtp-ca-file adds one)",
            said("TLS handshake failed"),
            address.rsplit_once(':').map_or(address, |(host, _)| host)
        ));
    }
    if e.is_client() {
        if text.contains("authentication mechanism") {
            return PluginError::AuthFailed(said(
                "the server offers no AUTH mechanism the host supports (PLAIN or LOGIN)",
            ));
        }
        return PluginError::Failed(said("the message could not be sent"));
    }
    if e.is_response() {
        return PluginError::Failed(said("the server's answer is not SMTP"));
    }
    PluginError::Unreachable(said("cannot connect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> MailMessage {
        MailMessage {
            from: "DataGuardian <dg@example.com>".into(),
            to: vec!["ops@example.com".into()],
            cc: vec![],
            subject: "Backup failed\r\nBcc: evil@example.com".into(),
            body: "details".into(),
        }
    }

    fn server(security: SmtpSecurity) -> SmtpServer {
        SmtpServer {
            host: "mail.example.com".into(),
            port: 587,
            security,
            username: Some("dg".into()),
            password_secret: Some("password".into()),
            timeout_ms: 0,
        }
    }

    #[tokio::test]
    async fn only_granted_servers_are_used() {
        let call = CallShared::new(
            "smtp",
            "send",
            crate::call::tracing_sink(),
            Default::default(),
        );
        let caps = CallCapabilities {
            smtp: vec![("mail.example.com".into(), 465)],
            ..Default::default()
        };
        let secrets = HashMap::new();
        let egress = EgressPolicy::unrestricted();
        let cx = MailContext {
            caps: &caps,
            secrets: &secrets,
            call: &call,
            extra_roots: &[],
            egress: &egress,
        };
        // Port 587 of the granted host is another server: refused before
        // any connection is attempted.
        let err = send(cx, server(SmtpSecurity::Starttls), message())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PluginError::PermissionDenied(m) if m.contains("mail.example.com:587 is not granted")),
            "{err:?}"
        );
        assert_eq!(
            call.denials().len(),
            1,
            "the denial is recorded on the call"
        );
    }

    #[test]
    fn addresses_are_checked_by_field() {
        let mut bad = message();
        bad.cc = vec!["ok@example.com".into(), "not an address".into()];
        match build_message(bad) {
            Err(PluginError::InvalidConfig(m)) => assert!(m.starts_with("cc[1]:"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut none = message();
        none.to.clear();
        assert!(matches!(
            build_message(none),
            Err(PluginError::InvalidConfig(m)) if m.starts_with("to:")
        ));
    }

    #[test]
    fn a_subject_cannot_add_headers() {
        let email = build_message(message()).expect("message");
        let text = String::from_utf8(email.formatted()).expect("utf-8");
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert_eq!(email.envelope().to().len(), 1);
    }

    #[test]
    fn passwords_come_from_secrets_and_never_in_clear() {
        let secrets = HashMap::from([("password".to_string(), "pw".to_string())]);
        assert!(credentials(&server(SmtpSecurity::Starttls), &secrets)
            .expect("ok")
            .is_some());
        let missing = credentials(&server(SmtpSecurity::Tls), &HashMap::new()).unwrap_err();
        assert!(
            matches!(missing, PluginError::InvalidConfig(m) if m.contains("no secret named `password`"))
        );
        let clear = credentials(&server(SmtpSecurity::None), &secrets).unwrap_err();
        assert!(matches!(clear, PluginError::InvalidConfig(m) if m.starts_with("security:")));
    }
}
