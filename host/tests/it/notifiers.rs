//! The notifier plugins called through the host, against real receivers
//! on loopback: an HTTP server for the webhook and a stand-in of the
//! WhatsApp Cloud API, and aiosmtpd (tests/it/fixtures/smtp_server.py)
//! for SMTP, in plain, STARTTLS and implicit-TLS modes with a CA the test
//! creates.

use crate::common::receiver::{hmac_hex, Receiver};
use crate::common::shared_plugin_cache;
use crate::common::smtp::{SmtpServer, Tls};
use dataguardian::plugin::bindings::Kv;
use dataguardian::plugin::{
    CallError, Event, FailureKind, LogRecord, LogSink, Plugins, RuntimeConfig, Severity, Target,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn plugins(dir: &Path, smtp_ca_files: Vec<PathBuf>) -> Plugins {
    Plugins::with_builtins(RuntimeConfig {
        cache_dir: Some(shared_plugin_cache()),
        scratch_root: dir.join("tmp"),
        smtp_ca_files,
        limits: Default::default(),
    })
    .expect("built-ins load")
}

/// A log sink that keeps every line (message and fields) for inspection.
fn recorded_logs() -> (LogSink, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let keep = lines.clone();
    let sink: LogSink = Arc::new(move |r: &LogRecord| {
        let fields: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Ok(mut l) = keep.lock() {
            l.push(format!("{} {}", r.message, fields.join(" ")));
        }
    });
    (sink, lines)
}

fn event() -> Event {
    Event {
        kind: "backup_failed".into(),
        severity: Severity::Critical,
        title: "Backup of orders failed".into(),
        body: "pg_dump: connection to server at \"db\" failed\nJob: nightly".into(),
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

fn target(config: Value, log: LogSink, secrets: &[(&str, &str)]) -> Target {
    Target::new(config, log).with_secrets(
        secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

// ---------------------------------------------------------------- HTTP --

fn assert_secret_absent(secret: &str, logs: &Arc<Mutex<Vec<String>>>, errors: &[&CallError]) {
    let logs = logs.lock().expect("lock");
    assert!(
        logs.iter().all(|l| !l.contains(secret)),
        "a log line holds the secret: {logs:?}"
    );
    for e in errors {
        assert!(!e.to_string().contains(secret), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_posts_signed_json_and_reports_the_receivers_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path(), Vec::new());
    let receiver = Receiver::start().await;
    let secret = "whsec-Zq81-never-in-plugin-memory";
    let (log, logs) = recorded_logs();
    let config = json!({"url": format!("{}/hooks/dg?team=ops", receiver.url), "timeout_secs": 5});
    let client = plugins
        .notifier(
            "webhook",
            target(config.clone(), log.clone(), &[("secret", secret)]),
        )
        .expect("webhook plugin");

    client.validate_config().await.expect("valid config");
    assert_eq!(client.info().await.expect("info").provides, ["webhook"]);

    client.send(event()).await.expect("delivered");
    let seen = receiver.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/dg?team=ops");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["x-dataguardian-event"], "backup_failed");
    let doc: Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(doc["kind"], "backup_failed");
    assert_eq!(doc["severity"], "critical");
    assert_eq!(doc["title"], "Backup of orders failed");
    assert_eq!(doc["body"], event().body.as_str());
    assert_eq!(
        doc["fields"],
        json!({"job": "nightly", "error": "connection refused"})
    );
    let sent_at = doc["sent_at"].as_str().expect("sent_at");
    assert!(
        chrono::DateTime::parse_from_rfc3339(sent_at).is_ok(),
        "{sent_at}"
    );
    // The signature verifies against the raw body with the secret, and
    // neither the secret nor the directive reached the receiver.
    assert_eq!(
        request.headers["x-dataguardian-signature"],
        format!("sha256={}", hmac_hex(secret, &request.body))
    );
    assert_ne!(
        request.headers["x-dataguardian-signature"],
        format!("sha256={}", hmac_hex("another key", &request.body))
    );
    assert!(!request.headers.contains_key("x-dataguardian-auth"));
    let everything = format!(
        "{:?}{}",
        request.headers,
        String::from_utf8_lossy(&request.body)
    );
    assert!(!everything.contains(secret));

    // Without a secret: unsigned.
    let unsigned = plugins
        .notifier("webhook", target(config.clone(), log.clone(), &[]))
        .expect("webhook plugin");
    unsigned.send(event()).await.expect("delivered");
    let seen = receiver.take();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].headers.contains_key("x-dataguardian-signature"));

    // A 500 is worth retrying; a 400 is final. The error gives the status
    // and never the receiver's words (API users read it; a URL must not
    // turn into a way to read other services' pages): those go to the log.
    receiver.answer(500, "upstream exploded");
    let err = client.send(event()).await.expect_err("500");
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    receiver.answer(
        400,
        r#"{"error":"payload rejected: unknown field sent_at"}"#,
    );
    let refused = client.send(event()).await.expect_err("400");
    assert_eq!(refused.kind(), Some(FailureKind::Failed), "{refused}");
    assert!(!refused.is_transient());
    let text = refused.to_string();
    assert!(
        text.contains("HTTP 400") && !text.contains("payload rejected"),
        "{text}"
    );
    assert!(
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("payload rejected")),
        "the answer is logged"
    );
    assert_eq!(receiver.take().len(), 2);

    // Nobody listening: transient too (the receiver may come back).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let gone = plugins
        .notifier(
            "webhook",
            target(
                json!({"url": format!("http://{closed}/x")}),
                log,
                &[("secret", secret)],
            ),
        )
        .expect("webhook plugin");
    let unreachable = gone.send(event()).await.expect_err("nobody listens");
    assert!(unreachable.is_transient(), "{unreachable}");

    assert_secret_absent(secret, &logs, &[&err, &refused, &unreachable]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_config_errors_name_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path(), Vec::new());
    let (log, _) = recorded_logs();
    let client = plugins
        .notifier(
            "webhook",
            target(json!({"url": "ftp://example.com/x"}), log, &[]),
        )
        .expect("webhook plugin");
    let err = client.validate_config().await.expect_err("refused");
    assert_eq!(err.kind(), Some(FailureKind::InvalidConfig));
    assert!(err.to_string().contains("url:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_sends_the_documented_cloud_api_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path(), Vec::new());
    let api = Receiver::start().await;
    api.answer(
        200,
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.1"}]}"#,
    );
    let token = "EAAG-test-token-Qx93-host-only";
    let (log, logs) = recorded_logs();
    let base = json!({
        "base_url": format!("{}/v21.0", api.url),
        "phone_number_id": "106540352242922",
        "recipients": ["+5511987654321", "5511912345678"],
    });
    let client = plugins
        .notifier(
            "whatsapp",
            target(base.clone(), log.clone(), &[("access_token", token)]),
        )
        .expect("whatsapp plugin");
    client.validate_config().await.expect("valid");
    client.send(event()).await.expect("delivered");

    let seen = api.take();
    assert_eq!(seen.len(), 2, "one request per recipient: {seen:?}");
    for (request, to) in seen.iter().zip(["+5511987654321", "5511912345678"]) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v21.0/106540352242922/messages");
        assert_eq!(request.headers["authorization"], format!("Bearer {token}"));
        assert_eq!(request.headers["content-type"], "application/json");
        assert!(!request.headers.contains_key("x-dataguardian-auth"));
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(
            body,
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"body": format!("*Backup of orders failed*\n\n{}", event().body)},
            })
        );
    }

    // Template form.
    let mut with_template = base.clone();
    with_template["template"] =
        json!({"name": "backup_alert", "language": "pt_BR", "parameters": ["fields.job", "title"]});
    with_template["recipients"] = json!(["+5511987654321"]);
    let templated = plugins
        .notifier(
            "whatsapp",
            target(with_template, log.clone(), &[("access_token", token)]),
        )
        .expect("whatsapp plugin");
    templated.send(event()).await.expect("delivered");
    let seen = api.take();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v21.0/106540352242922/messages");
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {token}"));
    let body: Value = serde_json::from_slice(&seen[0].body).expect("json");
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+5511987654321",
            "type": "template",
            "template": {
                "name": "backup_alert",
                "language": {"code": "pt_BR"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "nightly"},
                    {"type": "text", "text": "Backup of orders failed"},
                ]}],
            },
        })
    );

    // Graph API errors: an expired token, a throttled sender.
    api.answer(
        401,
        r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"fbtrace_id":"A1"}}"#,
    );
    let expired = client.send(event()).await.expect_err("expired token");
    assert_eq!(expired.kind(), Some(FailureKind::AuthFailed), "{expired}");
    assert!(expired.to_string().contains("190"), "{expired}");
    api.answer(
        400,
        r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"too many messages"}}}"#,
    );
    let throttled = client.send(event()).await.expect_err("throttled");
    assert!(throttled.is_transient(), "{throttled}");
    assert!(
        throttled
            .to_string()
            .contains("2 of 2 recipients not reached"),
        "{throttled}"
    );

    // Without a token the plugin does not even try.
    let (quiet, _) = recorded_logs();
    let tokenless = plugins
        .notifier("whatsapp", target(base, quiet, &[]))
        .expect("whatsapp plugin");
    api.take();
    let missing = tokenless.send(event()).await.expect_err("no token");
    assert_eq!(missing.kind(), Some(FailureKind::InvalidConfig));
    assert!(api.take().is_empty());

    assert_secret_absent(token, &logs, &[&expired, &throttled, &missing]);
}

// ---------------------------------------------------------------- SMTP --

fn smtp_config(port: u16, security: &str, login: bool) -> Value {
    let mut config = json!({
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "from": "DataGuardian <backups@dg.example>",
        "to": ["ops@dg.example", "Lead Person <lead@dg.example>"],
        "cc": ["audit@dg.example"],
        "timeout_secs": 10,
    });
    if login {
        config["username"] = json!("dg-mailer");
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_delivers_through_the_host_in_plain_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path(), Vec::new());
    let server = SmtpServer::start(dir.path(), "plain", None, None);
    let (log, _) = recorded_logs();
    let client = plugins
        .notifier(
            "smtp",
            target(smtp_config(server.port, "none", false), log, &[]),
        )
        .expect("smtp plugin");
    client.validate_config().await.expect("valid");
    client.send(event()).await.expect("delivered");

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["mail_from"], "backups@dg.example");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ops@dg.example", "lead@dg.example", "audit@dg.example"])
    );
    assert_eq!(m["from"], "DataGuardian <backups@dg.example>");
    assert_eq!(m["to"], "ops@dg.example, Lead Person <lead@dg.example>");
    assert_eq!(m["cc"], "audit@dg.example");
    assert_eq!(m["subject"], "Backup of orders failed");
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["mime_version"], "1.0", "{m}");
    assert!(m["date"].as_str().is_some_and(|d| !d.is_empty()), "{m}");
    let id = m["message_id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{m}"
    );
    // The text as sent, whatever line ending the MIME part closes with.
    assert_eq!(
        m["body"]
            .as_str()
            .map(|b| b.replace("\r\n", "\n").trim_end().to_string()),
        Some(event().body.trim_end().to_string())
    );
    assert_eq!(m["tls"], false);

    // A server that does not answer is unreachable (the grant check itself
    // is covered by the `plugin::mail` and `plugin::grant` unit tests).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let (log, _) = recorded_logs();
    let nobody = plugins
        .notifier("smtp", target(smtp_config(closed, "none", false), log, &[]))
        .expect("smtp plugin");
    let err = nobody.send(event()).await.expect_err("nobody listens");
    assert_eq!(err.kind(), Some(FailureKind::Unreachable), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_with_auth_trusts_only_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = Tls::create(dir.path());
    let password = "smtp-Pa55-Kx2-host-only";
    let login = format!("dg-mailer:{password}");
    let server = SmtpServer::start(dir.path(), "starttls", Some(&tls), Some(&login));
    let trusting = plugins(dir.path(), vec![tls.ca.clone()]);
    let (log, logs) = recorded_logs();
    let config = smtp_config(server.port, "starttls", true);

    let client = trusting
        .notifier(
            "smtp",
            target(config.clone(), log.clone(), &[("password", password)]),
        )
        .expect("smtp plugin");
    client.send(event()).await.expect("delivered over STARTTLS");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["tls"], true, "the session was upgraded");
    assert_eq!(messages[0]["login"], "dg-mailer");
    assert_eq!(messages[0]["subject"], "Backup of orders failed");
    assert_eq!(messages[0]["cc"], "audit@dg.example");

    // A wrong password is an authentication failure, not a retry.
    let wrong = trusting
        .notifier(
            "smtp",
            target(config.clone(), log.clone(), &[("password", "not-it")]),
        )
        .expect("smtp plugin");
    let refused = wrong.send(event()).await.expect_err("wrong password");
    assert_eq!(refused.kind(), Some(FailureKind::AuthFailed), "{refused}");

    // The same server is not trusted by a host that was not given the CA.
    let other = tempfile::tempdir().expect("tempdir");
    let default_roots = plugins(other.path(), Vec::new());
    let untrusted = default_roots
        .notifier(
            "smtp",
            target(config.clone(), log.clone(), &[("password", password)]),
        )
        .expect("smtp plugin");
    let tls_err = untrusted.send(event()).await.expect_err("unknown CA");
    assert_eq!(tls_err.kind(), Some(FailureKind::Unreachable), "{tls_err}");
    assert!(tls_err.to_string().contains("TLS"), "{tls_err}");
    assert_eq!(server.messages().len(), 1, "nothing more was delivered");

    // A password is never sent over a plain connection.
    let mut clear = config;
    clear["security"] = json!("none");
    let plain = trusting
        .notifier("smtp", target(clear, log, &[("password", password)]))
        .expect("smtp plugin");
    let err = plain.send(event()).await.expect_err("password in clear");
    assert_eq!(err.kind(), Some(FailureKind::InvalidConfig), "{err}");

    assert_secret_absent(password, &logs, &[&refused, &tls_err, &err]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_implicit_tls_with_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = Tls::create(dir.path());
    let server = SmtpServer::start(dir.path(), "tls", Some(&tls), Some("dg-mailer:pw-tls-1"));
    let plugins = plugins(dir.path(), vec![tls.ca.clone()]);
    let (log, _) = recorded_logs();
    let client = plugins
        .notifier(
            "smtp",
            target(
                smtp_config(server.port, "tls", true),
                log,
                &[("password", "pw-tls-1")],
            ),
        )
        .expect("smtp plugin");
    tokio::time::timeout(Duration::from_secs(60), client.send(event()))
        .await
        .expect("in time")
        .expect("delivered over TLS");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["login"], "dg-mailer");
}
