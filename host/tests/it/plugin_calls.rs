//! The control exports of the built-in plugins, called through the host:
//! health checks, inspection, scratch databases, storage listing.

use crate::common;

use common::*;
use dataguardian::plugin::bindings::HealthStatus;
use dataguardian::plugin::client::Target;
use dataguardian::plugin::{tracing_sink, FailureKind, Plugins, RuntimeConfig};
use std::collections::HashMap;

fn plugins(dir: &std::path::Path) -> Plugins {
    Plugins::with_builtins(RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        scratch_root: dir.join("tmp"),
        smtp_ca_files: Vec::new(),
        limits: Default::default(),
    })
    .expect("built-ins load")
}

fn pg_target(db: &str, port: u16) -> Target {
    Target::new(
        serde_json::json!({"host": "127.0.0.1", "port": port, "database": db, "username": "postgres"}),
        tracing_sink(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_control_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path());
    let db = TempDb::new("control");
    load_chinook(&db.name);
    let engine = plugins
        .engine("postgres", pg_target(&db.name, 5432))
        .expect("postgres");

    let health = engine.health_check().await.expect("health");
    assert_eq!(health.status, HealthStatus::Ok, "{:?}", health.message);
    assert!(health
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("PostgreSQL 1")));
    let meta: HashMap<_, _> = health
        .metadata
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect();
    assert!(meta["active_connections"].parse::<u64>().expect("number") >= 1);
    assert!(meta["size_bytes"].parse::<u64>().expect("number") > 1_000_000);

    let counts = engine.inspect().await.expect("inspect");
    let track = counts
        .iter()
        .find(|t| t.name == "public.track")
        .expect("track table");
    assert_eq!(track.rows, 3503);
    assert_eq!(counts.len(), 11);

    let dbs = engine.list_databases().await.expect("list");
    assert!(dbs.contains(&db.name));

    let scratch = format!("{}_scratch", db.name);
    let config = engine
        .create_scratch_database(&scratch)
        .await
        .expect("create scratch");
    let config: serde_json::Value = serde_json::from_str(&config).expect("config json");
    assert_eq!(config["database"], scratch.as_str());
    assert_eq!(
        psql(
            "postgres",
            &format!("select count(*) from pg_database where datname = '{scratch}'")
        ),
        "1"
    );
    engine
        .drop_scratch_database(&scratch)
        .await
        .expect("drop scratch");
    assert_eq!(
        psql(
            "postgres",
            &format!("select count(*) from pg_database where datname = '{scratch}'")
        ),
        "0"
    );
    let bad = engine
        .create_scratch_database("Robert'); drop table x;--")
        .await;
    assert_eq!(
        bad.expect_err("refused").kind(),
        Some(FailureKind::InvalidConfig)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_health_reports_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path());
    let closed_port = plugins
        .engine("postgres", pg_target("postgres", 1))
        .expect("postgres");
    let health = closed_port
        .health_check()
        .await
        .expect("a report, not an error");
    assert_eq!(
        health.status,
        HealthStatus::Unreachable,
        "{:?}",
        health.message
    );

    let missing = plugins
        .engine("postgres", pg_target("no_such_db_dg", 5432))
        .expect("postgres");
    let err = missing.inspect().await.expect_err("no database");
    assert_eq!(err.kind(), Some(FailureKind::NotFound), "{err}");

    let invalid = plugins
        .engine(
            "postgres",
            Target::new(serde_json::json!({"host": "x"}), tracing_sink()),
        )
        .expect("postgres");
    let err = invalid.validate_config().await.expect_err("missing fields");
    assert_eq!(err.kind(), Some(FailureKind::InvalidConfig));
    assert!(err.to_string().contains("database"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_storage_control_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins(dir.path());
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("job/exec")).expect("mkdir");
    std::fs::write(root.join("job/exec/a.bin"), b"0123456789").expect("write");
    let storage = plugins
        .storage(
            "local",
            Target::new(
                serde_json::json!({"path": root.to_str().expect("utf8")}),
                tracing_sink(),
            ),
        )
        .expect("local");
    assert_eq!(
        storage.health_check().await.expect("health").status,
        HealthStatus::Ok
    );

    let listed = storage.list("job/exec").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "job/exec/a.bin");
    assert_eq!(listed[0].size, 10);
    assert!(storage.stat("job/exec/nope").await.expect("stat").is_none());

    storage
        .copy("job/exec/a.bin", "job/exec/b.bin")
        .await
        .expect("copy");
    assert_eq!(
        std::fs::read(root.join("job/exec/b.bin")).expect("copied"),
        b"0123456789"
    );
    storage
        .rename("job/exec/b.bin", "other/c.bin")
        .await
        .expect("rename");
    assert!(root.join("other/c.bin").is_file() && !root.join("job/exec/b.bin").exists());

    let escape = storage
        .stat("../outside")
        .await
        .expect_err("escape refused");
    assert_eq!(escape.kind(), Some(FailureKind::InvalidConfig), "{escape}");
    storage.delete("job").await.expect("delete");
    assert!(!root.join("job").exists());
    let root_delete = storage.delete("").await.expect_err("root delete refused");
    assert_eq!(root_delete.kind(), Some(FailureKind::InvalidConfig));
}
