//! Notification channels end to end through the server: a failed backup
//! reaches a webhook signed with a secret the plugin never reads, rendered
//! with the template's active version; a receiver that fails is retried
//! and the delivery recorded as failed with the reason; a datasource that
//! goes down pages each channel once, and flapping is suppressed.

use crate::common;

use common::receiver::{hmac_hex, Receiver};
use common::server::{Backend, TestServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec-7f3a-not-in-any-log";

fn signed_by_secret(r: &common::receiver::Received) -> bool {
    r.header("x-dataguardian-signature") == Some(format!("sha256={}", hmac_hex(SECRET, &r.body)))
}

async fn webhook(server: &TestServer, name: &str, url: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "type": "webhook",
        "config": {"url": url, "secret": SECRET}});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    server
        .post_ok("/api/notification-channels", &body, 201)
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Deliveries of `channel`, newest first.
async fn deliveries(server: &TestServer, channel: &str) -> Vec<Value> {
    server
        .get_ok(&format!(
            "/api/notification-deliveries?channel_id={channel}&limit=100"
        ))
        .await["data"]
        .as_array()
        .expect("data")
        .clone()
}

/// Waits until `check` holds for the deliveries of `channel`.
async fn wait_deliveries(
    server: &TestServer,
    channel: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let d = deliveries(server, channel).await;
        if check(&d) {
            return d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {d:#?}\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_backup_reaches_a_signed_webhook_with_the_active_template() {
    let hook = Receiver::start().await;
    let server = TestServer::start_with(Backend::Sqlite, &["--notification-retry-secs", "1"]).await;
    let url = format!("{}/hooks/dg", hook.url);
    let channel = webhook(
        &server,
        "ops hook",
        &url,
        // Every failure is sent: this test edits the template between runs.
        json!({"events": ["backup_failed"], "suppress_minutes": 0}),
    )
    .await;
    let view = server
        .get_ok(&format!("/api/notification-channels/{channel}"))
        .await;
    assert_eq!(view["config"]["secret"], "********", "{view}");
    assert_eq!(view["events"], json!(["backup_failed"]));

    // Bad input names the field.
    for (body, field) in [
        (json!({"name": "x", "type": "pager", "config": {}}), "type"),
        (
            json!({"name": "x", "type": "webhook", "config": {"url": url}, "events": ["nope"]}),
            "events[0]",
        ),
        (
            json!({"name": "x", "type": "webhook", "config": {"url": url}, "min_severity": "loud"}),
            "min_severity",
        ),
        (
            json!({"name": "x", "type": "webhook", "config": {"url": url}, "suppress_minutes": -1}),
            "suppress_minutes",
        ),
        (
            json!({"name": "x", "type": "webhook", "config": {}}),
            "config.url",
        ),
    ] {
        let (status, answer) = server.post("/api/notification-channels", &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }

    // The test endpoint reports the real delivery, signed.
    let tested = server
        .post_ok(
            &format!("/api/notification-channels/{channel}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(tested["delivered"], true, "{tested}");
    let got = hook.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/hooks/dg");
    assert!(signed_by_secret(&got[0]), "{:?}", got[0]);
    assert_eq!(got[0].json()["kind"], "test");

    // A backup that fails (its database does not exist) is delivered.
    let ds = server.pg_datasource("ghost", "dg_no_such_database").await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("ghost nightly", &ds, &storage, json!({})).await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let got = hook.wait_for(2, Duration::from_secs(30)).await;
    let sent = got[1].json();
    assert_eq!(sent["kind"], "backup_failed", "{sent}");
    // The fields name what failed, as NOTIFIERS.md shows.
    assert_eq!(sent["fields"]["job"], "ghost nightly", "{sent}");
    assert_eq!(sent["fields"]["datasource"], "ghost", "{sent}");
    assert_eq!(sent["fields"]["execution_id"], failed["id"], "{sent}");
    assert!(
        sent["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("dg_no_such_database")),
        "{sent}"
    );
    assert!(signed_by_secret(&got[1]));
    let text = sent.to_string();
    assert!(text.contains("Job: ghost nightly"), "{text}");
    assert!(text.contains("dg_no_such_database"), "{text}");
    let done = wait_deliveries(&server, &channel, "delivered", |d| {
        d.iter().any(|x| x["status"] == "delivered")
    })
    .await;
    assert_eq!(done[0]["template_version"], 1, "{done:?}");

    // Templates: an edit is version 2, a revert version 3 equal to 1, an
    // unknown variable is refused; messages use the active version.
    let templates = server.get_ok("/api/system/notification-templates").await;
    let template = templates["data"]
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["channel"] == "webhook" && t["type"] == "backup_failed")
        .expect("webhook/backup_failed template")
        .clone();
    let tid = template["id"].as_str().expect("id");
    let path = format!("/api/system/notification-templates/{tid}");
    let (status, refused) = server
        .put(&path, &json!({"body": "{{ jobb.name }} broke"}))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["field"], "body", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("undefined"),
        "{refused}"
    );
    let v2 = server
        .put(
            &path,
            &json!({"subject": "X {{ job.name }}", "body": "first edit"}),
        )
        .await
        .1;
    assert_eq!(v2["active_version"], 2, "{v2}");
    let v3 = server
        .post_ok(&format!("{path}/revert"), &json!({"version": 1}), 200)
        .await;
    assert_eq!(v3["active_version"], 3);
    assert_eq!(v3["body"], template["body"]);
    assert_eq!(v3["subject"], template["subject"]);
    let versions = server.get_ok(&format!("{path}/versions")).await;
    assert_eq!(versions["data"].as_array().expect("versions").len(), 3);
    assert_eq!(versions["pagination"]["total"], 3);
    let v4 = server
        .put(
            &path,
            &json!({"subject": "FAILED: {{ job.name }}", "body": "marker-v4 {{ datasource.name }}: {{ execution.error }}"}),
        )
        .await
        .1;
    assert_eq!(v4["active_version"], 4, "{v4}");
    let preview = server
        .post_ok(
            "/api/system/notification-templates/preview",
            &json!({"body": "{{ job.name }} / {{ execution.duration }}"}),
            200,
        )
        .await;
    assert_eq!(preview["body"], "shop nightly / 31.4s", "{preview}");

    let again = server.run_job(&job).await;
    assert_eq!(again["status"], "failed");
    let got = hook.wait_for(3, Duration::from_secs(30)).await;
    let sent = got[2].json();
    assert_eq!(sent["title"], "FAILED: ghost nightly", "{sent}");
    assert!(
        sent["body"]
            .as_str()
            .unwrap_or_default()
            .starts_with("marker-v4 ghost: "),
        "{sent}"
    );

    // A receiver that answers 500 is tried 3 times, then the delivery is
    // failed with the reason.
    hook.answer(500, "upstream down");
    let third = server.run_job(&job).await;
    assert_eq!(third["status"], "failed");
    let done = wait_deliveries(&server, &channel, "failed after retries", |d| {
        d.iter().any(|x| x["status"] == "failed")
    })
    .await;
    let failed = done
        .iter()
        .find(|x| x["status"] == "failed")
        .expect("failed");
    assert_eq!(failed["attempts"], 3, "{failed}");
    let reason = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("failed after 3 attempts") && reason.contains("500"),
        "{reason}"
    );
    let got = hook.received();
    assert_eq!(got.len(), 6, "3 attempts after the 3 deliveries");
    assert!(!server.log().contains(SECRET), "the secret leaked");
    // Every attempt of one delivery carries the same id (receivers
    // de-duplicate on it); other deliveries carry others. The body names
    // the notification.
    // (The first request was the channel test, which is no delivery.)
    assert!(got[0].header("x-dataguardian-delivery").is_none());
    let ids: Vec<String> = got
        .iter()
        .skip(1)
        .map(|r| r.header("x-dataguardian-delivery").expect("a delivery id"))
        .collect();
    assert_eq!(ids[2], ids[3], "{ids:?}");
    assert_eq!(ids[3], ids[4], "{ids:?}");
    assert_ne!(ids[1], ids[2], "{ids:?}");
    assert_ne!(ids[0], ids[1], "{ids:?}");
    for r in &got[3..] {
        let doc = r.json();
        assert_eq!(doc["delivery_id"], ids[2].as_str(), "{doc}");
        assert!(doc["id"].as_str().is_some_and(|id| !id.is_empty()), "{doc}");
        assert!(doc["fields"].get("delivery_id").is_none(), "{doc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_datasource_pages_each_channel_once_and_flapping_is_suppressed() {
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    let server = TestServer::start_with(Backend::Sqlite, &["--health-interval-secs", "1"]).await;
    let kinds = json!({"events": ["connection_lost", "connection_restored"]});
    let ca = webhook(&server, "pager a", &a.url, kinds.clone()).await;
    let cb = webhook(&server, "pager b", &b.url, kinds).await;
    let db = common::TempDb::new("flap");
    let config = |port: u16| {
        json!({"connection_config": {"host": "127.0.0.1", "port": port, "database": db.name,
            "username": "postgres", "password": "unused-with-trust"}})
    };
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "flappy", "type": "postgres",
                "connection_config": config(1)["connection_config"]}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let count = |kind: &'static str| {
        let server = &server;
        async move {
            server
                .get_ok(&format!("/api/notifications?type={kind}"))
                .await["pagination"]["total"]
                .as_i64()
                .unwrap_or_default()
        }
    };
    let wait_count = |kind: &'static str, n: i64| {
        let count = &count;
        async move {
            let started = Instant::now();
            while count(kind).await < n {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "{kind} never reached {n}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    // Down: three failed checks make one connection_lost; more failed
    // checks make no more.
    wait_count("connection_lost", 1).await;
    // Three more failed checks are recorded (polled, not slept on)...
    let checks = || {
        let server = &server;
        let ds = &ds;
        async move {
            server
                .get_ok(&format!("/api/datasources/{ds}/health-checks"))
                .await["data"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    let before = checks().await;
    let started = Instant::now();
    while checks().await < before + 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the health worker stopped checking"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...and made no second connection_lost.
    assert_eq!(count("connection_lost").await, 1);
    for r in [&a, &b] {
        let got = r.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].json()["kind"], "connection_lost");
    }
    // Up again: one connection_restored each.
    server
        .put(&format!("/api/datasources/{ds}"), &config(5432))
        .await;
    wait_count("connection_restored", 1).await;
    for r in [&a, &b] {
        let got = r.wait_for(2, Duration::from_secs(20)).await;
        assert_eq!(got[1].json()["kind"], "connection_restored");
    }
    // Flapping inside the suppression window: recorded, not sent.
    server
        .put(&format!("/api/datasources/{ds}"), &config(1))
        .await;
    wait_count("connection_lost", 2).await;
    server
        .put(&format!("/api/datasources/{ds}"), &config(5432))
        .await;
    wait_count("connection_restored", 2).await;
    for channel in [&ca, &cb] {
        let d = wait_deliveries(&server, channel, "two suppressed", |d| {
            d.iter().filter(|x| x["status"] == "suppressed").count() == 2
        })
        .await;
        assert_eq!(
            d.iter().filter(|x| x["status"] == "delivered").count(),
            2,
            "{d:?}"
        );
    }
    // Every delivery has ended (delivered or suppressed), so nothing more
    // is on its way: each receiver got exactly the two sent.
    assert_eq!(a.received().len(), 2);
    assert_eq!(b.received().len(), 2);
}

/// A failed backup reaches a real SMTP server (aiosmtpd on loopback) over
/// STARTTLS with a certificate only the configured CA vouches for, logged
/// in with a password that shows in no log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_backup_is_mailed_over_starttls() {
    use common::smtp::{SmtpServer, Tls};
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = Tls::create(dir.path());
    let password = "mail-Pw-93kq-never-logged";
    let smtp = SmtpServer::start(
        dir.path(),
        "starttls",
        Some(&tls),
        Some(&format!("dg-mailer:{password}")),
    );
    let ca = tls.ca.to_string_lossy().into_owned();
    let server = TestServer::start_with(Backend::Sqlite, &["--smtp-ca-file", &ca]).await;
    server
        .post_ok(
            "/api/notification-channels",
            &json!({"name": "ops mail", "type": "smtp", "min_severity": "critical",
                "config": {"host": "127.0.0.1", "port": smtp.port, "security": "starttls",
                    "username": "dg-mailer", "password": password,
                    "from": "DataGuardian <backups@dg.example>", "to": ["ops@dg.example"]}}),
            201,
        )
        .await;
    let ds = server.pg_datasource("ghost", "dg_no_such_database").await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("ghost nightly", &ds, &storage, json!({})).await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let started = Instant::now();
    while smtp.messages().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no mail arrived\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mail = &smtp.messages()[0];
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["login"], "dg-mailer");
    // The subject names the job and the datasource.
    assert_eq!(
        mail["subject"], "[DataGuardian] Backup of job `ghost nightly` (datasource `ghost`) failed",
        "{mail}"
    );
    let body = mail["body"].as_str().unwrap_or_default();
    assert!(body.contains("Job: ghost nightly"), "{body}");
    assert!(body.contains("dg_no_such_database"), "{body}");
    assert!(body.contains("CRITICAL"), "{body}");
    assert!(!server.log().contains(password), "the password leaked");
}

/// A channel subscribed to `backup_completed` hears of a backup that
/// completes (and only of that: it also names `backup_skipped`, a kind the
/// scheduler raises, which a channel can now subscribe to by name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_backup_reaches_a_channel_subscribed_to_it() {
    let hook = Receiver::start().await;
    let server = TestServer::start(Backend::Sqlite).await;
    let url = format!("{}/hooks/done", hook.url);
    let channel = webhook(
        &server,
        "success hook",
        &url,
        json!({"events": ["backup_completed", "backup_skipped"]}),
    )
    .await;
    let view = server
        .get_ok(&format!("/api/notification-channels/{channel}"))
        .await;
    assert_eq!(
        view["events"],
        json!(["backup_completed", "backup_skipped"]),
        "{view}"
    );

    let source = common::server::chinook_db("notify_done");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server
        .job("chinook nightly", &ds, &storage, json!({}))
        .await;
    let done = server.run_job(&job).await;
    assert_eq!(done["status"], "completed", "{done}");

    let got = hook.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got[0].path, "/hooks/done");
    assert!(signed_by_secret(&got[0]), "{:?}", got[0]);
    let sent = got[0].json();
    assert_eq!(sent["kind"], "backup_completed", "{sent}");
    assert_eq!(sent["severity"], "info", "{sent}");
    let text = sent.to_string();
    assert!(text.contains("Job: chinook nightly"), "{text}");
    assert!(
        text.contains(done["id"].as_str().unwrap_or("no id")),
        "{text}"
    );
    let delivered = wait_deliveries(&server, &channel, "delivered", |d| {
        d.iter().any(|x| x["status"] == "delivered")
    })
    .await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    // The notification itself is listed under its kind.
    let notes = server
        .get_ok("/api/notifications?type=backup_completed")
        .await;
    assert_eq!(notes["pagination"]["total"], 1, "{notes}");
    assert_eq!(notes["data"][0]["entity_id"], done["id"], "{notes}");
}

/// `suppress_minutes` suppresses a job failing again: each failure is a
/// new execution, but the same job, so the second failure inside the
/// window is recorded as suppressed and not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_again_inside_the_window_is_suppressed() {
    let receiver = Receiver::start().await;
    let server = TestServer::start(Backend::Sqlite).await;
    let channel = webhook(
        &server,
        "pager",
        &receiver.url,
        json!({"events": ["backup_failed"], "suppress_minutes": 30}),
    )
    .await;
    let ds = server.pg_datasource("ghost", "dg_no_such_database").await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("ghost nightly", &ds, &storage, json!({})).await;
    for _ in 0..2 {
        let failed = server.run_job(&job).await;
        assert_eq!(failed["status"], "failed", "{failed}");
    }
    let d = wait_deliveries(&server, &channel, "one sent, one suppressed", |d| {
        d.len() == 2
            && d.iter().any(|x| x["status"] == "delivered")
            && d.iter().any(|x| x["status"] == "suppressed")
    })
    .await;
    assert_eq!(d.len(), 2, "{d:?}");
    // Every delivery has ended: the receiver got exactly the one sent.
    assert_eq!(receiver.received().len(), 1);
}

/// A server killed while a webhook request is in flight sends it again
/// after the delivery's lease, with the same `X-DataGuardian-Delivery`, so
/// the receiver can drop the repeat; the delivery ends `delivered`, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_interrupted_by_kill_is_resent_with_the_same_id() {
    let receiver = Receiver::start().await;
    receiver.hang(true);
    let mut server = TestServer::start_with(Backend::Sqlite, &["--delivery-lease-secs", "2"]).await;
    let channel = webhook(
        &server,
        "pager",
        &receiver.url,
        json!({"events": ["backup_failed"]}),
    )
    .await;
    let ds = server.pg_datasource("ghost", "dg_no_such_database").await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("ghost nightly", &ds, &storage, json!({})).await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    // The request reached the receiver, which holds it: kill mid-request.
    let first = receiver.wait_for(1, Duration::from_secs(30)).await;
    server.kill();
    let pending = first[0].header("x-dataguardian-delivery").expect("id");
    receiver.hang(false);
    server.restart();
    let again = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(
        again[1].header("x-dataguardian-delivery").as_deref(),
        Some(pending.as_str()),
        "the resend carries the same delivery id"
    );
    assert_eq!(
        again[0].json()["delivery_id"],
        again[1].json()["delivery_id"]
    );
    let d = wait_deliveries(&server, &channel, "delivered", |d| {
        d.len() == 1 && d[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(d[0]["id"].as_str(), Some(pending.as_str()), "{d:?}");
    assert_eq!(receiver.received().len(), 2, "sent once more, not again");
}
