//! End to end over HTTP on both metadata backends: register a real
//! PostgreSQL datasource (Chinook) and a local storage, back up, list,
//! download, restore into a new database, and verify.

use crate::common;

use common::server::{chinook_db, count, Backend, TestServer};
use common::{pg_fingerprint, psql, sha256_file, TempDb};
use serde_json::{json, Value};
use std::time::Duration;

async fn backup_download_restore_verify(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("e2esrc");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "nightly chinook",
            &ds,
            &storage,
            json!({"backup_options": {"compression": "gzip"},
                   "retention_policy": {"max_backups": 5, "auto_delete": true}}),
        )
        .await;

    // Secrets never come back.
    let v = server.get_ok(&format!("/api/datasources/{ds}")).await;
    assert_eq!(v["connection_config"]["password"], "********", "{v}");
    assert_eq!(v["connection_config"]["database"], source.name.as_str());

    // Run and wait.
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log());
    let id = exec["id"].as_str().unwrap().to_string();
    let path = exec["backup_path"].as_str().unwrap().to_string();
    assert!(path.starts_with(&format!("{job}/")), "{path}");
    assert!(exec["checksum"].as_str().unwrap().starts_with("sha256:"));
    assert!(exec["size_bytes"].as_i64().unwrap() > 100_000);
    assert_eq!(exec["storages"][0]["status"], "completed", "{exec}");
    assert_eq!(exec["metadata"]["compression"], "gzip");
    let artifact = root.join(&path).join("backup.dump.gz");
    assert!(artifact.is_file(), "{artifact:?}");
    assert!(root.join(&path).join("manifest.json").is_file());

    // Logs were written while it ran. They are persisted in batches
    // (every 300 ms), and "backup completed" is logged just after the
    // status is recorded, so the last line may land a moment after it.
    let mut text = String::new();
    for _ in 0..50 {
        text = server
            .get_ok(&format!("/api/executions/{id}/logs"))
            .await
            .to_string();
        if text.contains("backup completed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("connection ok") && text.contains("backup completed"),
        "{text}"
    );

    // Listed per job and per datasource, available in its storage.
    let list = server
        .get_ok(&format!(
            "/api/backup-jobs/{job}/executions?status=completed&limit=50"
        ))
        .await;
    assert_eq!(list["pagination"]["total"], 1, "{list}");
    assert_eq!(list["data"][0]["id"], id.as_str());
    let by_ds = server
        .get_ok(&format!("/api/backups/datasources/{ds}"))
        .await;
    assert_eq!(
        by_ds["backups"][0]["copies"][0]["availability"], "available",
        "{by_ds}"
    );
    let all = server.get_ok("/api/backups/datasources").await;
    assert_eq!(all["data"][0]["backups"], 1, "{all}");
    assert_eq!(all["pagination"]["total"], 1, "{all}");

    // Download: the bytes are the stored artifact.
    let resp = server
        .http
        .get(server.url(&format!("/api/executions/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Named for people: job, datasource, when, and the artifact's type.
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"nightly chinook-chinook-20")
            && disposition.contains(".dump.gz\"; filename*=UTF-8''nightly%20chinook-chinook-20"),
        "{disposition}"
    );
    let body = resp.bytes().await.unwrap();
    let downloaded = server.dir.path().join("downloaded.gz");
    std::fs::write(&downloaded, &body).unwrap();
    assert_eq!(sha256_file(&downloaded), sha256_file(&artifact));

    // A non-verification restore needs an explicit confirmation.
    let target = TempDb::new("e2edst");
    let target_ds = server.pg_datasource("restore target", &target.name).await;
    let (status, err) = server
        .post(
            &format!("/api/backups/{id}/restore"),
            &json!({"target_datasource_id": target_ds}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "confirm_overwrite");

    // Restore into the new database: data equal, table by table.
    let r = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"target_datasource_id": target_ds, "confirm_overwrite": true}),
            202,
        )
        .await;
    let restored = server
        .wait_execution(
            r["execution_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log()
    );
    assert_eq!(restored["operation"], "restore");
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));
    assert_eq!(count(&target.name, "track"), 3503);
    // Counted with the storage it read from, not `unknown`.
    let metrics = server.metrics_text().await;
    assert!(
        metrics.contains(
            "dataguardian_executions_total{operation=\"restore\",status=\"completed\",\
             engine=\"postgres\",storage_type=\"local\"} 1"
        ),
        "{metrics}"
    );

    // Verification restore: passes while the source is unchanged...
    let v = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"verification_mode": true}),
            202,
        )
        .await;
    assert_eq!(v["operation"], "verification");
    let verified = server
        .wait_execution(
            v["execution_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(
        verified["status"],
        "completed",
        "{verified}\n{}",
        server.log()
    );
    assert_eq!(verified["metadata"]["verification"]["passed"], true);
    assert_eq!(verified["metadata"]["verification"]["tables_compared"], 11);
    // ...the scratch database is gone afterwards...
    let scratch_name = format!(
        "dg_verify_{}",
        &verified["id"].as_str().unwrap().replace('-', "")[..12]
    );
    let scratch = psql(
        "postgres",
        &format!("select count(*) from pg_database where datname = '{scratch_name}'"),
    );
    assert_eq!(scratch.trim(), "0", "{scratch_name} was not dropped");
    let logs = server
        .get_ok(&format!(
            "/api/executions/{}/logs",
            verified["id"].as_str().unwrap()
        ))
        .await;
    assert!(logs.to_string().contains(&scratch_name), "{logs}");

    assert_eq!(
        verified["metadata"]["verification"]["compared_with"], "backup_snapshot",
        "{verified}"
    );
    // A verification is not a backup: backup-only actions say so.
    let (status, body) = server
        .post(
            &format!(
                "/api/executions/{}/retry-upload",
                verified["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is a verification, not a backup"),
        "{body}"
    );

    // A source that moved on since the backup does not fail it: the copy
    // is compared with the counts taken in the backup's own snapshot.
    psql(
        &source.name,
        "delete from invoice_line where invoice_line_id <= 5",
    );
    let passed = verification(&server, &id).await;
    assert_eq!(passed["status"], "completed", "{passed}");

    // ...and fails, naming the table, when the copy holds other counts
    // than the backup recorded (here: the record says one row fewer).
    let manifest_path = root.join(&path).join("manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(
        manifest["metadata"]["table_counts"]["public.invoice_line"], 2240,
        "{manifest}"
    );
    manifest["metadata"]["table_counts"]["public.invoice_line"] = json!(2239);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let failed = verification(&server, &id).await;
    assert_eq!(failed["status"], "failed");
    let message = failed["error_message"].as_str().unwrap();
    assert!(
        message.contains("verification failed")
            && message.contains("invoice_line")
            && message.contains("2240 rows restored, 2239 recorded"),
        "{message}"
    );
    assert_eq!(failed["metadata"]["verification"]["passed"], false);

    // A restore into a database that already holds the tables, without
    // drop_existing, fails with pg_restore's own reason, not a broken pipe,
    // and the notification says it too.
    let r = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"confirm_overwrite": true}),
            202,
        )
        .await;
    let refused = server
        .wait_execution(
            r["execution_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let message = refused["error_message"].as_str().unwrap();
    assert!(message.contains("already exists"), "{message}");
    let notes = server
        .get_ok("/api/notifications?type=restore_failed")
        .await;
    assert!(
        notes["data"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{notes}"
    );

    // mark-restored records the manual restore and notifies.
    let marked = server
        .post_ok(
            &format!("/api/executions/{id}/mark-restored"),
            &json!({"restored_by": "operator", "reason": "rollback after a bad deploy"}),
            200,
        )
        .await;
    assert!(marked["restored_at"].is_string(), "{marked}");
    let notes = server
        .get_ok("/api/notifications?type=restore_completed")
        .await;
    assert!(
        notes["pagination"]["total"].as_i64().unwrap() >= 2,
        "{notes}"
    );

    // The dashboard counts what happened.
    let o = server.get_ok("/api/dashboard/overview").await;
    assert_eq!(o["totals"]["backups_completed"], 1, "{o}");
    assert_eq!(o["jobs_total"], 1);
    assert_eq!(o["success_rate_all_time"], 1.0);
    assert!(o["totals"]["stored_bytes"].as_i64().unwrap() > 0);
}

on_both_backends!(
    backup_download_restore_verify_e2e,
    backup_download_restore_verify
);

/// Runs a verification restore of backup `id` and waits for its end.
async fn verification(server: &TestServer, id: &str) -> Value {
    let v = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"verification_mode": true}),
            202,
        )
        .await;
    server
        .wait_execution(
            v["execution_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await
}
