//! A local HTTP server that records every request (a webhook receiver, a
//! stand-in for a chat API) and answers with the status and body the test
//! sets.

use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).cloned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<(u16, String)>>,
    /// When set, requests are recorded and never answered.
    hang: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a free loopback port, answering 200 `{}` until told
    /// otherwise.
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let reply = Arc::new(Mutex::new((200u16, String::from("{}"))));
        let hang = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, a, h) = (seen.clone(), reply.clone(), hang.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (seen, reply, hang) = (s.clone(), a.clone(), h.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .expect("request body");
                let headers = parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            v.to_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                seen.lock().expect("lock").push(Received {
                    method: parts.method.to_string(),
                    path: parts.uri.to_string(),
                    headers,
                    body: body.to_vec(),
                });
                if hang.load(std::sync::atomic::Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                let (status, text) = reply.lock().expect("lock").clone();
                (
                    axum::http::StatusCode::from_u16(status).expect("status"),
                    [("content-type", "application/json")],
                    text,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            seen,
            reply,
            hang,
            task,
        }
    }

    /// Later requests are recorded and never answered (a receiver that
    /// stalls mid-request).
    pub fn hang(&self, hang: bool) {
        self.hang.store(hang, std::sync::atomic::Ordering::SeqCst);
    }

    /// What later requests are answered with.
    pub fn answer(&self, status: u16, body: &str) {
        *self.reply.lock().expect("lock") = (status, body.to_string());
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().expect("lock").clone()
    }

    /// The requests so far, forgotten.
    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }

    /// Waits until `n` requests arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < timeout,
                "{} of {n} requests arrived: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// HMAC-SHA256 of `body` with `key`, lowercase hex.
pub fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
