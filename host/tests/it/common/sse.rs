//! A client of `GET /api/events` (server-sent events) for the tests.

use super::server::TestServer;
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One parsed SSE event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub kind: String,
    pub data: Value,
}

/// An SSE client reading in the background; dropping it disconnects.
pub struct EventClient {
    rx: mpsc::UnboundedReceiver<Option<SseEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EventClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventClient {
    pub async fn connect(server: &TestServer, last_id: Option<u64>) -> Self {
        Self::connect_as(server, &server.token, last_id).await
    }

    /// A stream opened with `token`.
    pub async fn connect_as(server: &TestServer, token: &str, last_id: Option<u64>) -> Self {
        let mut req =
            crate::common::server::client_with_token(token).get(server.url("/api/events"));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.expect("GET /api/events");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            let (mut id, mut kind, mut data) = (None, String::new(), String::new());
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find('\n') {
                    let line = buf[..end].trim_end_matches('\r').to_string();
                    buf.drain(..=end);
                    if line.is_empty() {
                        if !data.is_empty() {
                            let event = SseEvent {
                                id: id.take(),
                                kind: std::mem::take(&mut kind),
                                data: serde_json::from_str(&data).expect("data is JSON"),
                            };
                            data.clear();
                            let _ = tx.send(Some(event));
                        }
                        continue;
                    }
                    if line.starts_with(':') {
                        continue;
                    }
                    let (field, v) = line.split_once(':').unwrap_or((&line, ""));
                    let v = v.strip_prefix(' ').unwrap_or(v);
                    match field {
                        "id" => id = Some(v.parse().expect("numeric id")),
                        "event" => kind = v.to_string(),
                        "data" => data.push_str(v),
                        _ => {}
                    }
                }
            }
            let _ = tx.send(None);
        });
        Self { rx, task }
    }

    pub async fn next(&mut self, timeout: Duration) -> SseEvent {
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(Some(e))) => e,
            Ok(_) => panic!("the event stream ended"),
            Err(_) => panic!("no event within {timeout:?}"),
        }
    }

    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(200), self.rx.recv()).await {
                Ok(Some(None)) | Ok(None) => return true,
                _ => {}
            }
        }
        false
    }
}

/// Events of `execution` until `stop` holds for one; all events read
/// (of any entity) are returned too, for the id checks.
pub async fn read_until(
    client: &mut EventClient,
    all: &mut Vec<SseEvent>,
    mut stop: impl FnMut(&SseEvent) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = client.next(left).await;
        let done = stop(&e);
        all.push(e);
        if done {
            return;
        }
    }
}
