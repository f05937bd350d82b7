//! Bounds an API user cannot push the server past (issue 19): templates
//! render within output, memory and time caps; stored secrets follow
//! their destination; connections, event streams, channels and test
//! endpoints are capped.

use crate::common;

use common::server::{Backend, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

/// `VmHWM` (peak resident set) and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The template bombs of the probe: a repetition past the memory cap, a
/// string doubled by `set` (in a loop, and 24 times in a row: 16 B → 256
/// MiB), output past the output cap.
fn bombs() -> Vec<(String, &'static str)> {
    let doubled = format!(
        "{{% set a = 'xxxxxxxxxxxxxxxx' %}}{{% for i in range(40) %}}{{% set a = a ~ a %}}{{% endfor %}}\
         {{% set b = 'yyyyyyyyyyyyyyyy' %}}{}{{{{ a | length }}}} {{{{ b | length }}}}",
        "{% set b = b ~ b %}".repeat(24)
    );
    vec![
        (
            "{{ ('x' * 100000000) ~ ('x' * 100000000) }}".to_string(),
            "MiB of memory",
        ),
        (doubled, "MiB of memory"),
        (
            "{% for i in range(100000) %}{{ message }}{% endfor %}".to_string(),
            "65536 bytes",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_bombs_are_refused_and_the_server_stays_small() {
    let server = TestServer::start(Backend::Sqlite).await;
    let templates = server.get_ok("/api/system/notification-templates").await;
    let tid = templates["data"][0]["id"]
        .as_str()
        .expect("a template")
        .to_string();
    let path = format!("/api/system/notification-templates/{tid}");
    for round in 0..2 {
        for (bomb, cap) in bombs() {
            for (field, body) in [
                ("body", json!({"body": bomb.as_str()})),
                ("subject", json!({"subject": bomb.as_str(), "body": "ok"})),
            ] {
                let (status, answer) = server
                    .post("/api/system/notification-templates/preview", &body)
                    .await;
                assert_eq!(status, 422, "preview {round} {bomb}: {answer}");
                assert_eq!(answer["error"]["field"], field, "{answer}");
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(cap) && message.contains("cap"), "{answer}");
                let (status, answer) = server.put(&path, &body).await;
                assert_eq!(status, 422, "save {round} {bomb}: {answer}");
                assert_eq!(answer["error"]["field"], field, "{answer}");
            }
        }
    }
    // Nothing was saved, and the server never grew.
    let kept = server.get_ok(&path).await;
    assert_eq!(kept["active_version"], 1, "{kept}");
    let (peak, now) = memory_kib(server.pid());
    assert!(
        peak < 200 * 1024 && now < 200 * 1024,
        "server peak {peak} KiB, now {now} KiB"
    );

    // Real templates still render: the defaults, conditionals, loops over
    // context values, filters.
    for t in templates["data"].as_array().expect("list").iter().take(3) {
        let preview = server
            .post_ok(
                "/api/system/notification-templates/preview",
                &json!({"subject": t["subject"], "body": t["body"]}),
                200,
            )
            .await;
        assert_eq!(preview["subject"], "[DataGuardian] Backup of `shop` failed");
        assert!(
            preview["body"]
                .as_str()
                .unwrap_or_default()
                .contains("Job: shop nightly"),
            "{preview}"
        );
    }
    let realistic = json!({
        "subject": "{{ severity | upper }} {{ job.name | default('no job') }}",
        "body": "{% if execution.error %}Error: {{ execution.error | trim }}{% else %}fine{% endif %}\n\
                 {% for key, value in fields | dictsort %}- {{ key }}: {{ value }}\n{% endfor %}\
                 {{ datasource.name | title }} on {{ node }} ({{ execution.duration or 'n/a' }})",
    });
    let preview = server
        .post_ok(
            "/api/system/notification-templates/preview",
            &realistic,
            200,
        )
        .await;
    assert_eq!(preview["subject"], "CRITICAL shop nightly", "{preview}");
    let body = preview["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("Error: pg_dump"), "{body}");
    assert!(body.contains("- attempts: 3\n"), "{body}");
    assert!(body.ends_with("Shop on backup-1 (31.4s)"), "{body}");
    let saved = server.put(&path, &realistic).await.1;
    assert_eq!(saved["active_version"], 2, "{saved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_secrets_follow_who_a_message_goes_to_and_is_from() {
    let server = TestServer::start(Backend::Sqlite).await;
    let smtp = json!({"host": "127.0.0.1", "port": 2525, "security": "starttls",
        "username": "dg", "password": "smtp-pw-1",
        "from": "DataGuardian <dg@example.com>", "to": ["ops@example.com"], "cc": []});
    let whatsapp = json!({"phone_number_id": "106540352242922",
        "recipients": ["+5511987654321"], "access_token": "wa-token-1"});
    for (kind, config, secret, moves) in [
        (
            "smtp",
            smtp,
            "password",
            vec![
                ("to", json!(["ops@example.com", "attacker@evil.example"])),
                ("from", json!("CEO <ceo@example.com>")),
                ("cc", json!(["attacker@evil.example"])),
            ],
        ),
        (
            "whatsapp",
            whatsapp,
            "access_token",
            vec![
                ("recipients", json!(["+5511987654321", "+4915112345678"])),
                ("phone_number_id", json!("999999999999999")),
            ],
        ),
    ] {
        let created = server
            .post_ok(
                "/api/notification-channels",
                &json!({"name": kind, "type": kind, "config": config}),
                201,
            )
            .await;
        assert_eq!(created["config"][secret], "********", "{created}");
        let path = format!(
            "/api/notification-channels/{}",
            created["id"].as_str().expect("id")
        );
        // The same destination: the stored secret is kept, whether sent
        // back redacted or left out (the placeholder is accepted only with
        // a stored value behind it).
        let mut same = config.clone();
        same[secret] = json!("********");
        if kind == "smtp" {
            same["timeout_secs"] = json!(60);
        }
        let (status, answer) = server.put(&path, &json!({"config": same})).await;
        assert_eq!(status, 200, "{kind}: {answer}");
        let mut left_out = same.clone();
        left_out.as_object_mut().expect("object").remove(secret);
        let (status, answer) = server.put(&path, &json!({"config": left_out})).await;
        assert_eq!(status, 200, "{kind}: {answer}");
        let (status, answer) = server.put(&path, &json!({"config": same})).await;
        assert_eq!(status, 200, "{kind}, the secret is still stored: {answer}");

        // Another recipient or sender: the secret must be sent again.
        for (key, value) in moves {
            for stale in [Some(json!("********")), None] {
                let mut moved = same.clone();
                moved[key] = value.clone();
                match &stale {
                    Some(v) => moved[secret] = v.clone(),
                    None => {
                        moved.as_object_mut().expect("object").remove(secret);
                    }
                }
                let (status, answer) = server.put(&path, &json!({"config": moved})).await;
                assert_eq!(status, 422, "{kind} {key} {stale:?}: {answer}");
                assert_eq!(
                    answer["error"]["field"],
                    format!("config.{secret}"),
                    "{answer}"
                );
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(&format!("`{key}` changed")), "{answer}");
            }
            let mut resent = same.clone();
            resent[key] = value.clone();
            resent[secret] = json!("sent-again");
            let (status, answer) = server.put(&path, &json!({"config": resent})).await;
            assert_eq!(status, 200, "{kind} {key} with the secret: {answer}");
            // Back to the first destination, the secret given again.
            let mut back = config.clone();
            back[secret] = json!("sent-again");
            let (status, answer) = server.put(&path, &json!({"config": back})).await;
            assert_eq!(status, 200, "{answer}");
            same = config.clone();
            same[secret] = json!("********");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_must_be_strings_at_every_depth() {
    let server = TestServer::start(Backend::Sqlite).await;
    for (path, body, field) in [
        (
            "/api/datasources",
            json!({"name": "n", "type": "postgres", "connection_config": {"host": "127.0.0.1",
                "database": "postgres", "username": "postgres", "password": 1234}}),
            "connection_config.password",
        ),
        (
            "/api/datasources",
            json!({"name": "n", "type": "postgres", "connection_config": {"host": "127.0.0.1",
                "database": "postgres", "username": "postgres", "password": true}}),
            "connection_config.password",
        ),
        (
            "/api/datasources",
            json!({"name": "n", "type": "postgres", "connection_config": {"host": "127.0.0.1",
                "database": "postgres", "username": "postgres", "extra": {"token": 99}}}),
            "connection_config.extra.token",
        ),
        (
            "/api/notification-channels",
            json!({"name": "n", "type": "webhook", "config": {"url": "http://127.0.0.1:9/x",
                "secret": 42}}),
            "config.secret",
        ),
        (
            "/api/storage-locations",
            json!({"name": "n", "type": "s3", "config": {"bucket": "b", "region": "us-east-1",
                "access_key_id": "AKIA", "secret_access_key": 1.5}}),
            "config.secret_access_key",
        ),
    ] {
        let (status, answer) = server.post(path, &body).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("must be a string"),
            "{answer}"
        );
    }
}

/// Opens `n` connections to `server` that each send half a request head
/// and then nothing.
async fn half_headers(server: &TestServer, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .expect("half a header");
        slow.push(s);
    }
    slow
}

/// Waits until the server closed every one of `streams` (EOF or reset),
/// at most `limit`.
async fn all_closed(streams: Vec<tokio::net::TcpStream>, limit: Duration) {
    use tokio::io::AsyncReadExt;
    let waits = streams.into_iter().map(|mut s| async move {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // A 408 or similar before closing is fine.
                Ok(_) => continue,
            }
        }
    });
    tokio::time::timeout(limit, futures::future::join_all(waits))
        .await
        .expect("the server still holds connections that sent half a header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_connections_capped() {
    let server = TestServer::start_with(Backend::Sqlite, &["--header-timeout-secs", "2"]).await;
    let slow = half_headers(&server, 200).await;
    // Meanwhile, a normal request is served at once.
    let clock = Instant::now();
    let health = server.get_ok("/health").await;
    assert!(clock.elapsed() < Duration::from_secs(2), "{health}");
    all_closed(slow, Duration::from_secs(20)).await;
    let health = server.get_ok("/health").await;
    assert_eq!(health["status"], "ok", "{health}");

    // With every connection slot taken, a new connection waits to be
    // accepted until the slow ones are cut off, then it is served.
    let capped = TestServer::start_with(
        Backend::Sqlite,
        &["--header-timeout-secs", "2", "--max-connections", "4"],
    )
    .await;
    let slow = half_headers(&capped, 4).await;
    let clock = Instant::now();
    let fresh = reqwest::Client::new(); // no pooled connection to reuse
    let answer = fresh
        .get(capped.url("/health"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("served once a slot frees");
    assert_eq!(answer.status(), 200);
    assert!(
        clock.elapsed() >= Duration::from_millis(1500),
        "served while 4 of 4 slots were held: {:?}",
        clock.elapsed()
    );
    all_closed(slow, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripped_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Header timeout 1 s: a body must arrive within 3 s of its head.
    let server = TestServer::start_with(Backend::Sqlite, &["--header-timeout-secs", "1"]).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /api/system/notification-templates/preview HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        server.token
    );
    write.write_all(head.as_bytes()).await.expect("head");
    // One byte every 250 ms: the whole body would take 25 s.
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 4096];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server still waits for a body dripped over 25 s");
    drip.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    // The server goes on serving.
    server.get_ok("/health").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_per_client() {
    let server = TestServer::start(Backend::Sqlite).await;
    let open = |client: reqwest::Client| {
        let url = server.url("/api/events");
        async move { client.get(url).send().await.expect("events") }
    };
    let mut streams = Vec::new();
    for i in 0..8 {
        // One connection per stream (a client that reuses one connection
        // cannot hold two streams on it anyway).
        let s = open(crate::common::server::client_with_token(&server.token)).await;
        assert_eq!(s.status(), 200, "stream {i}");
        streams.push(s);
    }
    let refused = open(crate::common::server::client_with_token(&server.token)).await;
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
    // Closing one frees its slot (once the server sees the close).
    drop(streams.pop());
    let started = Instant::now();
    loop {
        let again = open(crate::common::server::client_with_token(&server.token)).await;
        if again.status() == 200 {
            streams.push(again);
            break;
        }
        assert_eq!(again.status(), 429);
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "a closed stream's slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_endpoints_are_rate_limited_per_client() {
    let server = TestServer::start(Backend::Sqlite).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    let routes = [
        format!("/api/notification-channels/{missing}/test"),
        format!("/api/datasources/{missing}/test-connection"),
        format!("/api/storage-locations/{missing}/test"),
    ];
    // Ten calls a minute over all test routes together...
    for i in 0..10 {
        let (status, answer) = server.post(&routes[i % 3], &json!({})).await;
        assert_eq!(status, 404, "call {i}: {answer}");
    }
    // ...then 429 with Retry-After on each of them.
    for route in &routes {
        let answer = server
            .http
            .post(server.url(route))
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(answer.status(), 429, "{route}");
        let wait: u64 = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        let body: serde_json::Value = answer.json().await.expect("JSON error");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    }
    // Other routes are not limited.
    server.get_ok("/api/notification-channels").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_channels_are_capped() {
    let server = TestServer::start(Backend::Sqlite).await;
    let channel = |i: usize| {
        json!({"name": format!("hook {i:03}"), "type": "webhook",
            "config": {"url": format!("http://127.0.0.1:9/hook/{i}")}})
    };
    for i in 0..100 {
        server
            .post_ok("/api/notification-channels", &channel(i), 201)
            .await;
    }
    let (status, answer) = server
        .post("/api/notification-channels", &channel(100))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "too_many_channels", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("100"),
        "{answer}"
    );
    let list = server.get_ok("/api/notification-channels?limit=1").await;
    assert_eq!(list["pagination"]["total"], 100, "{list}");
}
