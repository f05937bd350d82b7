//! Executions as the unit of work, whichever node answers: a cancel
//! recorded through one node's API stops the run on another node (two
//! `serve` processes on one PostgreSQL metadata database), and
//! retry-upload is a queued execution of its own with logs and progress.

use crate::common;

use common::server::{chinook_db, Backend, TestServer};
use common::Locker;
use serde_json::json;
use std::time::Duration;

/// A backup running on node A is cancelled through node B's API: B
/// records the request, A sees it, stops, removes the partial folder and
/// ends the execution `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_one_node_is_cancelled_through_another() {
    let a = TestServer::start(Backend::Postgres).await;
    let source = chinook_db("xnode");
    let ds = a.pg_datasource("chinook", &source.name).await;
    let (storage, root) = a.local_storage("disk").await;
    let job = a.job("nightly", &ds, &storage, json!({})).await;

    // pg_dump waits on the lock, so the backup stays running on A.
    let locker = Locker::hold(&source.name, "track");
    let run = a
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().expect("id").to_string();
    let running = a
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |v| v["status"] == "running" && v["backup_path"].is_string(),
        )
        .await;
    let folder = root.join(running["backup_path"].as_str().expect("path"));

    // B starts after A claimed the work, so the run is A's.
    let b = TestServer::second_node(&a, &[]).await;
    let a_node = a.get_ok("/api/health").await["node_id"].clone();
    let b_node = b.get_ok("/api/health").await["node_id"].clone();
    assert_ne!(a_node, b_node, "two nodes");
    let accepted = b
        .post_ok(&format!("/api/executions/{id}/cancel"), &json!({}), 202)
        .await;
    assert!(accepted["cancel_requested_at"].is_string(), "{accepted}");

    let ended = b.wait_execution(&id, Duration::from_secs(30)).await;
    assert_eq!(ended["status"], "cancelled", "{ended}\n{}", a.log_tail());
    assert_eq!(ended["error_message"], "cancelled by request", "{ended}");
    assert!(!folder.exists(), "{folder:?} left behind");
    drop(locker);
    // The log says who asked for what.
    let logs = b
        .get_ok(&format!("/api/executions/{id}/logs"))
        .await
        .to_string();
    assert!(
        logs.contains("backup queued by token `tests` of user `admin` from 127.0.0.1"),
        "{logs}"
    );
    assert!(
        logs.contains("cancel requested by token `tests` of user `admin` from 127.0.0.1"),
        "{logs}"
    );

    // A cancel of what has ended is refused, on either node.
    let (status, body) = b
        .post(&format!("/api/executions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("is cancelled"),
        "{body}"
    );
    // The job runs again, on whichever node claims it.
    let again = b.run_job(&job).await;
    assert_eq!(again["status"], "completed", "{again}");
}

/// Retry-upload answers 202 with a `copy` execution that runs from the
/// queue: its logs say what it copied where, its progress counts the
/// bytes moved, and what it did per storage is in `metadata.copy`; a
/// backup with no copy that verifies ends the copy `failed`, naming the
/// storage and the damage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_upload_is_a_queued_copy_with_logs_and_progress() {
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("copyexec");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (disk, disk_root) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &disk, json!({})).await;
    let backup = server.run_job(&job).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let id = backup["id"].as_str().expect("id").to_string();

    // A storage added to the job since: the copy fills it.
    let (mirror, mirror_root) = server.local_storage("mirror").await;
    server
        .put(
            &format!("/api/backup-jobs/{job}"),
            &json!({"storage_location_ids": [disk, mirror]}),
        )
        .await;
    let accepted = server
        .post_ok(
            &format!("/api/executions/{id}/retry-upload"),
            &json!({}),
            202,
        )
        .await;
    assert_eq!(accepted["operation"], "copy", "{accepted}");
    let copy_id = accepted["execution_id"].as_str().expect("id").to_string();
    assert_ne!(copy_id, id);
    let copy = server
        .wait_execution(&copy_id, Duration::from_secs(60))
        .await;
    assert_eq!(copy["status"], "completed", "{copy}");
    assert_eq!(copy["source_execution_id"], id.as_str(), "{copy}");
    assert_eq!(copy["job_id"], job.as_str(), "{copy}");
    // Names beside the ids.
    assert_eq!(copy["job_name"], "nightly", "{copy}");
    assert_eq!(copy["datasource_name"], "chinook", "{copy}");
    let stored = backup["compressed_size_bytes"].as_i64().expect("size");
    // Every stored byte was moved (and the manifest with them).
    let moved = copy["progress_bytes"].as_i64().expect("progress");
    assert!(
        moved > stored,
        "{moved} bytes moved, {stored} stored: {copy}"
    );
    let report = &copy["metadata"]["copy"];
    assert_eq!(report["source_storage"], "disk", "{copy}");
    assert_eq!(report["actions"][0]["storage_name"], "mirror", "{copy}");
    assert_eq!(report["actions"][0]["action"], "copied", "{copy}");
    let logs = server
        .get_ok(&format!("/api/executions/{copy_id}/logs"))
        .await
        .to_string();
    assert!(logs.contains("copied from `disk` to `mirror`"), "{logs}");
    let path = backup["backup_path"].as_str().expect("path");
    assert!(mirror_root.join(path).join("manifest.json").is_file());
    // Copies are listed as such, apart from backups.
    let copies = server
        .get_ok(&format!("/api/executions?operation=copy&job_id={job}"))
        .await;
    assert_eq!(copies["data"].as_array().map(Vec::len), Some(1), "{copies}");
    assert_eq!(copies["data"][0]["job_name"], "nightly", "{copies}");

    // Every copy damaged: nothing verifies, the copy fails naming why.
    for root in [&disk_root, &mirror_root] {
        let folder = root.join(path);
        for entry in std::fs::read_dir(&folder).expect("folder") {
            let p = entry.expect("entry").path();
            if p.file_name().is_some_and(|n| n != "manifest.json") {
                std::fs::write(&p, b"damaged").expect("damage");
            }
        }
    }
    let failed = server.retry_upload(&id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let message = failed["error_message"].as_str().expect("message");
    assert!(
        message.contains("no copy of this backup verifies") && message.contains("`mirror`"),
        "{message}"
    );
    // A copy is not a backup: there is nothing to copy from it.
    let (status, body) = server
        .post(
            &format!("/api/executions/{copy_id}/retry-upload"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

/// A storage that is down when the backup picks its storage (here: its
/// root is gone, as when a mount is missing) is a temporary failure like
/// any other: the run goes back to the queue for its next attempt instead
/// of failing for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_down_at_selection_is_retried() {
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("seldown");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("mount").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    std::fs::remove_dir_all(&root).expect("unmount");
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().expect("id").to_string();
    let requeued = server
        .wait_for(
            &format!("/api/executions/{id}/logs"),
            Duration::from_secs(60),
            |v| v.to_string().contains("failed (temporary)"),
        )
        .await;
    assert!(
        requeued.to_string().contains("attempt 1 of 3"),
        "{requeued}"
    );
    let e = server.get_ok(&format!("/api/executions/{id}")).await;
    assert_eq!(e["status"], "queued", "{e}");
    server
        .post_ok(&format!("/api/executions/{id}/cancel"), &json!({}), 202)
        .await;
}

/// What a failed upload left on a storage that was down (a partial file
/// the failure could not remove) is swept once the server can reach it:
/// at the next start here. The copy is then recorded `deleted`, and a
/// complete copy can be made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_uploads_left_on_a_storage_that_was_down_are_swept() {
    let mut server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("leftover");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (disk, _) = server.local_storage("disk").await;
    let (nas, nas_root) = server.local_storage("nas").await;
    let job = server
        .job(
            "nightly",
            &ds,
            &disk,
            json!({"storage_location_ids": [disk, nas], "storage_strategy": "replicate"}),
        )
        .await;
    // The NAS is gone while the backup runs: its replica fails.
    std::fs::remove_dir_all(&nas_root).expect("unmount");
    let backup = server.run_job(&job).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    assert_eq!(
        common::server::storage_status(&backup, &nas),
        "failed",
        "{backup}"
    );
    // Back, holding what an interrupted upload wrote.
    let path = backup["backup_path"].as_str().expect("path");
    let partial = nas_root.join(path).join("backup.dump.zst.dg-partial");
    std::fs::create_dir_all(partial.parent().expect("folder")).expect("mkdir");
    std::fs::write(&partial, vec![7u8; 4096]).expect("partial");

    server.restart();
    let id = backup["id"].as_str().expect("id");
    let swept = server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(30),
            |e| common::server::storage_status(e, &nas) == "deleted",
        )
        .await;
    assert!(!partial.exists(), "{partial:?} left behind: {swept}");
    assert!(!nas_root.join(path).exists(), "the folder stays");
    // The completed copy is untouched, and the replica can be made again.
    assert_eq!(common::server::storage_status(&swept, &disk), "completed");
    let copy = server.retry_upload(id).await;
    assert_eq!(copy["status"], "completed", "{copy}");
    assert!(nas_root.join(path).join("manifest.json").is_file());
}
