//! "Every database on a server" in one job, against the real PostgreSQL
//! and MariaDB: three databases (and ones left out by pattern) become one
//! execution with one artifact each, listed in one manifest; each restores
//! on its own, into a new database, with equal content. A database that
//! fails is named on a completed execution while the others stay
//! restorable.

use crate::common;
use crate::engine_mysql::{mariadb, mariadb_fingerprint, MariaDb};

use common::server::{Backend, TestServer};
use common::{pg_fingerprint, psql, TempDb};
use serde_json::{json, Value};

/// A PostgreSQL database with a name the test chooses.
fn pg_db(name: &str, rows: u32) -> TempDb {
    psql("postgres", &format!("create database \"{name}\""));
    psql(
        name,
        &format!(
            "create table items (id int primary key, label text, price numeric(10,2)); \
             insert into items select g, 'item ' || g || ' of {name}', g * 1.25 \
             from generate_series(1, {rows}) g; \
             create table notes (id serial primary key, body text); \
             insert into notes (body) values ('olá 🎉'), (null);"
        ),
    );
    TempDb {
        name: name.to_string(),
    }
}

/// The names recorded on the execution, by status.
fn recorded(exec: &Value, status: &str) -> Vec<String> {
    exec["metadata"]["databases"]
        .as_array()
        .expect("databases recorded")
        .iter()
        .filter(|d| d["status"] == status)
        .map(|d| d["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_postgres_database_in_one_execution() {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|s| format!("dgall_{tag}_{s}"))
        .collect();
    let dbs: Vec<TempDb> = names
        .iter()
        .enumerate()
        .map(|(i, n)| pg_db(n, 20_000 * (i as u32 + 1)))
        .collect();
    let _skipped = pg_db(&format!("dgall_{tag}_skip"), 5);
    let server = TestServer::start(Backend::Sqlite).await;
    let ds = server.pg_datasource("pg server", "postgres").await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "all",
            &ds,
            &storage,
            json!({"backup_options": {
                "databases": [format!("dgall_{tag}_*"), format!("dgall_{tag}_missing")],
                "exclude_databases": ["*_skip"]}}),
        )
        .await;
    // The password (unused by the trust-auth server, but handed over all
    // the same) never shows in a process's command line or environment.
    let watch = common::ProcessWatch::start(PG_PASSWORD, "pg_dump");
    let exec = server.run_job(&job).await;
    watch.finish();
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    assert_eq!(recorded(&exec, "completed"), names, "{exec}");
    assert_eq!(recorded(&exec, "failed"), [format!("dgall_{tag}_missing")]);
    let message = exec["error_message"]
        .as_str()
        .expect("the failure is named");
    assert!(
        message.contains(&format!("dgall_{tag}_missing")) && message.contains("1 of 4"),
        "{message}"
    );
    let notes = server.get_ok("/api/notifications?type=backup_failed").await;
    assert!(
        notes.to_string().contains(&format!("dgall_{tag}_missing")),
        "{notes}"
    );

    // One folder: one artifact per database and one manifest naming them.
    let folder = root.join(exec["backup_path"].as_str().expect("path"));
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let expected: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:03}-{n}.dump.zst", i + 1))
        .chain(["manifest.json".to_string()])
        .collect();
    assert_eq!(files, expected);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["databases"].as_array().expect("list").len(), 4);
    assert_eq!(
        manifest["databases"][1]["artifact"]["metadata"]["table_counts"]["public.items"], 40_000,
        "{manifest}"
    );
    // The whole folder still verifies as one backup: retry-upload checks
    // every checksum of a copy (the copy fails when none verifies) first.
    let verified = server.retry_upload(exec["id"].as_str().expect("id")).await;
    assert_eq!(verified["status"], "completed", "{verified}");
    assert_eq!(
        verified["metadata"]["copy"]["source_storage"], "disk",
        "{verified}"
    );

    let id = exec["id"].as_str().expect("id");
    // A restore must say which database; one not stored is refused.
    let (status, body) = server
        .post(
            &format!("/api/backups/{id}/restore"),
            &json!({"confirm_overwrite": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "database", "{body}");
    let (status, body) = server
        .post(
            &format!("/api/backups/{id}/restore"),
            &json!({"confirm_overwrite": true, "database": format!("dgall_{tag}_missing")}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // Each database restores on its own into a new database: equal. A
    // database the restore creates overwrites nothing, so no confirmation
    // is asked for it.
    for (i, name) in names.iter().enumerate() {
        let copy = TempDb {
            name: format!("{name}_r"),
        };
        let done = server
            .restore_with(id, &json!({"database": name, "target_database": copy.name}))
            .await;
        assert_eq!(done["status"], "completed", "{done}\n{}", server.log_tail());
        assert_eq!(pg_fingerprint(&copy.name), pg_fingerprint(&dbs[i].name));
    }
    // Into one that exists, it is asked for, naming the database.
    let (status, body) = server
        .post(
            &format!("/api/backups/{id}/restore"),
            &json!({"database": names[0], "target_database": names[1]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "confirm_overwrite", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("database `{}`", names[1])),
        "{body}"
    );
    // A verification of one database of the backup passes.
    let v = server
        .restore_with(
            id,
            &json!({"verification_mode": true, "database": names[2]}),
        )
        .await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["metadata"]["verification"]["passed"], true, "{v}");
    // Download picks one database too.
    let (status, _) = server
        .request(
            reqwest::Method::GET,
            &format!("/api/executions/{id}/download"),
            None,
        )
        .await;
    assert_eq!(status, 422);
    let response = server
        .http
        .get(server.url(&format!(
            "/api/executions/{id}/download?database={}",
            names[0]
        )))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    assert_eq!(
        body.len() as u64,
        std::fs::metadata(folder.join(&expected[0]))
            .expect("file")
            .len()
    );
    // Nor in any log, execution log or error.
    let seen = server.everything_said(&[id]).await;
    assert!(!seen.contains(PG_PASSWORD), "the password leaked");
}

/// What `TestServer::pg_datasource` configures as the password.
const PG_PASSWORD: &str = "unused-with-trust";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mariadb_database_in_one_execution() {
    let tag = std::process::id();
    let dbs: Vec<MariaDb> = ["x", "y", "z"]
        .iter()
        .map(|s| MariaDb::named(&format!("dgall{tag}_{s}")))
        .collect();
    for (i, db) in dbs.iter().enumerate() {
        mariadb(
            Some(&db.name),
            &format!(
                "create table items (id int primary key, label varchar(100), b blob); \
                 insert into items select seq, concat('item ', seq, ' 🎉'), unhex(md5(seq)) \
                 from seq_1_to_{}; create view few as select id from items where id < 3;",
                50 * (i + 1)
            ),
        );
    }
    let server = TestServer::start(Backend::Sqlite).await;
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "maria server", "type": "mariadb", "connection_config": {
                "host": "127.0.0.1", "port": 3306, "database": "information_schema",
                "username": "root"}}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (storage, _) = server.local_storage("disk").await;
    // Everything on the server except other tests' databases.
    let job = server
        .job(
            "all maria",
            &ds,
            &storage,
            json!({"backup_options": {"databases": "*", "exclude_databases": ["dg_*", "dgt_*"]}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let stored = recorded(&exec, "completed");
    for db in &dbs {
        assert!(stored.contains(&db.name), "{} missing: {exec}", db.name);
    }
    for system in ["mysql", "sys", "information_schema", "performance_schema"] {
        assert!(
            !stored.iter().any(|s| s == system),
            "{system} backed up: {exec}"
        );
    }
    let id = exec["id"].as_str().expect("id");
    for db in &dbs {
        let copy = MariaDb::named(&format!("{}_r", db.name));
        mariadb(None, &format!("drop database `{}`", copy.name));
        let done = server.restore_with(id, &json!({"confirm_overwrite": true, "database": db.name, "target_database": copy.name}))
        .await;
        assert_eq!(done["status"], "completed", "{done}\n{}", server.log_tail());
        assert_eq!(
            mariadb_fingerprint(&copy.name),
            mariadb_fingerprint(&db.name)
        );
    }
}
