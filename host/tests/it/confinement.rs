//! The server's path and egress policies as an attacker with API access
//! meets them: directories swapped for symlinks while they are used,
//! paths into other services' secrets, and requests into the server's own
//! network.

use crate::common::receiver::Receiver;
use crate::common::server::{Backend, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exchanges two names atomically, over and over, until stopped.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(a: PathBuf, b: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &a,
                    rustix::fs::CWD,
                    &b,
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .expect("renameat2(RENAME_EXCHANGE)");
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Stops with the real directory back under its first name.
    fn finish(mut self, a: &Path) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("swapper");
        }
        if std::fs::symlink_metadata(a)
            .expect("a")
            .file_type()
            .is_symlink()
        {
            let b = a.with_file_name(format!("{}-twin", a.file_name().unwrap().to_string_lossy()));
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                a,
                rustix::fs::CWD,
                &b,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .expect("swap back");
        }
        self.swaps.load(Ordering::Relaxed)
    }
}

/// A real directory at `path` and a symlink `path-twin` to `target`.
fn dir_with_symlink_twin(path: &Path, target: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    let twin = path.with_file_name(format!(
        "{}-twin",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::os::unix::fs::symlink(target, &twin).unwrap();
    twin
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A storage root and a `files` datasource are exchanged with symlinks to
/// the data dir in a tight loop while the explorer downloads `master.key`
/// and backups run: the server opens each directory once without
/// following symlinks and checks that handle, so nothing of the data dir
/// is ever read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_directories_never_reach_the_data_dir() {
    let server = TestServer::start(Backend::Sqlite).await;
    let data = server.data_dir();
    let key = std::fs::read(data.join("master.key")).expect("master key");
    let race = tempfile::tempdir().unwrap();

    let root = race.path().join("root");
    let root_twin = dir_with_symlink_twin(&root, &data);
    std::fs::write(root.join("decoy"), b"decoy").unwrap();
    let storage = server
        .create(
            "/api/storage-locations",
            &json!({"name": "raced", "type": "local", "config": {"path": root}}),
        )
        .await;

    let site = race.path().join("site");
    let site_twin = dir_with_symlink_twin(&site, &data);
    std::fs::write(site.join("index.html"), b"hello").unwrap();
    let ds = server
        .create(
            "/api/datasources",
            &json!({"name": "site", "type": "files", "connection_config": {"path": site}}),
        )
        .await;
    let (backups, backups_root) = server.local_storage("backups").await;
    let job = server
        .job(
            "site",
            &ds,
            &backups,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;

    let swap_root = Swapper::start(root.clone(), root_twin);
    let swap_site = Swapper::start(site.clone(), site_twin);
    let started = Instant::now();
    let (mut downloads_ok, mut leaked, mut listed_data_dir) = (0, 0, 0);
    let mut backups_completed = 0;
    let mut backup = None::<String>;
    while started.elapsed() < Duration::from_secs(10) {
        for name in ["master.key", "decoy"] {
            let r = server
                .http
                .get(server.url(&format!(
                    "/api/storage-locations/{storage}/files/download?path={name}"
                )))
                .send()
                .await
                .unwrap_or_else(|e| panic!("download: {e:?}\n{}", server.log_tail()));
            // A refusal found once the answer has begun ends the body in
            // an error: that download failed.
            if r.status() == 200 {
                let Ok(body) = r.bytes().await else {
                    continue;
                };
                if body.as_ref() == key.as_slice() {
                    leaked += 1;
                } else if body.as_ref() == b"decoy" {
                    downloads_ok += 1;
                }
            }
        }
        let (status, listing) = server
            .get(&format!("/api/storage-locations/{storage}/files"))
            .await;
        if status == 200 && listing.to_string().contains("dataguardian.db") {
            listed_data_dir += 1;
        }
        // One backup at a time, polled between downloads.
        match &backup {
            None => {
                let v = server
                    .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
                    .await;
                backup = v["execution_id"].as_str().map(str::to_string);
            }
            Some(id) => {
                let e = server.get_ok(&format!("/api/executions/{id}")).await;
                if matches!(e["status"].as_str(), Some("completed" | "failed")) {
                    backups_completed += u32::from(e["status"] == "completed");
                    backup = None;
                }
            }
        }
    }
    let swaps = swap_root.finish(&root) + swap_site.finish(&site);
    if let Some(id) = backup {
        server.wait_execution(&id, Duration::from_secs(120)).await;
    }

    assert!(swaps > 1000, "the names were exchanged ({swaps} times)");
    assert_eq!(leaked, 0, "master.key downloaded through a swapped root");
    assert_eq!(
        listed_data_dir, 0,
        "the data dir listed through a swapped root"
    );
    assert!(
        downloads_ok > 0,
        "the race was real: the decoy was downloaded between swaps"
    );
    assert!(backups_completed > 0, "some backups ran between swaps");
    for file in files_under(&backups_root) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [&b"master.key"[..], b"dataguardian.db", b"server.lock"] {
            assert!(
                !contains(&bytes, secret),
                "{} holds {}",
                file.display(),
                String::from_utf8_lossy(secret)
            );
        }
    }
}

/// The error of a refused path, with the field it names.
async fn refused_path(server: &TestServer, kind: &str, path: &Path) -> String {
    let (status, v) = server
        .post(
            "/api/datasources",
            &json!({"name": format!("{kind} {}", path.display()), "type": kind,
                    "connection_config": {"path": path}}),
        )
        .await;
    assert_eq!(status, 422, "{}: {v}", path.display());
    assert_eq!(v["error"]["field"], "connection_config.path", "{v}");
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Without `--allowed-roots` no datasource path is allowed and storages
/// live in the data dir's `backups/`; with it, well-known secret places
/// and other servers' data dirs stay refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_an_allow_list() {
    let server = TestServer::start_confined(Backend::Sqlite, &[]).await;
    let site = server.dir.path().join("site");
    let message = refused_path(&server, "files", &site).await;
    assert!(message.contains("--allowed-roots"), "{message}");
    let (status, v) = server
        .post(
            "/api/storage-locations",
            &json!({"name": "x", "type": "local", "create_root": true,
                    "config": {"path": server.dir.path().join("store")}}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--allowed-roots"));
    // The default storage works as it is.
    let default = server.get_ok("/api/storage-locations").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tested = test_storage(&server, &default).await;
    assert_eq!(tested["success"], true, "{tested}");

    let other = TestServer::start(Backend::Sqlite).await;
    let wide = TestServer::start_confined(Backend::Sqlite, &["--allowed-roots", "/"]).await;
    for path in [
        PathBuf::from("/home/x/.ssh"),
        PathBuf::from("/root/.ssh"),
        PathBuf::from("/var/lib/postgresql"),
        PathBuf::from("/var/lib/mysql"),
        PathBuf::from("/usr/local/bin"),
        PathBuf::from("/var/spool/cron/crontabs"),
        PathBuf::from("/run/secrets"),
        other.data_dir(),
        other.data_dir().join("backups"),
    ] {
        let message = refused_path(&wide, "files", &path).await;
        assert!(!message.contains("::"), "{message}");
    }
    let message = refused_path(&wide, "files", &other.data_dir()).await;
    assert!(message.contains("DataGuardian data directory"), "{message}");
    let fine = wide.dir.path().join("site");
    let (status, v) = wide
        .post(
            "/api/datasources",
            &json!({"name": "fine", "type": "files", "connection_config": {"path": fine}}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
}

/// A plain TCP listener that counts the connections it accepts.
struct Listener {
    port: u16,
    accepted: Arc<AtomicU64>,
}

impl Listener {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                use tokio::io::AsyncWriteExt;
                let _ = socket
                    .write_all(b"220 secret-banner SSH-2.0-internal\r\n")
                    .await;
            }
        });
        Self { port, accepted }
    }
}

async fn channel(server: &TestServer, name: &str, kind: &str, config: Value) -> String {
    server
        .create(
            "/api/notification-channels",
            &json!({"name": name, "type": kind, "config": config}),
        )
        .await
}

/// `POST /api/storage-locations/{id}/test` (200).
async fn test_storage(server: &TestServer, id: &str) -> Value {
    server
        .post_ok(
            &format!("/api/storage-locations/{id}/test"),
            &json!({}),
            200,
        )
        .await
}

/// An egress refusal names the flag that would allow it.
fn assert_names_the_flag(message: &Value, answer: &Value) {
    assert!(
        message
            .as_str()
            .unwrap_or_default()
            .contains("--allow-egress"),
        "{answer}"
    );
}

async fn test_channel(server: &TestServer, id: &str) -> Value {
    server
        .post_ok(
            &format!("/api/notification-channels/{id}/test"),
            &json!({}),
            200,
        )
        .await
}

/// Storages, webhooks and SMTP on loopback or a metadata-style service
/// are refused by default, with the flag named and nothing the remote
/// side said; the operator's `--allow-egress` opens them; the server's
/// own port stays closed whatever is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_connections_follow_the_egress_policy() {
    let metadata = Receiver::start().await;
    metadata.answer(
        200,
        r#"{"AccessKeyId":"ASIA-LEAKED","SecretAccessKey":"leaked"}"#,
    );
    let smtp = Listener::start().await;
    let server = TestServer::start_confined(Backend::Sqlite, &[]).await;

    let storage = server
        .create(
            "/api/storage-locations",
            &json!({"name": "metadata", "type": "minio", "config": {
                "bucket": "latest", "endpoint": metadata.url, "region": "us-east-1",
                "access_key_id": "a", "secret_access_key": "b"}}),
        )
        .await;
    let tested = test_storage(&server, &storage).await;
    assert_eq!(tested["success"], false, "{tested}");
    assert_names_the_flag(&tested["message"], &tested);
    let (status, body) = server
        .get(&format!(
            "/api/storage-locations/{storage}/files/download?path=meta-data/iam"
        ))
        .await;
    assert_ne!(status, 200, "{body}");
    assert!(!body.to_string().contains("LEAKED"), "{body}");

    let hook = channel(
        &server,
        "internal hook",
        "webhook",
        json!({"url": format!("{}/hook", metadata.url)}),
    )
    .await;
    let tested = test_channel(&server, &hook).await;
    assert_eq!(tested["delivered"], false, "{tested}");
    assert_names_the_flag(&tested["error"], &tested);

    let mail = channel(
        &server,
        "internal smtp",
        "smtp",
        json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
               "from": "dg@example.com", "to": ["ops@example.com"]}),
    )
    .await;
    let tested = test_channel(&server, &mail).await;
    assert_eq!(tested["delivered"], false, "{tested}");
    assert_names_the_flag(&tested["error"], &tested);
    assert!(!tested.to_string().contains("secret-banner"), "{tested}");

    // An SFTP server on loopback: ssh-keyscan and ssh never start.
    let sftp = server
        .create(
            "/api/storage-locations",
            &json!({"name": "internal ssh", "type": "ssh", "config": {
                "host": "127.0.0.1", "port": smtp.port, "username": "u", "password": "p",
                "path": "/backups",
                "host_key_fingerprint": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}),
        )
        .await;
    let tested = test_storage(&server, &sftp).await;
    assert_eq!(tested["success"], false, "{tested}");
    assert_names_the_flag(&tested["message"], &tested);

    // Nothing reached either listener: every refusal came before a connect.
    assert!(metadata.received().is_empty(), "{:?}", metadata.received());
    assert_eq!(smtp.accepted.load(Ordering::Relaxed), 0);

    // The operator opens loopback: the webhook is delivered, an SMTP
    // banner is not quoted back, and the server's own port stays refused.
    let open =
        TestServer::start_confined(Backend::Sqlite, &["--allow-egress", "127.0.0.0/8"]).await;
    let hook = channel(
        &open,
        "hook",
        "webhook",
        json!({"url": format!("{}/hook", metadata.url)}),
    )
    .await;
    let tested = test_channel(&open, &hook).await;
    assert_eq!(tested["delivered"], true, "{tested}");
    assert_eq!(metadata.wait_for(1, Duration::from_secs(10)).await.len(), 1);

    let mail = channel(
        &open,
        "banner",
        "smtp",
        json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
               "timeout_secs": 5, "from": "dg@example.com", "to": ["ops@example.com"]}),
    )
    .await;
    let tested = test_channel(&open, &mail).await;
    assert_eq!(tested["delivered"], false, "{tested}");
    assert!(
        !tested.to_string().contains("secret-banner"),
        "the banner is not quoted: {tested}"
    );

    let own = channel(
        &open,
        "own api",
        "webhook",
        json!({"url": open.url("/api/health")}),
    )
    .await;
    let tested = test_channel(&open, &own).await;
    assert_eq!(tested["delivered"], false, "{tested}");
    assert!(
        tested["error"]
            .as_str()
            .unwrap_or_default()
            .contains("own listen address"),
        "{tested}"
    );
}
