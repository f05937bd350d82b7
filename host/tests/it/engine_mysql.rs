//! MySQL/MariaDB engine against the real MariaDB on 127.0.0.1:3306, over
//! the server API: Chinook plus BLOBs, emoji, dates, decimals, JSON, NULLs
//! and a view, procedure, function, trigger and event; backup, restore into
//! a fresh database, equal content, the routines present, and a password
//! that never shows in logs or the process list.

use crate::common;

use common::server::{Backend, TestServer};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) fn mariadb(database: Option<&str>, sql: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args([
        "--no-defaults",
        "--default-character-set=utf8mb4",
        "-h",
        "127.0.0.1",
        "-u",
        "root",
        "--batch",
        "--skip-column-names",
        "--raw",
    ]);
    if let Some(db) = database {
        cmd.arg(db);
    }
    let out = cmd.arg("-e").arg(sql).output().expect("mariadb client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database dropped when the test ends.
pub(crate) struct MariaDb {
    pub name: String,
}

impl MariaDb {
    fn new(tag: &str) -> Self {
        Self::named(&format!("dg_{tag}_{}", std::process::id()))
    }

    /// An empty database of this exact name.
    pub(crate) fn named(name: &str) -> Self {
        let name = name.to_string();
        mariadb(
            None,
            &format!(
                "drop database if exists `{name}`; create database `{name}` character set utf8mb4"
            ),
        );
        Self { name }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", "root", "-e"])
            .arg(format!("drop database if exists `{}`", self.name))
            .output();
    }
}

fn load_chinook(db: &str) {
    let script =
        std::fs::read_to_string(common::fixtures().join("Chinook_MySql.sql")).expect("fixture");
    let body: String = script
        .lines()
        .filter(|l| {
            let t = l.trim_start().to_ascii_uppercase();
            !(t.starts_with("DROP DATABASE")
                || t.starts_with("CREATE DATABASE")
                || t.starts_with("USE "))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut child = Command::new("mariadb")
        .args([
            "--no-defaults",
            "--default-character-set=utf8mb4",
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            db,
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mariadb");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("feed");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every value of the generated table and Chinook's tables, and the
/// routines, as one comparable text.
pub(crate) fn mariadb_fingerprint(db: &str) -> Vec<String> {
    let mut out = Vec::new();
    let tables = mariadb(Some(db), "select table_name from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by 1");
    for t in tables.lines() {
        let count = mariadb(Some(db), &format!("select count(*) from `{t}`"));
        let cols = mariadb(Some(db), &format!("select group_concat(concat('coalesce(hex(`', column_name, '`), ''~'')') order by ordinal_position separator ',') from information_schema.columns where table_schema = database() and table_name = '{t}'"));
        let sum = mariadb(Some(db), &format!("select md5(group_concat(md5(concat_ws('|', {cols})) order by md5(concat_ws('|', {cols})) separator '')) from `{t}`"));
        out.push(format!("{t} {count} {sum}"));
    }
    for (kind, sql) in [
        ("views", "select group_concat(table_name order by 1) from information_schema.views where table_schema = database()"),
        ("routines", "select group_concat(concat(routine_type, ':', routine_name) order by 1) from information_schema.routines where routine_schema = database()"),
        ("triggers", "select group_concat(trigger_name order by 1) from information_schema.triggers where trigger_schema = database()"),
        ("events", "select group_concat(event_name order by 1) from information_schema.events where event_schema = database()"),
    ] {
        out.push(format!("{kind}: {}", mariadb(Some(db), sql)));
    }
    out
}

const PASSWORD: &str = "Dg-mysql-s3cret-7421";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_round_trip_through_the_api() {
    let source = MariaDb::new("mysrc");
    load_chinook(&source.name);
    mariadb(Some(&source.name), "create table kitchen (id int primary key, b longblob, t mediumtext, d datetime(3), ts timestamp null, n decimal(20,6), j json, x int null); \
        insert into kitchen values (1, x'', 'olá 🎉 ünïcödé', '2026-11-30 10:11:12.345', '2026-11-30 10:11:12', 12345678901234.123456, '{\"a\": [1, 2, null]}', null), \
        (2, repeat(x'00ff', 524288), repeat('x', 70000), null, null, -0.000001, null, 7), \
        (3, x'28293b27', 'it''s (a); back\\\\slash\\nnew line ),(''x'');', null, null, 0, '{\"k\": \"(;)\"}', 3); \
        create table `odd ( VALUES` (id int); insert into `odd ( VALUES` values (1), (2); \
        create table nothing_yet (id int); \
        create table derived (a int, b int as (a * 2) virtual, c int invisible default 5); \
        insert into derived (a) values (1), (2); \
        create view kitchen_view as select id, t from kitchen; \
        create procedure kitchen_count(out c int) select count(*) into c from kitchen; \
        create function kitchen_double(v int) returns int deterministic return v * 2; \
        create trigger kitchen_touch before update on kitchen for each row set new.x = coalesce(new.x, 0); \
        create event kitchen_tick on schedule every 1 day disable do delete from kitchen where id < 0; \
        create table bulk (id int primary key, v char(100)); \
        insert into bulk select seq, md5(seq) from seq_1_to_300000;");
    // A user with a password, so the password path is exercised.
    mariadb(None, &format!("create user if not exists 'dg_test'@'%' identified by '{PASSWORD}'; create user if not exists 'dg_test'@'localhost' identified by '{PASSWORD}'; grant all on *.* to 'dg_test'@'%'; grant all on *.* to 'dg_test'@'localhost'; flush privileges"));

    let server = TestServer::start(Backend::Sqlite).await;
    let ds = |name: &str, db: &str, kind: &str| {
        json!({"name": name, "type": kind, "connection_config": {
            "host": "127.0.0.1", "port": 3306, "database": db, "username": "dg_test", "password": PASSWORD}})
    };
    let source_ds = server
        .post_ok(
            "/api/datasources",
            &ds("shop", &source.name, "mariadb"),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (storage, root) = server.local_storage("disk").await;
    let health = server
        .post_ok(
            &format!("/api/datasources/{source_ds}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(health["status"], "ok", "{health}");

    let job = server
        .job(
            "maria",
            &source_ds,
            &storage,
            json!({"backup_options": {"compression": "zstd"}}),
        )
        .await;
    // While it runs, every process's command line and environment is
    // read: the dumper must be seen, the password never.
    let watch = common::ProcessWatch::start(PASSWORD, "mariadb-dump");
    let exec = server.run_job(&job).await;
    watch.finish();
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    // Exact counts: Chinook's 15,607 rows and the generated 300,007.
    assert_eq!(exec["metadata"]["tables_backed_up"], 16, "{exec}");
    assert_eq!(exec["metadata"]["rows_approximate"], 315614, "{exec}");

    // Restore into a fresh database: equal.
    let target = MariaDb::new("mydst");
    let target_ds = server
        .post_ok(
            "/api/datasources",
            &ds("copy", &target.name, "mariadb"),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let id = exec["id"].as_str().expect("id");
    let restored = server.restore_into(id, &target_ds).await;
    let rid = restored["id"].as_str().expect("id").to_string();
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    let (a, b) = (
        mariadb_fingerprint(&source.name),
        mariadb_fingerprint(&target.name),
    );
    assert_eq!(a, b);
    assert!(a.iter().any(|l| l.contains("PROCEDURE:kitchen_count") && l.contains("FUNCTION:kitchen_double")), "{a:?}");
    assert!(a.iter().any(|l| l == "views: kitchen_view"), "{a:?}");
    assert!(a.iter().any(|l| l == "triggers: kitchen_touch"), "{a:?}");
    assert!(a.iter().any(|l| l == "events: kitchen_tick"), "{a:?}");

    // A verification restore into a scratch database passes against the
    // counts recorded at backup time, and the scratch database is gone.
    let v = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"verification_mode": true}),
            202,
        )
        .await;
    let verified = server
        .wait_execution(
            v["execution_id"].as_str().expect("id"),
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(
        verified["status"],
        "completed",
        "{verified}\n{}",
        server.log_tail()
    );
    assert_eq!(
        verified["metadata"]["verification"]["passed"], true,
        "{verified}"
    );
    // Counted in the dump itself: the dump's own snapshot.
    assert_eq!(
        verified["metadata"]["verification"]["compared_with"], "backup_snapshot",
        "{verified}"
    );
    assert_eq!(
        verified["metadata"]["verification"]["tables_compared"], 16,
        "{verified}"
    );
    let left = mariadb(
        None,
        "select count(*) from information_schema.schemata where schema_name like 'dg\\_verify\\_%'",
    );
    assert_eq!(left, "0", "the scratch database was dropped");

    // The `mysql` type (mysqldump and mysql) against the same server.
    let as_mysql = server
        .post_ok(
            "/api/datasources",
            &ds("shop as mysql", &source.name, "mysql"),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let job = server
        .job("mysql type", &as_mysql, &storage, json!({}))
        .await;
    let exec2 = server.run_job(&job).await;
    assert_eq!(
        exec2["status"],
        "completed",
        "{exec2}\n{}",
        server.log_tail()
    );
    let target2 = MariaDb::new("mydst2");
    let target2_ds = server
        .post_ok(
            "/api/datasources",
            &ds("copy2", &target2.name, "mysql"),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = server
        .post_ok(
            &format!("/api/backups/{}/restore", exec2["id"].as_str().expect("id")),
            &json!({"target_datasource_id": target2_ds, "confirm_overwrite": true}),
            202,
        )
        .await;
    let restored = server
        .wait_execution(
            r["execution_id"].as_str().expect("id"),
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    assert_eq!(mariadb_fingerprint(&target2.name), a);

    // Again into the same database: without drop_existing MariaDB's own
    // "already exists" stops it; with it, the database is dropped and
    // created again, and equal.
    let exec2_id = exec2["id"].as_str().expect("id");
    let again = |drop_existing: bool| {
        let server = &server;
        let target2_ds = target2_ds.clone();
        async move {
            let r = server
                .post_ok(
                    &format!("/api/backups/{exec2_id}/restore"),
                    &json!({"target_datasource_id": target2_ds, "confirm_overwrite": true,
                        "drop_existing": drop_existing}),
                    202,
                )
                .await;
            server
                .wait_execution(
                    r["execution_id"].as_str().expect("id"),
                    Duration::from_secs(180),
                )
                .await
        }
    };
    mariadb(
        Some(&target2.name),
        "insert into bulk values (0, 'only in the target')",
    );
    let refused = again(false).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let why = refused["error_message"].as_str().expect("error");
    assert!(why.contains("already exists"), "{why}");
    let replaced = again(true).await;
    assert_eq!(
        replaced["status"],
        "completed",
        "{replaced}\n{}",
        server.log_tail()
    );
    assert_eq!(mariadb_fingerprint(&target2.name), a);

    // A verification fails, naming the table, when the restored copy
    // holds fewer rows than the backup recorded (the record here says one
    // more than the artifact holds).
    let folder = root.join(exec["backup_path"].as_str().expect("path"));
    let manifest_path = folder.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    assert_eq!(
        manifest["metadata"]["table_counts"]["Track"], 3503,
        "{manifest}"
    );
    manifest["metadata"]["table_counts"]["Track"] = json!(3504);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let short = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"verification_mode": true}),
            202,
        )
        .await;
    let short = server
        .wait_execution(
            short["execution_id"].as_str().expect("id"),
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(short["status"], "failed", "{short}");
    let why = short["error_message"].as_str().expect("error");
    assert!(
        why.contains("Track: 3503 rows restored, 3504 recorded"),
        "{why}"
    );

    // The password shows in no log, no execution log, no error.
    let seen = server.everything_said(&[id, rid.as_str()]).await;
    assert!(!seen.contains(PASSWORD), "the password leaked");

    // A wrong password is `auth_failed`, named.
    let bad = server
        .post_ok("/api/datasources", &json!({"name": "bad", "type": "mariadb", "connection_config": {
            "host": "127.0.0.1", "port": 3306, "database": source.name, "username": "dg_test", "password": "wrong"}}), 201)
        .await["id"].as_str().expect("id").to_string();
    let health: Value = server
        .post_ok(
            &format!("/api/datasources/{bad}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(health["status"], "auth_failed", "{health}");
}
