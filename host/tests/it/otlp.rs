//! Log and trace shipping over OTLP/HTTP: a real server exports to a
//! local receiver, whose requests are decoded with the OpenTelemetry
//! protocol's own protobuf definitions.

use crate::common;
use crate::common::receiver::{Received, Receiver};
use crate::common::server::{chinook_db, Backend, TestServer};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use serde_json::json;
use std::time::{Duration, Instant};

/// One shipped log record, flattened.
#[derive(Debug)]
struct Record {
    service: String,
    severity: String,
    body: String,
    attributes: Vec<(String, String)>,
}

impl Record {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

fn service(resource: &Option<opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    let attributes = resource.as_ref().map(|r| pairs(&r.attributes));
    attributes
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn log_records(requests: &[Received]) -> Vec<Record> {
    let mut out = Vec::new();
    for r in requests.iter().filter(|r| r.path == "/ingest/otlp/v1/logs") {
        let export = ExportLogsServiceRequest::decode(r.body.as_slice()).expect("OTLP logs");
        for resource in export.resource_logs {
            let service = service(&resource.resource);
            for scope in resource.scope_logs {
                for record in scope.log_records {
                    out.push(Record {
                        service: service.clone(),
                        severity: record.severity_text.clone(),
                        body: text(&record.body),
                        attributes: pairs(&record.attributes),
                    });
                }
            }
        }
    }
    out
}

/// Attributes as (key, value as text).
type Attributes = Vec<(String, String)>;

/// (service, span name, attributes) of every shipped span.
fn spans(requests: &[Received]) -> Vec<(String, String, Attributes)> {
    let mut out = Vec::new();
    for r in requests
        .iter()
        .filter(|r| r.path == "/ingest/otlp/v1/traces")
    {
        let export = ExportTraceServiceRequest::decode(r.body.as_slice()).expect("OTLP traces");
        for resource in export.resource_spans {
            let service = service(&resource.resource);
            for scope in resource.scope_spans {
                for span in scope.spans {
                    out.push((service.clone(), span.name, pairs(&span.attributes)));
                }
            }
        }
    }
    out
}

/// Waits until `found` holds for what arrived; panics after 20 s.
async fn wait_until(receiver: &Receiver, what: &str, found: impl Fn(&[Received]) -> bool) {
    let started = Instant::now();
    loop {
        if found(&receiver.received()) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never shipped: {what}; got {:?}",
            log_records(&receiver.received())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_traces_ship_with_their_execution_and_flush_at_exit() {
    let receiver = Receiver::start().await;
    receiver.answer(200, "");
    let endpoint = format!("{}/ingest/otlp", receiver.url);
    let mut server = TestServer::start_with(
        Backend::Sqlite,
        &[
            "--otlp-endpoint",
            &endpoint,
            "--otlp-header",
            "X-Seq-ApiKey=otlp-key-7c1",
        ],
    )
    .await;
    let source = chinook_db("otlp_ship");
    let (storage, _) = server.local_storage("disk").await;
    let password = "otlp-pw-5e9a";
    let ds = server
        .pg_datasource_with_password("chinook", &source.name, password)
        .await;
    let job = server.job("nightly", &ds, &storage, json!({})).await;
    let good = server.run_job(&job).await;
    assert_eq!(good["status"], "completed", "{good}");
    let good_id = good["id"].as_str().unwrap().to_string();

    // A backup that fails: its error is shipped at ERROR with the execution.
    let missing = server
        .pg_datasource_with_password("gone", "otlp_no_such_db", password)
        .await;
    let bad_job = server.job("broken", &missing, &storage, json!({})).await;
    let bad = server.run_job(&bad_job).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    let bad_id = bad["id"].as_str().unwrap().to_string();

    let of = |id: String| {
        move |got: &[Received]| {
            log_records(got)
                .iter()
                .any(|r| r.attribute("execution_id") == Some(id.as_str()))
        }
    };
    wait_until(&receiver, "the good execution's logs", of(good_id.clone())).await;
    wait_until(&receiver, "the failed execution's logs", of(bad_id.clone())).await;
    let got = receiver.received();
    let records = log_records(&got);
    let good_lines: Vec<&Record> = records
        .iter()
        .filter(|r| r.attribute("execution_id") == Some(good_id.as_str()))
        .collect();
    assert!(
        good_lines
            .iter()
            .all(|r| r.service == "dataguardian" && r.attribute("operation") == Some("backup")),
        "{good_lines:?}"
    );
    let failure = records
        .iter()
        .find(|r| r.attribute("execution_id") == Some(bad_id.as_str()) && r.severity == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR record of {bad_id}: {records:?}"));
    let error = bad["error_message"].as_str().unwrap();
    assert!(failure.body.contains(error), "{failure:?} vs {error}");

    // Each execution is a span with its id.
    wait_until(&receiver, "the execution spans", |got| {
        spans(got).iter().any(|(_, name, a)| {
            name == "execution" && a.iter().any(|(k, v)| k == "execution_id" && *v == bad_id)
        })
    })
    .await;
    let got = receiver.received();
    let shipped = spans(&got);
    assert!(
        shipped
            .iter()
            .any(|(service, name, a)| service == "dataguardian"
                && name == "execution"
                && a.contains(&("execution_id".into(), good_id.clone()))
                && a.contains(&("operation".into(), "backup".into()))),
        "{shipped:?}"
    );

    // Every export is OTLP protobuf with the operator's header; neither
    // the datasource's password nor that header is ever in what is said.
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/x-protobuf")
        );
        assert_eq!(r.header("x-seq-apikey").as_deref(), Some("otlp-key-7c1"));
        assert!(
            !r.body
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password was shipped"
        );
    }
    let said = server.everything_said(&[&good_id, &bad_id]).await;
    assert!(!said.contains(password));
    assert!(!said.contains("otlp-key-7c1"));

    // A graceful stop ships what was still batched: its last line.
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    wait_until(&receiver, "the last line before exit", |got| {
        log_records(got).iter().any(|r| r.body == "shutting down")
    })
    .await;
}

#[test]
fn a_bad_endpoint_or_header_stops_the_start_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (
            vec!["--otlp-endpoint", "seq:5341", "plugin", "list"],
            "--otlp-endpoint",
        ),
        (
            vec![
                "--otlp-endpoint",
                "http://seq",
                "--otlp-header",
                "X-Seq-ApiKey",
                "plugin",
                "list",
            ],
            "--otlp-header",
        ),
    ] {
        let out = common::dg(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("error: {flag}:")), "{stderr}");
    }
}
