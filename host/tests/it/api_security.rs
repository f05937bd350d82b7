//! Security properties of the running server, over real HTTP on both
//! metadata backends: cross-site and DNS-rebinding requests refused, user
//! paths confined (symlinks resolved, also when they appear after the
//! object was saved), the data dir private, secrets sealed at rest and
//! kept out of program environments, a tampered plugin cache not loaded,
//! and input limits that name the field.

use crate::common;

use common::server::{Backend, TestServer};
use common::{psql, TempDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/// Sends `body` as is with the given headers; returns status and JSON.
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = server.http.request(method, server.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req.send().await.expect("HTTP request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// A 422 naming `field`; returns the message.
fn expect_field(ctx: &str, reply: &(StatusCode, Value), field: &str) -> String {
    assert_eq!(reply.0, 422, "{ctx}: {}", reply.1);
    assert_eq!(reply.1["error"]["field"], field, "{ctx}: {}", reply.1);
    reply.1["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn datasource_count(server: &TestServer) -> u64 {
    server.get_ok("/api/datasources").await["pagination"]["total"]
        .as_u64()
        .expect("total")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn files_config(path: &Path) -> Value {
    json!({"path": path})
}

/// A `files` datasource over `path`; its id.
async fn files_datasource(server: &TestServer, name: &str, path: &Path) -> String {
    server
        .post_ok(
            "/api/datasources",
            &json!({"name": name, "type": "files", "connection_config": files_config(path)}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// The default local storage's id.
async fn default_storage(server: &TestServer) -> String {
    server.get_ok("/api/storage-locations").await["data"][0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Replaces the directory at `path` with a symlink to `target`.
fn swap_for_symlink(path: &Path, target: &Path) {
    std::fs::remove_dir_all(path).expect("removing the directory");
    std::os::unix::fs::symlink(target, path).expect("symlink");
}

/// Every byte the metadata store keeps, as text: the SQLite files (with
/// WAL) or a data-only dump of the PostgreSQL metadata database.
fn metadata_bytes(server: &TestServer) -> Vec<u8> {
    match server.backend {
        Backend::Sqlite | Backend::InProcess => {
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let file = server.data_dir().join(format!("dataguardian.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&file) {
                    all.extend(bytes);
                }
            }
            all
        }
        Backend::Postgres => {
            let db = server.meta_db_name().expect("postgres metadata database");
            let out = std::process::Command::new("pg_dump")
                .args(["--data-only", "-h", "127.0.0.1", "-U", "postgres", "-d", db])
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------------
// Cross-site requests and DNS rebinding
// ---------------------------------------------------------------------

async fn cross_site_requests_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let body = json!({"name": "shop", "type": "postgres", "connection_config": {
        "host": "127.0.0.1", "database": "postgres", "username": "postgres"}})
    .to_string();
    use reqwest::Method;

    // "Simple" requests a page can send without a preflight.
    for (ctx, headers) in [
        ("text/plain", vec![("content-type", "text/plain")]),
        (
            "form",
            vec![("content-type", "application/x-www-form-urlencoded")],
        ),
        (
            "multipart",
            vec![("content-type", "multipart/form-data; boundary=x")],
        ),
        ("no content type", vec![]),
    ] {
        let r = send(
            &server,
            Method::POST,
            "/api/datasources",
            &headers,
            Some(&body),
        )
        .await;
        assert_eq!(r.0, 415, "{ctx}: {}", r.1);
        assert_eq!(error_code(&r.1), "unsupported_media_type", "{ctx}");
    }
    assert_eq!(datasource_count(&server).await, 0, "nothing was created");

    // A foreign Origin, or a browser saying the request is cross-site.
    let json_type = ("content-type", "application/json");
    for (ctx, extra) in [
        ("foreign origin", ("origin", "http://evil.example")),
        ("null origin", ("origin", "null")),
        ("other port", ("origin", "http://127.0.0.1:1")),
        ("cross-site", ("sec-fetch-site", "cross-site")),
        ("same-site", ("sec-fetch-site", "same-site")),
    ] {
        let r = send(
            &server,
            Method::POST,
            "/api/datasources",
            &[json_type, extra],
            Some(&body),
        )
        .await;
        assert_eq!(r.0, 403, "{ctx}: {}", r.1);
        assert_eq!(error_code(&r.1), "cross_origin_refused", "{ctx}");
    }
    assert_eq!(datasource_count(&server).await, 0, "nothing was created");

    // DNS rebinding: the attacker's name pointed at 127.0.0.1.
    for method in [Method::GET, Method::POST] {
        let r = send(
            &server,
            method.clone(),
            "/api/datasources",
            &[json_type, ("host", "evil.example")],
            Some(body.as_str()).filter(|_| method == Method::POST),
        )
        .await;
        assert_eq!(r.0, 421, "{method}: {}", r.1);
        assert_eq!(error_code(&r.1), "host_not_allowed");
    }
    // A 100 KB host is not echoed back whole.
    let long_host = "a".repeat(100_000);
    let r = send(
        &server,
        Method::GET,
        "/api/health",
        &[("host", &long_host)],
        None,
    )
    .await;
    assert_eq!(r.0, 421);
    assert!(r.1.to_string().len() < 600, "{}", r.1.to_string().len());

    // Same-origin pages and clients that are not browsers keep working.
    let origin = server.base.clone();
    let r = send(
        &server,
        Method::POST,
        "/api/datasources",
        &[
            json_type,
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
        ],
        Some(&body),
    )
    .await;
    assert_eq!(r.0, 201, "same origin: {}", r.1);
    let curl_like = json!({"name": "shop-2", "type": "postgres", "connection_config": {
        "host": "127.0.0.1", "database": "postgres", "username": "postgres"}});
    server.post_ok("/api/datasources", &curl_like, 201).await;
    let r = send(
        &server,
        Method::GET,
        "/api/datasources",
        &[("host", "localhost")],
        None,
    )
    .await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(datasource_count(&server).await, 2);
}
on_both_backends!(
    cross_site_requests_are_refused_,
    cross_site_requests_are_refused
);

/// A restore over a live database is the most dangerous write: a page
/// must not be able to trigger one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_cannot_trigger_a_restore() {
    let server = TestServer::start(Backend::Sqlite).await;
    let body = json!({"confirm_overwrite": true}).to_string();
    let r = send(
        &server,
        reqwest::Method::POST,
        "/api/backups/00000000-0000-0000-0000-000000000000/restore",
        &[("content-type", "text/plain")],
        Some(&body),
    )
    .await;
    assert_eq!(r.0, 415, "{}", r.1);
}

/// Behind a proxy the operator names the public host; only it and the
/// built-in local names are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_and_public_url() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        &[
            "--allowed-hosts",
            "backup.corp.lan",
            "--public-url",
            "https://dg.example.com",
        ],
    )
    .await;
    use reqwest::Method;
    for host in ["backup.corp.lan", "dg.example.com", "localhost:8080"] {
        let r = send(&server, Method::GET, "/api/health", &[("host", host)], None).await;
        assert_eq!(r.0, 200, "{host}: {}", r.1);
    }
    let r = send(
        &server,
        Method::GET,
        "/api/health",
        &[("host", "other.corp.lan")],
        None,
    )
    .await;
    assert_eq!(r.0, 421);
    let body = json!({"name": "n", "type": "postgres", "connection_config": {
        "host": "h", "database": "d", "username": "u"}})
    .to_string();
    let r = send(
        &server,
        Method::POST,
        "/api/datasources",
        &[
            ("content-type", "application/json"),
            ("host", "dg.example.com"),
            ("origin", "https://dg.example.com"),
        ],
        Some(&body),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
}

// ---------------------------------------------------------------------
// Path confinement
// ---------------------------------------------------------------------

async fn paths_are_confined(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tmp = server.dir.path();
    let data = server.data_dir();
    let alias = tmp.join("innocent-looking");
    std::os::unix::fs::symlink(&data, &alias).unwrap();

    // Datasource paths (and so restore targets).
    for (ctx, kind, path) in [
        ("files at the data dir", "files", data.clone()),
        ("files around the data dir", "files", tmp.to_path_buf()),
        ("files via ..", "files", tmp.join("x/../data")),
        ("files via a symlink", "files", alias.clone()),
        (
            "sqlite on the metadata db",
            "sqlite",
            data.join("dataguardian.db"),
        ),
        ("sqlite beside the data dir", "sqlite", tmp.join("app.db")),
        ("files in /etc", "files", PathBuf::from("/etc")),
        ("files at /", "files", PathBuf::from("/")),
        ("files in /proc", "files", PathBuf::from("/proc/self")),
    ] {
        let r = server
            .post(
                "/api/datasources",
                &json!({"name": ctx, "type": kind, "connection_config": files_config(&path)}),
            )
            .await;
        let message = expect_field(ctx, &r, "connection_config.path");
        assert!(
            ["data directory", "`..`", "system directory"]
                .iter()
                .any(|w| message.contains(w)),
            "{ctx}: {message}"
        );
    }

    // Storage roots.
    let (_, default_root) = (0, data.join("backups"));
    let file_root = tmp.join("a-file");
    std::fs::write(&file_root, b"not a directory").unwrap();
    for (ctx, path, words) in [
        ("/etc", PathBuf::from("/etc"), "system directory"),
        ("/root", PathBuf::from("/root"), "system directory"),
        ("/proc", PathBuf::from("/proc"), "system directory"),
        (
            "symlink to the data dir",
            alias.join("elsewhere"),
            "data directory",
        ),
        ("a regular file", file_root.clone(), "not a directory"),
    ] {
        let r = server
            .post(
                "/api/storage-locations",
                &json!({"name": ctx, "type": "local", "create_root": true, "config": {"path": path}}),
            )
            .await;
        let message = expect_field(ctx, &r, "config.path");
        assert!(message.contains(words), "{ctx}: {message}");
    }
    // A symlink alias of another storage's root overlaps it.
    std::fs::create_dir_all(&default_root).unwrap();
    let storage_alias = tmp.join("alias-of-default");
    std::os::unix::fs::symlink(&default_root, &storage_alias).unwrap();
    let r = server
        .post(
            "/api/storage-locations",
            &json!({"name": "alias", "type": "local", "create_root": true, "config": {"path": storage_alias}}),
        )
        .await;
    assert_eq!(r.0, 409, "{}", r.1);
    assert_eq!(r.1["error"]["field"], "config.path");
    assert!(
        r.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overlaps"),
        "{}",
        r.1
    );
    // A datasource over a storage root would back up (and restore over)
    // the backups.
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "over backups", "type": "files",
                    "connection_config": files_config(&default_root)}),
        )
        .await;
    expect_field(
        "files over the default storage",
        &r,
        "connection_config.path",
    );

    // A path that becomes a symlink after it was saved is refused when
    // used: the backup fails, the restore never writes.
    let site = tmp.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), b"hello").unwrap();
    let ds = files_datasource(&server, "site", &site).await;
    let storage = default_storage(&server).await;
    let job = server.job("site", &ds, &storage, json!({})).await;
    let good = server.run_job(&job).await;
    assert_eq!(good["status"], "completed", "{good}");

    swap_for_symlink(&site, &data);
    let db_before = std::fs::read(data.join("node-id")).unwrap();
    let bad = server.run_job(&job).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    let error = bad["error_message"].as_str().unwrap_or_default();
    assert!(error.contains("data directory"), "{bad}");
    let restore = server
        .post_ok(
            &format!("/api/backups/{}/restore", good["id"].as_str().unwrap()),
            &json!({"confirm_overwrite": true}),
            202,
        )
        .await;
    let restored = server
        .wait_execution(
            restore["execution_id"].as_str().unwrap(),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(restored["status"], "failed", "{restored}");
    assert!(
        restored["error_message"]
            .as_str()
            .unwrap_or_default()
            .contains("data directory"),
        "{restored}"
    );
    assert!(
        !data.join("index.html").exists(),
        "nothing restored into the data dir"
    );
    assert_eq!(std::fs::read(data.join("node-id")).unwrap(), db_before);

    // The same for a storage root: the explorer refuses it at use time.
    let store_dir = tmp.join("store-later");
    std::fs::create_dir_all(&store_dir).unwrap();
    let sid = server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "later", "type": "local", "create_root": true, "config": {"path": store_dir}}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    swap_for_symlink(&store_dir, &data);
    let r = server
        .get(&format!("/api/storage-locations/{sid}/files"))
        .await;
    let message = expect_field("explorer over a swapped root", &r, "config.path");
    assert!(message.contains("data directory"), "{message}");
    let r = server
        .get(&format!(
            "/api/storage-locations/{sid}/files/download?path=dataguardian.db"
        ))
        .await;
    assert_eq!(
        r.0, 422,
        "the metadata database is not downloadable: {}",
        r.1
    );
}
on_both_backends!(paths_are_confined_, paths_are_confined);

/// The server's own files outside the data dir — here the third-party
/// plugin directory — are as private as the data dir: restoring a backup
/// over them would hand the next start to whoever wrote the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_dir_is_out_of_reach() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().to_str().unwrap().to_string();
    let server = TestServer::start_with(Backend::Sqlite, &["--plugin-dir", &dir]).await;
    for path in [plugins.path().to_path_buf(), plugins.path().join("x.wasm")] {
        let r = server
            .post(
                "/api/datasources",
                &json!({"name": "p", "type": "files", "connection_config": files_config(&path)}),
            )
            .await;
        let message = expect_field("the plugin dir", &r, "connection_config.path");
        assert!(message.contains("private"), "{message}");
    }
}

/// Operators who pin roots get only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_roots_pin_paths() {
    let pinned = tempfile::tempdir().unwrap();
    let pinned_arg = pinned.path().to_str().unwrap().to_string();
    let server = TestServer::start_with(Backend::Sqlite, &["--allowed-roots", &pinned_arg]).await;
    let inside = pinned.path().join("site");
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "in", "type": "files", "connection_config": files_config(&inside)}),
        )
        .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let outside = server.dir.path().join("site");
    let r = server
        .post(
            "/api/datasources",
            &json!({"name": "out", "type": "files", "connection_config": files_config(&outside)}),
        )
        .await;
    let message = expect_field("outside the allowed roots", &r, "connection_config.path");
    assert!(message.contains("allowed roots"), "{message}");
}

// ---------------------------------------------------------------------
// The data dir, secrets at rest, secrets in processes, the plugin cache
// ---------------------------------------------------------------------

async fn data_dir_is_private_and_secrets_sealed(backend: Backend) {
    let mut server = TestServer::start_with_own_cache(backend).await;
    let data = server.data_dir();
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("master.key")), 0o600, "master key");
    assert_eq!(mode(&data.join("node-id")), 0o600, "node id");
    if backend == Backend::Sqlite {
        assert_eq!(mode(&data.join("dataguardian.db")), 0o600, "metadata db");
    }
    for entry in std::fs::read_dir(data.join("cache/plugins")).expect("plugin cache") {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let nested = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let created = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "sealed", "type": "postgres", "connection_config": {
                "host": "127.0.0.1", "database": "postgres", "username": "postgres",
                "password": password}}),
            201,
        )
        .await;
    assert_eq!(created["connection_config"]["password"], "********");
    let id = created["id"].as_str().unwrap().to_string();
    let check = server
        .post_ok(
            &format!("/api/datasources/{id}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(
        check["status"], "ok",
        "the sealed password still opens: {check}"
    );
    assert!(
        !contains(&metadata_bytes(&server), &password),
        "password stored in the clear"
    );
    assert!(
        !server.log().contains(&password),
        "password in the server log"
    );

    // Rows written in the clear before encryption existed are sealed at
    // the next start.
    let plain = json!({"host": "127.0.0.1", "database": "postgres", "username": "postgres",
                       "password": password, "extra": {"token": nested}})
    .to_string();
    let sql = format!("update datasources set connection_config = '{plain}' where id = '{id}'");
    match backend {
        Backend::Sqlite | Backend::InProcess => {
            server.kill();
            let out = std::process::Command::new("sqlite3")
                .arg(data.join("dataguardian.db"))
                .arg(&sql)
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        Backend::Postgres => {
            psql(server.meta_db_name().unwrap(), &sql);
        }
    }
    server.restart();
    let bytes = metadata_bytes(&server);
    assert!(
        !contains(&bytes, &password),
        "plaintext row not sealed at start"
    );
    assert!(!contains(&bytes, &nested), "nested secret not sealed");
    let shown = server.get_ok(&format!("/api/datasources/{id}")).await;
    assert_eq!(
        shown["connection_config"]["extra"]["token"], "********",
        "{shown}"
    );
    // (The PostgreSQL plugin has no `extra` field; drop it again.)
    let (s, v) = server
        .put(
            &format!("/api/datasources/{id}"),
            &json!({"connection_config": {"host": "127.0.0.1", "database": "postgres",
                    "username": "postgres", "password": "********"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // Key rotation: a new key seals everything, the old one is gone.
    let key_before = std::fs::read_to_string(data.join("master.key")).unwrap();
    server.kill();
    let mut rotate = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"));
    rotate
        .arg("--data-dir")
        .arg(&data)
        .args(["secrets", "rotate-key"])
        .env("DG_LOG", "warn")
        .env_remove("DATABASE_URL");
    if let Some(db) = server.meta_db_name() {
        rotate.env("DATABASE_URL", format!("{}/{db}", common::PG));
    }
    let out = rotate.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["resealed_rows"].as_u64().unwrap() >= 1, "{summary}");
    let key_after = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert_ne!(key_before, key_after);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    server.restart();
    let check = server
        .post_ok(
            &format!("/api/datasources/{id}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(check["status"], "ok", "{check}");

    // A server started with another key cannot read the rows: it refuses
    // to start rather than lose or overwrite them.
    server.kill();
    std::fs::write(data.join("master.key"), key_before).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DG_LOG", "warn")
        .env_remove("DATABASE_URL")
        .envs(
            server
                .meta_db_name()
                .map(|db| ("DATABASE_URL", format!("{}/{db}", common::PG))),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("master key") || stderr.contains("accessible"),
        "{stderr}"
    );
}
on_both_backends!(
    data_dir_is_private_and_secrets_sealed_,
    data_dir_is_private_and_secrets_sealed
);

/// Finds a running process called one of `names` whose environment holds
/// `marker`.
fn find_process(names: &[&str], marker: &str) -> Option<(u32, String)> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let entry = entry.ok()?;
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !names.contains(&comm.trim()) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ).replace('\0', "\n");
        if environ.contains(marker) {
            return Some((pid, environ));
        }
    }
    None
}

/// While the backup's programs run (the psql session that counts rows in
/// the dump's snapshot, then pg_dump), their environment holds no
/// password: libpq reads it from a 0600 file outside the plugin's reach,
/// removed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_environments_hold_no_password() {
    let server = TestServer::start(Backend::Sqlite).await;
    let db = TempDb::new("environ");
    psql(
        &db.name,
        "create table held (id int); insert into held values (1)",
    );
    let password = format!("pw:{}\\x", uuid::Uuid::new_v4().simple());
    let ds = server
        .pg_datasource_with_password("held", &db.name, &password)
        .await;
    let storage = default_storage(&server).await;
    let job = server.job("held", &ds, &storage, json!({})).await;

    // Hold a lock so pg_dump waits, visible, until we let it go.
    let locker = common::Locker::hold(&db.name, "held");
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let exec = run["execution_id"].as_str().unwrap().to_string();

    let mut found = None;
    for _ in 0..100 {
        if let Some(p) = find_process(&["pg_dump", "psql"], &format!("PGDATABASE={}", db.name)) {
            found = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (pid, environ) = found.expect("psql or pg_dump running");
    assert!(
        !environ.contains(&password),
        "password in /proc/{pid}/environ"
    );
    assert!(!environ.contains("PGPASSWORD"), "{environ}");
    let passfile = environ
        .lines()
        .find_map(|l| l.strip_prefix("PGPASSFILE="))
        .expect("PGPASSFILE set")
        .to_string();
    let passfile = PathBuf::from(passfile);
    assert_eq!(mode(&passfile), 0o600);
    assert_eq!(mode(passfile.parent().unwrap()), 0o700);
    let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
    assert_eq!(
        std::fs::read_to_string(&passfile).unwrap(),
        format!("*:*:*:*:{escaped}\n")
    );
    assert!(
        passfile.starts_with(server.data_dir().join("tmp/.secrets")),
        "outside every plugin preopen: {}",
        passfile.display()
    );

    drop(locker);
    let done = server.wait_execution(&exec, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(!passfile.exists(), "secret file removed after the program");
}

/// Pids of the processes whose environment holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if String::from_utf8_lossy(&environ)
            .split('\0')
            .any(|v| v == marker)
        {
            pids.push(pid);
        }
    }
    pids
}

/// `(state, process group)` of a process from `/proc/PID/stat`; `None`
/// once it is gone.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Gone, or a zombie waiting for init to reap it (it runs no more).
fn is_gone(pid: u32) -> bool {
    proc_state(pid).is_none_or(|(state, _)| state == 'Z')
}

/// `kill -9` of the server while a backup's `pg_dump` waits on a lock:
/// the dump, orphaned, keeps running with its password file beside it —
/// until the server starts again on the same data dir, which kills what
/// the dead server left running (and says so) and removes the secret
/// files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_no_program_or_secret_behind() {
    let mut server = TestServer::start(Backend::Sqlite).await;
    let db = TempDb::new("orphan");
    psql(
        &db.name,
        "create table held (id int); insert into held values (1)",
    );
    let ds = server
        .pg_datasource_with_password("held", &db.name, "orphan-pw")
        .await;
    let storage = default_storage(&server).await;
    let job = server.job("held", &ds, &storage, json!({})).await;
    let locker = common::Locker::hold(&db.name, "held");
    server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;

    let marker = format!("PGDATABASE={}", db.name);
    let started = std::time::Instant::now();
    let (dump, environ) = loop {
        if let Some(found) = find_process(&["pg_dump"], &marker) {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "pg_dump never started\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let passfile = PathBuf::from(
        environ
            .lines()
            .find_map(|l| l.strip_prefix("PGPASSFILE="))
            .expect("PGPASSFILE set"),
    );
    let secrets = server.data_dir().join("tmp/.secrets");
    assert!(passfile.starts_with(&secrets), "{}", passfile.display());
    assert!(
        passfile.exists(),
        "the password file is there while pg_dump runs"
    );
    assert_eq!(
        proc_state(dump).map(|(_, group)| group),
        Some(dump),
        "pg_dump leads its own process group"
    );
    // Every program of the run (pg_dump and the psql counting in its
    // snapshot), as they are now.
    let programs = processes_with(&marker);
    assert!(programs.contains(&dump), "{programs:?}");

    server.kill();
    assert!(
        !is_gone(dump),
        "an orphaned pg_dump outlives a killed server"
    );
    assert!(passfile.exists(), "and so does its password file");

    server.restart();
    let started = std::time::Instant::now();
    while let Some(alive) = programs.iter().find(|p| !is_gone(**p)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pid {alive} still runs after the restart\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left: Vec<_> = std::fs::read_dir(&secrets)
        .map(|list| list.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "secret files survived the restart: {left:?}"
    );
    let log = server.log();
    assert!(
        log.contains(&format!("killed pg_dump (pid {dump}, group {dump})")),
        "the start says what it killed:\n{}",
        server.log_tail()
    );
    drop(locker);
}

/// A CLI command has no server to clear up after it: a `backup` killed
/// with SIGKILL while its pg_dump waits on a lock leaves the dump and its
/// password file in the command's own scratch root (`tmp/.cli-UUID`);
/// the next command on the data dir kills the dump and removes the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_cli_command_is_cleared_up_by_the_next() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let db = TempDb::new("cli_orphan");
    psql(
        &db.name,
        "create table held (id int); insert into held values (1)",
    );
    let locker = common::Locker::hold(&db.name, "held");
    let url = format!("postgres://postgres:cli-pw@127.0.0.1:5432/{}", db.name);
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(&data)
        .args(["backup", "--engine", "postgres", "--source", &url, "--to"])
        .arg(work.path().join("store"))
        .env("DG_PLUGIN_CACHE_DIR", common::shared_plugin_cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dataguardian backup");

    let marker = format!("PGDATABASE={}", db.name);
    let started = std::time::Instant::now();
    let (dump, environ) = loop {
        if let Some(found) = find_process(&["pg_dump"], &marker) {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "pg_dump never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let passfile = PathBuf::from(
        environ
            .lines()
            .find_map(|l| l.strip_prefix("PGPASSFILE="))
            .expect("PGPASSFILE set"),
    );
    let tmp = data.join("tmp");
    let cli_root = passfile
        .strip_prefix(&tmp)
        .ok()
        .and_then(|rest| rest.components().next())
        .map(|first| tmp.join(first))
        .expect("the secret file is in the data dir's tmp");
    assert!(
        cli_root
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".cli-")),
        "a CLI root of its own: {}",
        passfile.display()
    );
    let programs = processes_with(&marker);

    cli.kill().expect("SIGKILL");
    cli.wait().expect("wait");
    assert!(!is_gone(dump), "an orphaned pg_dump outlives a killed CLI");

    let out = common::dg(&data, &["plugin", "list"]);
    assert!(out.status.success(), "{out:?}");
    let started = std::time::Instant::now();
    while let Some(alive) = programs.iter().find(|p| !is_gone(**p)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pid {alive} still runs after the next command"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!cli_root.exists(), "{} removed", cli_root.display());
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "nothing left in tmp: {left:?}");

    // Ctrl-C reaches only the CLI (its programs have their own process
    // groups): it stops, and takes its programs and its root with it.
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(&data)
        .args(["backup", "--engine", "postgres", "--source", &url, "--to"])
        .arg(work.path().join("store"))
        .env("DG_PLUGIN_CACHE_DIR", common::shared_plugin_cache())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dataguardian backup");
    let started = std::time::Instant::now();
    let dump = loop {
        if let Some((pid, _)) = find_process(&["pg_dump"], &marker) {
            break pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "pg_dump never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let programs = processes_with(&marker);
    let status = std::process::Command::new("kill")
        .args(["-INT", &cli.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = cli.wait().expect("wait");
    assert!(!exit.success(), "an interrupted backup fails");
    assert!(programs.contains(&dump));
    // SIGKILL was sent before the CLI exited; its delivery is the kernel's.
    let started = std::time::Instant::now();
    while let Some(alive) = programs.iter().find(|p| !is_gone(**p)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pid {alive} outlives an interrupted CLI"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "nothing left in tmp: {left:?}");
    drop(locker);
}

/// The precompiled plugin cache is native code: an altered file is not
/// loaded, it is compiled again from the embedded plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_plugin_cache_is_not_loaded() {
    let mut server = TestServer::start_with_own_cache(Backend::Sqlite).await;
    let cache = server.data_dir().join("cache/plugins");
    server.kill();
    let mut tampered = 0;
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x5a;
            std::fs::write(&path, bytes).unwrap();
            tampered += 1;
        }
    }
    assert!(tampered >= 4, "every built-in plugin is cached");
    server.restart();
    let log = server.log();
    assert!(
        log.matches("does not match its recorded digest").count() >= tampered,
        "{log}"
    );
    // The plugins still work (recompiled), e.g. a files backup.
    let site = server.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("a.txt"), b"a").unwrap();
    let ds = files_datasource(&server, "site", &site).await;
    let storage = default_storage(&server).await;
    let job = server.job("site", &ds, &storage, json!({})).await;
    assert_eq!(server.run_job(&job).await["status"], "completed");
}

// ---------------------------------------------------------------------
// Input limits
// ---------------------------------------------------------------------

async fn input_limits_name_the_field(backend: Backend) {
    let server = TestServer::start(backend).await;
    let pg = |extra: Value| {
        let mut c = json!({"host": "127.0.0.1", "database": "postgres", "username": "postgres"});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    };
    let big = "x".repeat(100_000);
    let cases = [
        (
            "NUL in a path",
            "/api/datasources",
            json!({"name": "a", "type": "files", "connection_config": {"path": "/tmp/a\u{0}b"}}),
            "connection_config.path",
        ),
        (
            "100 KB path",
            "/api/datasources",
            json!({"name": "a", "type": "files", "connection_config": {"path": format!("/tmp/{big}")}}),
            "connection_config.path",
        ),
        (
            "100 KB host",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "connection_config": pg(json!({"host": big}))}),
            "connection_config.host",
        ),
        (
            "NUL in a tag",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "tags": ["ok", "a\u{0}b"], "connection_config": pg(json!({}))}),
            "tags[1]",
        ),
        (
            "100 KB tag",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "tags": [big], "connection_config": pg(json!({}))}),
            "tags[0]",
        ),
        (
            "5000 tags",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "tags": (0..5000).map(|i| i.to_string()).collect::<Vec<_>>(), "connection_config": pg(json!({}))}),
            "tags",
        ),
        (
            "right-to-left override in a name",
            "/api/datasources",
            json!({"name": "invoice\u{202e}gpj.exe", "type": "postgres", "connection_config": pg(json!({}))}),
            "name",
        ),
        (
            "a connection string as database name",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "connection_config": pg(json!({"database": "host=evil.example passfile=/tmp/x"}))}),
            "connection_config.database",
        ),
        (
            "a value posing as a sealed secret",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "connection_config": pg(json!({"database": "dg-sealed:v1:00000000:AAAA"}))}),
            "connection_config.database",
        ),
        (
            "a secret that is not a string",
            "/api/datasources",
            json!({"name": "a", "type": "postgres", "connection_config": pg(json!({"password": {"v": "x"}}))}),
            "connection_config.password",
        ),
        (
            "NUL in a storage path",
            "/api/storage-locations",
            json!({"name": "s", "type": "local", "create_root": true, "config": {"path": "/tmp/s\u{0}x"}}),
            "config.path",
        ),
        (
            "100 KB storage path",
            "/api/storage-locations",
            json!({"name": "s", "type": "local", "create_root": true, "config": {"path": format!("/tmp/{big}")}}),
            "config.path",
        ),
        (
            "bidi override in a storage name",
            "/api/storage-locations",
            json!({"name": "s\u{202e}", "type": "local", "create_root": true, "config": {"path": "/tmp/dg-never"}}),
            "name",
        ),
    ];
    for (ctx, path, body, field) in cases {
        let r = server.post(path, &body).await;
        let message = expect_field(ctx, &r, field);
        assert!(
            message.len() < 400,
            "{ctx}: the message quotes too much ({})",
            message.len()
        );
    }
    assert_eq!(datasource_count(&server).await, 0);

    // A 100 KB timezone is refused without being echoed back.
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "pg", "type": "postgres", "connection_config": pg(json!({}))}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let storage = default_storage(&server).await;
    let r = server
        .post(
            "/api/backup-jobs",
            &json!({"name": "j", "datasource_id": ds, "storage_location_id": storage,
                    "schedule_cron": "0 3 * * *", "schedule_timezone": big}),
        )
        .await;
    let message = expect_field("100 KB timezone", &r, "schedule_timezone");
    assert!(message.len() < 200, "{message}");
    assert!(r.1.to_string().len() < 600);
}
on_both_backends!(input_limits_name_the_field_, input_limits_name_the_field);
