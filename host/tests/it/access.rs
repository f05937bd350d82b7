//! Access control from outside: every operation of the OpenAPI document
//! against callers of each role, sessions and their end, the sign-in
//! throttle, cross-site writes and the audit log.

use crate::common::server::{Backend, TestServer, ADMIN_PASSWORD};
use crate::common::{self, TempDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Every operation of the document: (method, path template, x-permission).
async fn operations(server: &TestServer) -> Vec<(Method, String, String)> {
    let (status, doc) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let need = op["x-permission"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no x-permission"))
                .to_string();
            ops.push((m, path.clone(), need));
        }
    }
    assert!(ops.len() > 80, "only {} operations", ops.len());
    ops
}

/// The path with every `{param}` filled with an id that does not exist.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "no-such-id" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: &Method,
    template: &str,
) -> (StatusCode, Value) {
    let body = (*method == Method::POST || *method == Method::PUT).then(|| json!({}));
    server
        .request_as(token, method.clone(), &concrete(template), body.as_ref())
        .await
}

const PUBLIC: &[&str] = &[
    "GET /health",
    "POST /api/auth/login",
    "POST /api/auth/logout",
    "POST /api/auth/setup",
    "GET /api/auth/options",
    "GET /api/auth/oidc/login",
    "GET /api/auth/oidc/callback",
];

/// What a built-in role holds, read from the server.
async fn role_permissions(server: &TestServer, role: &str) -> BTreeSet<String> {
    let role = server.get_ok(&format!("/api/roles/{role}")).await;
    role["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .map(|p| p.as_str().expect("name").to_string())
        .collect()
}

/// The walk the issue asks for, derived from the OpenAPI document: no
/// credentials → 401 everywhere but the public operations; each caller
/// gets 403 exactly where the operation's permission is one it lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_by_its_permission() {
    let server = TestServer::start(Backend::InProcess).await;
    server.add_user("vera", "viewer");
    server.add_user("otto", "operator");
    let viewer = server.token_of("vera", "walk", &[]);
    let operator = server.token_of("otto", "walk", &[]);
    let narrow = server.token_of("admin", "narrow", &["datasources:read"]);
    let ops = operations(&server).await;
    let viewer_holds = role_permissions(&server, "viewer").await;
    let operator_holds = role_permissions(&server, "operator").await;
    // The viewer reads and nothing more: no write, download, explore,
    // restore, run or cancel.
    assert!(
        viewer_holds.iter().all(|p| p.ends_with(":read")),
        "{viewer_holds:?}"
    );
    for p in [
        "backups:run",
        "backups:restore",
        "backups:download",
        "jobs:write",
    ] {
        assert!(operator_holds.contains(p), "operator lacks {p}");
    }
    for p in [
        "users:manage",
        "plugins:install",
        "settings:write",
        "audit:read",
    ] {
        assert!(!operator_holds.contains(p), "operator holds {p}");
    }

    let mut checked = 0;
    for (method, path, need) in &ops {
        let op = format!("{method} {path}");
        // The event stream never ends; its guard is checked unauthenticated.
        let endless = path == "/api/events";
        let (status, body) = call(&server, None, method, path).await;
        if PUBLIC.contains(&op.as_str()) {
            assert_eq!(need, "public", "{op}");
            assert_ne!(status, 401, "{op} is public: {body}");
            continue;
        }
        assert_ne!(
            need, "public",
            "{op} is documented public but is not in the list"
        );
        assert_eq!(status, 401, "{op} without credentials: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{op}");
        if endless {
            continue;
        }
        for (who, token, holds) in [
            ("viewer", &viewer, Some(&viewer_holds)),
            ("operator", &operator, Some(&operator_holds)),
            ("admin", &server.token, None),
            ("datasources:read token", &narrow, None),
        ] {
            let allowed = match (need.as_str(), who) {
                ("signed-in", _) => true,
                (_, "admin") => true,
                (p, "datasources:read token") => p == "datasources:read",
                (p, _) => holds.expect("a role").contains(p),
            };
            let (status, body) = call(&server, Some(token), method, path).await;
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{who} refused {op} ({need}): {status} {body}"
                );
            } else {
                assert_eq!(status, 403, "{who} on {op} ({need}): {body}");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(need.as_str()),
                    "403 names {need}: {message}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
    // The narrow token reads datasources for real.
    let (status, list) = server
        .request_as(Some(&narrow), Method::GET, "/api/datasources", None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert!(list["data"].is_array(), "{list}");
}

/// A browser-like client: keeps the session cookie, sends from the given
/// local address (127.0.0.0/8 all reaches the server's 127.0.0.1).
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    cookie: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Browser {
    async fn go(&self, method: Method, url: String, body: Option<Value>) -> reqwest::Response {
        let mut req = self.client.request(method, url);
        if let Some(c) = self.cookie.lock().unwrap().clone() {
            req = req.header("cookie", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let response = req.send().await.expect("request");
        if let Some(set) = response.headers().get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            *self.cookie.lock().unwrap() = (!pair.ends_with('=')).then_some(pair);
        }
        response
    }

    async fn get(&self, url: String) -> reqwest::Response {
        self.go(Method::GET, url, None).await
    }

    async fn post(&self, url: String, body: Value) -> reqwest::Response {
        self.go(Method::POST, url, Some(body)).await
    }
}

fn browser(from: &str) -> Browser {
    Browser {
        client: reqwest::Client::builder()
            .local_address(from.parse::<std::net::IpAddr>().expect("address"))
            .build()
            .expect("client"),
        cookie: Default::default(),
    }
}

async fn login(
    client: &Browser,
    server: &TestServer,
    user: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(
            server.url("/api/auth/login"),
            json!({"username": user, "password": password}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sign_in_and_end_and_cross_site_writes_are_refused() {
    let server = TestServer::start_with(Backend::Sqlite, &["--session-idle-secs", "2"]).await;
    let alice = browser("127.0.0.1");
    // Wrong password and unknown user: one answer.
    let wrong = login(&alice, &server, "admin", "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown = login(&alice, &server, "nobody-here", "not-the-password").await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);

    let ok = login(&alice, &server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let cookie = ok
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["dg_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let me: Value = ok.json().await.unwrap();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert!(me["permissions"].as_array().unwrap().len() >= 20, "{me}");

    let me = alice.get(server.url("/api/auth/me")).await;
    assert_eq!(me.status(), 200);
    let sessions: Value = alice
        .get(server.url("/api/auth/sessions"))
        .await
        .json()
        .await
        .unwrap();
    let current: Vec<&Value> = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{sessions}");
    assert_eq!(current[0]["username"], "admin");

    // Another site's form, carrying the cookie, is refused, and so is its
    // fetch() with a JSON body; nothing is created.
    let secret = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("dg_session=")
        .to_string();
    let plain = reqwest::Client::new();
    let form = plain
        .post(server.url("/api/storage-locations"))
        .header("cookie", format!("dg_session={secret}"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x&type=local")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    let fetch = plain
        .post(server.url("/api/storage-locations"))
        .header("cookie", format!("dg_session={secret}"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "x", "type": "local", "config": {"path": "/tmp/x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch.status(), 403);
    let body: Value = fetch.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cross_origin_refused", "{body}");
    let (_, storages) = server.get("/api/storage-locations").await;
    assert!(
        !storages["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "x"),
        "{storages}"
    );

    // Signed out: the cookie no longer works, even replayed by hand.
    let out = alice.post(server.url("/api/auth/logout"), json!({})).await;
    assert_eq!(out.status(), 204);
    let replayed = plain
        .get(server.url("/api/auth/me"))
        .header("cookie", format!("dg_session={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);

    // Idle for longer than --session-idle-secs: refused.
    let bob = browser("127.0.0.1");
    assert_eq!(
        login(&bob, &server, "admin", ADMIN_PASSWORD).await.status(),
        200
    );
    assert_eq!(bob.get(server.url("/api/auth/me")).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = bob.get(server.url("/api/auth/me")).await;
    assert_eq!(expired.status(), 401);

    // A revoked token stops at once.
    let token = server.token_of("admin", "short-lived", &[]);
    let (status, tokens) = server.get("/api/tokens").await;
    assert_eq!(status, 200);
    let id = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "short-lived")
        .expect("listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = server
        .request_as(Some(&token), Method::GET, "/api/auth/me", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.delete(&format!("/api/tokens/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = server
        .request_as(Some(&token), Method::GET, "/api/auth/me", None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_wrong_password_is_throttled_per_address() {
    let server = TestServer::start(Backend::Sqlite).await;
    let here = browser("127.0.0.1");
    for i in 1..=10 {
        let r = login(&here, &server, "admin", "wrong-password-guess").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let eleventh = login(&here, &server, "admin", "wrong-password-guess").await;
    assert_eq!(eleventh.status(), 429);
    let wait: u64 = eleventh
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Even the right password waits here...
    assert_eq!(
        login(&here, &server, "admin", ADMIN_PASSWORD)
            .await
            .status(),
        429
    );
    // ...but works from another address, and that does not free this one.
    let elsewhere = browser("127.0.0.2");
    assert_eq!(
        login(&elsewhere, &server, "admin", ADMIN_PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        login(&here, &server, "admin", ADMIN_PASSWORD)
            .await
            .status(),
        429
    );
}

/// Users, roles and the rules on them: nobody raises their own role, the
/// last admin stays, a token never holds more than its creator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_roles_and_tokens_keep_their_rules() {
    let server = TestServer::start(Backend::Sqlite).await;
    let (status, body) = server
        .post(
            "/api/users",
            &json!({"username": "carol", "password": "tiny", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "password");
    assert!(!body.to_string().contains("tiny"), "{body}");
    let (status, body) = server
        .post(
            "/api/users",
            &json!({"username": "carol", "password": "long-enough-pw", "role": "nope"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "role");

    // A custom role: run backups, no download or restore.
    let role = server
        .post_ok(
            "/api/roles",
            &json!({"name": "runner", "permissions": ["jobs:read", "backups:run", "executions:read"]}),
            201,
        )
        .await;
    assert_eq!(role["built_in"], false);
    let carol = server
        .post_ok(
            "/api/users",
            &json!({"username": "carol", "password": "long-enough-pw", "role": "runner"}),
            201,
        )
        .await;
    assert!(carol.get("password_hash").is_none(), "{carol}");
    let carol_token = server.token_of("carol", "ci", &[]);
    let (status, _) = server
        .request_as(Some(&carol_token), Method::GET, "/api/backup-jobs", None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .request_as(
            Some(&carol_token),
            Method::GET,
            "/api/executions/x/download",
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A token does not mint tokens (they would outlive it)...
    let (status, body) = server
        .request_as(
            Some(&carol_token),
            Method::POST,
            "/api/tokens",
            Some(&json!({"name": "child", "permissions": ["jobs:read"]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // ...and one made in a session never carries more than its creator.
    let carol_browser = browser("127.0.0.1");
    assert_eq!(
        login(&carol_browser, &server, "carol", "long-enough-pw")
            .await
            .status(),
        200
    );
    let more = carol_browser
        .post(
            server.url("/api/tokens"),
            json!({"name": "more", "permissions": ["backups:download"]}),
        )
        .await;
    assert_eq!(more.status(), 403);
    let body: Value = more.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backups:download"),
        "{body}"
    );
    let less = carol_browser
        .post(
            server.url("/api/tokens"),
            json!({"name": "less", "permissions": ["jobs:read"]}),
        )
        .await;
    assert_eq!(less.status(), 201);
    let created: Value = less.json().await.unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("dgt_"));
    // users:manage alone does not reach users who hold more.
    server
        .post_ok(
            "/api/roles",
            &json!({"name": "helpdesk", "permissions": ["users:manage"]}),
            201,
        )
        .await;
    server.add_user("hugo", "helpdesk");
    let hugo = browser("127.0.0.1");
    assert_eq!(
        login(&hugo, &server, "hugo", ADMIN_PASSWORD).await.status(),
        200
    );
    let (_, users) = server.get("/api/users").await;
    let admin_id = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let takeover = hugo
        .go(
            Method::PUT,
            server.url(&format!("/api/users/{admin_id}")),
            Some(json!({"password": "hugo-owns-this-now"})),
        )
        .await;
    assert_eq!(takeover.status(), 403);
    let removal = hugo
        .go(
            Method::DELETE,
            server.url(&format!("/api/users/{admin_id}")),
            None,
        )
        .await;
    assert_eq!(removal.status(), 403);
    // Carol changes her own password: the current one is asked first.
    let (status, body) = server
        .request_as(
            Some(&carol_token),
            Method::PUT,
            "/api/auth/password",
            Some(&json!({"current_password": "not-hers-at-all", "new_password": "a-new-long-password"})),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["field"], "current_password");
    let (status, body) = server
        .request_as(
            Some(&carol_token),
            Method::PUT,
            "/api/auth/password",
            Some(&json!({"current_password": "long-enough-pw", "new_password": "a-new-long-password"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .request_as(
            None,
            Method::POST,
            "/api/auth/login",
            Some(&json!({"username": "carol", "password": "long-enough-pw"})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, me) = server
        .request_as(
            None,
            Method::POST,
            "/api/auth/login",
            Some(&json!({"username": "carol", "password": "a-new-long-password"})),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "runner");

    // The last admin can be neither removed nor demoted; an admin cannot
    // change their own role.
    let (status, body) = server.delete(&format!("/api/users/{admin_id}")).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = server
        .put(
            &format!("/api/users/{admin_id}"),
            &json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // Another admin demotes them: allowed while one admin remains.
    server.add_user("second", "admin");
    let second = server.token_of("second", "t", &[]);
    let (status, body) = server
        .request_as(
            Some(&second),
            Method::PUT,
            &format!("/api/users/{admin_id}"),
            Some(&json!({"role": "operator"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let second_id = server
        .request_as(Some(&second), Method::GET, "/api/auth/me", None)
        .await;
    assert_eq!(second_id.1["role"], "admin");
    // The audit row says what changed, not to what.
    let (_, updates) = server
        .request_as(
            Some(&second),
            Method::GET,
            "/api/audit-logs?action=users.update",
            None,
        )
        .await;
    assert!(
        updates["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["details"]["changed"] == json!(["role"]) && r["actor"] == "second (token t)"),
        "{updates}"
    );
    // A role in use cannot go.
    let (status, _) = server
        .request_as(
            Some(&second),
            Method::DELETE,
            &format!("/api/roles/{}", role["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

/// The sensitive actions of a backup's life leave audit rows naming the
/// user; a password sent in requests appears in no log, row or answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_actions_are_audited_by_name_and_passwords_stay_out() {
    let server = TestServer::start(Backend::Sqlite).await;
    let source = TempDb::new("audit");
    common::psql(
        &source.name,
        "create table t (x int); insert into t values (1)",
    );
    let secret_password = "Unmistakable-Pa55word-9137";
    server
        .post_ok(
            "/api/users",
            &json!({"username": "olga", "password": secret_password, "role": "operator"}),
            201,
        )
        .await;
    let olga = browser("127.0.0.1");
    // One failed sign-in (with the password in the wrong field), then in.
    let failed = login(&olga, &server, secret_password, "nope-nope-nope").await;
    assert_eq!(failed.status(), 401);
    assert_eq!(
        login(&olga, &server, "olga", secret_password)
            .await
            .status(),
        200
    );
    let post = |path: &'static str, body: Value| {
        let olga = olga.clone();
        let url = server.url(path);
        async move {
            let r = olga.post(url, body).await;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };
    let ds = post(
        "/api/datasources",
        json!({"name": "audited", "type": "postgres", "connection_config": {
            "host": "127.0.0.1", "port": 5432, "database": source.name,
            "username": "postgres", "password": secret_password}}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let root = server.dir.path().join("audited-storage");
    let storage = post(
        "/api/storage-locations",
        json!({"name": "audited disk", "type": "local", "create_root": true, "config": {"path": root}}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = olga
        .post(
            server.url("/api/backup-jobs"),
            json!({"name": "audited job", "datasource_id": ds, "storage_location_id": storage,
                "schedule_cron": "0 3 * * *", "schedule_timezone": "UTC"}),
        )
        .await;
    assert_eq!(job.status(), 201);
    let job: Value = job.json().await.unwrap();
    let job = job["id"].as_str().unwrap().to_string();
    let run = olga
        .post(
            server.url(&format!("/api/backup-jobs/{job}/run")),
            json!({}),
        )
        .await;
    assert_eq!(run.status(), 202);
    let run: Value = run.json().await.unwrap();
    let execution = run["execution_id"].as_str().unwrap().to_string();
    let done = server
        .wait_execution(&execution, Duration::from_secs(120))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let download = olga
        .get(server.url(&format!("/api/executions/{execution}/download")))
        .await;
    assert_eq!(download.status(), 200);
    drop(download.bytes().await.unwrap());
    // Olga may not read the audit log: refused, and that is recorded.
    let denied = olga.get(server.url("/api/audit-logs")).await;
    assert_eq!(denied.status(), 403);
    let denied_users = olga
        .post(
            server.url("/api/users"),
            json!({"username": "mallory", "password": secret_password, "role": "admin"}),
        )
        .await;
    assert_eq!(denied_users.status(), 403);

    let (status, log) = server.get("/api/audit-logs?actor=olga&limit=500").await;
    assert_eq!(status, 200, "{log}");
    let rows = log["data"].as_array().unwrap();
    let has = |action: &str, outcome: &str, entity: Option<&str>| {
        rows.iter().any(|r| {
            r["action"] == action
                && r["outcome"] == outcome
                && r["actor"] == "olga"
                && entity.is_none_or(|e| r["entity_id"] == e)
        })
    };
    for (action, outcome, entity) in [
        ("auth.login", "succeeded", None),
        ("datasources.create", "succeeded", Some(ds.as_str())),
        ("storages.create", "succeeded", Some(storage.as_str())),
        ("jobs.create", "succeeded", Some(job.as_str())),
        ("jobs.run", "succeeded", Some(job.as_str())),
        ("backups.download", "succeeded", Some(execution.as_str())),
        ("users.create", "denied", None),
    ] {
        assert!(
            has(action, outcome, entity),
            "no {action} {outcome} row: {log:#}"
        );
    }
    let (_, failed) = server.get("/api/audit-logs?action=auth.login_failed").await;
    assert_eq!(failed["pagination"]["total"], 1, "{failed}");
    assert_eq!(failed["data"][0]["actor_type"], "anonymous");
    // The admin's own creation of olga, by the token.
    let (_, created) = server
        .get("/api/audit-logs?action=users.create&actor=admin")
        .await;
    assert_eq!(
        created["data"][0]["actor"], "admin (token tests)",
        "{created}"
    );

    // The password: sent four times, stored nowhere readable.
    let (_, everything) = server.get("/api/audit-logs?limit=500").await;
    let said = format!("{everything}{}", server.log());
    assert!(!said.contains(secret_password), "the password leaked");
    let said = server.everything_said(&[&execution]).await;
    assert!(!said.contains(secret_password), "the password leaked");
}

/// The command line creates users and tokens whether or not the server
/// runs, and refuses bad input naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_creates_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let dg = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
            .args(["--data-dir", &data_arg])
            .args(args)
            .env("DG_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = dg(
        &["admin", "create", "--username", "root", "--password-stdin"],
        "tiny\n",
    );
    assert!(!short.status.success());
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("password") && err.contains("10"), "{err}");
    assert!(!err.contains("tiny"), "{err}");
    let ok = dg(
        &["admin", "create", "--username", "root", "--password-stdin"],
        "a-long-enough-password\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let user: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(user["role"], "admin");
    let bad = dg(
        &[
            "token",
            "create",
            "--username",
            "root",
            "--name",
            "x",
            "--permission",
            "backups:eat",
        ],
        "",
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--permission"));
    let token = dg(
        &[
            "token",
            "create",
            "--username",
            "root",
            "--name",
            "script",
            "--permission",
            "metrics:read",
        ],
        "",
    );
    assert!(token.status.success());
    let out = String::from_utf8_lossy(&token.stdout);
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("dgt_") && last.len() > 40, "{out}");
    // Lost password: set a new one.
    let reset = dg(
        &[
            "admin",
            "set-password",
            "--username",
            "root",
            "--password-stdin",
        ],
        "another-long-password\n",
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
}

/// A client that does not follow redirects (to read each hop).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// One single sign-on through the test provider: the server's callback
/// answer (303 with a cookie, or an error).
async fn sso(server: &TestServer) -> reqwest::Response {
    let (query, state_cookie) = sso_until_callback(server).await;
    no_redirects()
        .get(server.url(&format!("/api/auth/oidc/callback?{query}")))
        .header("cookie", state_cookie)
        .send()
        .await
        .unwrap()
}

/// A sign-on up to the callback: its query and the browser's state cookie.
async fn sso_until_callback(server: &TestServer) -> (String, String) {
    let http = no_redirects();
    let start = http
        .get(server.url("/api/auth/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let state_cookie = session_of(&start).expect("the sign-on's state cookie");
    assert!(state_cookie.starts_with("dg_oidc_state="), "{state_cookie}");
    let to_provider = start.headers()["location"].to_str().unwrap().to_string();
    assert!(to_provider.contains("code_challenge="), "{to_provider}");
    assert!(to_provider.contains("nonce="), "{to_provider}");
    let back = http.get(&to_provider).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let back = back.headers()["location"].to_str().unwrap().to_string();
    let (callback, query) = back.split_once('?').expect("a query");
    assert_eq!(callback, "http://dg.test/api/auth/oidc/callback");
    (query.to_string(), state_cookie)
}

fn session_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
}

/// Single sign-on against a provider on loopback: sign-in with PKCE and a
/// nonce, the role from the mapped claim (and following it), and an ID
/// token signed by another key or for another audience refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_signs_in_and_refuses_bad_tokens() {
    use crate::common::oidc::{Provider, Trick, CLIENT_ID, CLIENT_SECRET};
    let provider = Provider::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("oidc-secret");
    std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).unwrap();
    let secret_arg = secret_file.display().to_string();
    let server = TestServer::start_with(
        Backend::Sqlite,
        &[
            "--public-url",
            "http://dg.test",
            "--oidc-issuer",
            &provider.issuer,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-client-secret-file",
            &secret_arg,
            "--oidc-role-map",
            "dg-admins=admin,dg-ops=operator",
        ],
    )
    .await;
    let (_, options) = server
        .request_as(None, Method::GET, "/api/auth/options", None)
        .await;
    assert_eq!(options["oidc"], true, "{options}");

    provider.sign_in_as("subject-1", "sso.alice", &["staff", "dg-ops"]);
    let answer = sso(&server).await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    assert_eq!(answer.headers()["location"], "/");
    let cookie = session_of(&answer).expect("a session");
    let me: Value = reqwest::Client::new()
        .get(server.url("/api/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "sso.alice", "{me}");
    assert_eq!(me["role"], "operator", "{me}");
    // Promoted at the provider: the next sign-in carries it.
    provider.sign_in_as("subject-1", "sso.alice", &["dg-admins"]);
    assert_eq!(sso(&server).await.status(), 303);
    let (_, users) = server.get("/api/users").await;
    let alice: Vec<&Value> = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "sso.alice")
        .collect();
    assert_eq!(alice.len(), 1, "{users}");
    assert_eq!(alice[0]["role"], "admin");
    // An account made by sign-on has no password to sign in with.
    let http = reqwest::Client::new();
    let local = http
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "sso.alice", "password": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 401);

    // Forged and misdirected ID tokens are refused, without a session.
    for (trick, why) in [
        (Trick::ForeignKey, "signature"),
        (Trick::WrongAudience, "audience"),
    ] {
        provider.trick(trick);
        let refused = sso(&server).await;
        assert_eq!(refused.status(), 401, "{why}");
        assert!(session_of(&refused).is_none(), "{why}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "sso_unverified", "{why}: {body}");
    }
    provider.trick(Trick::Honest);
    // No mapped role and no default: refused.
    provider.sign_in_as("subject-2", "sso.bob", &["staff"]);
    let refused = sso(&server).await;
    assert_eq!(refused.status(), 403);
    // A local account is never taken over by a sign-on of the same name.
    server.add_user("sso.carol", "viewer");
    provider.sign_in_as("subject-3", "sso.carol", &["dg-admins"]);
    let refused = sso(&server).await;
    assert_eq!(refused.status(), 409);
    // A callback URL someone else started (login CSRF) is refused in a
    // browser without that sign-on's state cookie.
    provider.sign_in_as("subject-9", "mallory", &["dg-admins"]);
    let (query, _) = sso_until_callback(&server).await;
    let planted = no_redirects()
        .get(server.url(&format!("/api/auth/oidc/callback?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status(), 400);
    assert!(session_of(&planted).is_none());
    // A sign-in's state is used once.
    let replay = no_redirects()
        .get(server.url("/api/auth/oidc/callback?code=code-1&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    let (_, failed) = server
        .get("/api/audit-logs?action=auth.login_failed&limit=50")
        .await;
    assert!(
        failed["pagination"]["total"].as_i64().unwrap() >= 5,
        "{failed}"
    );
}
