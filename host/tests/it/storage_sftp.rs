//! SFTP storage against a real OpenSSH server on loopback: round trip,
//! host key pinning, free space, and replicate with local and S3 storages
//! while the SSH server goes away and comes back.

use crate::common;

use common::s3::S3Server;
use common::server::{chinook_db, count, storage_status, Backend, TestServer};
use common::sftp::SshServer;
use common::{pg_fingerprint, sha256_file, TempDb};
use serde_json::{json, Value};

async fn ssh_storage(server: &TestServer, ssh: &SshServer, name: &str, extra: Value) -> String {
    server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": name, "type": "ssh", "config": ssh.config(extra)}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_backup_download_restore() {
    let ssh = SshServer::start();
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("sftpsrc");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = ssh_storage(&server, &ssh, "nas", json!({})).await;

    // Secrets never come back; the check reports free space.
    let v = server
        .get_ok(&format!("/api/storage-locations/{storage}"))
        .await;
    assert_eq!(v["config"]["private_key"], "********", "{v}");
    let t = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["success"], true, "{t}\n{}", ssh.log());
    assert!(t["available_space_gb"].as_f64().unwrap_or(0.0) > 0.0, "{t}");

    let job = server
        .job(
            "to nas",
            &ds,
            &storage,
            json!({"backup_options": {"max_file_size_mb": 1}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let id = exec["id"].as_str().expect("id").to_string();
    let path = exec["backup_path"].as_str().expect("path").to_string();

    // The files on the server are the ones the manifest lists, and no
    // temporary file is left.
    let folder = ssh.path(&path);
    assert!(folder.join("manifest.json").is_file(), "{folder:?}");
    for chunk in exec["chunks"].as_array().expect("chunks") {
        let file = chunk["file_path"].as_str().expect("file");
        let name = file.rsplit('/').next().expect("name");
        assert_eq!(
            format!("sha256:{}", sha256_file(&folder.join(name))),
            chunk["checksum"].as_str().expect("checksum"),
            "{name}"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("dg-partial")), "{names:?}");

    // Listed in the explorer.
    let listed = server
        .get_ok(&format!(
            "/api/storage-locations/{storage}/files?prefix={job}"
        ))
        .await;
    assert!(
        listed
            .to_string()
            .contains(path.split('/').nth(1).expect("folder")),
        "{listed}"
    );

    // Downloaded and restored.
    let body = server
        .http
        .get(server.url(&format!("/api/executions/{id}/download")))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
        ),
        exec["checksum"].as_str().expect("checksum")
    );
    let target = TempDb::new("sftpdst");
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

    // Deleting the backup removes its folder on the server.
    let (status, body) = server.delete(&format!("/api/executions/{id}")).await;
    assert!(status.is_success(), "{status} {body}");
    assert!(!folder.exists(), "{folder:?}");
}

/// A server whose host key is not the configured one is refused before
/// any login is attempted and before any byte of a backup is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_wrong_host_key_is_refused() {
    let ssh = SshServer::start();
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("sftpkey");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let storage = ssh_storage(
        &server,
        &ssh,
        "impostor",
        json!({"host_key_fingerprint": wrong}),
    )
    .await;
    let t = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["status"], "auth_failed", "{t}");
    let message = t["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&ssh.fingerprint) && message.contains(wrong),
        "{message}"
    );

    let job = server.job("impostor", &ds, &storage, json!({})).await;
    let e = server.run_job(&job).await;
    assert_eq!(e["status"], "failed", "{e}");
    let error = e["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("impostor") && error.contains("host_key_fingerprint"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(&ssh.root).expect("root").count(),
        0,
        "nothing was written"
    );
    let log = ssh.log();
    assert!(
        !log.contains("Accepted") && !log.contains("publickey"),
        "no login was tried: {log}"
    );

    // A fingerprint that is not one is a 422 naming the field.
    let (status, err) = server
        .post(
            "/api/storage-locations",
            &json!({"name": "bad", "type": "ssh", "config": ssh.config(json!({"host_key_fingerprint": "MD5:00"}))}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("host_key_fingerprint"), "{err}");
}

/// Replicate to local, S3 and SFTP: all three hold byte-identical parts.
/// With the SSH server down, that copy fails and the others complete;
/// retry-upload fills it once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_to_local_s3_and_sftp() {
    let mut ssh = SshServer::start();
    let s3 = S3Server::start(64 * 1024);
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("sftprepl");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (local, root) = server.local_storage("disk").await;
    let bucket = server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "bucket", "type": "s3", "config": s3.config(json!({"region": "us-east-1", "part_size_kib": 64}))}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let nas = ssh_storage(&server, &ssh, "nas", json!({})).await;
    let job = server
        .job(
            "everywhere",
            &ds,
            &local,
            json!({"storage_location_ids": [local, bucket, nas], "storage_strategy": "replicate",
                   "backup_options": {"max_file_size_mb": 1}}),
        )
        .await;
    let e = server.run_job(&job).await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    for storage in [&local, &bucket, &nas] {
        assert_eq!(storage_status(&e, storage), "completed", "{e}");
    }
    let path = e["backup_path"].as_str().expect("path").to_string();
    let objects = s3.objects();
    for entry in std::fs::read_dir(root.join(&path)).expect("folder") {
        let file = entry.expect("entry").path();
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let on_disk = sha256_file(&file);
        assert_eq!(
            objects.get(&format!("{path}/{name}")),
            Some(&on_disk),
            "{name} in S3"
        );
        assert_eq!(
            sha256_file(&ssh.path(&format!("{path}/{name}"))),
            on_disk,
            "{name} over SFTP"
        );
    }

    // The SSH server goes away: that copy fails, the others complete.
    ssh.stop();
    let e = server.run_job(&job).await;
    let id = e["id"].as_str().expect("id").to_string();
    assert_eq!(storage_status(&e, &local), "completed", "{e}");
    assert_eq!(storage_status(&e, &bucket), "completed", "{e}");
    assert_eq!(storage_status(&e, &nas), "failed", "{e}");

    // Back again: retry-upload completes the copy.
    ssh.resume();
    let r = server.retry_upload(&id).await;
    assert_eq!(r["status"], "completed", "{r}");
    let e = server.get_ok(&format!("/api/executions/{id}")).await;
    assert_eq!(storage_status(&e, &nas), "completed", "{e}\n{r}");
    let path = e["backup_path"].as_str().expect("path");
    assert!(ssh.path(&format!("{path}/manifest.json")).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_explorer_and_retention() {
    let ssh = SshServer::start();
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("sftpexpl");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let storage = ssh_storage(&server, &ssh, "nas", json!({})).await;
    let present = |path: &str| ssh.path(path).join("manifest.json").is_file();
    crate::storage_s3::retention_deletes_remote_folders(&server, &ds, &storage, present).await;
    let job_dir = std::fs::read_dir(&ssh.root)
        .expect("root")
        .next()
        .expect("a job folder")
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .into_owned();
    let execution = std::fs::read_dir(ssh.path(&job_dir))
        .expect("job")
        .next()
        .expect("an execution")
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .into_owned();
    crate::storage_s3::explore(
        &server,
        &storage,
        &format!("{job_dir}/{execution}/manifest.json"),
    )
    .await;
    assert!(!ssh.path("exports").exists(), "the copy's folder is gone");
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs (the tests run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// An SFTP server that is down is `unreachable` (not a program's exit
/// code), and a full remote disk says so instead of SFTP's "Failure".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_down_is_unreachable_and_a_full_disk_says_so() {
    let mut ssh = SshServer::start();
    let server = TestServer::start(Backend::Sqlite).await;
    let storage = ssh_storage(&server, &ssh, "nas", json!({})).await;
    ssh.stop();
    let tested = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(tested["status"], "unreachable", "{tested}");
    let message = tested["message"].as_str().unwrap_or_default();
    assert!(message.contains("no SSH server answered"), "{tested}");
    assert!(!message.contains("exited with code"), "{tested}");
    ssh.resume();

    let small = ssh.path("small");
    let _disk = SmallDisk::mount(&small, "256k");
    let full = server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "small", "type": "ssh",
                    "config": ssh.config(json!({"path": small}))}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let site = server.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let noise: Vec<u8> = (0..1_048_576u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(site.join("noise.bin"), noise).unwrap();
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "site", "type": "files", "connection_config": {"path": site}}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = server
        .job(
            "site to small",
            &ds,
            &full,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error_message"].as_str().unwrap_or_default();
    assert!(error.contains("disk is full"), "{failed}");
}
