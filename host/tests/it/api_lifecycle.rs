//! The service over time, on both metadata backends: retention after each
//! backup, the scheduler running a job on its own, and a SIGKILL in the
//! middle of a backup.

use crate::common;

use common::server::{chinook_db, Backend, TestServer};
use common::{psql, Locker};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn completed_ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn retention_keeps_the_newest_completed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("ret");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "keep three",
            &ds,
            &storage,
            json!({"retention_policy": {"max_backups": 3, "auto_delete": true}}),
        )
        .await;

    let mut runs = Vec::new();
    for _ in 0..3 {
        let e = server.run_job(&job).await;
        assert_eq!(e["status"], "completed", "{e}");
        runs.push(e);
    }
    // Nothing deleted while within the limit.
    let list = server
        .get_ok(&format!(
            "/api/backup-jobs/{job}/executions?status=completed"
        ))
        .await;
    assert_eq!(list["pagination"]["total"], 3);

    // The dry run shows what a stricter policy would do, and does nothing.
    let plan = server
        .post_ok(
            &format!("/api/backup-jobs/{job}/retention/dry-run"),
            &json!({"retention_policy": {"max_backups": 1}}),
            200,
        )
        .await;
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["deleted"].as_array().unwrap().len(), 2, "{plan}");
    assert!(
        plan["deleted"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("max_backups 1"),
        "{plan}"
    );
    let list = server
        .get_ok(&format!(
            "/api/backup-jobs/{job}/executions?status=completed"
        ))
        .await;
    assert_eq!(
        list["pagination"]["total"], 3,
        "the dry run deleted something"
    );

    // A failed backup does not count and pushes nothing out.
    server
        .put(
            &format!("/api/datasources/{ds}"),
            &json!({"connection_config": {"host": "127.0.0.1", "port": 5432,
                     "database": "dg_no_such_database", "username": "postgres"}}),
        )
        .await;
    let failed = server.run_job(&job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error_message"]
            .as_str()
            .unwrap()
            .contains("dg_no_such_database"),
        "{failed}"
    );
    let list = server
        .get_ok(&format!(
            "/api/backup-jobs/{job}/executions?status=completed"
        ))
        .await;
    assert_eq!(list["pagination"]["total"], 3);
    let failures = server.get_ok("/api/notifications?type=backup_failed").await;
    assert_eq!(failures["pagination"]["total"], 1, "{failures}");

    // The 4th completed backup deletes the oldest, files first.
    server
        .put(
            &format!("/api/datasources/{ds}"),
            &json!({"connection_config": {"host": "127.0.0.1", "port": 5432,
                     "database": source.name, "username": "postgres"}}),
        )
        .await;
    let oldest = runs[0]["id"].as_str().unwrap();
    let oldest_dir = root.join(runs[0]["backup_path"].as_str().unwrap());
    assert!(oldest_dir.join("manifest.json").is_file());
    let fourth = server.run_job(&job).await;
    assert_eq!(fourth["status"], "completed", "{fourth}");
    // Retention runs right after the execution is recorded as completed,
    // so give it a moment rather than racing it.
    let mut list = Value::Null;
    for _ in 0..100 {
        list = server
            .get_ok(&format!(
                "/api/backup-jobs/{job}/executions?status=completed"
            ))
            .await;
        if list["pagination"]["total"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = completed_ids(&list);
    assert_eq!(kept.len(), 3, "{list}");
    assert!(!kept.contains(&oldest.to_string()));
    for r in &runs[1..] {
        assert!(kept.contains(&r["id"].as_str().unwrap().to_string()));
    }
    let (status, _) = server.get(&format!("/api/executions/{oldest}")).await;
    assert_eq!(status, 404);
    assert!(!oldest_dir.exists(), "{oldest_dir:?} still on disk");
    let mut note = Value::Null;
    for _ in 0..50 {
        note = server
            .get_ok("/api/notifications?type=cleanup_completed")
            .await;
        if note["pagination"]["total"] != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(note["pagination"]["total"], 1, "{note}");
    assert_eq!(note["data"][0]["metadata"]["deleted"], 1);
    assert!(note["data"][0]["metadata"]["bytes_freed"].as_i64().unwrap() > 0);
}

on_both_backends!(
    retention_after_each_backup,
    retention_keeps_the_newest_completed
);

async fn scheduler_runs_due_jobs_once(backend: Backend) {
    let server = TestServer::start_with(backend, &["--scheduler-tick-secs", "1"]).await;
    let source = chinook_db("sched");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server
        .job(
            "every minute",
            &ds,
            &storage,
            json!({"schedule_cron": "* * * * *", "schedule_timezone": "Europe/Lisbon"}),
        )
        .await;
    let created = server.get_ok(&format!("/api/backup-jobs/{job}")).await;
    let first_due = created["next_execution_at"].as_str().unwrap().to_string();

    // Nobody asks: the scheduler queues it at the next minute.
    let list = server
        .wait_for(
            &format!("/api/backup-jobs/{job}/executions?status=completed"),
            Duration::from_secs(100),
            |v| v["pagination"]["total"].as_i64().unwrap_or(0) >= 1,
        )
        .await;
    let e = &list["data"][0];
    assert_eq!(e["trigger_type"], "scheduled", "{e}");
    let job_now = server.get_ok(&format!("/api/backup-jobs/{job}")).await;
    let next = job_now["next_execution_at"].as_str().unwrap().to_string();
    assert!(
        next > first_due,
        "next run not moved forward: {next} <= {first_due}"
    );
    // Exactly one execution for that minute (ticks every second).
    let all = server
        .get_ok(&format!("/api/backup-jobs/{job}/executions"))
        .await;
    let at_first: Vec<&Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["created_at"].as_str().unwrap() < next.as_str())
        .collect();
    assert_eq!(at_first.len(), 1, "{all}");
}

on_both_backends!(
    scheduler_runs_a_job_on_its_own,
    scheduler_runs_due_jobs_once
);

/// A job runs one backup at a time: a manual run while one is active is
/// a 409 naming it, and a scheduled run that falls due meanwhile is
/// skipped visibly (notification) instead of queued behind it.
async fn runs_of_one_job_never_overlap(backend: Backend) {
    let server = TestServer::start_with(backend, &["--scheduler-tick-secs", "1"]).await;
    let source = chinook_db("overlap");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server
        .job(
            "every minute",
            &ds,
            &storage,
            json!({"schedule_cron": "* * * * *"}),
        )
        .await;
    let locker = Locker::hold(&source.name, "track");
    let first = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = server
        .post(&format!("/api/backup-jobs/{job}/run"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&first),
        "{body}"
    );

    // The minute passes while the first run waits on the lock.
    let skipped = server
        .wait_for(
            "/api/notifications?type=backup_skipped",
            Duration::from_secs(90),
            |v| v["pagination"]["total"].as_i64().unwrap_or(0) >= 1,
        )
        .await;
    let note = &skipped["data"][0];
    assert_eq!(note["entity_id"], job.as_str(), "{note}");
    assert_eq!(
        note["metadata"]["active_execution_id"],
        first.as_str(),
        "{note}"
    );
    drop(locker);
    let done = server
        .wait_execution(&first, Duration::from_secs(120))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let all = server
        .get_ok(&format!("/api/backup-jobs/{job}/executions"))
        .await;
    let created: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["created_at"].as_str().unwrap() < done["finished_at"].as_str().unwrap())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        created,
        [first.as_str()],
        "nothing queued behind the active run: {all}"
    );
}
on_both_backends!(
    runs_of_one_job_never_overlap_,
    runs_of_one_job_never_overlap
);

/// SIGTERM stops taking work and lets running backups finish within the
/// grace period (`/health` answers 503 meanwhile); past it they are
/// cancelled with the reason and their files removed — never left for the
/// next start to fail.
async fn sigterm_drains_running_work(backend: Backend) {
    for (grace, finishes) in [("60", true), ("1", false)] {
        let mut server = TestServer::start_with(backend, &["--shutdown-grace-secs", grace]).await;
        let source = chinook_db("drain");
        let ds = server.pg_datasource("chinook", &source.name).await;
        let (storage, root) = server.local_storage("disk").await;
        let job = server.job("drained", &ds, &storage, json!({})).await;
        let locker = Locker::hold(&source.name, "track");
        let id = server
            .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
            .await["execution_id"]
            .as_str()
            .unwrap()
            .to_string();
        server
            .wait_for(
                &format!("/api/executions/{id}"),
                Duration::from_secs(30),
                |v| v["status"] == "running",
            )
            .await;
        server.terminate();
        let started = Instant::now();
        loop {
            let (status, body) = server.get("/health").await;
            if status == 503 {
                assert!(body.to_string().contains("draining"), "{body}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never draining"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if finishes {
            drop(locker);
            assert!(server.wait_exit(Duration::from_secs(60)).await.success());
        } else {
            assert!(server.wait_exit(Duration::from_secs(60)).await.success());
            drop(locker);
        }
        server.restart();
        let e = server.get_ok(&format!("/api/executions/{id}")).await;
        if finishes {
            assert_eq!(e["status"], "completed", "grace {grace}: {e}");
        } else {
            assert_eq!(
                e["status"],
                "cancelled",
                "grace {grace}: {e}\n{}",
                server.log_tail()
            );
            let message = e["error_message"].as_str().unwrap_or_default();
            assert!(message.contains("grace period"), "{message}");
            // Not even an empty folder for the job: its only run failed.
            assert!(
                !root.join(&job).exists(),
                "{:?} left behind",
                root.join(&job)
            );
        }
    }
}
on_both_backends!(sigterm_drains_running_work_, sigterm_drains_running_work);

async fn killed_mid_backup_ends_failed(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let source = chinook_db("kill");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server.job("interrupted", &ds, &storage, json!({})).await;

    let locker = Locker::hold(&source.name, "track");
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().unwrap().to_string();
    // Running, with its folder chosen, stuck behind the lock.
    let running = server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |v| v["status"] == "running" && v["backup_path"].is_string(),
        )
        .await;
    let folder = root.join(running["backup_path"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;

    server.kill();
    drop(locker);
    server.restart();

    let e = server.get_ok(&format!("/api/executions/{id}")).await;
    assert_eq!(e["status"], "failed", "{e}");
    let reason = e["error_message"].as_str().unwrap();
    assert!(
        reason.contains("interrupted") && reason.contains("server stopped"),
        "{reason}"
    );
    assert!(e["finished_at"].is_string());
    // Nothing of it counts as a backup, on disk or in the API.
    assert!(!folder.join("manifest.json").exists());
    assert!(!folder.exists(), "{folder:?} left behind");
    let listed = server
        .get_ok(&format!("/api/backups/datasources/{ds}"))
        .await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 0, "{listed}");
    let logs = server.get_ok(&format!("/api/executions/{id}/logs")).await;
    assert!(logs.to_string().contains("interrupted"), "{logs}");
    // Counted as a failed run, so a failure alert sees it.
    let metrics = server.metrics_text().await;
    assert!(
        metrics.contains(
            "dataguardian_executions_total{operation=\"backup\",status=\"failed\",\
             engine=\"postgres\",storage_type=\"local\"} 1"
        ),
        "{metrics}"
    );

    // The job is not stuck: the next run completes.
    let again = server.run_job(&job).await;
    assert_eq!(
        again["status"],
        "completed",
        "{again}\n{}",
        server.log_tail()
    );
}

on_both_backends!(sigkill_during_a_backup, killed_mid_backup_ends_failed);

async fn cancelling_a_running_backup(backend: Backend) {
    // One backup at a time, so a second job's run stays queued.
    let server = TestServer::start_with(backend, &["--backup-concurrency", "1"]).await;
    let source = chinook_db("cancel");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server.job("cancelled", &ds, &storage, json!({})).await;

    // The storage reports its free space (measured host-side).
    let t = server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(t["success"], true, "{t}");
    assert!(t["available_space_gb"].as_f64().unwrap() > 0.0, "{t}");

    let locker = Locker::hold(&source.name, "track");
    let run = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let id = run["execution_id"].as_str().unwrap().to_string();
    let running = server
        .wait_for(
            &format!("/api/executions/{id}"),
            Duration::from_secs(60),
            |v| v["status"] == "running" && v["backup_path"].is_string(),
        )
        .await;
    let folder = root.join(running["backup_path"].as_str().unwrap());

    // A queued execution (another job, waiting for the only slot) is
    // cancelled before it ever starts.
    let other = server.job("waiting", &ds, &storage, json!({})).await;
    let queued = server
        .post_ok(&format!("/api/backup-jobs/{other}/run"), &json!({}), 202)
        .await["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        server.get_ok(&format!("/api/executions/{queued}")).await["status"],
        "queued"
    );
    let (status, body) = server
        .post(&format!("/api/executions/{queued}/cancel"), &json!({}))
        .await;
    assert!(status == 200 || status == 202, "{status} {body}");
    let e = server
        .wait_execution(&queued, Duration::from_secs(30))
        .await;
    assert_eq!(e["status"], "cancelled", "{e}");
    assert!(e["started_at"].is_null(), "it never started: {e}");

    let (status, _) = server
        .post(&format!("/api/executions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 202);
    let e = server.wait_execution(&id, Duration::from_secs(30)).await;
    assert_eq!(e["status"], "cancelled", "{e}");
    assert!(!folder.exists(), "{folder:?} left behind");
    drop(locker);

    // Cancelling a finished execution is refused.
    let (status, err) = server
        .post(&format!("/api/executions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 409, "{err}");
    // The job runs again once the lock is gone.
    let again = server.run_job(&job).await;
    assert_eq!(again["status"], "completed", "{again}");
}

on_both_backends!(cancel_running_backup, cancelling_a_running_backup);

/// A double click: the second run of a job is refused while the first
/// is active (409 naming it); the first completes into its own folder.
async fn a_double_click_runs_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("twice");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server.job("double click", &ds, &storage, json!({})).await;
    let a = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await;
    let first = a["execution_id"].as_str().unwrap().to_string();
    let (status, body) = server
        .post(&format!("/api/backup-jobs/{job}/run"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&first),
        "{body}"
    );
    let e = server
        .wait_execution(&first, Duration::from_secs(120))
        .await;
    assert_eq!(e["status"], "completed", "{e}\n{}", server.log_tail());
    let second = server.run_job(&job).await;
    assert_eq!(second["status"], "completed", "{second}");
    let mut paths = Vec::new();
    for e in [e, second] {
        let path = e["backup_path"].as_str().unwrap().to_string();
        assert!(root.join(&path).join("manifest.json").is_file(), "{path}");
        paths.push(path);
    }
    assert_ne!(paths[0], paths[1]);

    // The explorer refuses to delete a backup's folder behind its record.
    let (status, v) = server
        .delete(&format!(
            "/api/storage-locations/{storage}/files?path={}",
            paths[0]
        ))
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = server
        .delete(&format!(
            "/api/storage-locations/{storage}/files?path={job}"
        ))
        .await;
    assert_eq!(status, 409, "{v}");
    assert!(root.join(&paths[0]).join("manifest.json").is_file());
}

on_both_backends!(double_click, a_double_click_runs_once);

/// A PostgreSQL metadata URL naming a database that does not exist yet:
/// the server creates it and starts (a first start needs no manual step).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_metadata_database_is_created() {
    use std::io::BufRead;
    let name = format!(
        "dgt_meta_new_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dataguardian"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", format!("{}/{name}", common::PG))
        .env("DG_PLUGIN_CACHE_DIR", common::shared_plugin_cache())
        .env("DG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let exists = psql(
        "postgres",
        &format!("select count(*) from pg_database where datname = '{name}'"),
    );
    psql(
        "postgres",
        &format!("drop database if exists \"{name}\" with (force)"),
    );
    assert!(
        line.contains("listening"),
        "did not start: {line:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(exists, "1");
}

/// Simultaneous run requests for one job queue one backup: the check and
/// the insert are one step (a unique index), the others get 409.
async fn simultaneous_runs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("simul");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("raced", &ds, &storage, json!({})).await;
    let locker = Locker::hold(&source.name, "track");
    let path = format!("/api/backup-jobs/{job}/run");
    let body = json!({});
    let answers = futures::future::join_all((0..8).map(|_| server.post(&path, &body))).await;
    drop(locker);
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    for (status, v) in &answers {
        assert!(*status == 202 || *status == 409, "{status} {v}");
    }
    let id = accepted[0]["execution_id"].as_str().expect("id");
    let e = server.wait_execution(id, Duration::from_secs(120)).await;
    assert_eq!(e["status"], "completed", "{e}");
}

on_both_backends!(simultaneous_runs_queue_one, simultaneous_runs);
