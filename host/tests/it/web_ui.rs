//! The web UI as the server serves it (host/src/api/ui.rs): the embedded
//! build of web/ at `/`, deep links answered with the app, hashed assets
//! cached for good, a content security policy on every page, and API
//! paths never shadowed by the UI. Also what the UI needs from the API:
//! the committed OpenAPI document its client is generated from, plugin
//! config schemas, and the schedule preview. The UI itself is driven in
//! Chromium by web/e2e (scripts/test.sh).

use crate::common::server::{Backend, TestServer};
use reqwest::header;
use reqwest::StatusCode;
use serde_json::Value;

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

#[tokio::test]
async fn serves_the_app_with_caching_and_a_content_security_policy() {
    let server = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();

    // The app at `/` and at any deep link, without credentials: the files
    // hold no data.
    let mut etag = String::new();
    for path in ["/", "/jobs/new", "/setup?token=x", "/executions/0193"] {
        let resp = http.get(server.url(path)).send().await.expect("GET");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers().clone();
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        etag = h[header::ETAG].to_str().unwrap().to_string();
        let html = resp.text().await.expect("body");
        assert!(html.contains("<div id=\"root\">"), "{html}");
    }

    // Revalidation: the same build answers 304.
    let resp = http
        .get(server.url("/"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Hashed assets are cached for a year; a missing one is a 404, not HTML.
    let html = http
        .get(server.url("/"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("the page loads a script from /assets/");
    let resp = http.get(server.url(script)).send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(resp.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let resp = http
        .get(server.url("/assets/gone-1234.js"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "not_found");

    // HEAD has the headers and no body; other methods are refused as JSON.
    let resp = http.head(server.url("/")).send().await.expect("HEAD");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
        html.len().to_string(),
        "HEAD says what GET sends"
    );
    assert!(resp.bytes().await.expect("body").is_empty());
    let resp = http
        .post(server.url("/datasources"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The UI never answers for the API: unknown API paths stay JSON 404s
    // and API routes still need credentials.
    for path in ["/api/nope", "/api", "/metrics/x"] {
        let resp = http.get(server.url(path)).send().await.expect("GET");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = resp.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let resp = http
        .get(server.url("/api/datasources"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // API answers are not cached and not sniffed.
    let resp = server
        .http
        .get(server.url("/api/datasources"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(resp.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn the_committed_openapi_document_is_the_servers() {
    let server = TestServer::start(Backend::InProcess).await;
    let served = server.get_ok("/api/openapi.json").await;
    let path = repo_root().join("web/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("web/openapi.json"))
            .expect("JSON");
    assert!(
        committed == served,
        "web/openapi.json is stale: run `target/debug/dataguardian openapi > web/openapi.json && \
         (cd web && npm run gen:api)` and commit both"
    );
}

#[tokio::test]
async fn plugins_report_their_config_schema_and_secret_fields() {
    let server = TestServer::start(Backend::InProcess).await;
    let plugins = server.get_ok("/api/plugins").await;
    let find = |id: &str| -> Value {
        plugins["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|p| p["provides"].as_array().unwrap().iter().any(|t| t == id))
            .cloned()
            .unwrap_or_else(|| panic!("no plugin provides {id}: {plugins}"))
    };
    let postgres = find("postgres");
    assert_eq!(
        postgres["config_schema"]["properties"]["host"]["type"],
        "string"
    );
    assert_eq!(postgres["secret_fields"], serde_json::json!(["password"]));
    let mysql = find("mysql");
    assert!(mysql["secret_fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "password"));
    let local = find("local");
    assert_eq!(
        local["config_schema"]["required"],
        serde_json::json!(["path"])
    );
    assert_eq!(local["secret_fields"], serde_json::json!([]));
}

#[tokio::test]
async fn schedule_preview_answers_what_the_scheduler_would_run() {
    let server = TestServer::start(Backend::InProcess).await;
    let preview = server
        .get_ok("/api/backup-jobs/schedule-preview?schedule_cron=0%203%20*%20*%20*&schedule_timezone=Europe/Lisbon")
        .await;
    let runs = preview["next_runs"].as_array().expect("next_runs");
    assert_eq!(runs.len(), 5, "{preview}");
    for run in runs {
        let at: chrono::DateTime<chrono::Utc> = run.as_str().unwrap().parse().expect("RFC 3339");
        let local = at.with_timezone(&chrono_tz::Europe::Lisbon);
        assert_eq!(local.format("%H:%M").to_string(), "03:00", "{preview}");
    }
    let count = server
        .get_ok("/api/backup-jobs/schedule-preview?schedule_cron=*/5%20*%20*%20*%20*&count=12")
        .await;
    assert_eq!(count["next_runs"].as_array().unwrap().len(), 12);
    assert_eq!(count["schedule_timezone"], "UTC");

    for (query, field) in [
        ("schedule_cron=0%2025%20*%20*%20*", "schedule_cron"),
        (
            "schedule_cron=0%203%20*%20*%20*&schedule_timezone=Mars/Olympus",
            "schedule_timezone",
        ),
        ("schedule_cron=0%203%20*%20*%20*&count=21", "count"),
        ("schedule_timezone=UTC", "schedule_cron"),
    ] {
        let (status, body) = server
            .get(&format!("/api/backup-jobs/schedule-preview?{query}"))
            .await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

/// What the UI shows when a delete is refused reads names, not ids.
#[tokio::test]
async fn refusals_to_delete_name_the_datasource_storage_and_jobs() {
    let server = TestServer::start(Backend::InProcess).await;
    let ds = server.pg_datasource("Shop orders", "postgres").await;
    let (storage, _) = server.local_storage("Basement disk").await;
    server
        .job("orders nightly", &ds, &storage, serde_json::json!({}))
        .await;
    for (path, names) in [
        (
            format!("/api/datasources/{ds}"),
            ["Shop orders", "orders nightly"],
        ),
        (
            format!("/api/storage-locations/{storage}"),
            ["Basement disk", "orders nightly"],
        ),
    ] {
        let (status, body) = server.delete(&path).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        for name in names {
            assert!(message.contains(name), "{path}: {message}");
        }
        assert!(
            !message.contains(&ds) && !message.contains(&storage),
            "{path}: {message}"
        );
    }
}

/// The UI learns whether it is signed in without provoking a 401.
#[tokio::test]
async fn sign_in_options_say_whether_the_caller_is_signed_in() {
    let server = TestServer::start(Backend::InProcess).await;
    let (status, anonymous) = server
        .request_as(None, reqwest::Method::GET, "/api/auth/options", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anonymous["signed_in"], false, "{anonymous}");
    let (_, with_token) = server.get("/api/auth/options").await;
    assert_eq!(with_token["signed_in"], true, "{with_token}");
    let (status, revoked) = server
        .request_as(
            Some("dgt_not-a-token"),
            reqwest::Method::GET,
            "/api/auth/options",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a bad token is not an error here");
    assert_eq!(revoked["signed_in"], false, "{revoked}");

    // A refused setup token is named, so the setup page shows it there.
    let (status, body) = server
        .request_as(
            None,
            reqwest::Method::POST,
            "/api/auth/setup",
            Some(&serde_json::json!({"token": "wrong", "username": "x", "password": "long enough password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["field"], "token", "{body}");
}
