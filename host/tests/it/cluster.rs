//! Production mode: several `serve` nodes on one PostgreSQL metadata
//! database and a Redis queue the test starts on its own port. A leader
//! killed between two due times, Redis lost mid-run (with its data), and
//! cancel, live events and notifications crossing nodes.

use crate::common::receiver::Receiver;
use crate::common::redis::RedisServer;
use crate::common::server::{Backend, TestServer};
use crate::common::sse::EventClient;
use crate::common::{psql, Locker, TempDb};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The flags every node of these tests runs with: the test's Redis, a
/// scheduler tick of one second (so the leader lease lasts three) and a
/// short staleness (a dead node's work is failed quickly).
fn node_flags(redis: &RedisServer) -> Vec<String> {
    [
        "--redis-url",
        &redis.url(),
        "--scheduler-tick-secs",
        "1",
        "--stale-after-secs",
        "10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

async fn cluster(redis: &RedisServer, size: usize, more: &[&str]) -> Vec<TestServer> {
    let mut flags = node_flags(redis);
    flags.extend(more.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let first = TestServer::start_with(Backend::Postgres, &flags).await;
    let mut nodes = Vec::new();
    for _ in 1..size {
        nodes.push(TestServer::second_node(&first, &flags).await);
    }
    nodes.insert(0, first);
    nodes
}

async fn node_id(node: &TestServer) -> String {
    node.get_ok("/api/health").await["node_id"]
        .as_str()
        .expect("node_id")
        .to_string()
}

/// The name of the metadata database the nodes share (the first node
/// owns it, and it outlives that node's process).
fn meta_db(nodes: &[TestServer]) -> String {
    nodes[0]
        .meta_db_name()
        .expect("the first node owns the metadata database")
        .to_string()
}

/// The metadata database's answer to `sql`, one line per row.
fn meta(db: &str, sql: &str) -> String {
    psql(db, sql)
}

fn meta_count(db: &str, sql: &str) -> i64 {
    meta(db, sql).trim().parse().expect("a count")
}

/// Waits until `sql` (a count) reaches `n`.
async fn wait_count(db: &str, sql: &str, n: i64, timeout: Duration) {
    let started = Instant::now();
    loop {
        let got = meta_count(db, sql);
        if got >= n {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "`{sql}` is {got}, not {n}, after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A files datasource over a small directory (a backup takes a moment).
async fn small_files(node: &TestServer, name: &str) -> String {
    let dir = node.dir.path().join(format!("site-{name}"));
    std::fs::create_dir_all(&dir).expect("site dir");
    for i in 0..3 {
        std::fs::write(dir.join(format!("page{i}.html")), format!("page {i}")).expect("page");
    }
    node.create(
        "/api/datasources",
        &json!({"name": name, "type": "files", "connection_config": {"path": dir}}),
    )
    .await
}

/// Three nodes, three jobs due every minute. The leader is killed with
/// SIGKILL between two due times: another node leads within the lease
/// (three ticks), every due run of every job happens exactly once (one
/// execution per job and `scheduled_for`, one attempt each), and nothing
/// is left queued or running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_due_run_happens_once_when_the_leader_is_killed() {
    let redis = RedisServer::start();
    let mut nodes = cluster(&redis, 3, &[]).await;
    let db = meta_db(&nodes);
    let ds = small_files(&nodes[0], "site").await;
    let (storage, _) = nodes[0].local_storage("disk").await;
    for name in ["every minute a", "every minute b", "every minute c"] {
        nodes[0]
            .job(name, &ds, &storage, json!({"schedule_cron": "* * * * *"}))
            .await;
    }
    let listed = nodes[1].get_ok("/api/system/nodes").await;
    let data = listed["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{listed}");
    assert_eq!(
        data.iter().filter(|n| n["self"] == true).count(),
        1,
        "{listed}"
    );
    assert!(listed["pagination"].is_object(), "{listed}");

    // The first due time: one run per job.
    let completed = "select count(*) from backup_executions where trigger_type = 'scheduled' \
                     and status = 'completed'";
    wait_count(&db, completed, 3, Duration::from_secs(90)).await;

    // Kill the leader (no shutdown code runs).
    let ids: Vec<String> = futures::future::join_all(nodes.iter().map(node_id)).await;
    let leader = nodes[0]
        .wait_for("/api/system/nodes", Duration::from_secs(10), |v| {
            v["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|n| n["leader"] == true))
        })
        .await["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|n| n["leader"] == true)
        .expect("a leader")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let at = ids
        .iter()
        .position(|i| *i == leader)
        .expect("leader is a node");
    let mut dead = nodes.remove(at);
    dead.kill();
    let killed = Instant::now();
    // Another node leads within the lease (3 s) and a tick.
    let after = nodes[0]
        .wait_for("/api/system/nodes", Duration::from_secs(10), |v| {
            v["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|n| n["leader"] == true && n["id"] != *leader))
        })
        .await;
    let takeover = killed.elapsed();
    assert!(
        takeover < Duration::from_secs(6),
        "takeover took {takeover:?}: {after}"
    );
    let dead_row = after["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|n| n["id"] == *leader)
        .cloned()
        .expect("a killed node stays listed");
    assert_eq!(dead_row["leader"], false, "{after}");

    // The next due time, run by the survivors.
    wait_count(&db, completed, 6, Duration::from_secs(100)).await;
    let rows = meta(
        &db,
        "select job_id || ' ' || to_char(scheduled_for at time zone 'UTC', 'HH24:MI:SS') \
         || ' ' || status from backup_executions where trigger_type = 'scheduled' order by 1",
    );
    let mut per_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in rows.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (job, due, status) = (
            parts.next().expect("job"),
            parts.next().expect("due"),
            parts.next().expect("status"),
        );
        assert_eq!(status, "completed", "{rows}");
        assert!(due.ends_with(":00"), "runs are for whole minutes: {rows}");
        per_job.entry(job.into()).or_default().push(due.into());
    }
    assert_eq!(per_job.len(), 3, "{rows}");
    for (job, dues) in &per_job {
        let distinct: BTreeSet<&String> = dues.iter().collect();
        assert_eq!(
            distinct.len(),
            dues.len(),
            "job {job} ran a due time twice: {rows}"
        );
        assert!((2..=3).contains(&dues.len()), "job {job}: {rows}");
    }
    assert_eq!(
        meta_count(
            &db,
            "select count(*) from work_items where attempts <> 1 or status <> 'done'"
        ),
        0,
        "{}",
        meta(
            &db,
            "select id, status, attempts, claimed_by from work_items"
        )
    );
    assert_eq!(
        meta_count(
            &db,
            "select count(*) from backup_executions where status in ('queued', 'running')"
        ),
        0
    );
}

/// Redis goes away mid-run and comes back empty. While it is down: a run
/// or a restore asked for is refused with 503 `queue_unavailable` and
/// nothing recorded, `/api/health` says the queue is unavailable, a
/// health check still answers, running backups finish. When it is back:
/// the backups queued before the outage run, once each, with nothing
/// done by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_pauses_work_and_loses_nothing() {
    let mut redis = RedisServer::start();
    let nodes = cluster(&redis, 2, &["--backup-concurrency", "1"]).await;
    let db = meta_db(&nodes);
    let source = TempDb::new("outage");
    psql(
        &source.name,
        "create table t (x int); insert into t select generate_series(1, 100)",
    );
    let ds = nodes[0].pg_datasource("held", &source.name).await;
    let (storage, _) = nodes[0].local_storage("disk").await;
    let mut jobs = Vec::new();
    for i in 0..6 {
        jobs.push(
            nodes[0]
                .job(&format!("job {i}"), &ds, &storage, json!({}))
                .await,
        );
    }
    let locker = Locker::hold(&source.name, "t");
    let mut runs = Vec::new();
    for job in &jobs[..5] {
        let accepted = nodes[1]
            .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
            .await;
        runs.push(accepted["execution_id"].as_str().expect("id").to_string());
    }
    // One backup per node runs (held by the lock); three wait queued.
    wait_count(
        &db,
        "select count(*) from backup_executions where status = 'running'",
        2,
        Duration::from_secs(60),
    )
    .await;

    redis.stop();
    for node in &nodes {
        node.wait_for("/api/health", Duration::from_secs(15), |v| {
            v["queue_status"] == "unavailable"
        })
        .await;
    }
    let health = nodes[0].get_ok("/api/health").await;
    assert_eq!(health["queue_backend"], "redis", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["queue_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("127.0.0.1:{}", redis.port))),
        "{health}"
    );
    let before = meta_count(&db, "select count(*) from backup_executions");
    let (status, body) = nodes[0]
        .post(&format!("/api/backup-jobs/{}/run", jobs[5]), &json!({}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "queue_unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Redis")),
        "{body}"
    );
    // Health checks go on.
    let (status, checked) = nodes[1]
        .post(&format!("/api/datasources/{ds}/health-check"), &json!({}))
        .await;
    assert_eq!(status, 200, "{checked}");

    // The running backups finish during the outage; a restore of one is
    // refused like a run.
    drop(locker);
    wait_count(
        &db,
        "select count(*) from backup_executions where status = 'completed'",
        2,
        Duration::from_secs(60),
    )
    .await;
    let done = meta(
        &db,
        "select id from backup_executions where status = 'completed' limit 1",
    );
    let (status, body) = nodes[1]
        .post(
            &format!("/api/backups/{}/restore", done.trim()),
            &json!({"target_datasource_id": ds, "confirm_overwrite": true}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "queue_unavailable", "{body}");
    assert_eq!(
        meta_count(&db, "select count(*) from backup_executions"),
        before,
        "a refused run or restore left a row"
    );
    // The three queued before the outage are still queued: nothing could
    // take them.
    assert_eq!(
        meta_count(
            &db,
            "select count(*) from backup_executions where status = 'queued'"
        ),
        3
    );

    // Back, with nothing of what it held.
    redis.restart(false);
    for id in &runs {
        let ended = nodes[0].wait_execution(id, Duration::from_secs(90)).await;
        assert_eq!(ended["status"], "completed", "{ended}");
    }
    for node in &nodes {
        node.wait_for("/api/health", Duration::from_secs(15), |v| {
            v["queue_status"] == "ok"
        })
        .await;
    }
    let again = nodes[0].run_job(&jobs[5]).await;
    assert_eq!(again["status"], "completed", "{again}");
    // Once each: one execution per job, one attempt per item.
    assert_eq!(
        meta(
            &db,
            "select count(*) || ' ' || count(distinct job_id) from backup_executions \
             where operation = 'backup'"
        )
        .trim(),
        "6 6"
    );
    assert_eq!(
        meta_count(
            &db,
            "select count(*) from work_items where attempts <> 1 or status <> 'done'"
        ),
        0,
        "{}",
        meta(&db, "select id, status, attempts from work_items")
    );
    let log = nodes.iter().map(|n| n.log()).collect::<String>();
    assert!(
        log.contains("were missing from Redis"),
        "the hand-over from the database is logged"
    );
}

fn events_of<'a>(events: &'a [crate::common::sse::SseEvent], id: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| {
            e.data["execution_id"] == id || (e.kind == "notification" && e.data["entity_id"] == id)
        })
        .map(|e| e.kind.as_str())
        .collect()
}

/// Whichever node does the work, every node's event stream shows it and
/// its notification, the notification is delivered once, the metrics of
/// every node know the backup, and a cancel through another node stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_events_and_notifications_cross_nodes() {
    let redis = RedisServer::start();
    let nodes = cluster(&redis, 3, &[]).await;
    let db = meta_db(&nodes);
    let hook = Receiver::start().await;
    let channel = nodes[0]
        .create(
            "/api/notification-channels",
            &json!({"name": "ops", "type": "webhook",
                "config": {"url": format!("{}/hook", hook.url)},
                "events": ["backup_completed"], "suppress_minutes": 0}),
        )
        .await;
    let ds = small_files(&nodes[0], "site").await;
    let (storage, _) = nodes[0].local_storage("disk").await;
    let job = nodes[0].job("watched", &ds, &storage, json!({})).await;
    let mut streams = Vec::new();
    for node in &nodes {
        streams.push(EventClient::connect(node, None).await);
    }

    let done = nodes[1].run_job(&job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let id = done["id"].as_str().expect("id").to_string();
    for (n, stream) in streams.iter_mut().enumerate() {
        let mut seen: Vec<crate::common::sse::SseEvent> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let kinds = events_of(&seen, &id);
            if kinds.contains(&"notification")
                && seen
                    .iter()
                    .any(|e| e.data["execution_id"] == id && e.data["status"] == "completed")
            {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            seen.push(stream.next(left).await);
        }
        let kinds = events_of(&seen, &id);
        assert!(kinds.contains(&"execution_status"), "node {n}: {kinds:?}");
    }
    // Delivered once, by whichever node sent it.
    let got = hook.wait_for(1, Duration::from_secs(30)).await;
    let deliveries = nodes[2]
        .wait_for(
            &format!("/api/notification-deliveries?channel_id={channel}"),
            Duration::from_secs(30),
            |v| {
                v["data"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x["status"] == "delivered"))
            },
        )
        .await;
    assert_eq!(
        deliveries["data"].as_array().expect("data").len(),
        1,
        "{deliveries}"
    );
    assert_eq!(got.len(), 1);
    assert_eq!(hook.received().len(), 1, "one delivery, not one per node");
    // Every node's metrics know the backup (the gauges read the database).
    for node in &nodes {
        let text = node.metrics_text().await;
        assert!(
            text.lines().any(|l| l.contains("last_successful_backup_timestamp_seconds")
                && l.contains(&job)),
            "{text}"
        );
    }

    // A backup held by a lock, cancelled through a node that is not
    // running it.
    let source = TempDb::new("crosscancel");
    psql(
        &source.name,
        "create table t (x int); insert into t values (1)",
    );
    let held_ds = nodes[0].pg_datasource("held", &source.name).await;
    let held_job = nodes[0].job("held", &held_ds, &storage, json!({})).await;
    let locker = Locker::hold(&source.name, "t");
    let accepted = nodes[0]
        .post_ok(&format!("/api/backup-jobs/{held_job}/run"), &json!({}), 202)
        .await;
    let held = accepted["execution_id"].as_str().expect("id").to_string();
    nodes[0]
        .wait_for(
            &format!("/api/executions/{held}"),
            Duration::from_secs(60),
            |v| v["status"] == "running",
        )
        .await;
    let runner = meta(
        &db,
        &format!("select claimed_by from work_items where execution_id = '{held}'"),
    );
    let mut other = None;
    for node in &nodes {
        if node_id(node).await != runner.trim() {
            other = Some(node);
            break;
        }
    }
    let other = other.expect("a node not running it");
    other
        .post_ok(&format!("/api/executions/{held}/cancel"), &json!({}), 202)
        .await;
    let ended = other.wait_execution(&held, Duration::from_secs(30)).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    drop(locker);
}
