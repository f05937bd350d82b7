//! Optional shipping of logs and traces over OTLP/HTTP (protobuf), the
//! protocol SEQ, Grafana Loki/Tempo, Jaeger and the OpenTelemetry
//! Collector ingest. Off unless `--otlp-endpoint` is set.
//!
//! The SDK's batch processors export from their own threads, outside the
//! async runtime; the HTTP request itself runs on the runtime (see
//! [`RuntimeClient`]), so no second HTTP stack or runtime is needed.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_appender_tracing::layer::{OpenTelemetryTracingBridge, TracingSpanAttributes};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::time::Duration;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where and how to ship, from `--otlp-endpoint` / `--otlp-header`.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Base URL; `/v1/logs` and `/v1/traces` are appended.
    pub endpoint: url::Url,
    /// Sent with every export (e.g. SEQ's `X-Seq-ApiKey`); never logged.
    pub headers: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("--otlp-endpoint: {0}")]
    Endpoint(String),
    #[error("--otlp-header: {0}")]
    Header(String),
    #[error("building the OTLP exporter: {0}")]
    Exporter(String),
}

/// Most time one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long records wait to be batched: near-live in a log viewer.
const BATCH_DELAY: Duration = Duration::from_secs(1);
/// Most bytes of a collector's answer read (it is a short protobuf).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

impl OtlpConfig {
    /// Checks the flags' values; errors name the flag. `None` when no
    /// endpoint is set (shipping off).
    pub fn parse(endpoint: Option<&str>, headers: &[String]) -> Result<Option<Self>, OtlpError> {
        let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
            if headers.is_empty() {
                return Ok(None);
            }
            return Err(OtlpError::Header(
                "headers are set but --otlp-endpoint is not".into(),
            ));
        };
        let url = url::Url::parse(endpoint)
            .map_err(|e| OtlpError::Endpoint(format!("`{endpoint}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(OtlpError::Endpoint(format!(
                "`{endpoint}` must be an http:// or https:// URL with a host"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(OtlpError::Endpoint(
                "the base URL takes no query or fragment".into(),
            ));
        }
        let mut parsed = HashMap::new();
        for (i, header) in headers.iter().enumerate() {
            let (name, value) = header
                .split_once('=')
                .ok_or_else(|| OtlpError::Header(format!("header {} must be NAME=VALUE", i + 1)))?;
            let name = name.trim();
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| OtlpError::Header(format!("`{name}` is not a header name")))?;
            // The value is a secret: only its name appears in errors.
            http::HeaderValue::from_str(value.trim())
                .map_err(|_| OtlpError::Header(format!("the value of `{name}` is not valid")))?;
            parsed.insert(name.to_string(), value.trim().to_string());
        }
        Ok(Some(Self {
            endpoint: url,
            headers: parsed,
        }))
    }

    fn signal_url(&self, signal: &str) -> String {
        format!(
            "{}/v1/{signal}",
            self.endpoint.as_str().trim_end_matches('/')
        )
    }
}

/// A layer of any subscriber that records span data (the registry).
pub type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync>;

/// The providers behind the shipping layers; [`Shipping::shutdown`]
/// flushes what is still batched.
pub struct Shipping {
    logs: SdkLoggerProvider,
    traces: SdkTracerProvider,
}

impl Shipping {
    /// Builds the exporters (no connection is made yet) and the layers
    /// that feed them: one turning events into log records with the
    /// fields of their spans (`execution_id`...), one turning spans into
    /// trace spans.
    pub fn start<S>(
        config: &OtlpConfig,
        runtime: tokio::runtime::Handle,
    ) -> Result<(Self, Vec<BoxedLayer<S>>), OtlpError>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let http = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| OtlpError::Exporter(e.to_string()))?;
        let client = RuntimeClient { http, runtime };
        let resource = Resource::builder()
            .with_service_name("dataguardian")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let log_exporter = LogExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.signal_url("logs"))
            .with_headers(config.headers.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| OtlpError::Exporter(e.to_string()))?;
        let span_exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.signal_url("traces"))
            .with_headers(config.headers.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| OtlpError::Exporter(e.to_string()))?;
        let logs = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_batch_exporter(log_exporter)
            .build();
        let spans = BatchSpanProcessor::builder(span_exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(BATCH_DELAY)
                    .build(),
            )
            .build();
        let traces = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_span_processor(spans)
            .build();
        let log_layer = OpenTelemetryTracingBridge::builder(&logs)
            .with_tracing_span_attributes(TracingSpanAttributes::all())
            .build();
        let trace_layer = tracing_opentelemetry::layer().with_tracer(traces.tracer("dataguardian"));
        let layers: Vec<BoxedLayer<S>> = vec![Box::new(log_layer), Box::new(trace_layer)];
        Ok((Self { logs, traces }, layers))
    }

    /// Exports what is batched and stops the exporters; called once, at
    /// exit, from outside the runtime's worker threads.
    pub fn shutdown(&self) {
        if let Err(e) = self.traces.shutdown() {
            eprintln!("warning: shipping the last traces: {e}");
        }
        if let Err(e) = self.logs.shutdown() {
            eprintln!("warning: shipping the last logs: {e}");
        }
    }
}

/// Targets never shipped: the exporter's own crates (which log under
/// their package names, with dashes, as well as their module paths) and
/// the HTTP stack under it, whose events about an export would feed the
/// next export.
pub const NOT_SHIPPED: &[&str] = &[
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry-sdk",
    "opentelemetry_otlp",
    "opentelemetry-otlp",
    "opentelemetry_http",
    "opentelemetry-http",
    "opentelemetry_appender_tracing",
    "opentelemetry-appender-tracing",
    "tracing_opentelemetry",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
];

/// Sends the exporters' requests on the async runtime, so they can be
/// awaited from the SDK's own (non-async) export threads.
#[derive(Debug, Clone)]
struct RuntimeClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        self.runtime
            .spawn(async move { send(&http, request).await })
            .await?
    }
}

async fn send(
    http: &reqwest::Client,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, HttpError> {
    let mut response = http.execute(reqwest::Request::try_from(request)?).await?;
    let mut answer = Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(
                format!("the collector answered more than {MAX_RESPONSE_BYTES} bytes").into(),
            );
        }
        body.extend_from_slice(&chunk);
    }
    Ok(answer.body(Bytes::from(body))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_an_endpoint() {
        assert!(OtlpConfig::parse(None, &[]).expect("valid").is_none());
        assert!(OtlpConfig::parse(Some("  "), &[]).expect("valid").is_none());
    }

    #[test]
    fn signals_go_under_the_base_url() {
        let c = OtlpConfig::parse(Some("http://seq:5341/ingest/otlp/"), &[])
            .expect("valid")
            .expect("on");
        assert_eq!(c.signal_url("logs"), "http://seq:5341/ingest/otlp/v1/logs");
        assert_eq!(
            c.signal_url("traces"),
            "http://seq:5341/ingest/otlp/v1/traces"
        );
    }

    #[test]
    fn bad_values_name_the_flag_and_never_the_secret() {
        for (endpoint, headers, flag) in [
            (Some("seq:5341"), vec![], "--otlp-endpoint"),
            (Some("ftp://seq"), vec![], "--otlp-endpoint"),
            (Some("http://seq?x=1"), vec![], "--otlp-endpoint"),
            (
                None,
                vec!["X-Seq-ApiKey=s3cret".to_string()],
                "--otlp-header",
            ),
            (
                Some("http://seq"),
                vec!["X-Seq-ApiKey: s3cret".to_string()],
                "--otlp-header",
            ),
            (
                Some("http://seq"),
                vec!["bad name=s3cret".to_string()],
                "--otlp-header",
            ),
            (
                Some("http://seq"),
                vec!["X-Key=s3cret\n".to_string() + "x"],
                "--otlp-header",
            ),
        ] {
            let e = OtlpConfig::parse(endpoint, &headers)
                .expect_err("refused")
                .to_string();
            assert!(e.starts_with(flag), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        let c = OtlpConfig::parse(Some("https://seq"), &["X-Seq-ApiKey = k=1".to_string()])
            .expect("valid")
            .expect("on");
        assert_eq!(c.headers["X-Seq-ApiKey"], "k=1");
    }
}
