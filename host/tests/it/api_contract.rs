//! The REST API's contract, over real HTTP on both metadata backends:
//! bad input is answered with the error body naming the field (never a
//! 500), the OpenAPI document is valid and lists every route, CRUD and
//! lists behave, health checks and their notifications, the storage
//! explorer on a real backup, and system settings.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::server::{chinook_db, Backend, TestServer};
use common::{psql, TempDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::process::Command;

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/// A response: status, content type and body (JSON, or the text as a
/// JSON string when it is not JSON).
struct Reply {
    status: StatusCode,
    content_type: String,
    /// The `connection` header (empty when absent).
    connection: String,
    body: Value,
}

/// Sends a raw body (possibly not JSON at all).
async fn send_raw(
    server: &TestServer,
    method: Method,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    send_raw_with(&server.http, server, method, path, body).await
}

/// [`send_raw`] on a given client (its own connection pool).
async fn send_raw_with(
    client: &reqwest::Client,
    server: &TestServer,
    method: Method,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let resp = client
        .request(method, server.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("HTTP request");
    reply(resp).await
}

/// Sends a request without a body.
async fn send_empty(server: &TestServer, method: Method, path: &str) -> Reply {
    let resp = server
        .http
        .request(method, server.url(path))
        .send()
        .await
        .expect("HTTP request");
    reply(resp).await
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let content_type = header("content-type");
    let connection = header("connection");
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        content_type,
        connection,
        body,
    }
}

/// Checks the shape every error shares: the exact status, a JSON body
/// `{"error": {"code", "message", "field"?}}` and nothing else. Returns
/// the `error` object.
#[track_caller]
fn error_shape<'a>(
    ctx: &str,
    status: StatusCode,
    body: &'a Value,
    want: u16,
) -> &'a Map<String, Value> {
    assert_eq!(status.as_u16(), want, "{ctx}: status; body {body}");
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: the error body is not a JSON object: {body}"));
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        ["error"],
        "{ctx}: only `error` at the top: {body}"
    );
    let err = top["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: `error` is not an object: {body}"));
    for key in err.keys() {
        assert!(
            ["code", "message", "field"].contains(&key.as_str()),
            "{ctx}: unexpected key `{key}` in {body}"
        );
    }
    assert!(
        err.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty()),
        "{ctx}: code: {body}"
    );
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{ctx}: message: {body}"
    );
    if let Some(f) = err.get("field") {
        assert!(f.is_string(), "{ctx}: field is not a string: {body}");
    }
    // People read these: no Rust paths or type names, no parser
    // positions (the field says where).
    let message = err["message"].as_str().unwrap_or_default();
    for internal in ["::", "line 1 column", "at line ", "serde", "sqlx"] {
        assert!(
            !message.contains(internal),
            "{ctx}: the message shows an internal `{internal}`: {message}"
        );
    }
    err
}

/// An error with this status, code and field (`None`: no field).
/// Returns the message for further checks.
#[track_caller]
fn expect_error(
    ctx: &str,
    (status, body): &(StatusCode, Value),
    want: u16,
    code: &str,
    field: Option<&str>,
) -> String {
    let err = error_shape(ctx, *status, body, want);
    assert_eq!(err["code"], code, "{ctx}: code; body {body}");
    assert_eq!(
        err.get("field").and_then(Value::as_str),
        field,
        "{ctx}: field; body {body}"
    );
    err["message"].as_str().unwrap().to_string()
}

/// A 422 `validation_failed` naming `field`, whose message contains each
/// of `words`.
#[track_caller]
fn expect_invalid(ctx: &str, reply: &(StatusCode, Value), field: &str, words: &[&str]) {
    let message = expect_error(ctx, reply, 422, "validation_failed", Some(field));
    assert_mentions(ctx, &message, words);
}

#[track_caller]
fn assert_mentions(ctx: &str, message: &str, words: &[&str]) {
    for w in words {
        assert!(
            message.contains(w),
            "{ctx}: the message should mention `{w}`: {message}"
        );
    }
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// A PostgreSQL connection config on the local server.
fn pg_config(database: &str, port: u16, password: &str) -> Value {
    json!({"host": "127.0.0.1", "port": port, "database": database,
           "username": "postgres", "password": password})
}

/// A datasource created through the API; returns its view.
async fn create_datasource(server: &TestServer, body: Value) -> Value {
    server.post_ok("/api/datasources", &body, 201).await
}

/// A PostgreSQL datasource on a port nothing listens on.
async fn unreachable_datasource(server: &TestServer, name: &str) -> String {
    let v = create_datasource(
        server,
        json!({"name": name, "type": "postgres",
               "connection_config": pg_config("postgres", 1, "pw")}),
    )
    .await;
    id_of(&v)
}

/// The storage the server creates on a fresh install.
async fn default_storage(server: &TestServer) -> String {
    let list = server.get_ok("/api/storage-locations").await;
    let found = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_default"] == true)
        .unwrap_or_else(|| panic!("no default storage: {list}"));
    id_of(found)
}

/// A valid job body; `extra` overrides.
fn job_body(name: &str, datasource: &str, storage: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name, "datasource_id": datasource, "storage_location_id": storage,
        "schedule_cron": "0 3 * * *",
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    body
}

/// A datasource and a storage to hang jobs on (no connection is made).
async fn job_targets(server: &TestServer) -> (String, String) {
    let ds = create_datasource(
        server,
        json!({"name": "target", "type": "postgres",
               "connection_config": pg_config("postgres", 5432, "pw")}),
    )
    .await;
    (id_of(&ds), default_storage(server).await)
}

/// Runs a recorded health check; returns `{check, datasource}`.
async fn health_check(server: &TestServer, id: &str) -> Value {
    server
        .post_ok(
            &format!("/api/datasources/{id}/health-check"),
            &json!({}),
            200,
        )
        .await
}

async fn health_history(server: &TestServer, id: &str) -> Vec<Value> {
    server
        .get_ok(&format!("/api/datasources/{id}/health-checks"))
        .await["data"]
        .as_array()
        .expect("history is {data, pagination}")
        .clone()
}

/// Names of the items of a list response, in order.
fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {list}"))
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// The stored connection config of a datasource, read from the metadata
/// database and opened with the server's master key (the API only ever
/// shows `********`; the database holds only sealed values).
fn stored_connection_config(server: &TestServer, id: &str) -> Value {
    let raw = stored_raw_connection_config(server, id);
    for key in dataguardian::secrets::SECRET_KEYS {
        if let Some(Value::String(s)) = raw.get(*key) {
            assert!(s.starts_with("dg-sealed:"), "{key} stored unsealed: {raw}");
        }
    }
    let ring =
        dataguardian::secrets::Keyring::load_or_create(None, &server.data_dir().join("master.key"))
            .expect("master key");
    ring.open(&raw).expect("sealed values open")
}

/// The connection config exactly as stored.
fn stored_raw_connection_config(server: &TestServer, id: &str) -> Value {
    let sql = format!("select connection_config from datasources where id = '{id}'");
    let text = match server.backend {
        Backend::Sqlite | Backend::InProcess => {
            let out = Command::new("sqlite3")
                .arg(server.data_dir().join("dataguardian.db"))
                .arg(&sql)
                .output()
                .expect("running sqlite3");
            assert!(
                out.status.success(),
                "sqlite3: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
        Backend::Postgres => {
            // The harness keeps the metadata database's name to itself;
            // the row's id is a UUID, so the database holding it is ours.
            let dbs = psql(
                "postgres",
                "select datname from pg_database where datname like 'dgt_meta_%'",
            );
            dbs.lines()
                .find_map(|db| {
                    let out = Command::new("psql")
                        .args(["-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-U", "postgres"])
                        .args(["-d", db.trim(), "-c", &sql])
                        .output()
                        .ok()?;
                    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    (out.status.success() && !text.is_empty()).then_some(text)
                })
                .unwrap_or_default()
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored config of {id} ({text:?}): {e}"))
}

/// The next 03:00 in Tokyo strictly after `now`, in UTC.
fn next_3am_tokyo(now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = chrono_tz::Asia::Tokyo;
    let mut day = now.with_timezone(&tz).date_naive();
    loop {
        let local = day.and_hms_opt(3, 0, 0).unwrap();
        let at = tz
            .from_local_datetime(&local)
            .single()
            .expect("Tokyo has no DST")
            .with_timezone(&Utc);
        if at > now {
            return at;
        }
        day = day.succ_opt().unwrap();
    }
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .with_timezone(&Utc)
}

// ---------------------------------------------------------------------
// 1. Bad input
// ---------------------------------------------------------------------

async fn malformed_json_is_400(backend: Backend) {
    let server = TestServer::start(backend).await;
    let storage = default_storage(&server).await;
    for (method, path) in [
        (Method::POST, "/api/datasources".to_string()),
        (Method::POST, "/api/backup-jobs".to_string()),
        (Method::PUT, format!("/api/storage-locations/{storage}")),
        (Method::PUT, "/api/system/settings".to_string()),
    ] {
        let ctx = format!("{method} {path}");
        let r = send_raw(&server, method.clone(), &path, r#"{"name": "x", "type""#).await;
        let m = expect_error(
            &format!("{ctx} truncated"),
            &(r.status, r.body),
            400,
            "invalid_json",
            None,
        );
        assert_mentions(&ctx, &m, &["not valid JSON"]);
        assert!(r.content_type.starts_with("application/json"), "{ctx}");

        for empty in ["", "  \n"] {
            let r = send_raw(&server, method.clone(), &path, empty).await;
            let m = expect_error(
                &format!("{ctx} empty {empty:?}"),
                &(r.status, r.body),
                400,
                "invalid_json",
                None,
            );
            assert_mentions(&ctx, &m, &["JSON body is required"]);
        }

        let r = send_raw(&server, method.clone(), &path, "name=x&type=postgres").await;
        expect_error(
            &format!("{ctx} form body"),
            &(r.status, r.body),
            400,
            "invalid_json",
            None,
        );
    }
    // Well-formed JSON of the wrong shape is a 422, not a 400.
    let r = send_raw(&server, Method::POST, "/api/datasources", "null").await;
    expect_error(
        "null body",
        &(r.status, r.body),
        422,
        "validation_failed",
        None,
    );
    let r = send_raw(&server, Method::PUT, "/api/system/settings", "[1]").await;
    expect_error(
        "array settings",
        &(r.status, r.body),
        422,
        "validation_failed",
        None,
    );
}
on_both_backends!(malformed_json_is_400_, malformed_json_is_400);

async fn wrong_types_name_the_dotted_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let good = |extra: Value| {
        let mut body = json!({"name": "typed", "type": "postgres",
                              "connection_config": pg_config("postgres", 5432, "pw")});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let r = server
        .post("/api/datasources", &good(json!({"enabled": "yes"})))
        .await;
    expect_invalid("enabled: \"yes\"", &r, "enabled", &["expected a boolean"]);
    let r = server
        .post("/api/datasources", &good(json!({"connection_config": 5})))
        .await;
    expect_invalid(
        "connection_config: 5",
        &r,
        "connection_config",
        &["JSON object"],
    );
    let r = server
        .post("/api/datasources", &good(json!({"tags": "prod"})))
        .await;
    expect_invalid("tags: \"prod\"", &r, "tags", &["expected an array"]);
    let r = server
        .post("/api/datasources", &good(json!({"name": 7})))
        .await;
    expect_invalid("name: 7", &r, "name", &["expected a string"]);

    let (ds, storage) = job_targets(&server).await;
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body(
                "j",
                &ds,
                &storage,
                json!({"retention_policy": {"max_backups": "three"}}),
            ),
        )
        .await;
    expect_invalid(
        "max_backups: \"three\"",
        &r,
        "retention_policy.max_backups",
        &["three"],
    );
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body(
                "j",
                &ds,
                &storage,
                json!({"storage_location_id": null, "storage_location_ids": [storage, 5]}),
            ),
        )
        .await;
    expect_invalid(
        "storage_location_ids[1]: 5",
        &r,
        "storage_location_ids[1]",
        &["expected a string"],
    );

    // Updates name the field the same way.
    let r = server
        .put(
            &format!("/api/datasources/{ds}"),
            &json!({"enabled": "yes"}),
        )
        .await;
    expect_invalid("PUT enabled: \"yes\"", &r, "enabled", &["boolean"]);
    let job = server
        .post_ok(
            "/api/backup-jobs",
            &job_body("j", &ds, &storage, json!({})),
            201,
        )
        .await;
    let r = server
        .put(
            &format!("/api/backup-jobs/{}", id_of(&job)),
            &json!({"retention_policy": {"max_backups": "three"}}),
        )
        .await;
    expect_invalid(
        "PUT max_backups: \"three\"",
        &r,
        "retention_policy.max_backups",
        &["three"],
    );
    let r = server
        .put(
            &format!("/api/backup-jobs/{}", id_of(&job)),
            &json!({"retention_policy": {"max_backups": 0}}),
        )
        .await;
    expect_invalid(
        "PUT max_backups: 0",
        &r,
        "retention_policy.max_backups",
        &["at least 1"],
    );
}
in_process!(
    wrong_types_name_the_dotted_field_,
    wrong_types_name_the_dotted_field
);

async fn unknown_and_missing_fields(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "a", "type": "postgres", "colour": "red",
                    "connection_config": pg_config("postgres", 5432, "pw")}),
        )
        .await;
    expect_invalid("unknown field", &r, "colour", &["unknown field `colour`"]);

    let (ds, storage) = job_targets(&server).await;
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body("j", &ds, &storage, json!({"retries": 3})),
        )
        .await;
    expect_invalid(
        "unknown job field",
        &r,
        "retries",
        &["unknown field `retries`"],
    );
    let r = server
        .put(
            &format!("/api/storage-locations/{storage}"),
            &json!({"colour": 1}),
        )
        .await;
    expect_invalid(
        "unknown PUT field",
        &r,
        "colour",
        &["unknown field `colour`"],
    );
    // A misspelt policy would otherwise keep every backup forever.
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body(
                "j",
                &ds,
                &storage,
                json!({"retention_policy": {"max_backup": 3, "auto_delete": true}}),
            ),
        )
        .await;
    expect_invalid(
        "retention typo",
        &r,
        "retention_policy.max_backup",
        &["unknown field `max_backup`"],
    );
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body(
                "j",
                &ds,
                &storage,
                json!({"backup_options": {"compresion": "gzip"}}),
            ),
        )
        .await;
    expect_invalid(
        "options typo",
        &r,
        "backup_options.compresion",
        &["unknown field `compresion`"],
    );

    // A missing field is reported at the object's level: the message
    // names it (serde puts no path on it).
    let r = server
        .post(
            "/api/datasources",
            &json!({"type": "postgres", "connection_config": {}}),
        )
        .await;
    let err = error_shape("missing name", r.0, &r.1, 422);
    assert_eq!(err["code"], "validation_failed", "{}", r.1);
    assert_mentions(
        "missing name",
        err["message"].as_str().unwrap(),
        &["missing field `name`"],
    );
    let mut body = job_body("j", &ds, &storage, json!({}));
    body.as_object_mut().unwrap().remove("schedule_cron");
    let r = server.post("/api/backup-jobs", &body).await;
    let err = error_shape("missing schedule_cron", r.0, &r.1, 422);
    assert_mentions(
        "missing schedule_cron",
        err["message"].as_str().unwrap(),
        &["schedule_cron"],
    );

    // Blank names are refused too.
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "   ", "type": "postgres",
                    "connection_config": pg_config("postgres", 5432, "pw")}),
        )
        .await;
    expect_invalid("blank name", &r, "name", &["must not be empty"]);

    // Nothing was created by any of these.
    let list = server.get_ok("/api/datasources").await;
    assert_eq!(names(&list), ["target"], "{list}");
    let jobs = server.get_ok("/api/backup-jobs").await;
    assert_eq!(jobs["pagination"]["total"], 0, "{jobs}");
}
in_process!(unknown_and_missing_fields_, unknown_and_missing_fields);

async fn engine_type_and_config_are_checked(backend: Backend) {
    let server = TestServer::start(backend).await;
    let plugins = server.get_ok("/api/plugins").await;
    let engines: Vec<String> = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "engine")
        .flat_map(|p| p["provides"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert!(
        engines.iter().any(|e| e == "postgres") && engines.iter().any(|e| e == "sqlite"),
        "{plugins}"
    );

    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "o", "type": "oracle", "connection_config": {}}),
        )
        .await;
    let mut words: Vec<&str> = engines.iter().map(String::as_str).collect();
    words.push("oracle");
    expect_invalid("type oracle", &r, "type", &words);

    // The postgres plugin validates its own configuration.
    let mut no_host = pg_config("postgres", 5432, "pw");
    no_host.as_object_mut().unwrap().remove("host");
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "p", "type": "postgres", "connection_config": no_host}),
        )
        .await;
    expect_invalid("no host", &r, "connection_config.host", &["required"]);
    let mut extra = pg_config("postgres", 5432, "pw");
    extra["hostname"] = json!("db");
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "p", "type": "postgres", "connection_config": extra}),
        )
        .await;
    expect_invalid(
        "unknown config key",
        &r,
        "connection_config.hostname",
        &["not a setting", "`host`"],
    );
    let mut empty_host = pg_config("postgres", 5432, "pw");
    empty_host["host"] = json!("");
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "p", "type": "postgres", "connection_config": empty_host}),
        )
        .await;
    expect_invalid("empty host", &r, "connection_config.host", &["empty"]);

    // Storage types likewise.
    let r = server
        .post(
            "/api/storage-locations",
            &json!({"name": "f", "type": "ftp", "config": {"path": "/tmp"}}),
        )
        .await;
    expect_invalid("storage type ftp", &r, "type", &["ftp", "local"]);
}
in_process!(
    engine_type_and_config_are_checked_,
    engine_type_and_config_are_checked
);

async fn schedules_are_validated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (ds, storage) = job_targets(&server).await;
    for (cron, words) in [
        ("61 * * * *", &["61", "0-59"][..]),
        ("* * *", &["5 fields", "got 3"][..]),
        ("every day", &["5 fields"][..]),
        ("", &["empty"][..]),
        ("0 25 * * *", &["25"][..]),
    ] {
        let r = server
            .post(
                "/api/backup-jobs",
                &job_body("j", &ds, &storage, json!({"schedule_cron": cron})),
            )
            .await;
        expect_invalid(&format!("cron {cron:?}"), &r, "schedule_cron", words);
    }
    let r = server
        .post(
            "/api/backup-jobs",
            &job_body(
                "j",
                &ds,
                &storage,
                json!({"schedule_timezone": "Mars/Olympus"}),
            ),
        )
        .await;
    expect_invalid(
        "timezone",
        &r,
        "schedule_timezone",
        &["Mars/Olympus", "IANA"],
    );

    // An update with a bad schedule changes nothing.
    let job = server
        .post_ok(
            "/api/backup-jobs",
            &job_body("j", &ds, &storage, json!({})),
            201,
        )
        .await;
    let path = format!("/api/backup-jobs/{}", id_of(&job));
    let r = server
        .put(&path, &json!({"schedule_cron": "61 * * * *"}))
        .await;
    expect_invalid("PUT cron", &r, "schedule_cron", &["61"]);
    let r = server
        .put(&path, &json!({"schedule_timezone": "Nowhere/City"}))
        .await;
    expect_invalid("PUT timezone", &r, "schedule_timezone", &["Nowhere/City"]);
    let after = server.get_ok(&path).await;
    assert_eq!(after["schedule_cron"], "0 3 * * *", "{after}");
    assert_eq!(after["schedule_timezone"], "UTC", "{after}");
    assert_eq!(after["next_execution_at"], job["next_execution_at"]);
}
in_process!(schedules_are_validated_, schedules_are_validated);

async fn job_references_and_options_are_validated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (ds, storage) = job_targets(&server).await;
    let missing = "00000000-0000-0000-0000-000000000000";
    let cases = [
        (
            json!({"storage_location_id": missing}),
            "storage_location_id",
            &[missing][..],
        ),
        (
            json!({"datasource_id": missing}),
            "datasource_id",
            &[missing][..],
        ),
        (
            json!({"storage_strategy": "mirror"}),
            "storage_strategy",
            &["mirror", "fallback", "replicate"][..],
        ),
        (
            json!({"backup_options": {"compression": "rar"}}),
            "backup_options.compression",
            &["rar"][..],
        ),
        (
            json!({"backup_options": {"max_file_size_mb": 0}}),
            "backup_options.max_file_size_mb",
            &["greater than 0"][..],
        ),
        (
            json!({"storage_location_id": null, "storage_location_ids": []}),
            "storage_location_ids",
            &["at least one"][..],
        ),
        (
            json!({"storage_location_id": null, "storage_location_ids": [storage, storage]}),
            "storage_location_ids[1]",
            &["twice"][..],
        ),
    ];
    for (extra, field, words) in cases {
        let ctx = extra.to_string();
        let r = server
            .post("/api/backup-jobs", &job_body("j", &ds, &storage, extra))
            .await;
        expect_invalid(&ctx, &r, field, words);
    }
    let jobs = server.get_ok("/api/backup-jobs").await;
    assert_eq!(jobs["pagination"]["total"], 0, "nothing created: {jobs}");
}
in_process!(
    job_references_and_options_are_validated_,
    job_references_and_options_are_validated
);

async fn storage_config_is_validated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = server
        .post(
            "/api/storage-locations",
            &json!({"name": "rel", "type": "local", "create_root": true, "config": {"path": "relative/dir"}}),
        )
        .await;
    expect_invalid("relative path", &r, "config.path", &["absolute"]);
    let r = server
        .post(
            "/api/storage-locations",
            &json!({"name": "none", "type": "local", "config": {}}),
        )
        .await;
    expect_invalid("no path", &r, "config.path", &["required"]);
    let r = server
        .post(
            "/api/storage-locations",
            &json!({"name": "str", "type": "local", "config": "/tmp/x"}),
        )
        .await;
    expect_invalid("config string", &r, "config", &["JSON object"]);

    // An update to a relative path is refused and changes nothing.
    let (id, root) = server.local_storage("disk").await;
    let r = server
        .put(
            &format!("/api/storage-locations/{id}"),
            &json!({"config": {"path": "relative/dir"}}),
        )
        .await;
    expect_invalid("PUT relative path", &r, "config.path", &["absolute"]);
    let v = server.get_ok(&format!("/api/storage-locations/{id}")).await;
    assert_eq!(v["config"]["path"], root.to_str().unwrap(), "{v}");
}
in_process!(storage_config_is_validated_, storage_config_is_validated);

/// Answers that were wrong before: databases listed through the
/// maintenance database, unknown query parameters refused, timezones
/// stored by their canonical name.
async fn smaller_answers_are_right(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ds = id_of(
        &create_datasource(
            &server,
            json!({"name": "gone", "type": "postgres",
                   "connection_config": pg_config("dg_no_such_database", 5432, "pw")}),
        )
        .await,
    );
    let dbs = server
        .get_ok(&format!("/api/datasources/{ds}/databases"))
        .await;
    assert!(
        dbs["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "postgres"),
        "{dbs}"
    );

    let r = server.get("/api/datasources?limit=5&bogus=1").await;
    let message = expect_error(
        "unknown query parameter",
        &r,
        400,
        "invalid_query",
        Some("bogus"),
    );
    assert_mentions("unknown query parameter", &message, &["bogus"]);

    let storage = default_storage(&server).await;
    let job = server
        .post_ok(
            "/api/backup-jobs",
            &job_body(
                "tz",
                &ds,
                &storage,
                json!({"schedule_timezone": "europe/lisbon"}),
            ),
            201,
        )
        .await;
    assert_eq!(job["schedule_timezone"], "Europe/Lisbon", "{job}");
    // A server flag sent as a setting would be silently ignored: refused.
    let r = server
        .put("/api/system/settings", &json!({"backup_concurrency": 8}))
        .await;
    expect_invalid(
        "a server flag as a setting",
        &r,
        "backup_concurrency",
        &["--backup-concurrency"],
    );
    // An invalid cleanup schedule stops the start (retention would never run).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(server.dir.path().join("other"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cleanup-cron",
            "every night",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--cleanup-cron"), "{stderr}");
    let jid = job["id"].as_str().unwrap();
    let r = server
        .get(&format!(
            "/api/backup-jobs/{jid}/executions?operation=deploy"
        ))
        .await;
    expect_invalid(
        "operation filter",
        &r,
        "operation",
        &["backup", "verification"],
    );
    let all = server
        .get_ok(&format!("/api/backup-jobs/{jid}/executions?operation=all"))
        .await;
    assert_eq!(all["pagination"]["total"], 0);
}
on_both_backends!(smaller_answers_are_right_, smaller_answers_are_right);

/// A storage root is created only when the operator asks, at creation: a
/// test, a health check or a backup never creates it, so an unmounted disk
/// is reported unreachable instead of quietly filling the disk below.
async fn storage_roots_are_never_created_implicitly(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    // A missing root is a storage that may come back: retried, quickly here.
    let server = TestServer::start_with(backend, &["--retry-secs", "1"]).await;
    let root = server.dir.path().join("usb-disk");
    let body = json!({"name": "usb", "type": "local", "config": {"path": root}});
    let r = server.post("/api/storage-locations", &body).await;
    expect_invalid(
        "missing root",
        &r,
        "config.path",
        &["does not exist", "create_root"],
    );
    assert!(!root.exists());

    let mut asked = body.clone();
    asked["create_root"] = json!(true);
    let id = id_of(&server.post_ok("/api/storage-locations", &asked, 201).await);
    let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "created private");

    // The disk goes away.
    std::fs::remove_dir(&root).unwrap();
    let test = server
        .post_ok(
            &format!("/api/storage-locations/{id}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(test["status"], "unreachable", "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("does not exist"),
        "{test}"
    );
    assert!(!root.exists(), "a test never creates the root");
    let (status, _) = server
        .get(&format!("/api/storage-locations/{id}/files"))
        .await;
    assert_eq!(status, 502);

    let site = server.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("a.txt"), b"a").unwrap();
    let ds = id_of(
        &create_datasource(
            &server,
            json!({"name": "site", "type": "files", "connection_config": {"path": site}}),
        )
        .await,
    );
    let job = server.job("site", &ds, &id, json!({})).await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{failed}"
    );
    assert!(!root.exists(), "a backup never creates the root");

    // Renaming the storage does not need its disk.
    let (s, v) = server
        .put(
            &format!("/api/storage-locations/{id}"),
            &json!({"name": "usb-2"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}
on_both_backends!(
    storage_roots_are_never_created_implicitly_,
    storage_roots_are_never_created_implicitly
);

/// A datasource body over 2 MiB (the limit is 1 MiB).
fn oversize_body() -> String {
    let body = json!({"name": "x".repeat(2 << 20), "type": "postgres",
                      "connection_config": pg_config("postgres", 5432, "pw")})
    .to_string();
    assert!(body.len() > 2 << 20);
    body
}

async fn oversize_body_is_413(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Its own client: the server drops the connection after a 413 (see
    // `oversize_reply_closes_the_connection`), which must not break the
    // harness's pooled connections.
    let client = crate::common::server::client_with_token(&server.token);
    let r = send_raw_with(
        &client,
        &server,
        Method::POST,
        "/api/datasources",
        oversize_body(),
    )
    .await;
    expect_error(
        "2 MiB name",
        &(r.status, r.body),
        413,
        "payload_too_large",
        None,
    );
    // The server is fine afterwards and created nothing.
    let list = server.get_ok("/api/datasources").await;
    assert_eq!(list["pagination"]["total"], 0, "{list}");

    // An endpoint whose body is optional answers the same way.
    let (ds, storage) = job_targets(&server).await;
    let job = id_of(
        &server
            .post_ok(
                "/api/backup-jobs",
                &job_body("j", &ds, &storage, json!({})),
                201,
            )
            .await,
    );
    let r = send_raw_with(
        &crate::common::server::client_with_token(&server.token),
        &server,
        Method::POST,
        &format!("/api/backup-jobs/{job}/retention/dry-run"),
        oversize_body(),
    )
    .await;
    expect_error(
        "oversize dry run",
        &(r.status, r.body),
        413,
        "payload_too_large",
        None,
    );
}
on_both_backends!(oversize_body_is_413_, oversize_body_is_413);

/// PostgreSQL cannot store NUL in text or JSONB: that is the client's
/// input, answered 422 on that backend, and never a 500 on either.
async fn nul_characters_are_input_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "a\u{0}b", "type": "postgres",
                    "connection_config": pg_config("postgres", 5432, "pw")}),
        )
        .await;
    expect_invalid("NUL in a name", &r, "name", &["control characters"]);
    // Tags are checked like names, on both backends.
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "tagged", "type": "postgres", "tags": ["a\u{0}b"],
                    "connection_config": pg_config("postgres", 5432, "pw")}),
        )
        .await;
    expect_invalid("NUL in a tag", &r, "tags[0]", &["control characters"]);
    let replies = [
        ("search", server.get("/api/datasources?search=a%00b").await),
        ("id", server.get("/api/executions/a%00b").await),
    ];
    for (ctx, (status, body)) in replies {
        assert!(status.as_u16() < 500, "{ctx}: {status} {body}");
        if backend == Backend::Postgres {
            let message = expect_error(ctx, &(status, body), 422, "validation_failed", None);
            assert_mentions(ctx, &message, &["NUL"]);
        }
    }
}
on_both_backends!(
    nul_characters_are_input_errors_,
    nul_characters_are_input_errors
);

/// The server closes the connection after refusing an oversize body
/// (the rest of the body is never read), so the reply must say
/// `connection: close`; otherwise a keep-alive client sends its next
/// request on a dead connection and gets `IncompleteMessage`.
async fn oversize_reply_closes_the_connection(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = crate::common::server::client_with_token(&server.token);
    let r = send_raw_with(
        &client,
        &server,
        Method::POST,
        "/api/datasources",
        oversize_body(),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.connection.to_ascii_lowercase(),
        "close",
        "413 without `connection: close`"
    );
}
on_both_backends!(
    oversize_reply_closes_the_connection_,
    oversize_reply_closes_the_connection
);

async fn conflicts_are_409(backend: Backend) {
    let server = TestServer::start(backend).await;
    let ds = server.pg_datasource("prod", "postgres").await;
    for name in ["prod", "  prod  "] {
        let r = server
            .post(
                "/api/datasources",
                &json!({"name": name, "type": "postgres",
                        "connection_config": pg_config("postgres", 5432, "pw")}),
            )
            .await;
        let m = expect_error(
            &format!("duplicate {name:?}"),
            &r,
            409,
            "conflict",
            Some("name"),
        );
        assert_mentions("duplicate", &m, &["prod", "already exists"]);
    }
    // Renaming onto an existing name is a conflict too.
    let other = server.pg_datasource("staging", "postgres").await;
    let r = server
        .put(
            &format!("/api/datasources/{other}"),
            &json!({"name": "prod"}),
        )
        .await;
    expect_error("rename onto prod", &r, 409, "conflict", Some("name"));

    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    let r = server.delete(&format!("/api/datasources/{ds}")).await;
    let m = expect_error("delete used datasource", &r, 409, "conflict", None);
    assert_mentions("delete used datasource", &m, &["prod", "nightly"]);
    let r = server
        .delete(&format!("/api/storage-locations/{storage}"))
        .await;
    let m = expect_error("delete used storage", &r, 409, "conflict", None);
    assert_mentions("delete used storage", &m, &["nightly"]);
    server.get_ok(&format!("/api/datasources/{ds}")).await;
    server
        .get_ok(&format!("/api/storage-locations/{storage}"))
        .await;

    // Once the job is gone both can be deleted.
    let (s, _) = server.delete(&format!("/api/backup-jobs/{job}")).await;
    assert_eq!(s, 204);
    let (s, b) = server.delete(&format!("/api/datasources/{ds}")).await;
    assert_eq!(s, 204, "{b}");
    let (s, b) = server
        .delete(&format!("/api/storage-locations/{storage}"))
        .await;
    assert_eq!(s, 204, "{b}");
}
on_both_backends!(conflicts_are_409_, conflicts_are_409);

async fn unknown_ids_and_routes_are_404(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = "no-such-id";
    for (method, path) in [
        (Method::GET, format!("/api/datasources/{id}")),
        (Method::DELETE, format!("/api/datasources/{id}")),
        (Method::POST, format!("/api/datasources/{id}/health-check")),
        (
            Method::POST,
            format!("/api/datasources/{id}/test-connection"),
        ),
        (Method::GET, format!("/api/datasources/{id}/health-checks")),
        (Method::GET, format!("/api/storage-locations/{id}")),
        (Method::GET, format!("/api/storage-locations/{id}/files")),
        (Method::GET, format!("/api/backup-jobs/{id}")),
        (Method::DELETE, format!("/api/backup-jobs/{id}")),
        (Method::POST, format!("/api/backup-jobs/{id}/run")),
        (Method::GET, format!("/api/backup-jobs/{id}/executions")),
        (Method::GET, format!("/api/executions/{id}")),
        (Method::GET, format!("/api/executions/{id}/logs")),
        (Method::GET, format!("/api/executions/{id}/download")),
        (Method::DELETE, format!("/api/executions/{id}")),
        (Method::POST, format!("/api/executions/{id}/cancel")),
        (Method::GET, format!("/api/backups/datasources/{id}")),
        (Method::POST, format!("/api/notifications/{id}/read")),
    ] {
        let r = server
            .request(method.clone(), &path, Some(&json!({})))
            .await;
        let m = expect_error(&format!("{method} {path}"), &r, 404, "not_found", None);
        assert_mentions(&path, &m, &[id, "does not exist"]);
    }
    // PUT with a valid body on a missing id.
    let r = server
        .put(
            &format!("/api/datasources/{id}"),
            &json!({"enabled": false}),
        )
        .await;
    expect_error("PUT missing datasource", &r, 404, "not_found", None);
    let r = server
        .post(
            &format!("/api/backups/{id}/restore"),
            &json!({"verification_mode": true}),
        )
        .await;
    expect_error("restore missing execution", &r, 404, "not_found", None);

    // Paths outside the API (`/nothing`) are the web UI's: web_ui.rs.
    for path in ["/api/nothing", "/api/datasources/x/y/z", "/api"] {
        let r = send_empty(&server, Method::GET, path).await;
        assert!(r.content_type.starts_with("application/json"), "{path}");
        let m = expect_error(path, &(r.status, r.body), 404, "not_found", None);
        assert_mentions(path, &m, &["no such route"]);
    }
}
on_both_backends!(
    unknown_ids_and_routes_are_404_,
    unknown_ids_and_routes_are_404
);

/// A known path with a method it does not serve: 405, with the same
/// error body as every other error.
async fn wrong_method_gets_the_error_body(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (method, path) in [
        (Method::PATCH, "/api/datasources"),
        (Method::DELETE, "/api/datasources"),
        (Method::POST, "/health"),
    ] {
        let r = send_empty(&server, method.clone(), path).await;
        let ctx = format!("{method} {path}");
        error_shape(&ctx, r.status, &r.body, 405);
        assert!(
            r.content_type.starts_with("application/json"),
            "{ctx}: content type {:?}",
            r.content_type
        );
    }
}
on_both_backends!(
    wrong_method_gets_the_error_body_,
    wrong_method_gets_the_error_body
);

async fn bad_query_params_name_the_parameter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let cases: &[(&str, u16, &str, &str, &[&str])] = &[
        (
            "/api/executions?limit=0",
            422,
            "validation_failed",
            "limit",
            &["between 1 and 500"],
        ),
        (
            "/api/executions?limit=501",
            422,
            "validation_failed",
            "limit",
            &["between 1 and 500"],
        ),
        (
            "/api/executions?limit=abc",
            400,
            "invalid_query",
            "limit",
            &["limit", "invalid digit"],
        ),
        (
            "/api/executions?page=0",
            422,
            "validation_failed",
            "page",
            &["between 1 and"],
        ),
        (
            "/api/executions?page=x",
            400,
            "invalid_query",
            "page",
            &["page"],
        ),
        (
            "/api/executions?status=bogus",
            422,
            "validation_failed",
            "status",
            &["bogus", "queued", "completed"],
        ),
        (
            "/api/datasources?enabled=maybe",
            400,
            "invalid_query",
            "enabled",
            &["enabled"],
        ),
        (
            "/api/datasources?limit=-1",
            422,
            "validation_failed",
            "limit",
            &["between"],
        ),
        (
            "/api/notifications?read=maybe",
            400,
            "invalid_query",
            "read",
            &["read"],
        ),
        (
            "/api/notifications?severity=loud",
            422,
            "validation_failed",
            "severity",
            &["info"],
        ),
        (
            "/api/backup-jobs?enabled=2",
            400,
            "invalid_query",
            "enabled",
            &["enabled"],
        ),
        (
            "/api/storage-locations?limit=1000",
            422,
            "validation_failed",
            "limit",
            &["between"],
        ),
    ];
    for (path, status, code, field, words) in cases {
        let r = server.get(path).await;
        let m = expect_error(path, &r, *status, code, Some(field));
        assert_mentions(path, &m, words);
    }
}
in_process!(
    bad_query_params_name_the_parameter_,
    bad_query_params_name_the_parameter
);

// ---------------------------------------------------------------------
// 2. OpenAPI
// ---------------------------------------------------------------------

/// Every route of the API: (method, path, handler in host/src/api).
const ROUTES: &[(&str, &str, &str)] = &[
    ("get", "/health", "health::liveness"),
    ("get", "/api/health", "health::detailed"),
    ("get", "/api/health/datasources", "health::datasources"),
    ("get", "/api/health/storage", "health::storage"),
    ("get", "/api/datasources", "datasources::list"),
    ("post", "/api/datasources", "datasources::create"),
    ("get", "/api/datasources/{id}", "datasources::get"),
    ("put", "/api/datasources/{id}", "datasources::update"),
    ("delete", "/api/datasources/{id}", "datasources::delete"),
    (
        "post",
        "/api/datasources/{id}/test-connection",
        "datasources::test_connection",
    ),
    (
        "get",
        "/api/datasources/{id}/health-checks",
        "datasources::health_checks",
    ),
    (
        "post",
        "/api/datasources/{id}/health-check",
        "datasources::health_check",
    ),
    (
        "get",
        "/api/datasources/{id}/databases",
        "datasources::databases",
    ),
    ("get", "/api/storage-locations", "storages::list"),
    ("post", "/api/storage-locations", "storages::create"),
    ("get", "/api/storage-locations/{id}", "storages::get"),
    ("put", "/api/storage-locations/{id}", "storages::update"),
    ("delete", "/api/storage-locations/{id}", "storages::delete"),
    ("post", "/api/storage-locations/{id}/test", "storages::test"),
    (
        "get",
        "/api/storage-locations/{id}/files",
        "storages::files",
    ),
    (
        "delete",
        "/api/storage-locations/{id}/files",
        "storages::delete_file",
    ),
    (
        "post",
        "/api/storage-locations/{id}/files/copy",
        "storages::copy",
    ),
    (
        "get",
        "/api/storage-locations/{id}/files/download",
        "storages::download",
    ),
    ("get", "/api/backup-jobs", "jobs::list"),
    ("post", "/api/backup-jobs", "jobs::create"),
    ("get", "/api/backup-jobs/{id}", "jobs::get"),
    ("put", "/api/backup-jobs/{id}", "jobs::update"),
    ("delete", "/api/backup-jobs/{id}", "jobs::delete"),
    ("post", "/api/backup-jobs/{id}/run", "jobs::run"),
    (
        "get",
        "/api/backup-jobs/{id}/executions",
        "jobs::executions",
    ),
    (
        "post",
        "/api/backup-jobs/{id}/retention/dry-run",
        "jobs::retention_dry_run",
    ),
    (
        "get",
        "/api/backup-jobs/schedule-preview",
        "jobs::schedule_preview",
    ),
    ("get", "/api/executions", "executions::list"),
    ("get", "/api/executions/{id}", "executions::get"),
    ("delete", "/api/executions/{id}", "executions::delete"),
    ("get", "/api/executions/{id}/logs", "executions::logs"),
    (
        "get",
        "/api/executions/{id}/download",
        "executions::download",
    ),
    (
        "post",
        "/api/executions/{id}/retry-upload",
        "executions::retry_upload",
    ),
    (
        "post",
        "/api/executions/{id}/mark-restored",
        "executions::mark_restored",
    ),
    ("post", "/api/executions/{id}/cancel", "executions::cancel"),
    ("get", "/api/backups/datasources", "backups::datasources"),
    (
        "get",
        "/api/backups/datasources/{datasource_id}",
        "backups::for_datasource",
    ),
    (
        "post",
        "/api/backups/{execution_id}/restore",
        "backups::restore",
    ),
    ("get", "/api/notifications", "notifications::list"),
    ("get", "/api/notification-channels", "channels::list"),
    ("post", "/api/notification-channels", "channels::create"),
    ("get", "/api/notification-channels/{id}", "channels::get"),
    ("put", "/api/notification-channels/{id}", "channels::update"),
    (
        "delete",
        "/api/notification-channels/{id}",
        "channels::delete",
    ),
    (
        "post",
        "/api/notification-channels/{id}/test",
        "channels::test",
    ),
    (
        "get",
        "/api/notification-deliveries",
        "channels::deliveries",
    ),
    (
        "get",
        "/api/system/notification-templates",
        "templates::list",
    ),
    (
        "get",
        "/api/system/notification-templates/{id}",
        "templates::get",
    ),
    (
        "put",
        "/api/system/notification-templates/{id}",
        "templates::update",
    ),
    (
        "get",
        "/api/system/notification-templates/{id}/versions",
        "templates::versions",
    ),
    (
        "get",
        "/api/system/notification-templates/{id}/versions/{version}",
        "templates::version",
    ),
    (
        "post",
        "/api/system/notification-templates/{id}/revert",
        "templates::revert",
    ),
    (
        "post",
        "/api/system/notification-templates/preview",
        "templates::preview",
    ),
    (
        "post",
        "/api/notifications/{id}/read",
        "notifications::mark_read",
    ),
    (
        "post",
        "/api/notifications/read-all",
        "notifications::mark_all_read",
    ),
    ("get", "/api/system/settings", "system::get_settings"),
    ("put", "/api/system/settings", "system::put_settings"),
    ("get", "/api/plugins", "system::plugins"),
    ("get", "/api/system/nodes", "system::nodes"),
    ("post", "/api/plugins/install", "plugins::install"),
    ("post", "/api/plugins/{name}/update", "plugins::update"),
    ("delete", "/api/plugins/{name}", "plugins::remove"),
    ("get", "/api/dashboard/overview", "dashboard::overview"),
    ("get", "/api/events", "events::stream"),
    ("get", "/metrics", "metrics::scrape"),
    ("post", "/api/auth/login", "auth::login"),
    ("post", "/api/auth/logout", "auth::logout"),
    ("post", "/api/auth/setup", "auth::setup"),
    ("get", "/api/auth/me", "auth::me"),
    ("get", "/api/auth/options", "auth::options"),
    ("put", "/api/auth/password", "auth::change_password"),
    ("get", "/api/auth/oidc/login", "auth::oidc_login"),
    ("get", "/api/auth/oidc/callback", "auth::oidc_callback"),
    ("get", "/api/auth/sessions", "auth::sessions"),
    ("delete", "/api/auth/sessions/{id}", "auth::revoke_session"),
    ("get", "/api/users", "users::list_users"),
    ("post", "/api/users", "users::create_user"),
    ("get", "/api/users/{id}", "users::get_user"),
    ("put", "/api/users/{id}", "users::update_user"),
    ("delete", "/api/users/{id}", "users::delete_user"),
    ("get", "/api/roles", "users::list_roles"),
    ("post", "/api/roles", "users::create_role"),
    ("get", "/api/roles/{id}", "users::get_role"),
    ("put", "/api/roles/{id}", "users::update_role"),
    ("delete", "/api/roles/{id}", "users::delete_role"),
    ("get", "/api/tokens", "users::list_tokens"),
    ("post", "/api/tokens", "users::create_token"),
    ("delete", "/api/tokens/{id}", "users::revoke_token"),
    ("get", "/api/audit-logs", "users::audit_logs"),
];

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

async fn openapi_document(server: &TestServer) -> Value {
    let doc = server.get_ok("/api/openapi.json").await;
    assert!(doc["paths"].is_object(), "{doc}");
    doc
}

/// (method, path) of every operation in the document.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if HTTP_METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

async fn openapi_is_a_valid_3_1_document(backend: Backend) {
    let server = TestServer::start(backend).await;
    let doc = openapi_document(&server).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi version: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "DataGuardian API");

    let file = server.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .expect("running python3 (see scripts/setup.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named openapi_spec_validator"),
        "openapi-spec-validator is not installed; run scripts/setup.sh"
    );
    assert!(
        out.status.success(),
        "openapi-spec-validator rejects /api/openapi.json:\n{text}"
    );
}
in_process!(
    openapi_is_a_valid_3_1_document_,
    openapi_is_a_valid_3_1_document
);

async fn openapi_documents_every_route(backend: Backend) {
    let server = TestServer::start(backend).await;
    let doc = openapi_document(&server).await;
    let documented = documented_routes(&doc);
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(expected.len(), ROUTES.len(), "ROUTES lists a route twice");
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented routes: {missing:?}; documented but not expected: {extra:?}"
    );

    // Every operation has a tag and at least one response.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no response"
            );
        }
    }

    // And every documented route is actually served (not the fallback).
    for (method, path) in &documented {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "no-such-id"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        if concrete == "/api/events" {
            // An endless stream: its head is the answer.
            let resp = server.http.get(server.url(&concrete)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "GET /api/events");
            continue;
        }
        let r = send_empty(&server, m, &concrete).await;
        let fallback = r.status == 404 && r.body["error"]["message"] == "no such route";
        assert!(
            !fallback && r.status != 405 && r.status.as_u16() < 500,
            "{method} {concrete} is documented but answers {}: {}",
            r.status,
            r.body
        );
    }
}
on_both_backends!(
    openapi_documents_every_route_,
    openapi_documents_every_route
);

// ---------------------------------------------------------------------
// 3. CRUD and lists
// ---------------------------------------------------------------------

async fn datasource_crud(backend: Backend) {
    let server = TestServer::start(backend).await;
    let db = TempDb::new("crud");
    let created = create_datasource(
        &server,
        json!({"name": "orders", "type": "postgres", "tags": ["prod", "eu"],
               "connection_config": pg_config(&db.name, 5432, "s3cret")}),
    )
    .await;
    let id = id_of(&created);
    let path = format!("/api/datasources/{id}");
    assert_eq!(created["name"], "orders");
    assert_eq!(created["type"], "postgres");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["status"], "unknown");
    assert_eq!(created["tags"], json!(["prod", "eu"]));
    assert_eq!(created["consecutive_failures"], 0);
    assert_eq!(created["connection_config"]["password"], "********");
    assert_eq!(created["connection_config"]["database"], db.name.as_str());
    let got = server.get_ok(&path).await;
    assert_eq!(got, created, "GET shows what POST returned");
    assert_eq!(stored_connection_config(&server, &id)["password"], "s3cret");

    // Partial update: only the name changes.
    let renamed = server.put(&path, &json!({"name": "orders-eu"})).await;
    assert_eq!(renamed.0, 200, "{}", renamed.1);
    assert_eq!(renamed.1["name"], "orders-eu");
    assert_eq!(renamed.1["tags"], created["tags"]);
    assert_eq!(renamed.1["connection_config"], created["connection_config"]);
    assert_eq!(stored_connection_config(&server, &id)["password"], "s3cret");

    // Sending back what GET shows (password `********`) keeps the secret.
    let mut shown = server.get_ok(&path).await["connection_config"].clone();
    shown["sslmode"] = json!("disable");
    let updated = server
        .put(
            &path,
            &json!({"connection_config": shown, "enabled": false}),
        )
        .await;
    assert_eq!(updated.0, 200, "{}", updated.1);
    assert_eq!(updated.1["enabled"], false);
    assert_eq!(updated.1["connection_config"]["sslmode"], "disable");
    let stored = stored_connection_config(&server, &id);
    assert_eq!(stored["password"], "s3cret", "{stored}");
    assert_eq!(stored["sslmode"], "disable", "{stored}");
    let check = health_check(&server, &id).await;
    assert_eq!(check["check"]["status"], "ok", "{check}");
    assert_eq!(check["datasource"]["status"], "healthy", "{check}");

    // Leaving the password out keeps it too; a new one replaces it.
    let mut no_pw = pg_config(&db.name, 5432, "");
    no_pw.as_object_mut().unwrap().remove("password");
    let (s, b) = server
        .put(&path, &json!({"connection_config": no_pw}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(stored_connection_config(&server, &id)["password"], "s3cret");
    let (s, b) = server
        .put(
            &path,
            &json!({"connection_config": pg_config(&db.name, 5432, "n3w")}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["connection_config"]["password"], "********");
    assert_eq!(stored_connection_config(&server, &id)["password"], "n3w");

    // The placeholder with no stored secret behind it is refused, not
    // stored as the secret.
    let mut with_token = pg_config(&db.name, 5432, "n3w");
    with_token["token"] = json!("********");
    let r = server
        .put(&path, &json!({"connection_config": with_token}))
        .await;
    expect_invalid(
        "placeholder without a value",
        &r,
        "connection_config.token",
        &["placeholder"],
    );
    assert!(stored_connection_config(&server, &id)
        .get("token")
        .is_none());

    let (s, b) = server.delete(&path).await;
    assert_eq!(s, 204, "{b}");
    assert_eq!(b, Value::Null, "204 has no body");
    expect_error(
        "GET deleted",
        &server.get(&path).await,
        404,
        "not_found",
        None,
    );
    expect_error(
        "DELETE deleted",
        &server.delete(&path).await,
        404,
        "not_found",
        None,
    );
}
on_both_backends!(datasource_crud_, datasource_crud);

async fn storage_crud(backend: Backend) {
    let server = TestServer::start(backend).await;
    let root = server.dir.path().join("store-a");
    let created = server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "archive", "type": "local", "create_root": true, "config": {"path": root}}),
            201,
        )
        .await;
    let id = id_of(&created);
    let path = format!("/api/storage-locations/{id}");
    assert_eq!(created["type"], "local");
    assert_eq!(created["is_default"], false);
    assert_eq!(created["status"], "unknown");
    assert_eq!(created["config"]["path"], root.to_str().unwrap());
    assert_eq!(server.get_ok(&path).await, created);

    let (s, v) = server.put(&path, &json!({"name": "archive-2"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "archive-2");
    assert_eq!(
        v["config"], created["config"],
        "partial update keeps config"
    );
    let moved = server.dir.path().join("store-b");
    let (s, v) = server
        .put(
            &path,
            &json!({"create_root": true, "config": {"path": moved}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["config"]["path"], moved.to_str().unwrap());
    assert_eq!(v["name"], "archive-2");

    // The test endpoint checks it and records the result.
    let t = server
        .post_ok(&format!("{path}/test"), &json!({}), 200)
        .await;
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(t["status"], "ok", "{t}");
    let after = server.get_ok(&path).await;
    assert_eq!(after["status"], "healthy", "{after}");
    assert!(after["last_health_check_at"].is_string(), "{after}");

    let (s, _) = server.delete(&path).await;
    assert_eq!(s, 204);
    expect_error(
        "GET deleted",
        &server.get(&path).await,
        404,
        "not_found",
        None,
    );
}
on_both_backends!(storage_crud_, storage_crud);

async fn job_crud_and_next_run(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (ds, storage) = job_targets(&server).await;

    // Default timezone UTC: the next 03:00 UTC, within a day.
    let before = Utc::now();
    let utc_job = server
        .post_ok(
            "/api/backup-jobs",
            &job_body("utc", &ds, &storage, json!({})),
            201,
        )
        .await;
    let next = instant(&utc_job["next_execution_at"]);
    assert!(next > before, "{utc_job}");
    assert!(next - before <= chrono::Duration::hours(24), "{utc_job}");
    assert_eq!(next.format("%H:%M:%S").to_string(), "03:00:00");
    assert_eq!(utc_job["schedule_timezone"], "UTC");
    assert_eq!(utc_job["storage_location_ids"], json!([storage]));
    assert_eq!(utc_job["storage_strategy"], "fallback");

    // 03:00 in Tokyo is 18:00 UTC (the day before).
    let before = Utc::now();
    let tokyo = server
        .post_ok(
            "/api/backup-jobs",
            &job_body(
                "tokyo",
                &ds,
                &storage,
                json!({"schedule_timezone": "Asia/Tokyo",
                       "retention_policy": {"max_backups": 3},
                       "backup_options": {"compression": "gzip"}}),
            ),
            201,
        )
        .await;
    let after = Utc::now();
    let next = instant(&tokyo["next_execution_at"]);
    assert!(
        next == next_3am_tokyo(before) || next == next_3am_tokyo(after),
        "next_execution_at {next}, expected {}",
        next_3am_tokyo(before)
    );
    assert_eq!(next.format("%H:%M:%S").to_string(), "18:00:00");
    let id = id_of(&tokyo);
    let path = format!("/api/backup-jobs/{id}");
    assert_eq!(server.get_ok(&path).await, tokyo);

    // Disabled: no next run; enabled again: the same next run.
    let (s, v) = server.put(&path, &json!({"enabled": false})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["enabled"], false);
    assert!(v["next_execution_at"].is_null(), "{v}");
    assert!(server.get_ok(&path).await["next_execution_at"].is_null());
    let (s, v) = server.put(&path, &json!({"enabled": true})).await;
    assert_eq!(s, 200, "{v}");
    let again = instant(&v["next_execution_at"]);
    assert!(again == next || again == next_3am_tokyo(Utc::now()), "{v}");

    // Partial update keeps everything else.
    let (s, v) = server.put(&path, &json!({"name": "tokyo nightly"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "tokyo nightly");
    assert_eq!(v["schedule_timezone"], "Asia/Tokyo");
    assert_eq!(v["retention_policy"]["max_backups"], 3);
    assert_eq!(v["backup_options"]["compression"], "gzip");
    assert_eq!(v["storage_location_ids"], json!([storage]));

    // Created disabled: no next run at all.
    let off = server
        .post_ok(
            "/api/backup-jobs",
            &job_body("off", &ds, &storage, json!({"enabled": false})),
            201,
        )
        .await;
    assert!(off["next_execution_at"].is_null(), "{off}");

    let (s, _) = server.delete(&path).await;
    assert_eq!(s, 204);
    expect_error(
        "GET deleted job",
        &server.get(&path).await,
        404,
        "not_found",
        None,
    );
    let list = server.get_ok("/api/backup-jobs").await;
    assert_eq!(names(&list), ["off", "utc"], "{list}");
}
on_both_backends!(job_crud_and_next_run_, job_crud_and_next_run);

async fn lists_paginate_and_filter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let dir = server.dir.path();
    std::fs::create_dir_all(dir.join("sources")).unwrap();
    let specs = [
        ("alpha-pg", "postgres", true),
        ("bravo-pg", "postgres", false),
        ("charlie-lite", "sqlite", true),
        ("delta-files", "files", false),
        ("echo-pg", "postgres", true),
    ];
    let mut ids = std::collections::HashMap::new();
    for (name, kind, enabled) in specs {
        let config = match kind {
            "postgres" => pg_config("postgres", 5432, "pw"),
            "sqlite" => json!({"path": dir.join("sources/x.db")}),
            _ => json!({"path": dir.join("sources")}),
        };
        let v = create_datasource(
            &server,
            json!({"name": name, "type": kind, "enabled": enabled, "connection_config": config}),
        )
        .await;
        ids.insert(name, id_of(&v));
    }

    let page = |q: &str| format!("/api/datasources?{q}");
    let v = server.get_ok(&page("limit=2")).await;
    assert_eq!(names(&v), ["alpha-pg", "bravo-pg"], "{v}");
    assert_eq!(
        v["pagination"],
        json!({"total": 5, "page": 1, "limit": 2, "total_pages": 3})
    );
    let v = server.get_ok(&page("limit=2&page=3")).await;
    assert_eq!(names(&v), ["echo-pg"]);
    assert_eq!(v["pagination"]["page"], 3);
    let v = server.get_ok(&page("limit=2&page=4")).await;
    assert!(names(&v).is_empty(), "{v}");
    assert_eq!(v["pagination"]["total"], 5);
    let v = server.get_ok("/api/datasources").await;
    assert_eq!(v["pagination"]["limit"], 50, "default limit");
    assert_eq!(v["pagination"]["total_pages"], 1);

    let v = server.get_ok(&page("type=postgres")).await;
    assert_eq!(names(&v), ["alpha-pg", "bravo-pg", "echo-pg"]);
    assert_eq!(v["pagination"]["total"], 3);
    let v = server.get_ok(&page("enabled=false")).await;
    assert_eq!(names(&v), ["bravo-pg", "delta-files"]);
    let v = server.get_ok(&page("search=PG")).await;
    assert_eq!(
        names(&v),
        ["alpha-pg", "bravo-pg", "echo-pg"],
        "case-insensitive"
    );
    let v = server
        .get_ok(&page("type=postgres&enabled=true&search=a"))
        .await;
    assert_eq!(names(&v), ["alpha-pg"]);
    let v = server.get_ok(&page("type=oracle")).await;
    assert_eq!(v["pagination"]["total"], 0);
    assert_eq!(v["pagination"]["total_pages"], 0);

    // Storage locations: the default one plus three.
    for name in ["s1", "s2", "s3"] {
        server.local_storage(name).await;
    }
    let v = server.get_ok("/api/storage-locations?limit=3&page=2").await;
    assert_eq!(
        v["pagination"],
        json!({"total": 4, "page": 2, "limit": 3, "total_pages": 2})
    );
    assert_eq!(names(&v), ["s3"], "{v}");
    let v = server.get_ok("/api/storage-locations?type=local").await;
    assert_eq!(v["pagination"]["total"], 4);
    let v = server.get_ok("/api/storage-locations?type=s3").await;
    assert_eq!(v["pagination"]["total"], 0);

    // Jobs: by datasource, enabled, name.
    let storage = default_storage(&server).await;
    for (name, ds, enabled) in [
        ("nightly alpha", "alpha-pg", true),
        ("hourly alpha", "alpha-pg", false),
        ("nightly echo", "echo-pg", true),
    ] {
        server
            .post_ok(
                "/api/backup-jobs",
                &job_body(name, &ids[ds], &storage, json!({"enabled": enabled})),
                201,
            )
            .await;
    }
    let v = server
        .get_ok(&format!(
            "/api/backup-jobs?datasource_id={}",
            ids["alpha-pg"]
        ))
        .await;
    assert_eq!(names(&v), ["hourly alpha", "nightly alpha"]);
    let v = server.get_ok("/api/backup-jobs?enabled=true").await;
    assert_eq!(names(&v), ["nightly alpha", "nightly echo"]);
    let v = server
        .get_ok("/api/backup-jobs?search=NIGHTLY&limit=1")
        .await;
    assert_eq!(names(&v), ["nightly alpha"]);
    assert_eq!(
        v["pagination"],
        json!({"total": 2, "page": 1, "limit": 1, "total_pages": 2})
    );

    // Empty lists have the same envelope.
    let v = server.get_ok("/api/executions").await;
    assert_eq!(v["data"], json!([]));
    assert_eq!(
        v["pagination"],
        json!({"total": 0, "page": 1, "limit": 50, "total_pages": 0})
    );
}
on_both_backends!(lists_paginate_and_filter_, lists_paginate_and_filter);

// ---------------------------------------------------------------------
// 4. Health and notifications
// ---------------------------------------------------------------------

async fn health_check_of_a_real_database(backend: Backend) {
    let server = TestServer::start(backend).await;
    let chinook = chinook_db("health");
    let id = server.pg_datasource("chinook", &chinook.name).await;

    let r = health_check(&server, &id).await;
    let check = &r["check"];
    assert_eq!(check["status"], "ok", "{r}");
    assert_eq!(check["datasource_id"], id.as_str());
    assert!(
        check["latency_ms"].as_i64().is_some_and(|ms| ms >= 0),
        "{r}"
    );
    assert!(check["error_message"].is_null(), "{r}");
    assert!(
        check["metadata"]["database_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("PostgreSQL")),
        "{r}"
    );
    assert!(
        check["metadata"]["size_bytes"].as_i64().unwrap_or(0) > 0,
        "{r}"
    );
    let ds = server.get_ok(&format!("/api/datasources/{id}")).await;
    assert_eq!(ds["status"], "healthy", "{ds}");
    assert_eq!(ds["consecutive_failures"], 0);
    assert_eq!(ds["last_health_check_at"], check["checked_at"]);

    // test-connection answers without recording anything.
    let t = server
        .post_ok(
            &format!("/api/datasources/{id}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["success"], true, "{t}");
    assert_eq!(t["status"], "ok");
    assert!(
        t["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("PostgreSQL")),
        "{t}"
    );
    let history = health_history(&server, &id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["id"], check["id"]);
    let again = server.get_ok(&format!("/api/datasources/{id}")).await;
    assert_eq!(again["last_health_check_at"], ds["last_health_check_at"]);

    // The databases on its server include its own.
    let dbs = server
        .get_ok(&format!("/api/datasources/{id}/databases"))
        .await;
    assert!(
        dbs["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == chinook.name.as_str()),
        "{dbs}"
    );
}
on_both_backends!(
    health_check_of_a_real_database_,
    health_check_of_a_real_database
);

async fn connection_lost_then_restored(backend: Backend) {
    let server = TestServer::start(backend).await;
    let db = TempDb::new("lost");
    let id = unreachable_datasource(&server, "flaky").await;
    let ds_path = format!("/api/datasources/{id}");
    let lost = format!("/api/notifications?type=connection_lost&entity_id={id}");
    let restored = format!("/api/notifications?type=connection_restored&entity_id={id}");

    // A test does not record.
    let t = server
        .post_ok(&format!("{ds_path}/test-connection"), &json!({}), 200)
        .await;
    assert_eq!(t["success"], false, "{t}");
    assert_eq!(t["status"], "unreachable", "{t}");
    assert!(
        t["message"].as_str().unwrap_or("").contains("refused"),
        "{t}"
    );
    assert!(health_history(&server, &id).await.is_empty());
    assert_eq!(server.get_ok(&ds_path).await["status"], "unknown");

    // Three failures: warning, warning, critical, and one notification.
    for (n, status) in [(1, "warning"), (2, "warning"), (3, "critical")] {
        let r = health_check(&server, &id).await;
        assert_eq!(r["check"]["status"], "unreachable", "{r}");
        assert!(r["check"]["latency_ms"].is_null(), "{r}");
        assert!(r["check"]["error_message"].is_string(), "{r}");
        assert_eq!(r["datasource"]["status"], status, "check {n}: {r}");
        assert_eq!(r["datasource"]["consecutive_failures"], n);
        let notes = server.get_ok(&lost).await;
        let expected = if n < 3 { 0 } else { 1 };
        assert_eq!(notes["pagination"]["total"], expected, "after {n}: {notes}");
    }
    // A fourth failure does not notify again.
    let r = health_check(&server, &id).await;
    assert_eq!(r["datasource"]["status"], "critical");
    let notes = server
        .get_ok("/api/notifications?type=connection_lost")
        .await;
    assert_eq!(notes["pagination"]["total"], 1, "{notes}");
    let note = &notes["data"][0];
    assert_eq!(note["severity"], "critical");
    assert_eq!(note["entity_type"], "datasource");
    assert_eq!(note["entity_id"], id.as_str());
    assert!(note["read_at"].is_null());
    assert!(server.get_ok(&restored).await["data"] == json!([]));

    // Pointed back at a real database (password sent again): healthy,
    // and the restoration is announced.
    let mut config = server.get_ok(&ds_path).await["connection_config"].clone();
    config["port"] = json!(5432);
    config["database"] = json!(db.name);
    // The port changed: a stored password is not carried to it unasked.
    let (s, v) = server
        .put(&ds_path, &json!({"connection_config": config}))
        .await;
    expect_invalid(
        "secret kept for a new port",
        &(s, v),
        "connection_config.password",
        &["port"],
    );
    config["password"] = json!("pw");
    let (s, v) = server
        .put(&ds_path, &json!({"connection_config": config}))
        .await;
    assert_eq!(s, 200, "{v}");
    let r = health_check(&server, &id).await;
    assert_eq!(r["check"]["status"], "ok", "{r}");
    assert_eq!(r["datasource"]["status"], "healthy", "{r}");
    assert_eq!(r["datasource"]["consecutive_failures"], 0);
    let notes = server.get_ok(&restored).await;
    assert_eq!(notes["pagination"]["total"], 1, "{notes}");
    assert_eq!(notes["data"][0]["severity"], "info");
    assert_eq!(server.get_ok(&lost).await["pagination"]["total"], 1);
    let t = server
        .post_ok(&format!("{ds_path}/test-connection"), &json!({}), 200)
        .await;
    assert_eq!(t["success"], true, "{t}");

    // History: newest first, five checks (the tests are not in it).
    let history = health_history(&server, &id).await;
    let statuses: Vec<&str> = history
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "ok",
            "unreachable",
            "unreachable",
            "unreachable",
            "unreachable"
        ]
    );
    assert_eq!(history[0]["id"], r["check"]["id"]);
    let times: Vec<DateTime<Utc>> = history.iter().map(|c| instant(&c["checked_at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let two = server
        .get_ok(&format!("{ds_path}/health-checks?limit=2"))
        .await;
    assert_eq!(two["data"].as_array().unwrap().len(), 2);
    assert_eq!(two["data"][0]["id"], history[0]["id"]);
}
on_both_backends!(
    connection_lost_then_restored_,
    connection_lost_then_restored
);

async fn health_endpoints(backend: Backend) {
    let server = TestServer::start(backend).await;
    let v = server.get_ok("/health").await;
    assert_eq!(v, json!({"status": "ok"}));

    let v = server.get_ok("/api/health").await;
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["database"], "ok");
    let backend_name = match backend {
        Backend::Sqlite | Backend::InProcess => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(v["metadata_backend"], backend_name);
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(v["uptime_seconds"].as_i64().is_some_and(|s| s >= 0), "{v}");
    assert!(v["node_id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(v["queue"].is_array() && v["datasources"].is_array(), "{v}");
    let plugins = server.get_ok("/api/plugins").await;
    assert_eq!(v["plugins"], plugins["data"].as_array().unwrap().len());
    assert_eq!(v["plugins"], plugins["pagination"]["total"]);

    let checked = unreachable_datasource(&server, "checked").await;
    let never = unreachable_datasource(&server, "never").await;
    health_check(&server, &checked).await;
    let v = server.get_ok("/api/health/datasources").await;
    let entries = v["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{v}");
    let entry = |id: &str| {
        entries
            .iter()
            .find(|e| e["datasource"]["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {v}"))
    };
    assert_eq!(entry(&checked)["last_check"]["status"], "unreachable");
    assert_eq!(entry(&checked)["datasource"]["status"], "warning");
    assert_eq!(
        entry(&checked)["datasource"]["connection_config"]["password"],
        "********"
    );
    assert!(entry(&never)["last_check"].is_null(), "{v}");
    let v = server.get_ok("/api/health").await;
    assert!(
        v["datasources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == &json!(["warning", 1])),
        "{v}"
    );

    let (storage, _) = server.local_storage("disk").await;
    server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    let v = server.get_ok("/api/health/storage").await;
    let entry = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["storage"]["id"] == storage.as_str())
        .unwrap_or_else(|| panic!("{storage} missing from {v}"));
    assert_eq!(entry["storage"]["status"], "healthy", "{entry}");
    assert_eq!(entry["history"][0]["status"], "ok", "{entry}");
    assert_eq!(entry["history"][0]["storage_location_id"], storage.as_str());
}
on_both_backends!(health_endpoints_, health_endpoints);

async fn notifications_read_state(backend: Backend) {
    let server = TestServer::start(backend).await;
    for name in ["one", "two"] {
        let id = unreachable_datasource(&server, name).await;
        for _ in 0..3 {
            health_check(&server, &id).await;
        }
    }
    let all = server.get_ok("/api/notifications").await;
    assert_eq!(all["pagination"]["total"], 2, "{all}");
    assert_eq!(all["unread"], 2);
    let first = id_of(&all["data"][0]);

    let v = server
        .post_ok(&format!("/api/notifications/{first}/read"), &json!({}), 200)
        .await;
    assert_eq!(v, json!({"marked": 1}));
    let unread = server.get_ok("/api/notifications?read=false").await;
    assert_eq!(unread["pagination"]["total"], 1, "{unread}");
    assert_eq!(unread["unread"], 1);
    assert_ne!(unread["data"][0]["id"], first.as_str());
    let read = server.get_ok("/api/notifications?read=true").await;
    assert_eq!(read["pagination"]["total"], 1, "{read}");
    assert_eq!(read["data"][0]["id"], first.as_str());
    assert!(read["data"][0]["read_at"].is_string(), "{read}");
    let v = server
        .get_ok("/api/notifications?severity=critical&limit=1")
        .await;
    assert_eq!(
        v["pagination"],
        json!({"total": 2, "page": 1, "limit": 1, "total_pages": 2})
    );

    let v = server
        .post_ok("/api/notifications/read-all", &json!({}), 200)
        .await;
    assert_eq!(v, json!({"marked": 1}));
    let unread = server.get_ok("/api/notifications?read=false").await;
    assert_eq!(unread["pagination"]["total"], 0, "{unread}");
    assert_eq!(unread["unread"], 0);
    let v = server
        .post_ok("/api/notifications/read-all", &json!({}), 200)
        .await;
    assert_eq!(v, json!({"marked": 0}));
}
on_both_backends!(notifications_read_state_, notifications_read_state);

// ---------------------------------------------------------------------
// 5. Storage explorer
// ---------------------------------------------------------------------

async fn files(server: &TestServer, storage: &str, prefix: &str) -> Vec<Value> {
    server
        .get_ok(&format!(
            "/api/storage-locations/{storage}/files?prefix={prefix}"
        ))
        .await["data"]
        .as_array()
        .expect("a list of entries")
        .clone()
}

fn keys(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect()
}

async fn download(
    server: &TestServer,
    storage: &str,
    key: &str,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let resp = server
        .http
        .get(server.url(&format!("/api/storage-locations/{storage}/files/download")))
        .query(&[("path", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "download {key}");
    let headers = resp.headers().clone();
    (headers, resp.bytes().await.unwrap().to_vec())
}

async fn storage_explorer_after_a_backup(backend: Backend) {
    let server = TestServer::start(backend).await;
    let chinook = chinook_db("explore");
    let ds = server.pg_datasource("chinook", &chinook.name).await;
    let (storage, root) = server.local_storage("explore").await;
    let job = server.job("explore", &ds, &storage, json!({})).await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let backup_path = exec["backup_path"].as_str().unwrap().to_string();
    let base = format!("/api/storage-locations/{storage}/files");

    // Root → job folder → execution folder → manifest and artifact.
    let top = files(&server, &storage, "").await;
    assert_eq!(keys(&top), vec![job.clone()], "{top:?}");
    assert_eq!(top[0]["is_dir"], true);
    // The job's folder is named by its job; nothing deeper is.
    assert_eq!(top[0]["job_name"], "explore", "{top:?}");
    let runs = files(&server, &storage, &job).await;
    assert_eq!(keys(&runs), vec![backup_path.clone()], "{runs:?}");
    assert_eq!(runs[0]["is_dir"], true);
    assert!(runs[0]["job_name"].is_null(), "{runs:?}");
    let inside = files(&server, &storage, &backup_path).await;
    let manifest_key = format!("{backup_path}/manifest.json");
    let (_, manifest_bytes) = download(&server, &storage, &manifest_key).await;
    let manifest: Value = serde_json::from_slice(&manifest_bytes).expect("manifest is JSON");
    let artifact_key = format!("{backup_path}/{}", manifest["file"].as_str().unwrap());
    let mut expected = vec![artifact_key.clone(), manifest_key.clone()];
    expected.sort();
    assert_eq!(keys(&inside), expected, "{inside:?}");
    for e in &inside {
        let on_disk = std::fs::metadata(root.join(e["key"].as_str().unwrap())).unwrap();
        assert_eq!(e["size"], on_disk.len(), "{e}");
        assert_eq!(e["is_dir"], false);
        assert!(e["modified"].is_string(), "{e}");
    }
    assert_eq!(manifest["execution_id"], exec["id"]);

    // Download: the bytes on disk, named as an attachment.
    assert_eq!(
        manifest_bytes,
        std::fs::read(root.join(&manifest_key)).unwrap()
    );
    let (headers, artifact) = download(&server, &storage, &artifact_key).await;
    assert_eq!(artifact, std::fs::read(root.join(&artifact_key)).unwrap());
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(manifest["file"].as_str().unwrap()),
        "{disposition}"
    );

    // Copy the manifest elsewhere, list it, then delete the copy.
    let copy_key = "copies/manifest-copy.json";
    let (s, b) = server
        .post(
            &format!("{base}/copy"),
            &json!({"from": manifest_key, "to": copy_key}),
        )
        .await;
    assert_eq!(s, 204, "{b}");
    assert_eq!(std::fs::read(root.join(copy_key)).unwrap(), manifest_bytes);
    let copies = files(&server, &storage, "copies").await;
    assert_eq!(keys(&copies), [copy_key]);
    assert_eq!(copies[0]["size"], manifest_bytes.len());
    let (s, b) = server.delete(&format!("{base}?path={copy_key}")).await;
    assert_eq!(s, 204, "{b}");
    assert!(!root.join(copy_key).exists());
    assert!(files(&server, &storage, "copies").await.is_empty());

    // Keys escaping the root, folders and missing objects.
    let r = server.get(&format!("{base}?prefix=../")).await;
    expect_invalid("list ..", &r, "prefix", &[".."]);
    let r = server
        .get(&format!("{base}/download?path=../server.log"))
        .await;
    expect_invalid("download ..", &r, "path", &[".."]);
    let r = server
        .post(
            &format!("{base}/copy"),
            &json!({"from": "../server.log", "to": "x"}),
        )
        .await;
    expect_invalid("copy from ..", &r, "from", &[".."]);
    let r = server.delete(&format!("{base}?path={job}/../..")).await;
    expect_invalid("delete ..", &r, "path", &[".."]);
    let r = server
        .get(&format!("{base}/download?path={backup_path}"))
        .await;
    expect_invalid("download a folder", &r, "path", &["folder"]);
    let r = server.get(&format!("{base}/download?path=nope.bin")).await;
    expect_error("download missing", &r, 404, "not_found", None);

    // The root itself cannot be deleted.
    for root_key in ["", "/", "//"] {
        let r = server.delete(&format!("{base}?path={root_key}")).await;
        expect_invalid(&format!("delete {root_key:?}"), &r, "path", &["root"]);
    }
    assert!(
        root.join(&manifest_key).is_file(),
        "the backup is still there"
    );
    assert!(server.dir.path().join("server.log").is_file());
}
on_both_backends!(
    storage_explorer_after_a_backup_,
    storage_explorer_after_a_backup
);

/// A completed backup guards what it lives in: nothing can be copied into
/// its folder, its storage cannot move, its datasource cannot change type,
/// and it cannot be restored into a datasource of another type. Storage
/// roots cannot overlap each other or the server's data directory.
async fn backups_guard_their_storage_and_datasource(backend: Backend) {
    let server = TestServer::start(backend).await;
    let chinook = chinook_db("guard");
    let ds = server.pg_datasource("chinook", &chinook.name).await;
    let (storage, root) = server.local_storage("guarded").await;
    let job = server.job("guard", &ds, &storage, json!({})).await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let backup_path = exec["backup_path"].as_str().unwrap().to_string();
    let manifest_key = format!("{backup_path}/manifest.json");
    let manifest_before = std::fs::read(root.join(&manifest_key)).unwrap();
    let copy = format!("/api/storage-locations/{storage}/files/copy");

    // Nothing is written into a backup folder; folders are not copied.
    std::fs::write(root.join("note.txt"), b"not a manifest").unwrap();
    for to in [manifest_key.clone(), format!("{backup_path}/extra.bin")] {
        let r = server
            .post(&copy, &json!({"from": "note.txt", "to": to}))
            .await;
        let message = expect_error(&format!("copy onto {to}"), &r, 409, "conflict", Some("to"));
        assert_mentions("copy onto a backup", &message, &[&backup_path]);
    }
    assert_eq!(
        std::fs::read(root.join(&manifest_key)).unwrap(),
        manifest_before
    );
    assert!(!root.join(&backup_path).join("extra.bin").exists());
    let r = server
        .post(&copy, &json!({"from": job, "to": "elsewhere"}))
        .await;
    expect_invalid("copy a folder", &r, "from", &["folder"]);

    // The storage keeps its place while it holds the backup.
    let moved = server.dir.path().join("moved");
    let r = server
        .put(
            &format!("/api/storage-locations/{storage}"),
            &json!({"create_root": true, "config": {"path": moved}}),
        )
        .await;
    let message = expect_error("move a storage", &r, 409, "conflict", None);
    assert_mentions("move a storage", &message, &["holds 1 backup"]);
    let renamed = server
        .request(
            Method::PUT,
            &format!("/api/storage-locations/{storage}"),
            Some(&json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.0, 200, "a rename is fine: {}", renamed.1);

    // Overlapping roots and the data directory are refused.
    let nest = server.dir.path().join("nest");
    server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "deep", "type": "local", "create_root": true, "config": {"path": nest.join("deep")}}),
            201,
        )
        .await;
    for (path, ctx, other) in [
        (root.join("inner"), "inside another storage", "renamed"),
        (nest, "around another storage", "deep"),
    ] {
        let r = server
            .post(
                "/api/storage-locations",
                &json!({"name": ctx, "type": "local", "create_root": true, "config": {"path": path}}),
            )
            .await;
        let message = expect_error(ctx, &r, 409, "conflict", Some("config.path"));
        assert_mentions(ctx, &message, &["overlaps", other]);
    }
    for path in [
        server.data_dir(),
        server.data_dir().join("cache"),
        "/".into(),
    ] {
        let r = server
            .post(
                "/api/storage-locations",
                &json!({"name": "in data dir", "type": "local", "create_root": true, "config": {"path": path}}),
            )
            .await;
        expect_invalid(
            &format!("root {path:?}"),
            &r,
            "config.path",
            &["data directory"],
        );
    }

    // The datasource keeps its type while a job backs it up; a backup is
    // restored only into a datasource of its own type.
    let dir = server.dir.path().join("files-target");
    std::fs::create_dir_all(&dir).unwrap();
    let r = server
        .put(
            &format!("/api/datasources/{ds}"),
            &json!({"type": "files", "connection_config": {"path": dir}}),
        )
        .await;
    let message = expect_error("retype a datasource", &r, 409, "conflict", None);
    assert_mentions("retype a datasource", &message, &["postgres", "files"]);
    let files_ds = id_of(
        &create_datasource(
            &server,
            json!({"name": "a directory", "type": "files", "connection_config": {"path": dir}}),
        )
        .await,
    );
    let r = server
        .post(
            &format!("/api/backups/{}/restore", exec["id"].as_str().unwrap()),
            &json!({"target_datasource_id": files_ds, "confirm_overwrite": true}),
        )
        .await;
    expect_invalid(
        "restore into another type",
        &r,
        "target_datasource_id",
        &["files", "postgres"],
    );
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
}
on_both_backends!(
    backups_guard_their_storage_and_datasource_,
    backups_guard_their_storage_and_datasource
);

/// `.` and `./` name the root as surely as `/` does; deleting them must be
/// refused, and the files must survive.
async fn storage_root_is_never_deleted(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (storage, root) = server.local_storage("keep").await;
    let keep = root.join("job/run/manifest.json");
    std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
    std::fs::write(&keep, b"{}").unwrap();
    for key in [".", "./", "./.", "job/.."] {
        let r = server
            .delete(&format!(
                "/api/storage-locations/{storage}/files?path={key}"
            ))
            .await;
        assert!(
            keep.is_file(),
            "DELETE ?path={key} emptied the storage root; answer {} {}",
            r.0,
            r.1
        );
        let err = error_shape(&format!("delete {key:?}"), r.0, &r.1, 422);
        assert_eq!(err["field"], "path", "{}", r.1);
    }
}
on_both_backends!(
    storage_root_is_never_deleted_,
    storage_root_is_never_deleted
);

/// A bad copy destination is reported against `to`, not `from`.
async fn copy_error_names_the_bad_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (storage, root) = server.local_storage("copy").await;
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    let path = format!("/api/storage-locations/{storage}/files/copy");
    let r = server
        .post(&path, &json!({"from": "", "to": "b.txt"}))
        .await;
    expect_invalid("empty from", &r, "from", &["object"]);
    let r = server
        .post(&path, &json!({"from": "a.txt", "to": "/"}))
        .await;
    expect_invalid("root to", &r, "to", &["object"]);
    let r = server
        .post(&path, &json!({"from": "a.txt", "to": "../escape.txt"}))
        .await;
    expect_invalid("to ..", &r, "to", &[".."]);
    assert!(!server.dir.path().join("escape.txt").exists());
}
on_both_backends!(copy_error_names_the_bad_key_, copy_error_names_the_bad_key);

// ---------------------------------------------------------------------
// 6. System settings
// ---------------------------------------------------------------------

async fn settings_roundtrip(backend: Backend) {
    let server = TestServer::start(backend).await;
    let v = server
        .request(
            Method::PUT,
            "/api/system/settings",
            Some(&json!({"ui.theme": "dark", "retention.default_max": 5})),
        )
        .await;
    assert_eq!(v.0, 200, "{}", v.1);
    assert_eq!(v.1["ui.theme"], "dark");
    assert_eq!(v.1["retention.default_max"], 5);
    let got = server.get_ok("/api/system/settings").await;
    assert_eq!(got["ui.theme"], "dark", "{got}");
    assert_eq!(got["retention.default_max"], 5, "{got}");

    // Other keys are left alone; values can be any JSON.
    let (s, v) = server
        .put(
            "/api/system/settings",
            &json!({"ui.theme": "light", "ui.panels": ["a", "b"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let got = server.get_ok("/api/system/settings").await;
    assert_eq!(got["ui.theme"], "light");
    assert_eq!(got["ui.panels"], json!(["a", "b"]));
    assert_eq!(got["retention.default_max"], 5);

    // An invalid key is named and nothing of that request is stored.
    let r = server
        .put("/api/system/settings", &json!({"ui.ok": 1, "Bad Key": 2}))
        .await;
    expect_invalid("Bad Key", &r, "Bad Key", &["Bad Key", "lowercase"]);
    let r = server.put("/api/system/settings", &json!({})).await;
    expect_invalid("no keys", &r, "settings", &["at least one key"]);
    let after = server.get_ok("/api/system/settings").await;
    assert_eq!(after, got, "a refused request changes nothing");
    assert!(after.get("ui.ok").is_none());
}
on_both_backends!(settings_roundtrip_, settings_roundtrip);

/// The OpenAPI document lists the values of the domain's closed sets (a
/// generated client gets unions, not `string`), and the fields that hold
/// them point at those lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_the_domain_values() {
    let server = TestServer::start(Backend::InProcess).await;
    let doc = openapi_document(&server).await;
    let schemas = &doc["components"]["schemas"];
    let values = |name: &str| -> Vec<String> {
        let s = &schemas[name];
        let list = match s["enum"].as_array() {
            Some(list) => list.clone(),
            // Variants with their own docs come as oneOf of one-value enums.
            None => s["oneOf"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {s}"))
                .iter()
                .flat_map(|v| v["enum"].as_array().cloned().unwrap_or_default())
                .collect(),
        };
        list.iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        values("ExecutionStatus"),
        ["queued", "running", "completed", "failed", "cancelled"]
    );
    assert_eq!(
        values("Operation"),
        ["backup", "restore", "verification", "copy"]
    );
    assert_eq!(values("Severity"), ["info", "warning", "critical"]);
    let kinds = values("NotificationKind");
    assert!(
        kinds.iter().any(|k| k == "backup_completed")
            && kinds.iter().any(|k| k == "backup_skipped"),
        "{kinds:?}"
    );
    let execution = &schemas["Execution"]["properties"];
    assert_eq!(
        execution["status"]["$ref"], "#/components/schemas/ExecutionStatus",
        "{execution}"
    );
}

/// Every list the API answers is `{data, pagination}`: no operation's
/// success response is a bare array.
async fn lists_are_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let doc = openapi_document(&server).await;
    let mut bare = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operation") {
            for status in ["200", "201", "202"] {
                let schema = &op["responses"][status]["content"]["application/json"]["schema"];
                if schema["type"] == "array" {
                    bare.push(format!("{method} {path}"));
                }
            }
        }
    }
    assert!(bare.is_empty(), "bare arrays: {bare:?}");
}
in_process!(lists_are_pages_, lists_are_pages);
