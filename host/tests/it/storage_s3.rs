//! S3 storage against a real S3-compatible server (moto, signatures
//! checked): multipart backup, download, restore, cancel, wrong secret,
//! replicate with local storage and retry-upload.

use crate::common;

use common::proxy::Proxy;
use common::s3::S3Server;
use common::server::{chinook_db, count, storage_status, Backend, TestServer};
use common::{pg_fingerprint, psql, sha256_file, TempDb};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

async fn s3_storage(server: &TestServer, s3: &S3Server, name: &str, extra: Value) -> String {
    server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": name, "type": "minio", "config": s3.config(extra)}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn checksum_of(manifest_chunks: &Value, file: &str) -> String {
    manifest_chunks
        .as_array()
        .expect("chunks")
        .iter()
        .find(|c| c["file_path"].as_str().is_some_and(|p| p.ends_with(file)))
        .map(|c| c["checksum"].as_str().expect("checksum").to_string())
        .unwrap_or_else(|| panic!("{file} not in {manifest_chunks}"))
}

/// Chinook to S3 in 64 KiB parts, listed, downloaded, restored equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backup_download_restore() {
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("s3src");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = s3_storage(
        &server,
        &s3,
        "bucket",
        json!({"part_size_kib": 64, "prefix": "dg"}),
    )
    .await;

    // The secret never comes back; the health check writes and deletes.
    let v = server
        .get_ok(&format!("/api/storage-locations/{storage}"))
        .await;
    assert_eq!(v["config"]["secret_access_key"], "********", "{v}");
    let t = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["success"], true, "{t}");

    let job = server
        .job(
            "to s3",
            &ds,
            &storage,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let id = exec["id"].as_str().expect("id").to_string();
    let path = exec["backup_path"].as_str().expect("path").to_string();
    let size = exec["size_bytes"].as_u64().expect("size");
    assert!(size > 4 * 64 * 1024, "big enough for several parts: {size}");

    // What boto3 reads from the bucket is what the manifest recorded.
    let objects = s3.objects();
    let artifact_key = format!("dg/{path}/backup.dump");
    let stored = objects
        .get(&artifact_key)
        .unwrap_or_else(|| panic!("{objects:?}"));
    assert!(
        objects.contains_key(&format!("dg/{path}/manifest.json")),
        "{objects:?}"
    );
    assert_eq!(
        format!("sha256:{stored}"),
        checksum_of(&exec["chunks"], "backup.dump"),
        "{exec}"
    );
    assert!(!objects.keys().any(|k| k.contains("probe")), "{objects:?}");
    assert!(s3.unfinished_uploads().is_empty());

    // Listed in the explorer, like a local folder.
    let listed = server
        .get_ok(&format!(
            "/api/storage-locations/{storage}/files?prefix={job}"
        ))
        .await;
    assert!(
        listed
            .to_string()
            .contains(&path.split('/').nth(1).expect("folder").to_string()),
        "{listed}"
    );

    // Downloaded through the API: the same bytes.
    let body = server
        .http
        .get(server.url(&format!("/api/executions/{id}/download")))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    assert_eq!(hex::encode(Sha256::digest(&body)), *stored);

    // Restored into a fresh database: equal content.
    let target = TempDb::new("s3dst");
    let target_ds = server.pg_datasource("restore target", &target.name).await;
    let restored = server.restore_into(&id, &target_ds).await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));
    assert_eq!(count(&target.name, "track"), 3503);

    // Deleting the backup removes its folder from the bucket.
    let (status, body) = server.delete(&format!("/api/executions/{id}")).await;
    assert!(status.is_success(), "{status} {body}");
    let left: Vec<String> = s3
        .objects()
        .into_keys()
        .filter(|k| k.contains(&path))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A backup cancelled while its parts upload leaves nothing in the bucket:
/// no object, no unfinished multipart upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cancelled_upload_leaves_nothing() {
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = TempDb::new("s3big");
    psql(
        &source.name,
        "create table big as select g, (select string_agg(md5(random()::text || g || x), '') \
         from generate_series(1, 32) x) as payload from generate_series(1, 40000) g",
    );
    let ds = server.pg_datasource("big", &source.name).await;
    let storage = s3_storage(&server, &s3, "bucket", json!({"part_size_kib": 64})).await;
    let job = server
        .job(
            "big to s3",
            &ds,
            &storage,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().expect("id").to_string();
    // Wait until parts are being stored, then cancel.
    server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |v| {
                v["progress"]["bytes"].as_u64().unwrap_or(0) > 2 << 20
                    || v["status"] != "running" && v["status"] != "queued"
            },
        )
        .await;
    let in_flight = s3.unfinished_uploads();
    assert_eq!(
        in_flight.len(),
        1,
        "a multipart upload is under way: {in_flight:?}"
    );
    let (status, body) = server
        .post(&format!("/api/executions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let e = server.wait_execution(&id, Duration::from_secs(60)).await;
    assert_eq!(e["status"], "cancelled", "{e}\n{}", server.log_tail());
    assert!(
        s3.unfinished_uploads().is_empty(),
        "{:?}",
        s3.unfinished_uploads()
    );
    let objects = s3.objects();
    assert!(!objects.keys().any(|k| k.starts_with(&job)), "{objects:?}");
}

/// S3 cut off mid-upload: the copy fails and its multipart upload cannot
/// be aborted then; when S3 is reachable again the next start aborts it,
/// the copy reads `deleted`, and retry-upload makes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cut_mid_upload_leaves_no_open_upload() {
    let s3 = S3Server::start(64 * 1024);
    let proxy = Proxy::start(s3.endpoint.trim_start_matches("http://").to_string()).await;
    let mut server = TestServer::start(Backend::Sqlite).await;
    let source = TempDb::new("s3cut");
    psql(
        &source.name,
        "create table big as select g, (select string_agg(md5(random()::text || g || x), '') \
         from generate_series(1, 32) x) as payload from generate_series(1, 40000) g",
    );
    let ds = server.pg_datasource("big", &source.name).await;
    let (disk, _) = server.local_storage("disk").await;
    let bucket = s3_storage(
        &server,
        &s3,
        "bucket",
        json!({"part_size_kib": 64, "endpoint": proxy.url}),
    )
    .await;
    let job = server
        .job(
            "big nightly",
            &ds,
            &disk,
            json!({"storage_location_ids": [disk, bucket], "storage_strategy": "replicate",
                   "backup_options": {"compression": "none"}}),
        )
        .await;
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().expect("id").to_string();
    server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |v| {
                v["progress"]["bytes"].as_u64().unwrap_or(0) > 2 << 20
                    || v["status"] != "running" && v["status"] != "queued"
            },
        )
        .await;
    assert_eq!(s3.unfinished_uploads().len(), 1, "parts are being stored");
    proxy.cut();
    let backup = server.wait_execution(&id, Duration::from_secs(180)).await;
    assert_eq!(
        backup["status"],
        "completed",
        "{backup}\n{}",
        server.log_tail()
    );
    assert_eq!(storage_status(&backup, &disk), "completed", "{backup}");
    assert_eq!(storage_status(&backup, &bucket), "failed", "{backup}");
    let open = s3.unfinished_uploads();
    assert_eq!(open.len(), 1, "S3 was out of reach for the abort: {open:?}");

    proxy.mend();
    server.restart();
    let swept = server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |e| storage_status(e, &bucket) == "deleted",
        )
        .await;
    assert!(
        s3.unfinished_uploads().is_empty(),
        "{:?}\n{swept}",
        s3.unfinished_uploads()
    );
    let copy = server.retry_upload(&id).await;
    assert_eq!(copy["status"], "completed", "{copy}\n{}", server.log_tail());
    let path = backup["backup_path"].as_str().expect("path");
    assert!(
        s3.objects()
            .keys()
            .any(|k| k.contains(path) && k.ends_with("manifest.json")),
        "{:?}",
        s3.objects()
    );
}

/// A wrong secret is `auth_failed`, named, and not retried into a storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_wrong_secret_is_auth_failed() {
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("s3auth");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = s3_storage(
        &server,
        &s3,
        "wrong key bucket",
        json!({"secret_access_key": "not-the-secret"}),
    )
    .await;
    let t = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["success"], false, "{t}");
    assert_eq!(t["status"], "auth_failed", "{t}");
    assert!(
        t["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SignatureDoesNotMatch"),
        "{t}"
    );

    let job = server.job("bad secret", &ds, &storage, json!({})).await;
    let started = std::time::Instant::now();
    let e = server.run_job(&job).await;
    assert_eq!(e["status"], "failed", "{e}");
    let error = e["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("wrong key bucket"),
        "names the storage: {error}"
    );
    assert!(error.contains("authentication failed"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no retry storm"
    );
    assert!(s3.objects().is_empty());
}

/// Replicate to local and S3: both hold byte-identical parts. A copy that
/// failed (its bucket did not exist yet) is completed by retry-upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_replicate_and_retry_upload() {
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("s3repl");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (local, root) = server.local_storage("disk").await;
    let bucket = s3_storage(&server, &s3, "bucket", json!({"part_size_kib": 64})).await;
    let later = s3_storage(&server, &s3, "later", json!({"bucket": "created-later"})).await;
    let job = server
        .job(
            "replicated",
            &ds,
            &local,
            json!({"storage_location_ids": [local, bucket, later], "storage_strategy": "replicate",
                   "backup_options": {"max_file_size_mb": 1}}),
        )
        .await;
    let e = server.run_job(&job).await;
    let id = e["id"].as_str().expect("id").to_string();
    let path = e["backup_path"].as_str().expect("path").to_string();
    let status_of = storage_status;
    assert_eq!(status_of(&e, &local), "completed", "{e}");
    assert_eq!(status_of(&e, &bucket), "completed", "{e}");
    assert_eq!(status_of(&e, &later), "failed", "{e}");

    // Every part in the bucket equals the one on disk.
    let objects = s3.objects();
    let folder = root.join(&path);
    let mut parts = 0;
    for entry in std::fs::read_dir(&folder).expect("folder") {
        let file = entry.expect("entry").path();
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let key = format!("{path}/{name}");
        assert_eq!(objects.get(&key), Some(&sha256_file(&file)), "{key}");
        parts += 1;
    }
    assert!(parts >= 2, "a part and the manifest at least");

    // The bucket exists now: retry-upload completes the failed copy.
    s3.create_bucket("created-later");
    let r = server.retry_upload(&id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert!(r.to_string().contains("later"), "{r}");
    let e = server.get_ok(&format!("/api/executions/{id}")).await;
    assert_eq!(status_of(&e, &later), "completed", "{e}\n{r}");

    // A copy that lost a part but kept its manifest is not "present":
    // retry-upload copies it again.
    let part = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains("backup."))
        .expect("a part");
    std::fs::remove_file(&part).expect("remove part");
    let r = server.retry_upload(&id).await;
    assert_eq!(r["status"], "completed", "{r}");
    let action = r["metadata"]["copy"]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["storage_location_id"] == local.as_str())
        .map(|a| a["action"].clone());
    assert_eq!(action, Some(json!("copied")), "{r}");
    assert!(part.is_file(), "{part:?} is back");

    // A byte flipped in the middle of the local copy (one chunk, zstd: the
    // decoder meets the damage before the chunk's checksum does): the
    // restore stops the engine before it commits and takes the bucket's
    // copy instead.
    let mut bytes = std::fs::read(&part).expect("part");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&part, &bytes).expect("damage");
    let target = TempDb::new("s3repldst");
    let target_ds = server.pg_datasource("restore target", &target.name).await;
    let restored = server.restore_into(&id, &target_ds).await;
    let rid = restored["id"].as_str().expect("id").to_string();
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));
    let logs = server
        .get_ok(&format!("/api/executions/{rid}/logs"))
        .await
        .to_string();
    assert!(logs.contains("nothing was committed"), "{logs}");
}

/// A restore reads the artifact from the bucket once: checksums are
/// checked while streaming, not in a separate pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_restore_reads_each_byte_once() {
    use std::sync::atomic::Ordering;
    let s3 = S3Server::start(64 * 1024);
    let upstream = s3.endpoint.trim_start_matches("http://").to_string();
    let proxy = Proxy::start(upstream).await;
    let received = proxy.received.clone();
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("s3once");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = s3_storage(&server, &s3, "counted", json!({"endpoint": proxy.url})).await;
    let job = server
        .job(
            "counted",
            &ds,
            &storage,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let artifact = exec["compressed_size_bytes"].as_u64().expect("size");

    let target = TempDb::new("s3oncedst");
    let target_ds = server.pg_datasource("restore target", &target.name).await;
    received.store(0, Ordering::Relaxed);
    let r = server
        .post_ok(
            &format!("/api/backups/{}/restore", exec["id"].as_str().expect("id")),
            &json!({"target_datasource_id": target_ds, "confirm_overwrite": true}),
            202,
        )
        .await;
    let restored = server
        .wait_execution(
            r["execution_id"].as_str().expect("id"),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));
    let read = received.load(Ordering::Relaxed);
    eprintln!("restore read {read} bytes for a {artifact}-byte artifact");
    // The artifact once, plus the manifest and HTTP heads.
    assert!(
        read >= artifact && read < artifact + artifact / 5,
        "{read} bytes read from the bucket for a {artifact}-byte artifact"
    );
}

/// The explorer on any storage: copy an object, download the copy (equal
/// bytes), delete it (gone).
pub(crate) async fn explore(server: &TestServer, storage: &str, key: &str) {
    let fetch = |path: String| {
        let url = server.url(&format!(
            "/api/storage-locations/{storage}/files/download?path={path}"
        ));
        let http = server.http.clone();
        async move {
            let resp = http.get(url).send().await.expect("download");
            let status = resp.status().as_u16();
            (status, resp.bytes().await.expect("body").to_vec())
        }
    };
    let (status, original) = fetch(key.to_string()).await;
    assert_eq!(status, 200, "{key}");
    let (status, body) = server
        .post(
            &format!("/api/storage-locations/{storage}/files/copy"),
            &json!({"from": key, "to": "exports/copy.bin"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, copied) = fetch("exports/copy.bin".into()).await;
    assert_eq!(status, 200);
    assert_eq!(copied, original, "the copy holds the same bytes");
    let (status, body) = server
        .delete(&format!(
            "/api/storage-locations/{storage}/files?path=exports"
        ))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = fetch("exports/copy.bin".into()).await;
    assert_eq!(status, 404);
}

/// Retention deletes remote copies: with `max_backups: 1`, the older
/// folder is gone from the storage after the second backup.
pub(crate) async fn retention_deletes_remote_folders(
    server: &TestServer,
    datasource: &str,
    storage: &str,
    present: impl Fn(&str) -> bool,
) {
    let job = server
        .job(
            "kept once",
            datasource,
            storage,
            json!({"retention_policy": {"max_backups": 1, "auto_delete": true}}),
        )
        .await;
    let first = server.run_job(&job).await;
    assert_eq!(first["status"], "completed", "{first}");
    let first_path = first["backup_path"].as_str().expect("path").to_string();
    assert!(present(&first_path), "{first_path} stored");
    let second = server.run_job(&job).await;
    assert_eq!(second["status"], "completed", "{second}");
    let second_path = second["backup_path"].as_str().expect("path").to_string();
    let started = std::time::Instant::now();
    while present(&first_path) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{first_path} still stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(present(&second_path), "{second_path} kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_explorer_and_retention() {
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("s3expl");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = s3_storage(&server, &s3, "bucket", json!({})).await;
    let present = |path: &str| {
        s3.objects()
            .keys()
            .any(|k| k.starts_with(&format!("{path}/")))
    };
    retention_deletes_remote_folders(&server, &ds, &storage, present).await;
    let listed = s3.objects();
    let manifest = listed
        .keys()
        .find(|k| k.ends_with("manifest.json"))
        .expect("a manifest")
        .clone();
    explore(&server, &storage, &manifest).await;
    assert_eq!(
        s3.objects(),
        listed,
        "the explorer left the backups as they were"
    );
}
