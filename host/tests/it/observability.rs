//! Observability against a real server: `/metrics` parsed by the Python
//! `prometheus_client` parser and moving when a backup runs, the system
//! monitor's history, and `GET /api/events` followed through a backup,
//! interrupted and resumed with `Last-Event-ID`.

use crate::common;
use crate::common::server::{chinook_db, Backend, TestServer};
use crate::common::sse::{read_until, EventClient, SseEvent};
use crate::common::Locker;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

/// One sample: (name, labels) → value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses an exposition with `prometheus_client`'s text parser (PyPI);
/// panics when it refuses it. Also returns each family's type.
fn parse_metrics(text: &str, dir: &std::path::Path) -> (Samples, BTreeMap<String, String>) {
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {"samples": [], "types": {}}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    out["types"][family.name] = family.type
    for s in family.samples:
        out["samples"].append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client refuses /metrics (pip install prometheus_client: scripts/test.sh):\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut samples = Samples::new();
    for s in v["samples"].as_array().unwrap() {
        let labels = s[1]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        samples.insert(
            (s[0].as_str().unwrap().to_string(), labels),
            s[2].as_f64().unwrap(),
        );
    }
    let types = v["types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap().to_string()))
        .collect();
    (samples, types)
}

async fn scrape(server: &TestServer) -> (Samples, BTreeMap<String, String>, String) {
    let resp = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = resp.text().await.unwrap();
    let (samples, types) = parse_metrics(&text, server.dir.path());
    (samples, types, text)
}

/// The value of `name` with exactly these labels (0 when absent).
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .get(&(name.to_string(), want))
        .copied()
        .unwrap_or(0.0)
}

/// Samples of `name` whose labels include `labels`.
fn matching<'a>(
    samples: &'a Samples,
    name: &'a str,
    labels: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = f64> + 'a {
    samples.iter().filter_map(move |((n, l), v)| {
        (n == name
            && labels
                .iter()
                .all(|(k, want)| l.get(*k).map(String::as_str) == Some(*want)))
        .then_some(*v)
    })
}

async fn metrics_parse_and_move_when_a_backup_runs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let source = chinook_db("obs_metrics");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    server
        .post_ok(
            &format!("/api/datasources/{ds}/health-check"),
            &json!({}),
            200,
        )
        .await;
    server
        .post_ok(
            &format!("/api/storage-locations/{storage}/test"),
            &json!({}),
            200,
        )
        .await;

    let (before, types, text) = scrape(&server).await;
    // Every series is ours; every counter ends in _total.
    for (name, _) in before.keys() {
        assert!(name.starts_with("dataguardian_"), "{name}\n{text}");
    }
    for (family, kind) in &types {
        if kind == "counter" {
            assert!(
                text.contains(&format!("# TYPE {family}_total counter")),
                "{family}"
            );
        }
    }
    let completed = [
        ("operation", "backup"),
        ("status", "completed"),
        ("engine", "postgres"),
        ("storage_type", "local"),
    ];
    let bytes_labels = [("operation", "backup"), ("engine", "postgres")];
    // The queue's depth is reported at 0 when it is empty.
    for kind in ["backup", "restore"] {
        for status in ["queued", "running"] {
            let depth: Vec<f64> = matching(
                &before,
                "dataguardian_queue_depth",
                &[("kind", kind), ("status", status)],
            )
            .collect();
            assert_eq!(depth, vec![0.0], "{kind} {status}\n{text}");
        }
    }
    let runs_before = value(&before, "dataguardian_executions_total", &completed);
    let bytes_before = value(&before, "dataguardian_execution_bytes_count", &bytes_labels);
    let up = [
        ("datasource_id", ds.as_str()),
        ("datasource", "chinook"),
        ("engine", "postgres"),
    ];
    assert_eq!(
        value(&before, "dataguardian_datasource_up", &up),
        1.0,
        "{text}"
    );
    let storage_labels = [
        ("storage_id", storage.as_str()),
        ("storage", "disk"),
        ("storage_type", "local"),
    ];
    assert_eq!(
        value(&before, "dataguardian_storage_up", &storage_labels),
        1.0,
        "{text}"
    );
    assert!(
        value(
            &before,
            "dataguardian_storage_available_bytes",
            &storage_labels
        ) > 1e6
    );

    let execution = server.run_job(&job).await;
    assert_eq!(execution["status"], "completed", "{execution}");

    // The run's figures are recorded just after its status: a scrape
    // within those milliseconds may not have them yet.
    let started = Instant::now();
    let (after, text) = loop {
        let (after, _, text) = scrape(&server).await;
        if value(&after, "dataguardian_executions_total", &completed) > runs_before
            || started.elapsed() > Duration::from_secs(10)
        {
            break (after, text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        value(&after, "dataguardian_executions_total", &completed),
        runs_before + 1.0,
        "{text}"
    );
    assert_eq!(
        value(&after, "dataguardian_execution_bytes_count", &bytes_labels),
        bytes_before + 1.0
    );
    assert_eq!(
        value(&after, "dataguardian_execution_bytes_sum", &bytes_labels),
        execution["compressed_size_bytes"].as_f64().unwrap()
    );
    let durations: f64 = matching(
        &after,
        "dataguardian_execution_duration_seconds_count",
        &[("operation", "backup"), ("status", "completed")],
    )
    .sum();
    assert_eq!(durations, 1.0);
    // The job's last success, at the execution's end.
    let last = value(
        &after,
        "dataguardian_last_successful_backup_timestamp_seconds",
        &[("job_id", job.as_str()), ("backup_job", "nightly")],
    );
    let finished = chrono::DateTime::parse_from_rfc3339(execution["finished_at"].as_str().unwrap())
        .unwrap()
        .timestamp() as f64;
    assert!((last - finished).abs() < 1.0, "{last} vs {finished}");
    // Plugin calls by plugin and export; HTTP by matched route.
    assert!(
        value(
            &after,
            "dataguardian_plugin_call_duration_seconds_count",
            &[("plugin", "postgres"), ("export", "backup")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            "dataguardian_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/backup-jobs/{id}/run"),
                ("status", "202")
            ]
        ),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains(&format!("route=\"/api/backup-jobs/{job}")),
        "raw URIs never become labels"
    );
    // System gauges are there once the monitor sampled.
    assert!(
        value(&after, "dataguardian_system_memory_total_bytes", &[]) > 0.0,
        "{text}"
    );
    assert!(value(&after, "dataguardian_runtime_workers", &[]) >= 1.0);
}
on_both_backends!(
    metrics_parse_and_move_when_a_backup_runs_,
    metrics_parse_and_move_when_a_backup_runs
);

#[tokio::test]
async fn monitor_history_has_the_configured_size() {
    let mut server = TestServer::start_with(
        Backend::Sqlite,
        &[
            "--system-monitor-interval-ms",
            "100",
            "--system-monitor-history-size",
            "5",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let v = server.get_ok("/api/dashboard/overview").await;
    // The fields that were there before are still there.
    for field in [
        "datasources_total",
        "jobs_total",
        "totals",
        "last_executions",
        "next_runs",
    ] {
        assert!(!v[field].is_null(), "{field}: {v}");
    }
    let perf = &v["performance"];
    assert_eq!(perf["machine"]["history_size"], 5, "{perf}");
    assert_eq!(perf["machine"]["interval_ms"], 100);
    assert!(perf["machine"]["cpus"].as_u64().unwrap() >= 1);
    let history = perf["history"].as_array().unwrap();
    assert_eq!(history.len(), 5, "{perf}");
    let stamps: Vec<&str> = history
        .iter()
        .map(|s| s["timestamp"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert_eq!(perf["current"], history[4]);
    let current = &perf["current"];
    assert!(current["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(current["process_rss_bytes"].as_u64().unwrap() > 0);
    assert!(current["cpu_percent"].is_number(), "{current}");
    assert_eq!(current["load_average"].as_array().unwrap().len(), 3);
    let pool = &v["thread_pool"];
    assert!(pool["size"].as_u64().unwrap() >= 1, "{pool}");
    assert!(
        pool["queued"].is_u64() && pool["alive_tasks"].is_u64(),
        "{pool}"
    );

    // An open event stream does not keep the server from stopping.
    let mut events = EventClient::connect(&server, None).await;
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
    assert!(events.closed_within(Duration::from_secs(5)).await);
}

fn ids_contiguous(events: &[SseEvent]) {
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e.id.expect("every event has an id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids not contiguous: {ids:?}"
    );
}

/// A caller sees only the events it may read: a token limited to
/// `datasources:read` gets the datasource's status change (recorded by the
/// backup's connection test) and none of the execution events before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_filtered_by_what_the_caller_may_read() {
    let server = TestServer::start(Backend::Sqlite).await;
    let narrow = server.token_of("admin", "datasources only", &["datasources:read"]);
    let source = common::TempDb::new("evfilter");
    common::psql(
        &source.name,
        "create table t (x int); insert into t values (1)",
    );
    let ds = server.pg_datasource("filtered", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server
        .job("filtered nightly", &ds, &storage, json!({}))
        .await;
    let mut limited = EventClient::connect_as(&server, &narrow, None).await;
    let mut full = EventClient::connect(&server, None).await;
    let done = server.run_job(&job).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The backup's connection test recorded the datasource healthy: the
    // admin's stream carries that and the execution's events...
    let mut all = Vec::new();
    read_until(&mut full, &mut all, |e| e.kind == "datasource_status").await;
    assert!(all.iter().any(|e| e.kind == "execution_status"), "{all:?}");
    // ...the narrow one only the datasource's, first.
    let first = limited.next(Duration::from_secs(30)).await;
    assert_eq!(first.kind, "datasource_status", "{first:?}");
    assert_eq!(first.data["datasource_id"], ds.as_str());
}

/// A stream ends once its token is revoked (checked every 15 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_token_is_revoked() {
    let server = TestServer::start(Backend::Sqlite).await;
    let token = server.token_of("admin", "watcher", &[]);
    let mut stream = EventClient::connect_as(&server, &token, None).await;
    let (_, tokens) = server.get("/api/tokens").await;
    let id = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "watcher")
        .expect("listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = server.delete(&format!("/api/tokens/{id}")).await;
    assert_eq!(status, 204);
    assert!(
        stream.closed_within(Duration::from_secs(30)).await,
        "the stream outlived its token"
    );
}

#[tokio::test]
async fn events_follow_a_backup_and_resume_without_loss() {
    let server = TestServer::start(Backend::Sqlite).await;
    let source = chinook_db("obs_events");
    let ds = server.pg_datasource("chinook", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("watched", &ds, &storage, json!({})).await;

    let mut first = EventClient::connect(&server, None).await;
    // pg_dump waits behind the lock: the backup stays running.
    let locker = Locker::hold(&source.name, "track");
    let id = server
        .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
        .await["execution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = |e: &SseEvent| e.data["execution_id"] == id.as_str();
    let mut seen = Vec::new();
    let mut progress = 0;
    read_until(&mut first, &mut seen, |e| {
        if ours(e) && e.kind == "execution_progress" {
            progress += 1;
        }
        progress == 2
    })
    .await;
    // Disconnect mid-run; events go on meanwhile.
    drop(first);
    let last_seen = seen.last().unwrap().id.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(locker);
    let done = server.wait_execution(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");

    let mut resumed = EventClient::connect(&server, Some(last_seen)).await;
    let mut replayed = Vec::new();
    read_until(&mut resumed, &mut replayed, |e| {
        ours(e) && e.kind == "execution_status" && e.data["status"] == "completed"
    })
    .await;
    assert!(
        replayed.iter().all(|e| e.kind != "events_lost"),
        "{replayed:?}"
    );
    assert_eq!(
        replayed[0].id,
        Some(last_seen + 1),
        "the replay starts right after"
    );
    let mut all = seen.clone();
    all.extend(replayed.iter().cloned());
    ids_contiguous(&all);

    // Our execution's story, in order: queued → running → progress… →
    // completed, with progress published while we were away too.
    let story: Vec<String> = all
        .iter()
        .filter(|e| ours(e))
        .map(|e| match e.kind.as_str() {
            "execution_status" => e.data["status"].as_str().unwrap().to_string(),
            other => other.to_string(),
        })
        .collect();
    let mut compact = story.clone();
    compact.dedup();
    assert_eq!(
        compact,
        ["queued", "running", "execution_progress", "completed"],
        "{story:?}"
    );
    let away = replayed
        .iter()
        .filter(|e| ours(e) && e.kind == "execution_progress")
        .count();
    assert!(away >= 2, "progress while disconnected: {replayed:?}");
    // Entities are named; progress carries bytes and a rate.
    let status = all
        .iter()
        .find(|e| ours(e) && e.kind == "execution_status")
        .unwrap();
    assert_eq!(status.data["job_id"], job.as_str());
    assert_eq!(status.data["datasource_id"], ds.as_str());
    assert_eq!(status.data["operation"], "backup");
    let p = all
        .iter()
        .find(|e| ours(e) && e.kind == "execution_progress")
        .unwrap();
    assert!(
        p.data["bytes"].is_u64() && p.data["bytes_per_second"].is_number(),
        "{p:?}"
    );
    // Names beside the ids, and one progress shape: the event carries
    // every field of the execution detail's `progress` (the Progress
    // schema of the API document).
    assert_eq!(p.data["job_name"], "watched", "{p:?}");
    assert_eq!(p.data["datasource_name"], "chinook", "{p:?}");
    let doc = server.get_ok("/api/openapi.json").await;
    let fields = doc["components"]["schemas"]["Progress"]["properties"]
        .as_object()
        .expect("Progress schema")
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    for field in [
        "bytes",
        "total_bytes",
        "percent",
        "bytes_per_second",
        "eta_seconds",
        "phase",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    for field in &fields {
        assert!(p.data.get(field).is_some(), "{field} missing from {p:?}");
    }
    // A backup's total is estimated from the database's size (learnt at
    // its connection test), so its progress has a percent.
    assert!(
        all.iter()
            .filter(|e| ours(e) && e.kind == "execution_progress")
            .any(|e| e.data["total_bytes"].is_u64() && e.data["percent"].is_number()),
        "no backup progress with a total: {all:?}"
    );
    let completed = replayed.last().unwrap();
    assert_eq!(completed.data["size_bytes"], done["size_bytes"]);

    // An id older than anything kept (a previous process's) is reported.
    let mut stale = EventClient::connect(&server, Some(1)).await;
    let e = stale.next(Duration::from_secs(10)).await;
    assert_eq!(e.kind, "events_lost", "{e:?}");
    assert_eq!(e.data["last_event_id"], 1);
    // A malformed id is refused.
    let bad = server
        .http
        .get(server.url("/api/events"))
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// The alert rules of docs/OBSERVABILITY.md, as pasted.
fn documented_rules() -> String {
    let doc = std::fs::read_to_string(common::repo_root().join("docs/OBSERVABILITY.md"))
        .expect("docs/OBSERVABILITY.md");
    // The block of alert rules (another shows the scrape configuration).
    doc.split("```yaml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .find(|block| block.contains("groups:"))
        .expect("a yaml block of alert rules")
        .to_string()
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A real Prometheus (Debian's package) scrapes the server with a
/// standard scrape config: the documented rules pass `promtool`, the
/// series keep their `backup_job` label beside Prometheus's own `job`, and
/// the "backup missing" expression returns the job once its last success
/// is 27 hours old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_and_the_backup_missing_rule_fires() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, documented_rules()).unwrap();
    let checked = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (apt-get install prometheus: scripts/test.sh)");
    assert!(
        checked.status.success(),
        "promtool refuses the documented rules:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let server = TestServer::start(Backend::Postgres).await;
    let source = common::TempDb::new("prom");
    common::psql(
        &source.name,
        "create table t (x int); insert into t values (1)",
    );
    let ds = server.pg_datasource("shop", &source.name).await;
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("shop nightly", &ds, &storage, json!({})).await;
    let done = server.run_job(&job).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The last success happened 27 hours ago.
    common::psql(
        server.meta_db_name().expect("postgres metadata"),
        &format!(
            "update backup_executions set started_at = now() - interval '27 hours', \
             finished_at = now() - interval '27 hours' where job_id = '{job}'"
        ),
    );

    let target = server.base.trim_start_matches("http://").to_string();
    // As docs/SECURITY.md says: a token that may read metrics only.
    let credentials = dir.path().join("dataguardian.token");
    std::fs::write(
        &credentials,
        server.token_of("admin", "prometheus", &["metrics:read"]),
    )
    .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{}]\n\
             scrape_configs:\n  - job_name: dataguardian\n    authorization:\n      credentials_file: {}\n    static_configs:\n      - targets: ['{target}']\n",
            rules.display(),
            credentials.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus (apt-get install prometheus: scripts/test.sh)");

    let http = reqwest::Client::new();
    let query = |expr: &str| {
        let http = http.clone();
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        let expr = expr.to_string();
        async move {
            let answer = http
                .get(&url)
                .query(&[("query", expr.as_str())])
                .send()
                .await
                .ok()?;
            let v: Value = answer.json().await.ok()?;
            let result = v["data"]["result"].as_array()?.clone();
            (!result.is_empty()).then_some(result)
        }
    };
    let rule = "time() - dataguardian_last_successful_backup_timestamp_seconds\
                {backup_job=\"shop nightly\"} > 26 * 3600";
    let started = Instant::now();
    let fired = loop {
        if let Some(result) = query(rule).await {
            break result;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the backup-missing expression never returned the job"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let series = query("dataguardian_last_successful_backup_timestamp_seconds")
        .await
        .expect("the series is scraped");
    let _ = prometheus.kill();
    let _ = prometheus.wait();

    assert_eq!(fired.len(), 1, "{fired:?}");
    let labels = &series[0]["metric"];
    assert_eq!(labels["backup_job"], "shop nightly", "{labels}");
    assert_eq!(
        labels["job"], "dataguardian",
        "the scrape job keeps its label: {labels}"
    );
    assert!(labels.get("exported_job").is_none(), "{labels}");
}

/// A datasource's status is known without waiting for the health
/// interval: a backup's passed connection test counts as a health check,
/// and at start the server checks what was never checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_known_from_the_first_backup_and_from_start() {
    let mut server = TestServer::start(Backend::Sqlite).await;
    let source = common::TempDb::new("known");
    common::psql(&source.name, "create table t (x int)");
    let ds = server.pg_datasource("shop", &source.name).await;
    let before = server.get_ok(&format!("/api/datasources/{ds}")).await;
    assert_eq!(before["status"], "unknown", "{before}");
    let (storage, _) = server.local_storage("disk").await;
    let job = server.job("shop nightly", &ds, &storage, json!({})).await;
    let done = server.run_job(&job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let after = server.get_ok(&format!("/api/datasources/{ds}")).await;
    assert_eq!(after["status"], "healthy", "{after}");
    let up = server.metrics_text().await;
    assert!(
        up.contains(&format!(
            "dataguardian_datasource_up{{datasource_id=\"{ds}\",datasource=\"shop\",engine=\"postgres\"}} 1"
        )),
        "{up}"
    );

    // Never checked before a restart: checked at start, not an interval
    // later (the test servers' interval is an hour).
    let other = server.pg_datasource("other", &source.name).await;
    server.restart();
    let checked = server
        .wait_for(
            &format!("/api/datasources/{other}"),
            Duration::from_secs(30),
            |v| v["status"] != "unknown",
        )
        .await;
    assert_eq!(checked["status"], "healthy", "{checked}");
}
