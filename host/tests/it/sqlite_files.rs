//! SQLite (online, while another process writes) and files round trips.

use crate::common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 10000")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const CHINOOK_TABLES: &[&str] = &[
    "Album",
    "Artist",
    "Customer",
    "Employee",
    "Genre",
    "Invoice",
    "InvoiceLine",
    "MediaType",
    "Playlist",
    "PlaylistTrack",
    "Track",
];

#[test]
fn sqlite_round_trips_while_being_written() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let db = work.path().join("live/chinook.db");
    std::fs::create_dir_all(db.parent().expect("parent")).expect("mkdir");
    std::fs::copy(fixtures().join("Chinook_Sqlite.sqlite"), &db).expect("copy fixture");
    sqlite(
        &db,
        "pragma journal_mode=wal; create table writes (id integer primary key, at text, pad text);",
    );

    // Another process writes continuously during the backup.
    let mut writer = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], timeout=30)\n\
             while True:\n\
             \x20   with c:\n\
             \x20       c.executemany('insert into writes(at, pad) values (?, ?)', [(time.time(), 'x' * 200)] * 50)\n\
             \x20   time.sleep(0.005)\n",
        )
        .arg(&db)
        .stdout(Stdio::null())
        .spawn()
        .expect("writer");
    // Start the backup only once the writer is really writing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sqlite(&db, "select count(*) from writes") == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let store = work.path().join("store");
    let summary = backup(
        &data,
        "sqlite",
        db.to_str().expect("utf8"),
        &store,
        &["--compression", "zstd"],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    writer.kill().expect("stop writer");
    let _ = writer.wait();
    assert_eq!(summary["files"][0], "backup.db.zst");

    let restored = work.path().join("restored/chinook.db");
    std::fs::create_dir_all(restored.parent().expect("parent")).expect("mkdir");
    restore(
        &data,
        &execution_path(&summary),
        "sqlite",
        restored.to_str().expect("utf8"),
    );
    assert_eq!(sqlite(&restored, "pragma integrity_check"), "ok");
    for table in CHINOOK_TABLES {
        assert_eq!(
            sqlite(&db, &format!(".dump {table}")),
            sqlite(&restored, &format!(".dump {table}")),
            "table {table} differs"
        );
    }
    let copied: u64 = sqlite(&restored, "select count(*) from writes")
        .parse()
        .expect("count");
    let total: u64 = sqlite(&db, "select count(*) from writes")
        .parse()
        .expect("count");
    assert!(copied > 0 && copied <= total, "copied {copied} of {total}");
    assert_eq!(copied % 50, 0, "a snapshot holds whole transactions only");
}

fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else {
                out.insert(rel, sha256_file(&path));
            }
        }
    }
    out
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn sample_tree(root: &Path) {
    write(root, "a/b/c.txt", b"hello");
    write(
        root,
        "dir with space/ünïcødé файл 名前.txt",
        "çà et là".as_bytes(),
    );
    write(root, "logs/app.log", b"noise");
    write(root, "a/debug.log", b"noise");
    write(root, "node_modules/pkg/index.js", b"module.exports = 1");
    let long = format!("deep/{}/{}.bin", "d".repeat(90), "n".repeat(120));
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write(root, &long, &big);
    write(root, "empty-file", b"");
    std::fs::create_dir_all(root.join("empty-dir")).expect("mkdir");
}

#[test]
fn files_round_trip_with_globs() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let src = work.path().join("src");
    sample_tree(&src);
    let store = work.path().join("store");

    let summary = backup(
        &data,
        "files",
        src.to_str().expect("utf8"),
        &store,
        &[
            "--exclude",
            "**/*.log",
            "--exclude",
            "node_modules",
            "--compression",
            "gzip",
            "--max-file-size-bytes",
            "1000000",
        ],
    );
    let dest = work.path().join("restored");
    restore(
        &data,
        &execution_path(&summary),
        "files",
        dest.to_str().expect("utf8"),
    );
    let mut expected = tree(&src);
    expected.retain(|k, _| !k.ends_with(".log") && !k.starts_with("node_modules"));
    let got = tree(&dest);
    assert_eq!(got, expected);
    assert!(got.contains_key("dir with space/ünïcødé файл 名前.txt"));
    assert!(got.contains_key("empty-dir/"));

    // Include narrows the set.
    let summary = backup(
        &data,
        "files",
        src.to_str().expect("utf8"),
        &store,
        &["--include", "a/**", "--job-id", "only-a"],
    );
    let dest = work.path().join("restored-a");
    restore(
        &data,
        &execution_path(&summary),
        "files",
        dest.to_str().expect("utf8"),
    );
    let files: Vec<String> = tree(&dest)
        .into_keys()
        .filter(|k| !k.ends_with('/'))
        .collect();
    assert_eq!(
        files,
        vec!["a/b/c.txt".to_string(), "a/debug.log".to_string()]
    );
}

#[test]
fn plugin_list_and_inspect_describe_the_builtins() {
    let work = tempfile::tempdir().expect("tempdir");
    let out = dg(work.path(), &["plugin", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["postgres", "sqlite", "files", "local"] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing:\n{text}"
        );
    }
    assert!(!text.contains("test-hostile"), "test plugins must not ship");
    let info = dg_ok(work.path(), &["plugin", "inspect", "postgres"]);
    assert_eq!(info["kind"], "engine");
    assert_eq!(info["api_version"], "0.1.0");
    let programs: Vec<&str> = info["capabilities"]["granted"]["process"]
        .as_array()
        .expect("process")
        .iter()
        .map(|p| p["program"].as_str().expect("program"))
        .collect();
    assert_eq!(programs, ["pg_dump", "pg_restore", "psql"]);
    // Exit code 3: not found; 2: usage.
    let err = dg_exit(work.path(), &["plugin", "inspect", "oracle"], 3);
    assert!(err.contains("no plugin named `oracle`"), "{err}");
    dg_exit(work.path(), &["backup", "--no-such-flag"], 2);
    let err = dg_exit(work.path(), &["serve", "--scheduler-tick-secs", "0"], 2);
    assert!(err.contains("--scheduler-tick-secs"), "{err}");
    // Logs into a pipe: no colour codes; `--log-format json`: one object
    // per line.
    let text = dg(work.path(), &["--log", "debug", "plugin", "list"]);
    let text = String::from_utf8_lossy(&text.stderr);
    assert!(!text.trim().is_empty(), "debug logging said nothing");
    assert!(!text.contains('\u{1b}'), "ANSI codes in a pipe: {text}");
    let json = dg(
        work.path(),
        &["--log", "debug", "--log-format", "json", "plugin", "list"],
    );
    let lines = String::from_utf8_lossy(&json.stderr).into_owned();
    assert!(lines.lines().count() > 0, "debug logging said nothing");
    for line in lines.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{v}");
    }
    // `--version`: version, plugin API versions, commit.
    let version = dg(work.path(), &["--version"]);
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("dataguardian ")
            && version.contains("plugin API 0.1.0, 0.2.0; commit "),
        "{version}"
    );
    let completions = dg(work.path(), &["completions", "bash"]);
    assert!(completions.status.success());
    assert!(String::from_utf8_lossy(&completions.stdout).contains("_dataguardian()"));
    // The compiled components are cached (in the test run's shared cache):
    // the second start reuses them.
    let cached = std::fs::read_dir(shared_plugin_cache())
        .expect("cache")
        .count();
    assert!(cached >= 4, "{cached}");
}

/// Through the server API: a verification restore of a SQLite backup
/// passes against the counts taken in the backup's snapshot, leaves no
/// scratch file, and fails naming the table when the restored copy holds
/// fewer rows than the backup recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_verification_through_the_api() {
    use common::server::{Backend, TestServer};
    use serde_json::{json, Value};
    use std::time::Duration;

    let server = TestServer::start(Backend::Sqlite).await;
    let sources = server.dir.path().join("sources");
    std::fs::create_dir_all(&sources).expect("dir");
    let db = sources.join("chinook.db");
    std::fs::copy(fixtures().join("Chinook_Sqlite.sqlite"), &db).expect("fixture");
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "lite", "type": "sqlite", "connection_config": {"path": db}}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (storage, root) = server.local_storage("disk").await;
    let job = server.job("lite", &ds, &storage, json!({})).await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let id = exec["id"].as_str().expect("id");
    let verify = || async {
        let v = server
            .post_ok(
                &format!("/api/backups/{id}/restore"),
                &json!({"verification_mode": true}),
                202,
            )
            .await;
        server
            .wait_execution(
                v["execution_id"].as_str().expect("id"),
                Duration::from_secs(120),
            )
            .await
    };
    let passed = verify().await;
    assert_eq!(
        passed["status"],
        "completed",
        "{passed}\n{}",
        server.log_tail()
    );
    assert_eq!(passed["metadata"]["verification"]["passed"], true);
    assert_eq!(
        passed["metadata"]["verification"]["compared_with"],
        "backup_snapshot"
    );
    assert_eq!(passed["metadata"]["verification"]["tables_compared"], 11);
    let mut left: Vec<String> = std::fs::read_dir(&sources)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["chinook.db"], "the scratch copy is gone");

    let manifest_path = root
        .join(exec["backup_path"].as_str().expect("path"))
        .join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    assert_eq!(manifest["metadata"]["table_counts"]["InvoiceLine"], 2240);
    manifest["metadata"]["table_counts"]["InvoiceLine"] = json!(2241);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let failed = verify().await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let why = failed["error_message"].as_str().expect("error");
    assert!(
        why.contains("InvoiceLine: 2240 rows restored, 2241 recorded"),
        "{why}"
    );
}

/// Through the server API: a tree with a private key (0600), a private
/// directory (0700), an executable (0755), a setuid program, a read-only
/// directory (0500, its file written all the same) and an ordinary 0644
/// file, some owned by another user, is backed up and restored into a new
/// directory with the same modes and owners (the server runs as root
/// here, as the machine's user; without root the owners are not given
/// and the host's rule keeps modes private, see `plugin::modes` tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_keep_their_modes_through_the_api() {
    use common::server::{Backend, TestServer};
    use serde_json::json;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let server = TestServer::start(Backend::Sqlite).await;
    let src = server.dir.path().join("site");
    write(
        &src,
        "keys/id_ed25519",
        b"-----BEGIN OPENSSH PRIVATE KEY-----",
    );
    write(&src, ".env", b"SECRET=1");
    write(&src, "bin/run.sh", b"#!/bin/sh\necho hi\n");
    write(&src, "bin/suid", b"#!/bin/sh\n");
    write(&src, "frozen/notes.txt", b"read-only directory");
    write(&src, "README", b"hello");
    let modes = [
        ("keys/id_ed25519", 0o600),
        ("keys", 0o700),
        (".env", 0o600),
        ("bin/run.sh", 0o755),
        ("bin/suid", 0o4750),
        ("bin", 0o755),
        ("frozen/notes.txt", 0o640),
        ("frozen", 0o500),
        ("README", 0o644),
    ];
    for (rel, mode) in modes {
        std::fs::set_permissions(src.join(rel), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
    }
    let root = rustix::process::geteuid().is_root();
    let known = |db: &str| {
        Command::new("getent")
            .args([db, "65534"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if root && known("passwd") && known("group") {
        // Another owner (`nobody`) for some entries.
        for rel in ["keys/id_ed25519", "keys", "frozen/notes.txt"] {
            std::os::unix::fs::chown(src.join(rel), Some(65534), Some(65534)).expect("chown");
        }
    }
    let stat = |dir: &Path| -> BTreeMap<String, (u32, u32, u32)> {
        let mut out = BTreeMap::new();
        for rel in tree(dir).into_keys() {
            let m = std::fs::symlink_metadata(dir.join(rel.trim_end_matches('/'))).expect("stat");
            out.insert(rel, (m.mode() & 0o7777, m.uid(), m.gid()));
        }
        out
    };
    let original = stat(&src);

    let files_ds = |name: &str, path: &Path| {
        let body = json!({"name": name, "type": "files", "connection_config": {"path": path}});
        let server = &server;
        async move { server.create("/api/datasources", &body).await }
    };
    let source = files_ds("site", &src).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("site", &source, &storage, json!({})).await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());

    let dest = server.dir.path().join("restored");
    std::fs::create_dir(&dest).expect("mkdir");
    let target = files_ds("restored", &dest).await;
    let restored = server
        .restore_into(exec["id"].as_str().expect("id"), &target)
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );

    assert_eq!(tree(&dest), tree(&src), "same contents");
    let got = stat(&dest);
    if root {
        assert_eq!(got, original, "modes and owners as backed up");
    }
    // With or without root, these modes need no owner to be kept.
    for (rel, mode) in [
        ("keys/id_ed25519", 0o600),
        ("keys/", 0o700),
        (".env", 0o600),
        ("bin/run.sh", 0o755),
        ("bin/", 0o755),
        ("README", 0o644),
    ] {
        assert_eq!(got.get(rel).map(|m| m.0), Some(mode), "{rel}: {got:?}");
    }
    assert!(
        !dest.join(".dataguardian-restore").exists(),
        "no staging left behind"
    );
}

/// Symlinks inside the tree are archived as symlinks (their target text,
/// never followed) and come back as symlinks; a FIFO and a link pointing
/// out of the tree (whose target the sandbox does not reveal) are counted
/// as skipped in the execution's result instead of vanishing silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_keep_symlinks_and_count_what_they_skip() {
    use common::server::{Backend, TestServer};
    use serde_json::json;

    let server = TestServer::start(Backend::Sqlite).await;
    let src = server.dir.path().join("app");
    let outside = server.dir.path().join("outside.txt");
    std::fs::write(&outside, b"not part of the backup").unwrap();
    write(&src, "conf/app.toml", b"port = 1");
    let links = [
        ("current", "conf/app.toml"),
        ("conf/self", "."),
        ("dangling", "no/such/file"),
    ];
    for (link, target) in links {
        std::os::unix::fs::symlink(target, src.join(link)).unwrap();
    }
    std::os::unix::fs::symlink(&outside, src.join("escape")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(src.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());

    let ds = |name: &str, path: &Path| {
        let body = json!({"name": name, "type": "files", "connection_config": {"path": path}});
        let server = &server;
        async move { server.create("/api/datasources", &body).await }
    };
    let source = ds("app", &src).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("app", &source, &storage, json!({})).await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let stats = &exec["metadata"]["engine_stats"];
    assert_eq!(stats["symlinks"], 3, "{exec}");
    assert_eq!(stats["skipped_entries"], 2, "{exec}");
    assert_eq!(stats["files"], 1, "{exec}");

    let dest = server.dir.path().join("restored");
    std::fs::create_dir(&dest).unwrap();
    let target = ds("restored", &dest).await;
    let restored = server
        .restore_into(exec["id"].as_str().expect("id"), &target)
        .await;
    assert_eq!(restored["status"], "completed", "{restored}");
    for (link, target) in links {
        let got = std::fs::read_link(dest.join(link))
            .unwrap_or_else(|e| panic!("{link} is not a symlink: {e}"));
        assert_eq!(got, Path::new(target), "{link}");
    }
    assert_eq!(
        std::fs::read(dest.join("conf/app.toml")).unwrap(),
        b"port = 1"
    );
    assert!(!dest.join("pipe").exists(), "the FIFO is not recreated");
    assert!(
        std::fs::symlink_metadata(dest.join("escape")).is_err(),
        "the link out of the tree is not recreated"
    );
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        b"not part of the backup",
        "nothing written through the link"
    );
}
