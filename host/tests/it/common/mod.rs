//! Helpers shared by the integration tests: the real binary, real
//! PostgreSQL on 127.0.0.1:5432, real files.

#![allow(dead_code)]

pub mod redis;
#[macro_use]
pub mod server;
pub mod oidc;
pub mod proxy;
pub mod receiver;
pub mod s3;
pub mod sftp;
pub mod smtp;
pub mod sse;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PG: &str = "postgres://postgres@127.0.0.1:5432";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The Chinook sample databases (MIT, see LICENSE.md there), kept in the
/// repository so a clean clone tests on its own.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chinook")
}

/// Loads the Chinook fixture into `db`. The script creates and switches to
/// its own database; those lines are dropped so it fills ours.
pub fn load_chinook(db: &str) {
    let script = std::fs::read_to_string(fixtures().join("Chinook_PostgreSql.sql"))
        .expect("Chinook fixture");
    let body: String = script
        .lines()
        .filter(|l| {
            let t = l.trim_start().to_ascii_uppercase();
            !(t.starts_with("DROP DATABASE")
                || t.starts_with("CREATE DATABASE")
                || t.starts_with("\\C "))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut child = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(body.as_bytes()).expect("feeding psql");
    }
    let out = child.wait_with_output().expect("psql");
    assert!(
        out.status.success(),
        "loading Chinook: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tracks = psql(db, "select count(*) from track");
    assert_eq!(tracks, "3503", "Chinook did not load");
}

/// One precompiled-plugin cache for every server and command the tests
/// start, so each plugin is compiled once per test run, not once per test.
pub fn shared_plugin_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

/// Runs `dataguardian ARGS` with a private data dir.
pub fn dg(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("DG_LOG", "warn")
        .env("DG_PLUGIN_CACHE_DIR", shared_plugin_cache())
        .output()
        .expect("running dataguardian")
}

/// Runs the binary and demands success; returns stdout parsed as JSON.
pub fn dg_ok(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = dg(data_dir, args);
    assert!(
        out.status.success(),
        "dataguardian {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs the binary and demands failure; returns stderr.
pub fn dg_err(data_dir: &Path, args: &[&str]) -> String {
    let out = dg(data_dir, args);
    assert!(
        !out.status.success(),
        "dataguardian {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the binary and demands it fail with exit `code` (docs/CLI.md,
/// "Exit codes"); returns stderr.
pub fn dg_exit(data_dir: &Path, args: &[&str], code: i32) -> String {
    let out = dg(data_dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "dataguardian {args:?}: {stderr}"
    );
    stderr
}

/// psql against `db`, returning trimmed unaligned output.
pub fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn psql_file(db: &str, file: &Path) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-f"])
        .arg(file)
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql -f {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database that is dropped when the test ends.
pub struct TempDb {
    pub name: String,
}

impl TempDb {
    pub fn new(tag: &str) -> Self {
        let name = format!(
            "dgt_{tag}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        psql("postgres", &format!("create database \"{name}\""));
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("{PG}/{}", self.name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!(
                "drop database if exists \"{}\" with (force)",
                self.name
            ))
            .output();
    }
}

/// Per table of the user schemas: `schema.table rows md5-of-all-rows`.
/// Equal fingerprints mean equal data, row for row.
pub fn pg_fingerprint(db: &str) -> Vec<String> {
    let tables = psql(
        db,
        "select format('%I.%I', table_schema, table_name) from information_schema.tables \
         where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog','information_schema') \
         order by 1",
    );
    tables
        .lines()
        .map(|t| {
            let row = psql(
                db,
                &format!(
                    "select count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' order by x::text)), '-') from {t} x"
                ),
            );
            format!("{t} {row}")
        })
        .collect()
}

/// Views, functions, triggers and sequences (with their positions).
pub fn pg_objects(db: &str) -> String {
    psql(
        db,
        "select string_agg(o, ',' order by o) from ( \
           select 'view:' || viewname as o from pg_views where schemaname = 'public' \
           union all select 'fn:' || proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' \
           union all select 'trg:' || tgname from pg_trigger where not tgisinternal \
           union all select 'seq:' || sequencename || '=' || coalesce(last_value, 0) from pg_sequences where schemaname = 'public' \
         ) s",
    )
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("reading file");
    hex::encode(Sha256::digest(bytes))
}

/// `dataguardian backup --engine E --source S --to STORE EXTRA...`.
pub fn backup(
    data: &Path,
    engine: &str,
    source: &str,
    store: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let store = store.to_str().expect("utf8 path");
    let mut args = vec![
        "backup", "--engine", engine, "--source", source, "--to", store,
    ];
    args.extend_from_slice(extra);
    dg_ok(data, &args)
}

/// `dataguardian restore --from EXEC --engine E --target T`.
pub fn restore(data: &Path, exec: &str, engine: &str, target: &str) -> serde_json::Value {
    dg_ok(
        data,
        &[
            "restore", "--from", exec, "--engine", engine, "--target", target,
        ],
    )
}

/// The execution folder a backup summary points at.
pub fn execution_path(summary: &serde_json::Value) -> String {
    summary["execution_path"]
        .as_str()
        .expect("execution_path")
        .to_string()
}

/// The stored file names of a backup summary.
pub fn files(summary: &serde_json::Value) -> Vec<String> {
    summary["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("file name").to_string())
        .collect()
}

/// Holds an exclusive lock on `table` until dropped, so pg_dump waits.
pub struct Locker {
    child: std::process::Child,
    db: String,
}

impl Locker {
    pub fn hold(db: &str, table: &str) -> Self {
        let child = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
            ])
            .arg(format!(
                "begin; lock table {table} in access exclusive mode; select pg_sleep(600);"
            ))
            .env("PGAPPNAME", "dg_test_locker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let started = Instant::now();
        while psql(db, &format!(
            "select count(*) from pg_locks where relation = '{table}'::regclass and mode = 'AccessExclusiveLock' and granted"
        )).trim() != "1" {
            assert!(started.elapsed() < Duration::from_secs(20), "lock never taken");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            db: db.to_string(),
        }
    }
}

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The server side keeps sleeping (and locking) after psql dies.
        psql(
            "postgres",
            &format!(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                 where application_name = 'dg_test_locker' and datname = '{}'",
                self.db
            ),
        );
    }
}

/// Reads every process's command line and environment, as often as it
/// can, while a run goes on: a secret must never show there, and the
/// program of interest must be seen (so the watch covered the run).
pub struct ProcessWatch {
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(bool, Vec<String>)>,
}

impl ProcessWatch {
    pub fn start(secret: &str, program: &str) -> Self {
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (secret, program) = (secret.to_string(), program.to_string());
        let flag = running.clone();
        let thread = std::thread::spawn(move || {
            let (mut seen, mut leaks) = (false, Vec::new());
            while flag.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let dir = entry.path();
                    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
                    let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
                    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if text.contains(&program) {
                        seen = true;
                    }
                    for (what, bytes) in [("cmdline", &cmdline), ("environ", &environ)] {
                        if String::from_utf8_lossy(bytes).contains(&secret) {
                            leaks.push(format!("{} {what}: {text}", dir.display()));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (seen, leaks)
        });
        Self { running, thread }
    }

    /// Stops watching; panics if the secret was seen or the program never
    /// was.
    pub fn finish(self) {
        self.running
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let (seen, leaks) = self.thread.join().expect("watcher");
        assert!(seen, "the watched program ran long enough to be seen");
        assert!(leaks.is_empty(), "the secret leaked: {leaks:?}");
    }
}
