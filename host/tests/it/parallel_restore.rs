//! Parallel restores (`jobs` > 1) through the API against the real
//! PostgreSQL: the backup is verified into a spool file and loaded with
//! `pg_restore --jobs`. A wrapper around the real `pg_restore` on the
//! server's PATH records each call (and, for the cancel test, stops
//! half-way), so the tests can tell whether it ever started.

use crate::common::server::{chinook_db, Backend, TestServer};
use crate::common::{fixtures, pg_fingerprint, psql, TempDb};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A `pg_restore` that logs its arguments to `calls`, then runs the real
/// one; with `stall` present, a parallel load runs only the pre-data
/// section (tables exist, no rows) and then hangs.
struct Wrapper {
    dir: tempfile::TempDir,
}

impl Wrapper {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let real = String::from_utf8(
            std::process::Command::new("sh")
                .args(["-c", "command -v pg_restore"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        assert!(!real.is_empty(), "pg_restore is not installed");
        let root = dir.path().display();
        let script = format!(
            "#!/bin/sh\n\
             echo \"$*\" >> {root}/calls\n\
             case \"$*\" in *--jobs=*)\n\
               if [ -f {root}/stall ]; then {real} --section=pre-data \"$@\"; sleep 300; exit 1; fi ;;\n\
             esac\n\
             exec {real} \"$@\"\n"
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let path = bin.join("pg_restore");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn parallel_calls(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.contains("--jobs="))
            .count()
    }

    fn stall(&self) {
        std::fs::write(self.dir.path().join("stall"), "").unwrap();
    }
}

fn spool_files(server: &TestServer) -> Vec<String> {
    match std::fs::read_dir(server.data_dir().join("spool")) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn database_exists(name: &str) -> bool {
    psql(
        "postgres",
        &format!("select count(*) from pg_database where datname = '{name}'"),
    )
    .trim()
        == "1"
}

/// A completed backup of a fresh Chinook database; its id and the source.
async fn backed_up(server: &TestServer, tag: &str) -> (String, String, crate::common::TempDb) {
    let source = chinook_db(tag);
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    let backup = server.run_job(&job).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    (backup["id"].as_str().unwrap().to_string(), ds, source)
}

/// Dropped at the end of the test whether or not the restore made it.
struct DropLater(String);

impl Drop for DropLater {
    fn drop(&mut self) {
        psql(
            "postgres",
            &format!("drop database if exists \"{}\" with (force)", self.0),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_restore_equals_the_source_and_leaves_no_spool() {
    let wrapper = Wrapper::new();
    let server = TestServer::start_with_path(Backend::Sqlite, &[&wrapper.bin()]).await;
    let (backup, ds, source) = backed_up(&server, "par_equal").await;
    let target = format!("{}_copy", source.name);
    let _cleanup = DropLater(target.clone());

    let restore = server
        .restore_with(
            &backup,
            &json!({"target_datasource_id": ds, "target_database": target,
                    "confirm_overwrite": true, "jobs": 2}),
        )
        .await;
    assert_eq!(restore["status"], "completed", "{restore}");
    assert_eq!(pg_fingerprint(&target), pg_fingerprint(&source.name));
    assert_eq!(wrapper.parallel_calls(), 1, "{:?}", wrapper.calls());
    let call = wrapper
        .calls()
        .into_iter()
        .find(|c| c.contains("--jobs=2"))
        .unwrap();
    assert!(!call.contains("--single-transaction"), "{call}");
    assert!(
        spool_files(&server).is_empty(),
        "{:?}",
        spool_files(&server)
    );
    let logs = server
        .get_ok(&format!(
            "/api/executions/{}/logs",
            restore["id"].as_str().unwrap()
        ))
        .await
        .to_string();
    assert!(logs.contains("with 2 jobs"), "{logs}");

    // "auto" and a verification restore take the same path (a scratch
    // database is empty by construction) and pass on the recorded counts.
    let verification = server
        .restore_with(&backup, &json!({"verification_mode": true, "jobs": "auto"}))
        .await;
    assert_eq!(verification["status"], "completed", "{verification}");
    assert!(spool_files(&server).is_empty());

    // Into the non-empty copy without drop_existing: refused before any
    // write, saying why and what to do; the copy is untouched.
    let before = pg_fingerprint(&target);
    let refused = server
        .restore_with(
            &backup,
            &json!({"target_datasource_id": ds, "target_database": target,
                    "confirm_overwrite": true, "jobs": 2}),
        )
        .await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let message = refused["error_message"].as_str().unwrap();
    assert!(
        message.contains("only restores into an empty database"),
        "{message}"
    );
    assert!(message.contains("drop_existing"), "{message}");
    assert_eq!(
        wrapper.parallel_calls(),
        2,
        "verification ran one; the refused none"
    );
    assert_eq!(pg_fingerprint(&target), before);

    // With drop_existing it replaces the copy.
    psql(
        &target,
        "delete from invoice_line where invoice_line_id < 100",
    );
    let replaced = server
        .restore_with(
            &backup,
            &json!({"target_datasource_id": ds, "target_database": target,
                    "confirm_overwrite": true, "drop_existing": true, "jobs": 2}),
        )
        .await;
    assert_eq!(replaced["status"], "completed", "{replaced}");
    assert_eq!(pg_fingerprint(&target), pg_fingerprint(&source.name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jobs_and_a_spool_over_the_cap_are_refused_before_any_write() {
    let server = TestServer::start_with(Backend::Sqlite, &["--restore-spool-max-mb", "1"]).await;
    // Two MiB of incompressible rows: the dump is larger than the 1 MiB cap.
    let source = TempDb::new("par_cap");
    psql(
        &source.name,
        "create table blobs as select g, md5(random()::text) || md5(random()::text) as t \
         from generate_series(1, 40000) g",
    );
    let ds = server.pg_datasource("big", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    let backup = server.run_job(&job).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let id = backup["id"].as_str().unwrap();
    let path = format!("/api/backups/{id}/restore");
    let target = format!("{}_copy", source.name);
    let _cleanup = DropLater(target.clone());

    for (jobs, expected) in [
        (json!(0), "whole number from 1 to 64"),
        (json!(65), "whole number from 1 to 64"),
        (json!(2.5), "whole number from 1 to 64"),
        (json!("many"), "whole number from 1 to 64"),
        (
            json!(4),
            "more than the spool cap of 1.0 MiB (--restore-spool-max-mb)",
        ),
    ] {
        let (status, body) = server
            .post(
                &path,
                &json!({"target_database": target, "confirm_overwrite": true, "jobs": jobs}),
            )
            .await;
        assert_eq!(status, 422, "{jobs}: {body}");
        assert_eq!(body["error"]["field"], "jobs", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{jobs}: {message}");
    }
    assert!(!database_exists(&target), "nothing was created");
    assert!(spool_files(&server).is_empty());
    // jobs 1 (and 1.0) is the single stream: no spool, no cap.
    let single = server
        .restore_with(
            id,
            &json!({"target_database": target, "confirm_overwrite": true, "jobs": 1.0}),
        )
        .await;
    assert_eq!(single["status"], "completed", "{single}");
    assert_eq!(pg_fingerprint(&target), pg_fingerprint(&source.name));

    // An engine without parallel restore refuses jobs > 1 at once.
    let lite = server.dir.path().join("sources/lite.db");
    std::fs::create_dir_all(lite.parent().unwrap()).unwrap();
    std::fs::copy(fixtures().join("Chinook_Sqlite.sqlite"), &lite).unwrap();
    let sqlite = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "lite", "type": "sqlite", "connection_config": {"path": lite}}),
            201,
        )
        .await;
    let job = server
        .job("lite", sqlite["id"].as_str().unwrap(), &storage, json!({}))
        .await;
    let lite_backup = server.run_job(&job).await;
    assert_eq!(lite_backup["status"], "completed", "{lite_backup}");
    let (status, body) = server
        .post(
            &format!(
                "/api/backups/{}/restore",
                lite_backup["id"].as_str().unwrap()
            ),
            &json!({"confirm_overwrite": true, "jobs": "auto"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "jobs", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the `sqlite` engine restores from one stream only"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_parallel_restore_leaves_no_spool_and_no_database() {
    let wrapper = Wrapper::new();
    wrapper.stall();
    let server = TestServer::start_with_path(Backend::Sqlite, &[&wrapper.bin()]).await;
    let (backup, ds, source) = backed_up(&server, "par_cancel").await;
    let target = format!("{}_copy", source.name);
    let _cleanup = DropLater(target.clone());
    let accepted = server
        .post_ok(
            &format!("/api/backups/{backup}/restore"),
            &json!({"target_datasource_id": ds, "target_database": target,
                    "confirm_overwrite": true, "jobs": 2}),
            202,
        )
        .await;
    let id = accepted["execution_id"].as_str().unwrap().to_string();
    // Half-way: the tables exist (pre-data ran), the loader hangs.
    let detail = server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |e| {
                e["progress"]["phase"] == "load"
                && wrapper.parallel_calls() == 1
                && database_exists(&target)
                && psql(
                    &target,
                    "select count(*) from information_schema.tables where table_schema = 'public'",
                )
                .trim()
                    != "0"
            },
        )
        .await;
    assert_eq!(detail["status"], "running", "{detail}");
    assert_eq!(
        spool_files(&server).len(),
        1,
        "the spool exists while loading"
    );

    server
        .post_ok(&format!("/api/executions/{id}/cancel"), &json!({}), 202)
        .await;
    let ended = server.wait_execution(&id, Duration::from_secs(60)).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(
        spool_files(&server).is_empty(),
        "{:?}",
        spool_files(&server)
    );
    assert!(
        !database_exists(&target),
        "the half-restored database was dropped"
    );
}

/// Flips one byte in the middle of the stored artifact.
fn corrupt(root: &Path, backup: &Value) {
    let file = root.join(backup["chunks"][0]["file_path"].as_str().unwrap());
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&file, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_part_is_refused_before_pg_restore_starts() {
    let wrapper = Wrapper::new();
    let server = TestServer::start_with_path(Backend::Sqlite, &[&wrapper.bin()]).await;
    let source = chinook_db("par_corrupt");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    let backup = server.run_job(&job).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let detail = server
        .get_ok(&format!(
            "/api/executions/{}",
            backup["id"].as_str().unwrap()
        ))
        .await;
    corrupt(&root, &detail);
    let target = format!("{}_copy", source.name);
    let _cleanup = DropLater(target.clone());

    let restore = server
        .restore_with(
            backup["id"].as_str().unwrap(),
            &json!({"target_datasource_id": ds, "target_database": target,
                    "confirm_overwrite": true, "jobs": 2}),
        )
        .await;
    assert_eq!(restore["status"], "failed", "{restore}");
    let message = restore["error_message"].as_str().unwrap();
    assert!(message.contains("no intact copy"), "{message}");
    assert_eq!(wrapper.parallel_calls(), 0, "{:?}", wrapper.calls());
    assert!(spool_files(&server).is_empty());
    assert!(!database_exists(&target));
}

#[test]
fn the_cli_restores_in_parallel_into_an_empty_database_only() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let store = work.path().join("store");
    let source = chinook_db("par_cli");
    let summary = crate::common::backup(&data, "postgres", &source.url(), &store, &[]);
    let exec = crate::common::execution_path(&summary);
    let target = TempDb::new("par_cli_copy");
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore", "--from", &exec, "--engine", "postgres", "--target",
        ];
        let url = target.url();
        args.push(&url);
        args.extend_from_slice(extra);
        crate::common::dg(&data, &args)
    };

    let out = restore(&["--jobs", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));
    let spool = data.join("spool");
    assert_eq!(std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0), 0);

    // Again into the now full database: refused, untouched; with --clean, done.
    let out = restore(&["--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--jobs: a parallel restore"), "{stderr}");
    assert!(stderr.contains("--clean"), "{stderr}");
    let out = restore(&["--jobs", "2", "--clean"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));

    let out = restore(&["--jobs", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jobs: `0`"));
}

/// `kill -9` of the server during a parallel restore into a database the
/// restore created: the next start fails the execution and drops that
/// database (recorded before it was created), so nothing half-restored is
/// kept, as the execution says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_created_by_a_restore_killed_mid_load_is_dropped_at_the_next_start() {
    let wrapper = Wrapper::new();
    wrapper.stall();
    let mut server = TestServer::start_with_path(Backend::Sqlite, &[&wrapper.bin()]).await;
    let (backup, ds, source) = backed_up(&server, "par_kill").await;
    let target = format!("{}_copy", source.name);
    let _cleanup = DropLater(target.clone());
    let accepted = server
        .post_ok(
            &format!("/api/backups/{backup}/restore"),
            &json!({"target_datasource_id": ds, "target_database": target, "jobs": 2}),
            202,
        )
        .await;
    let id = accepted["execution_id"].as_str().unwrap().to_string();
    server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |e| e["progress"]["phase"] == "load" && database_exists(&target),
        )
        .await;

    server.kill();
    assert!(
        database_exists(&target),
        "half-restored, before the restart"
    );
    server.restart();
    let ended = server.wait_execution(&id, Duration::from_secs(30)).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let started = std::time::Instant::now();
    while database_exists(&target) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "`{target}` kept after the restart\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = server
        .get_ok(&format!("/api/executions/{id}/logs"))
        .await
        .to_string();
    assert!(
        logs.contains(&format!("dropped database `{target}`")),
        "{logs}"
    );
}
