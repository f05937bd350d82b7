//! Jobs with several storages, over HTTP: `fallback` skips a broken
//! storage, `replicate` stores a verified copy in each, retry-upload fills
//! a storage added later, and a restore can pick its storage.

use crate::common;

use common::server::{chinook_db, Backend, TestServer};
use common::{pg_fingerprint, sha256_file, TempDb};
use serde_json::json;
use std::time::Duration;

async fn fallback_and_replicate(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("strat");
    let ds = server.pg_datasource("chinook", &source.name).await;

    // A storage whose root became a file after it was saved: it cannot
    // take anything (a file is refused as a root when saved).
    let blocked_root = server.dir.path().join("blocked");
    std::fs::create_dir_all(&blocked_root).unwrap();
    let broken = server
        .post_ok(
            "/api/storage-locations",
            &json!({"name": "broken", "type": "local", "create_root": true, "config": {"path": blocked_root}}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_dir(&blocked_root).unwrap();
    std::fs::write(&blocked_root, b"not a directory").unwrap();
    let (good, good_root) = server.local_storage("good").await;
    let (mirror, mirror_root) = server.local_storage("mirror").await;

    // Fallback: the broken storage fails, the next one takes the backup.
    let fallback_job = server
        .job(
            "fallback",
            &ds,
            &broken,
            json!({"storage_location_ids": [broken, good], "storage_strategy": "fallback",
                   "retention_policy": {"max_backups": 1, "auto_delete": true}}),
        )
        .await;
    let e = server.run_job(&fallback_job).await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    assert_eq!(e["storage_location_id"], good.as_str());
    let per: Vec<(String, String)> = e["storages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["storage_location_id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(per.contains(&(broken.clone(), "failed".into())), "{per:?}");
    assert!(per.contains(&(good.clone(), "completed".into())), "{per:?}");
    let first_path = good_root.join(e["backup_path"].as_str().unwrap());
    assert!(first_path.join("manifest.json").is_file());

    // Retention is not held up by the broken storage, which only holds a
    // failed attempt: the next backup replaces this one.
    let first = e["id"].as_str().unwrap().to_string();
    let e = server.run_job(&fallback_job).await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    let mut gone = false;
    for _ in 0..100 {
        if server.get(&format!("/api/executions/{first}")).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gone, "retention kept {first}\n{}", server.log_tail());
    assert!(!first_path.exists(), "{first_path:?}");

    // Replicate: the same bytes in both storages, each recorded.
    let job = server
        .job(
            "replicated",
            &ds,
            &good,
            json!({"storage_location_ids": [good, mirror], "storage_strategy": "replicate"}),
        )
        .await;
    let e = server.run_job(&job).await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    let path = e["backup_path"].as_str().unwrap().to_string();
    let a = good_root.join(&path).join("backup.dump.zst");
    let b = mirror_root.join(&path).join("backup.dump.zst");
    assert_eq!(sha256_file(&a), sha256_file(&b));
    assert!(mirror_root.join(&path).join("manifest.json").is_file());
    assert!(
        e["storages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "completed"),
        "{e}"
    );
    let id = e["id"].as_str().unwrap().to_string();
    let copies = server
        .get_ok(&format!("/api/backups/datasources/{ds}"))
        .await;
    let entry = copies["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["copies"].as_array().unwrap().len(), 2, "{entry}");

    // A copy whose data file is gone, its manifest still there, shows as
    // missing (every part is looked at, not only the manifest).
    let data_files: Vec<_> = std::fs::read_dir(mirror_root.join(&path))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("manifest.json"))
        .collect();
    assert!(!data_files.is_empty());
    for f in &data_files {
        std::fs::remove_file(f).unwrap();
    }
    assert!(mirror_root.join(&path).join("manifest.json").is_file());
    let copies = server
        .get_ok(&format!("/api/backups/datasources/{ds}"))
        .await;
    let entry = copies["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap()
        .clone();
    let availability: Vec<&str> = entry["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["availability"].as_str().unwrap())
        .collect();
    assert!(
        availability.contains(&"missing") && availability.contains(&"available"),
        "{entry}"
    );

    // retry-upload copies it to a storage added to the job afterwards.
    let (third, third_root) = server.local_storage("third").await;
    server
        .put(
            &format!("/api/backup-jobs/{job}"),
            &json!({"storage_location_ids": [good, mirror, third]}),
        )
        .await;
    let copy = server.retry_upload(&id).await;
    assert_eq!(copy["status"], "completed", "{copy}");
    let r = &copy["metadata"]["copy"];
    let backup = server.get_ok(&format!("/api/executions/{id}")).await;
    let statuses: Vec<(&str, &str)> = backup["storages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["storage_location_id"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(third.as_str(), "completed")),
        "{backup}"
    );
    assert!(
        statuses.contains(&(mirror.as_str(), "completed")),
        "mirror re-filled: {backup}"
    );
    // What it says it did is what it did: the mirror, recorded complete
    // but emptied behind our back, was copied again, as was the new one.
    let actions: Vec<(&str, &str)> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["storage_location_id"].as_str().unwrap(),
                a["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(actions.contains(&(mirror.as_str(), "copied")), "{r}");
    assert!(actions.contains(&(third.as_str(), "copied")), "{r}");
    assert!(mirror_root.join(&path).join("manifest.json").is_file());
    // Run again: nothing is missing, nothing is copied.
    let again = server.retry_upload(&id).await;
    assert_eq!(again["status"], "completed", "{again}");
    let again = &again["metadata"]["copy"];
    assert!(
        again["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["action"] == "present"),
        "{again}"
    );
    assert_eq!(
        sha256_file(&third_root.join(&path).join("backup.dump.zst")),
        sha256_file(&a)
    );

    // Restore from the chosen storage.
    let target = TempDb::new("stratdst");
    let target_ds = server.pg_datasource("target", &target.name).await;
    let r = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"target_datasource_id": target_ds, "storage_location_id": third,
                    "confirm_overwrite": true}),
            202,
        )
        .await;
    let done = server
        .wait_execution(
            r["execution_id"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["metadata"]["restored_from_storage"], "third");
    assert_eq!(pg_fingerprint(&target.name), pg_fingerprint(&source.name));

    // A storage holding backups cannot be deleted, even once no job uses it.
    for j in [&fallback_job, &job] {
        let (status, v) = server.delete(&format!("/api/backup-jobs/{j}")).await;
        assert_eq!(status, 204, "{v}");
    }
    let (status, v) = server
        .delete(&format!("/api/storage-locations/{third}"))
        .await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds 1 backup"),
        "{v}"
    );
    let (status, _) = server
        .delete(&format!("/api/storage-locations/{broken}"))
        .await;
    assert_eq!(status, 204);
}

on_both_backends!(storage_strategies, fallback_and_replicate);

/// A files datasource split into 1 MiB parts: every part recorded, the
/// download is the parts concatenated, a restore rebuilds the tree.
async fn chunked_files_backup(backend: Backend) {
    let server = TestServer::start(backend).await;
    let src = server.dir.path().join("site");
    std::fs::create_dir_all(src.join("assets")).unwrap();
    let mut blob = vec![0u8; 3 * 1024 * 1024 + 12345];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in blob.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(src.join("assets/blob.bin"), &blob).unwrap();
    std::fs::write(src.join("index.html"), "<h1>olá</h1>").unwrap();
    let ds = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "site files", "type": "files", "connection_config": {"path": src}}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "files in parts",
            &ds,
            &storage,
            json!({"backup_options": {"compression": "none", "max_file_size_mb": 1}}),
        )
        .await;
    let e = server.run_job(&job).await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    let chunks = e["chunks"].as_array().unwrap();
    assert!(chunks.len() >= 4, "{e}");
    let dir = root.join(e["backup_path"].as_str().unwrap());
    let mut joined = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["chunk_number"], i as i64 + 1);
        let file = root.join(c["file_path"].as_str().unwrap());
        assert_eq!(
            format!("sha256:{}", sha256_file(&file)),
            c["checksum"].as_str().unwrap(),
            "{file:?}"
        );
        joined.extend(std::fs::read(&file).unwrap());
    }
    assert!(dir.join("backup.tar.part-001").is_file());

    let download_url = server.url(&format!(
        "/api/executions/{}/download",
        e["id"].as_str().unwrap()
    ));
    let resp = server.http.get(&download_url).send().await.unwrap();
    assert_eq!(
        resp.headers()["x-dataguardian-checksum"].to_str().unwrap(),
        e["checksum"].as_str().unwrap()
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), joined.len());
    assert!(
        body.as_ref() == joined.as_slice(),
        "download differs from the parts"
    );

    // Restore into another directory through a second files datasource.
    let dst = server.dir.path().join("restored");
    std::fs::create_dir_all(&dst).unwrap();
    let target = server
        .post_ok(
            "/api/datasources",
            &json!({"name": "restore dir", "type": "files", "connection_config": {"path": dst}}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = server
        .post_ok(
            &format!("/api/backups/{}/restore", e["id"].as_str().unwrap()),
            &json!({"target_datasource_id": target, "confirm_overwrite": true}),
            202,
        )
        .await;
    let done = server
        .wait_execution(r["execution_id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(std::fs::read(dst.join("assets/blob.bin")).unwrap(), blob);
    assert_eq!(
        std::fs::read_to_string(dst.join("index.html")).unwrap(),
        "<h1>olá</h1>"
    );

    // One flipped byte in the last part: the transfer breaks before the
    // client has the announced length, so the damage cannot pass for a
    // complete download.
    let last = root.join(chunks.last().unwrap()["file_path"].as_str().unwrap());
    let mut bytes = std::fs::read(&last).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&last, &bytes).unwrap();
    let resp = server.http.get(&download_url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let outcome = resp.bytes().await;
    assert!(
        outcome.is_err(),
        "a damaged backup downloaded as {} complete bytes",
        outcome.map(|b| b.len()).unwrap_or_default()
    );
    assert!(
        server.log().contains("checksum mismatch"),
        "{}",
        server.log_tail()
    );
}

on_both_backends!(chunked_files, chunked_files_backup);
